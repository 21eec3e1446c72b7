/**
 * HTTP heads are kept as "byte strings": JavaScript strings in which every character is one byte
 * (latin1). That keeps header bytes exact from wire to wire without Buffer churn on the hot path.
 * These helpers convert between byte strings and human text (UTF-8) at the edges.
 */

const NON_ASCII = /[^\x00-\x7f]/;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Byte string -> text: UTF-8 when the bytes are valid UTF-8, otherwise the bytes read as latin1. */
export function bytesToText(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  try {
    return utf8Strict.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

/** Text -> byte string: characters outside ASCII are written as UTF-8, as mitmproxy encodes str. */
export function textToBytes(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A byte string as a Buffer. */
export function bytesToBuffer(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A Buffer as a byte string. */
export function bufferToBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}
