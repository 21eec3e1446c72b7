import zlib from 'node:zlib';
import { CloseCode, WebSocketProtocolError } from './frame.js';

/**
 * permessage-deflate (RFC 7692) as agreed in a handshake. The proxy is the server towards the
 * client and the client towards the server, and both sides agreed on the same parameters (the
 * 101 response's Sec-WebSocket-Extensions), so one set of parameters describes both hops.
 */
export interface DeflateParams {
  /** The server resets its compressor after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after each message. */
  clientNoContextTakeover: boolean;
  /** LZ77 window of the server's compressor (8-15, default 15). */
  serverMaxWindowBits: number;
  /** LZ77 window of the client's compressor (8-15, default 15). */
  clientMaxWindowBits: number;
}

export interface NegotiatedExtensions {
  deflate: DeflateParams | null;
  /** Names of other extensions the server accepted; the proxy does not understand them. */
  unknown: string[];
}

/** Split a header value on commas or semicolons outside quoted strings. */
function splitOutsideQuotes(value: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function windowBits(value: string | undefined): number {
  if (value === undefined) return 15;
  const n = Number(value.replace(/^"|"$/g, ''));
  return Number.isInteger(n) && n >= 8 && n <= 15 ? n : 15;
}

/** Parse the Sec-WebSocket-Extensions header of a 101 response (what the server accepted). */
export function parseNegotiatedExtensions(header: string | undefined): NegotiatedExtensions {
  const result: NegotiatedExtensions = { deflate: null, unknown: [] };
  if (!header) return result;
  for (const ext of splitOutsideQuotes(header, ',')) {
    const [rawName, ...rawParams] = splitOutsideQuotes(ext, ';');
    const name = (rawName ?? '').trim();
    if (!name) continue;
    if (name.toLowerCase() !== 'permessage-deflate' || result.deflate) {
      if (name.toLowerCase() !== 'permessage-deflate') result.unknown.push(name);
      continue;
    }
    const params = new Map<string, string | undefined>();
    for (const p of rawParams) {
      const eq = p.indexOf('=');
      const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      if (key) params.set(key, eq < 0 ? undefined : p.slice(eq + 1).trim());
    }
    result.deflate = {
      serverNoContextTakeover: params.has('server_no_context_takeover'),
      clientNoContextTakeover: params.has('client_no_context_takeover'),
      serverMaxWindowBits: windowBits(params.get('server_max_window_bits')),
      clientMaxWindowBits: windowBits(params.get('client_max_window_bits')),
    };
  }
  return result;
}

/** What a sync flush appends and RFC 7692 §7.2.1 strips from (and the receiver adds back to) each message. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * One zlib stream used for one message at a time: input in, flush, collect what came out.
 * Callers must not start an operation before the previous one settled (the relay serializes
 * each direction).
 */
abstract class ZlibContext<S extends zlib.DeflateRaw | zlib.InflateRaw> {
  private out: Buffer[] = [];
  private outLength = 0;
  private failure: Error | null = null;
  private reject: ((e: Error) => void) | null = null;

  protected constructor(
    protected readonly stream: S,
    private readonly maxOutput: number,
  ) {
    stream.on('data', (chunk: Buffer) => {
      if (this.failure) return;
      this.outLength += chunk.length;
      if (this.outLength > this.maxOutput) {
        this.fail(new WebSocketProtocolError(`Message too big: more than ${this.maxOutput} bytes after decompression`, CloseCode.MESSAGE_TOO_BIG));
        return;
      }
      this.out.push(chunk);
    });
    stream.on('error', (e: Error) => this.fail(new WebSocketProtocolError(`permessage-deflate error: ${e.message}`, CloseCode.INVALID_FRAME_PAYLOAD_DATA)));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const r = this.reject;
    this.reject = null;
    r?.(this.failure);
  }

  /** Write `input`, flush with `flushKind`, and resolve with everything the stream produced. */
  protected process(input: Buffer[], flushKind: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    this.out = [];
    this.outLength = 0;
    return new Promise<Buffer>((resolve, reject) => {
      this.reject = reject;
      for (const b of input) this.stream.write(b);
      this.stream.flush(flushKind, () => {
        if (this.failure || this.reject !== reject) return;
        this.reject = null;
        let out: Buffer;
        try {
          out = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outLength);
        } catch (e) {
          // Out of memory for the joined message: this connection fails, not the process (an
          // exception in a zlib callback would be uncaught).
          this.out = [];
          reject(new WebSocketProtocolError(`Message too big: ${(e as Error).message}`, CloseCode.MESSAGE_TOO_BIG));
          return;
        }
        this.out = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.reject = null;
    this.failure ??= new Error('closed');
    this.stream.close();
  }
}

/** Decompresses the messages one peer sends, keeping the LZ77 window between messages. */
export class MessageInflater extends ZlibContext<zlib.InflateRaw> {
  private compressedTotal = 0;
  private inflatedTotal = 0;

  /**
   * `maxSize` bounds the decompressed size of one message; past `maxSize` decompressed in all,
   * the conversation may not grow more than `maxRatio` times by decompression (WebSocketLimits).
   * Either closes with 1009.
   */
  constructor(
    private readonly maxSize: number,
    private readonly maxRatio = Infinity,
  ) {
    // A 15-bit window decodes whatever window the peer used, so the negotiated size does not matter here.
    super(zlib.createInflateRaw({ windowBits: 15 }), maxSize);
  }

  async inflate(payload: Buffer): Promise<Buffer> {
    const out = await this.process([payload, TRAILER], zlib.constants.Z_SYNC_FLUSH);
    this.compressedTotal += payload.length;
    this.inflatedTotal += out.length;
    if (this.inflatedTotal > this.maxSize && this.inflatedTotal > this.maxRatio * this.compressedTotal) {
      throw new WebSocketProtocolError(
        `Message too big: ${this.inflatedTotal} bytes decompressed from ${this.compressedTotal}, more than ${this.maxRatio} times (a decompression bomb)`,
        CloseCode.MESSAGE_TOO_BIG,
      );
    }
    return out;
  }
}

/** Compresses the messages the proxy sends to one peer, with the parameters that peer expects. */
export class MessageDeflater extends ZlibContext<zlib.DeflateRaw> {
  constructor(
    bits: number,
    private readonly noContextTakeover: boolean,
  ) {
    // zlib refuses an 8-bit window for raw deflate; 9 is what it would use instead.
    super(zlib.createDeflateRaw({ windowBits: Math.max(9, bits) }), Number.MAX_SAFE_INTEGER);
  }

  async deflate(content: Buffer): Promise<Buffer> {
    const out = await this.process([content], zlib.constants.Z_SYNC_FLUSH);
    if (this.noContextTakeover) this.stream.reset();
    // A sync flush always ends with the empty stored block 00 00 ff ff; the receiver adds it back.
    return out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER) ? out.subarray(0, out.length - 4) : out;
  }
}
