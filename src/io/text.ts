/**
 * Body text the way mitmproxy (newest) turns bytes into text and back: the charset inference of
 * `infer_content_encoding` (used by `Message.text`, the content views, HAR and the export
 * formats), Python codec behaviour (latin-1 is really latin-1, UTF-16/32 as Python reads them),
 * UTF-8 with surrogate escapes for undecodable bytes (lone surrogates U+DC80..U+DCFF), and the
 * decode rules of mitmproxy's `Message`.
 */
import { isUtf8 } from 'node:buffer';
import type { Message } from '../http.js';
import { ContentEncodingError, decode as decodeBody, encode as encodeBody } from '../encoding.js';
import { CharsetError } from './charset-error.js';
import { multiByteEncoder } from './multi-byte-charsets.js';
import { singleByteCharset } from './single-byte-charsets.js';
import { utf8ErrorMessage } from '../util/utf8-error.js';

export { CharsetError };

/** UTF-8 decoding where every byte that is not part of a valid sequence becomes U+DC00+byte (Python's surrogateescape). */
export function decodeUtf8Surrogateescape(b: Uint8Array): string {
  // Valid UTF-8 (the usual case) decodes at once; node keeps a BOM as U+FEFF, as Python's codec does.
  if (isUtf8(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  let out = '';
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let len = 0;
    let min = 0;
    let cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    }
    let ok = len > 0 && i + len <= n;
    for (let j = 1; ok && j < len; j++) {
      const cc = b[i + j]!;
      if ((cc & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      out += String.fromCharCode(0xdc00 + c);
      i++;
    }
  }
  return out;
}

/**
 * A byte string of the model (header bytes, path, method: one character per byte) as Python
 * str: UTF-8 with surrogate escapes. ASCII, or text that already holds characters past U+00FF,
 * comes back as it is.
 */
export function byteStringText(s: string): string {
  return /[\x80-\xff]/.test(s) && !/[^\x00-\xff]/.test(s) ? decodeUtf8Surrogateescape(Buffer.from(s, 'latin1')) : s;
}

/** The reverse: UTF-8, with lone surrogates U+DC80..U+DCFF written back as the bytes they stand for. */
export function encodeUtf8Surrogateescape(s: string): Buffer {
  if (!/[\ud800-\udfff]/.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        run += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.from([c - 0xdc00]));
    } else run += s[i]!;
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** UTF-8 decoding with `\xNN` escapes for invalid bytes (Python's backslashreplace). */
export function decodeUtf8Backslashreplace(b: Uint8Array): string {
  const s = decodeUtf8Surrogateescape(b);
  return s.replace(/[\udc80-\udcff]/g, (ch) => '\\x' + (ch.charCodeAt(0) - 0xdc00).toString(16).padStart(2, '0'));
}

/** mitmproxy's `parse_content_type`: `[type, subtype, params]` or null. */
export function parseContentType(c: string): [string, string, Map<string, string>] | null {
  const semi = c.indexOf(';');
  const main = semi < 0 ? c : c.slice(0, semi);
  const slash = main.indexOf('/');
  if (slash < 0) return null;
  const params = new Map<string, string>();
  if (semi >= 0) {
    for (const clause of c.slice(semi + 1).split(';')) {
      const eq = clause.indexOf('=');
      if (eq >= 0) params.set(clause.slice(0, eq).trim(), clause.slice(eq + 1).trim());
    }
  }
  return [main.slice(0, slash).toLowerCase(), main.slice(slash + 1).toLowerCase(), params];
}

/** mitmproxy's `assemble_content_type`: `type/subtype; k=v; ...`. */
export function assembleContentType(type: string, subtype: string, params: Map<string, string>): string {
  if (params.size === 0) return `${type}/${subtype}`;
  return `${type}/${subtype}; ${[...params].map(([k, v]) => `${k}=${v}`).join('; ')}`;
}

function startsWith(b: Uint8Array, prefix: number[]): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** mitmproxy's `infer_content_encoding` (newest): BOM, charset parameter, type-based UTF-8, else latin-1. */
export function inferContentEncoding(contentType: string, content: Uint8Array = Buffer.alloc(0)): string {
  let enc: string | undefined;
  if (startsWith(content, [0x00, 0x00, 0xfe, 0xff])) enc = 'utf-32be';
  else if (startsWith(content, [0xff, 0xfe, 0x00, 0x00])) enc = 'utf-32le';
  else if (startsWith(content, [0xfe, 0xff])) enc = 'utf-16be';
  else if (startsWith(content, [0xff, 0xfe])) enc = 'utf-16le';
  else if (startsWith(content, [0xef, 0xbb, 0xbf])) enc = 'utf-8-sig';
  else {
    const parsed = parseContentType(contentType);
    if (parsed) enc = parsed[2].get('charset');
  }
  const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (!enc && contentType.includes('json')) enc = 'utf8';
  if (!enc && contentType.includes('html')) {
    const declared = declaredInTag(bytes.toString('latin1'), /<meta/gi, '>', 'charset=', /^['"]?([^'">]+)/);
    enc = declared !== null ? asciiIgnore(declared) : 'utf8';
  }
  if (!enc && contentType.includes('xml')) {
    const declared = declaredInTag(bytes.toString('latin1'), /<\?xml/gi, '?>', 'encoding=', /^['"]([^'"?>]+)/);
    enc = declared !== null ? asciiIgnore(declared) : 'utf8';
  }
  if (!enc && (contentType.includes('javascript') || contentType.includes('ecmascript'))) enc = 'utf8';
  if (!enc && contentType.includes('text/css')) {
    // Anchored at the start: only a body that begins so needs to become text.
    const m = /^@charset "/i.test(bytes.subarray(0, 10).toString('latin1')) ? /^@charset "([^"]+)";/i.exec(bytes.toString('latin1')) : null;
    enc = m ? asciiIgnore(m[1]!) : 'utf8';
  }
  if (!enc) enc = 'latin-1';
  if (enc.toLowerCase() === 'gb2312' || enc.toLowerCase() === 'gbk') enc = 'gb18030';
  return enc;
}

/**
 * A declaration inside a tag, as mitmproxy's `<meta[^>]+charset=['"]?([^'">]+)` finds it (the
 * first tag that has one; in it the last `name`, as the greedy `[^>]+` does), in linear time:
 * the regex rescans the rest of the body for every opener when no tag closes, and a body of
 * many `<meta ` took seconds. `opener` finds tag starts (global, case-insensitive); `stops` are
 * the characters a tag cannot contain; `name` is lowercase; `value` is matched right after
 * `name`, its first group being the declared value.
 */
function declaredInTag(text: string, opener: RegExp, stops: string, name: string, value: RegExp): string | null {
  // The next position of each stop character, found by scans that only ever move forward.
  const next = [...stops].map(() => -2);
  for (opener.lastIndex = 0; ; ) {
    const found = opener.exec(text);
    if (!found) return null;
    const after = found.index + found[0].length;
    let end = text.length;
    [...stops].forEach((c, k) => {
      if (next[k] !== -1 && next[k]! < after) next[k] = text.indexOf(c, after);
      if (next[k] !== -1 && next[k]! < end) end = next[k]!;
    });
    // Every opener before `end` has a tail of this region: the first one covers them all.
    const region = text.slice(after + 1, end);
    const lower = region.toLowerCase();
    for (let at = lower.lastIndexOf(name); at >= 0; at = at > 0 ? lower.lastIndexOf(name, at - 1) : -1) {
      const m = value.exec(region.slice(at + name.length));
      if (m) return m[1]!;
    }
    if (end === text.length) return null;
    opener.lastIndex = end + 1;
  }
}

function asciiIgnore(s: string): string {
  return s.replace(/[^\x00-\x7f]/g, '');
}

function normCodec(enc: string): string {
  return enc.toLowerCase().replace(/_/g, '-');
}

// Python's names for these codecs (its alias table), in normCodec form.
const LATIN1 = new Set(['latin-1', '8859', 'cp819', 'csisolatin1', 'ibm819', 'iso8859', 'iso8859-1', 'iso-8859-1', 'iso-8859-1-1987', 'iso-ir-100', 'l1', 'latin', 'latin1']);
const ASCII = new Set(['ascii', '646', 'ansi-x3.4-1968', 'ansi-x3.4-1986', 'ansi-x3-4-1968', 'cp367', 'csascii', 'ibm367', 'iso646-us', 'iso-646.irv-1991', 'iso-ir-6', 'us', 'us-ascii']);
const UTF8 = new Set(['utf-8', 'cp65001', 'u8', 'utf', 'utf8', 'utf8-ucs2', 'utf8-ucs4']);

/** Decode bytes with a Python codec name, strictly. */
export function decodeCharset(b: Uint8Array, enc: string): string {
  const e = normCodec(enc);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (LATIN1.has(e)) return buf.toString('latin1');
  if (ASCII.has(e)) {
    for (const c of buf) if (c > 0x7f) throw new CharsetError(`'ascii' codec can't decode byte 0x${c.toString(16)}`);
    return buf.toString('latin1');
  }
  if (UTF8.has(e)) {
    // Validating first and then decoding is several times faster than a fatal TextDecoder on
    // large bodies; both refuse what Python's codec refuses, and both keep a BOM as U+FEFF.
    const notUtf8 = utf8ErrorMessage(buf);
    if (notUtf8 !== null) throw new CharsetError(notUtf8);
    return buf.toString('utf8');
  }
  if (e === 'utf-8-sig') {
    const body = startsWith(buf, [0xef, 0xbb, 0xbf]) ? buf.subarray(3) : buf;
    return decodeCharset(body, 'utf-8');
  }
  const wide = wideCodec(e);
  if (wide) return decodeWide(buf, wide, enc);
  // Python's table, not TextDecoder's: WHATWG's differs (and Node 20 reads windows-1252 as latin-1).
  const single = singleByteCharset(e);
  if (single) return single.decode(buf, enc);
  try {
    // ignoreBOM keeps a BOM as U+FEFF, as Python's explicit-endian codecs do.
    return new TextDecoder(e, { fatal: true, ignoreBOM: e.endsWith('le') || e.endsWith('be') }).decode(buf);
  } catch (err) {
    throw new CharsetError(`cannot decode with ${enc}: ${(err as Error).message}`);
  }
}

/** Encode text with a Python codec name, strictly (Unicode, single-byte and the multi-byte charsets Node decodes; others fail). */
export function encodeCharset(text: string, enc: string): Buffer {
  const e = normCodec(enc);
  if (LATIN1.has(e) || ASCII.has(e)) {
    const max = ASCII.has(e) ? 0x7f : 0xff;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > max) throw new CharsetError(`'${enc}' codec can't encode character`);
    return Buffer.from(text, 'latin1');
  }
  if (UTF8.has(e) || e === 'utf-8-sig') {
    if (/[\ud800-\udfff]/.test(text) && !isWellFormed(text)) throw new CharsetError("'utf-8' codec can't encode surrogates");
    const body = Buffer.from(text, 'utf8');
    return e === 'utf-8-sig' ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
  }
  const wide = wideCodec(e);
  if (wide) return encodeWide(text, wide, enc);
  const single = singleByteCharset(e);
  if (single) return single.encode(text, enc);
  const multiByte = multiByteEncoder(e);
  if (multiByte) return multiByte(text, enc);
  throw new CharsetError(`cannot encode with ${enc}`);
}

/**
 * Python's UTF-16 and UTF-32 codecs. Node's TextDecoder has no UTF-32 at all, and its "utf-16"
 * label never looks at a BOM to pick big-endian. Python's `utf-16`/`utf-32` read a BOM (and drop
 * it) or assume little-endian, and write one; the `-le`/`-be` variants keep a BOM as U+FEFF.
 */
interface WideCodec {
  unit: 2 | 4;
  /** null: the BOM decides (little-endian without one). */
  littleEndian: boolean | null;
}

function wideCodec(e: string): WideCodec | null {
  const m = /^utf-?(16|32)(?:-?(le|be))?$/.exec(e);
  if (!m) return null;
  return { unit: m[1] === '16' ? 2 : 4, littleEndian: m[2] === undefined ? null : m[2] === 'le' };
}

function decodeWide(buf: Buffer, codec: WideCodec, enc: string): string {
  let le = codec.littleEndian;
  let body = buf;
  if (le === null) {
    const bomLe = codec.unit === 2 ? [0xff, 0xfe] : [0xff, 0xfe, 0x00, 0x00];
    const bomBe = codec.unit === 2 ? [0xfe, 0xff] : [0x00, 0x00, 0xfe, 0xff];
    le = !startsWith(buf, bomBe);
    if (startsWith(buf, bomLe) || startsWith(buf, bomBe)) body = buf.subarray(codec.unit);
  }
  if (body.length % codec.unit !== 0) throw new CharsetError(`'${enc}' codec can't decode: truncated data`);
  if (codec.unit === 2) {
    try {
      return new TextDecoder(le ? 'utf-16le' : 'utf-16be', { fatal: true, ignoreBOM: true }).decode(body);
    } catch (err) {
      throw new CharsetError(`'${enc}' codec can't decode: ${(err as Error).message}`);
    }
  }
  let out = '';
  for (let i = 0; i < body.length; i += 4) {
    const cp = le ? body.readUInt32LE(i) : body.readUInt32BE(i);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new CharsetError(`'${enc}' codec can't decode: code point not in range`);
    out += String.fromCodePoint(cp);
  }
  return out;
}

function encodeWide(text: string, codec: WideCodec, enc: string): Buffer {
  if (/[\ud800-\udfff]/.test(text) && !isWellFormed(text)) throw new CharsetError(`'${enc}' codec can't encode surrogates`);
  const le = codec.littleEndian ?? true;
  const cps = codec.unit === 4 ? [...text].map((c) => c.codePointAt(0)!) : [];
  const withBom = codec.littleEndian === null;
  const units = codec.unit === 2 ? text.length : cps.length;
  const out = Buffer.alloc((units + (withBom ? 1 : 0)) * codec.unit);
  let o = 0;
  const put = (v: number): void => {
    if (codec.unit === 2) o = le ? out.writeUInt16LE(v, o) : out.writeUInt16BE(v, o);
    else o = le ? out.writeUInt32LE(v, o) : out.writeUInt32BE(v, o);
  };
  if (withBom) put(0xfeff);
  if (codec.unit === 2) for (let i = 0; i < text.length; i++) put(text.charCodeAt(i));
  else for (const cp of cps) put(cp);
  return out;
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

/** mitmproxy's `is_mostly_bin` (newest): a look at the first ~100 bytes. */
export function isMostlyBin(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  let s = data;
  if (s.length > 100) {
    let cutAt = 100;
    for (let cut = 100; cut < Math.min(104, s.length); cut++) {
      if (s[cut]! >> 6 !== 0b10) {
        cutAt = cut;
        break;
      }
      cutAt = 100;
    }
    // No character start within 100..103: cut at 100 anyway.
    s = s.subarray(0, cutAt);
  }
  let low = 0;
  let high = 0;
  for (const c of s) {
    if (c < 9 || (c > 13 && c < 32)) low++;
    else if (c > 126) high++;
  }
  const ascii = s.length - low - high;
  if (ascii / s.length > 0.7) return false;
  if ((ascii + high) / s.length > 0.95 && isUtf8(s)) return false;
  return true;
}

// --------------------------------------------------------------------------------------------
// mitmproxy's Message body rules, on our model

/** `message.content`, or the raw body when the content-encoding cannot be undone (`get_content(strict=False)`). */
export function contentLenient(m: Message): Buffer | null {
  return m.getContent(false);
}

/**
 * `message.decode(strict)` (newest): nothing happens for a missing or empty body; otherwise the
 * body is decoded, Content-Encoding removed and Content-Length updated (unless Transfer-Encoding).
 */
export function decodeLikeMitmproxy(m: Message, strict: boolean): void {
  if (!m.rawContent || m.rawContent.length === 0) return;
  const decoded = m.getContent(strict);
  m.headers.delete('content-encoding');
  m.setContent(decoded);
}

/** Encode a body with a Content-Encoding value as mitmproxy's `encoding.encode` (identity/none: unchanged). */
export function encodeContent(body: Buffer, contentEncoding: string): Buffer {
  const ce = contentEncoding.toLowerCase();
  if (ce === '' || ce === 'identity' || ce === 'none') return body;
  return encodeBody(body, ce);
}

/** Decode a body with a Content-Encoding value; throws ContentEncodingError. */
export function decodeContent(body: Buffer, contentEncoding: string): Buffer {
  return decodeBody(body, contentEncoding);
}

export { ContentEncodingError };
