import zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';

/**
 * HTTP content codings: gzip, deflate, br, zstd and identity.
 *
 * zstd compression is available only where node's zlib has it (Node >= 22.15); decoding works
 * everywhere through fzstd. Every failure is a `ContentEncodingError`, never anything else, so
 * callers can report a broken body without special cases.
 */

export class ContentEncodingError extends Error {
  constructor(
    readonly encoding: string,
    message: string,
  ) {
    super(message);
    this.name = 'ContentEncodingError';
  }
}

type ZstdZlib = {
  zstdCompressSync?: (b: Uint8Array) => Buffer;
  zstdDecompressSync?: (b: Uint8Array, opts?: { maxOutputLength?: number }) => Buffer;
};
const zstdZlib = zlib as unknown as ZstdZlib;

/** Whether this Node can compress zstd (decoding always works). */
export const ZSTD_ENCODE_SUPPORTED = typeof zstdZlib.zstdCompressSync === 'function';

/** The codings `flow.encode` offers, as mitmproxy's `flow.encode.options`. */
export const ENCODINGS = ['gzip', 'deflate', 'br', 'zstd'] as const;

/**
 * The most a body may grow to when decoded: 100 times its encoded size, and at least 64 MiB.
 * Real content compresses 3 to 20 times; a compression bomb (a kilobyte of gzip inflating to a
 * gigabyte) would hold the process for seconds and take gigabytes of memory, for a content
 * view, a filter or an addon reading `.text`. mitmproxy has no such limit.
 */
const DECODE_FLOOR_BYTES = 64 * 1024 * 1024;
const DECODE_MAX_RATIO = 100;

function decodeLimit(encodedLength: number): number {
  return Math.max(DECODE_FLOOR_BYTES, encodedLength * DECODE_MAX_RATIO);
}

function decodeOne(data: Buffer, enc: string, maxOutputLength: number): Buffer {
  switch (enc) {
    case '':
    case 'identity':
    case 'none':
      return data;
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(data, { maxOutputLength });
    case 'deflate':
      // Servers disagree on whether "deflate" carries the zlib wrapper; accept both, as browsers do.
      try {
        return zlib.inflateSync(data, { maxOutputLength });
      } catch (e) {
        if (isTooLarge(e)) throw e;
        return zlib.inflateRawSync(data, { maxOutputLength });
      }
    case 'br':
      return zlib.brotliDecompressSync(data, { maxOutputLength });
    case 'zstd':
      if (zstdZlib.zstdDecompressSync) return zstdZlib.zstdDecompressSync(data, { maxOutputLength });
      return fzstdDecode(data, maxOutputLength);
    default:
      throw new ContentEncodingError(enc, `Unknown content encoding: ${enc}`);
  }
}

function encodeOne(data: Buffer, enc: string): Buffer {
  switch (enc) {
    case '':
    case 'identity':
    case 'none':
      return data;
    case 'gzip':
    case 'x-gzip':
      return zlib.gzipSync(data);
    case 'deflate':
      return zlib.deflateSync(data);
    case 'br':
      return zlib.brotliCompressSync(data);
    case 'zstd':
      if (zstdZlib.zstdCompressSync) return zstdZlib.zstdCompressSync(data);
      throw new ContentEncodingError(enc, 'zstd compression needs Node 22.15 or newer');
    default:
      throw new ContentEncodingError(enc, `Unknown content encoding: ${enc}`);
  }
}

function parseCodings(header: string): string[] {
  return header
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/** Undo a Content-Encoding header value ("gzip", "gzip, br", ...): codings are removed last-first. */
export function decode(data: Buffer, contentEncoding: string): Buffer {
  let out = data;
  const codings = parseCodings(contentEncoding);
  // One limit for every stage: "gzip, gzip" must not multiply it.
  const limit = decodeLimit(data.length);
  for (let i = codings.length - 1; i >= 0; i--) {
    const enc = codings[i]!;
    try {
      out = decodeOne(out, enc, limit);
    } catch (e) {
      if (e instanceof ContentEncodingError) throw e;
      if (isTooLarge(e)) {
        throw new ContentEncodingError(enc, `Cannot decode ${enc} content: it would be larger than ${limit} bytes, ${DECODE_MAX_RATIO} times its encoded size (a compression bomb?)`);
      }
      throw new ContentEncodingError(enc, `Cannot decode ${enc} content: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * zstd without node's zlib (Node < 22.15): fzstd's streaming decoder, stopped as soon as the
 * output passes the limit (its one-shot decoder would first build the whole output).
 */
function fzstdDecode(data: Buffer, maxOutputLength: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const decoder = new FzstdDecompress((chunk: Uint8Array) => {
    total += chunk.length;
    if (total > maxOutputLength) throw Object.assign(new RangeError('output too large'), { code: 'ERR_BUFFER_TOO_LARGE' });
    // fzstd may reuse its window buffer: keep a copy.
    chunks.push(Buffer.from(chunk));
  });
  decoder.push(data, true);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

function isTooLarge(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/** Apply a Content-Encoding header value to plain bytes. */
export function encode(data: Buffer, contentEncoding: string): Buffer {
  let out = data;
  for (const enc of parseCodings(contentEncoding)) {
    try {
      out = encodeOne(out, enc);
    } catch (e) {
      if (e instanceof ContentEncodingError) throw e;
      throw new ContentEncodingError(enc, `Cannot encode ${enc} content: ${(e as Error).message}`);
    }
  }
  return out;
}
