/**
 * multipart/form-data bodies as mitmproxy reads and writes them (its net/http/multipart.py): the
 * (name, value) fields only, without file names or part headers.
 */
import { headerParam } from './header-param.js';

/** Python's bytes.splitlines(): split on \r\n, \n or \r, dropping the line ends. */
function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x0a || c === 0x0d) {
      out.push(b.subarray(start, i));
      if (c === 0x0d && b[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < b.length) out.push(b.subarray(start));
  return out;
}

function splitOn(b: Buffer, sep: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf(sep); i >= 0; i = b.indexOf(sep, start)) {
    out.push(b.subarray(start, i));
    start = i + sep.length;
  }
  out.push(b.subarray(start));
  return out;
}

/**
 * The boundary a multipart Content-Type names, unquoted (RFC 2046 allows quotes, and .NET's
 * HttpClient sends them; mitmproxy keeps them and then finds no parts); undefined when there is
 * none that is usable (empty, or not ASCII).
 */
export function multipartBoundary(contentType: string): string | undefined {
  const boundary = headerParam(contentType, 'boundary');
  return boundary && !/[^\x00-\x7f]/.test(boundary) ? boundary : undefined;
}

/**
 * The (name, value) fields of a multipart/form-data body, the way mitmproxy decodes them: the
 * value's lines are joined without their line breaks.
 */
export function decodeMultipart(contentType: string, content: Buffer): Array<[Buffer, Buffer]> {
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) return [];
  const out: Array<[Buffer, Buffer]> = [];
  for (const section of splitOn(content, Buffer.from('--' + boundary, 'latin1'))) {
    const lines = splitLines(section);
    if (lines.length > 1 && lines[0]!.subarray(0, 2).toString('latin1') !== '--') {
      const m = /\bname="([^"]+)"/.exec(lines[1]!.toString('latin1'));
      if (m) {
        const blank = lines.slice(2).findIndex((l) => l.length === 0);
        if (blank < 0) throw new Error('multipart part without a blank line after its headers');
        out.push([Buffer.from(m[1]!, 'latin1'), Buffer.concat(lines.slice(3 + blank))]);
      }
    }
  }
  return out;
}

/**
 * A multipart/form-data body of (name, value) fields with `boundary` (see multipartBoundary), as
 * mitmproxy's encode_multipart writes it: each part with a
 * Content-Disposition and a `text/plain; charset=utf-8` Content-Type. Unlike mitmproxy, a value
 * is not followed by an extra blank line (which a server reads as two more bytes of the value).
 * A value that contains the boundary delimiter is refused (mitmproxy checks only a whole value).
 */
export function encodeMultipart(boundary: string, parts: ReadonlyArray<readonly [Buffer, Buffer]>): Buffer {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const crlf = Buffer.from('\r\n', 'latin1');
  const out: Buffer[] = [];
  for (const [name, value] of parts) {
    // The reader splits at the delimiter wherever it is, so no value may contain it.
    if (value.includes(delimiter)) throw new Error(`A multipart form value contains the boundary delimiter ${delimiter.toString('latin1')}.`);
    if (name.length === 0) continue;
    out.push(delimiter, crlf);
    out.push(Buffer.from('Content-Disposition: form-data; name="', 'latin1'), name, Buffer.from('"\r\n', 'latin1'));
    out.push(Buffer.from('Content-Type: text/plain; charset=utf-8\r\n\r\n', 'latin1'), value, crlf);
  }
  out.push(delimiter, Buffer.from('--\r\n', 'latin1'));
  return Buffer.concat(out);
}
