/**
 * Encoders for the multi-byte charsets Node can decode but not encode (Shift_JIS, EUC-JP,
 * ISO-2022-JP, EUC-KR, GBK, gb18030, Big5), so that setting the text of a Shift_JIS page keeps it
 * Shift_JIS, as mitmproxy's codecs do, instead of falling back to UTF-8.
 *
 * Each encoder is the inverse of Node's own decoder for that charset (built once, on first use, by
 * decoding every byte sequence the charset has): text this proxy decoded from a body always
 * encodes back to bytes that decode to the same text.
 */
import { CharsetError } from './charset-error.js';

/** How one charset's byte sequences are laid out: the single bytes, and lead/trail ranges of the longer ones. */
interface Layout {
  /** Byte values that are characters on their own. */
  single: Array<[number, number]>;
  /** Two-byte sequences: lead byte ranges and trail byte ranges. */
  leads: Array<[number, number]>;
  trails: Array<[number, number]>;
  /** Two-byte sequences that start with a fixed byte (EUC-JP's 0x8E xx: half-width katakana, and a few symbols in Node's table). */
  prefixed?: { prefix: number; seconds: [number, number] };
  /** Lead bytes whose characters are used only when no other sequence encodes them (duplicates). */
  lastResort?: Array<[number, number]>;
}

const LAYOUTS: Readonly<Record<string, Layout>> = {
  // Lead bytes 0xED and 0xEE are NEC's copies of IBM extensions that 0xFA-0xFC also encode;
  // the encoder picks the latter, as the WHATWG encoder (and Windows) do.
  shift_jis: { single: [[0x00, 0x80], [0xa1, 0xdf]], leads: [[0x81, 0x9f], [0xe0, 0xfc]], trails: [[0x40, 0x7e], [0x80, 0xfc]], lastResort: [[0xed, 0xee]] },
  'euc-jp': { single: [[0x00, 0x7f]], leads: [[0xa1, 0xfe]], trails: [[0xa1, 0xfe]], prefixed: { prefix: 0x8e, seconds: [0xa1, 0xfe] } },
  'euc-kr': { single: [[0x00, 0x7f]], leads: [[0x81, 0xfe]], trails: [[0x41, 0xfe]] },
  gbk: { single: [[0x00, 0x80]], leads: [[0x81, 0xfe]], trails: [[0x40, 0x7e], [0x80, 0xfe]] },
  // gb18030's four-byte sequences are not built: characters outside GBK fail (and fall back).
  gb18030: { single: [[0x00, 0x7f]], leads: [[0x81, 0xfe]], trails: [[0x40, 0x7e], [0x80, 0xfe]] },
  // Big5 lead bytes below 0xA1 are Hong Kong extensions: used only for what standard Big5 lacks.
  big5: { single: [[0x00, 0x7f]], leads: [[0x81, 0xfe]], trails: [[0x40, 0x7e], [0xa1, 0xfe]], lastResort: [[0x81, 0xa0]] },
};

/** A charset's encoding table: code point to its bytes (one or two, packed as `first << 8 | second`, or one byte). */
type Table = Map<number, number>;
const tables = new Map<string, Table>();

/** Every `[from, to]` value of the ranges, in order. */
function* bytesIn(ranges: Array<[number, number]>): Generator<number> {
  for (const [from, to] of ranges) for (let b = from; b <= to; b++) yield b;
}

function inRanges(b: number, ranges: Array<[number, number]> | undefined): boolean {
  return ranges?.some(([from, to]) => b >= from && b <= to) ?? false;
}

/**
 * Decode every sequence of the layout at once, each followed by a newline, and keep those that
 * decoded to exactly one character. (A bad pair decodes to U+FFFD, possibly followed by its
 * trail byte as ASCII, so it never looks like one character.)
 */
function buildTable(charset: string, layout: Layout): Table {
  const sequences: number[][] = [];
  // (The newline itself is left out: it separates the sequences, and is set below.)
  for (const b of bytesIn(layout.single)) if (b !== 0x0a) sequences.push([b]);
  if (layout.prefixed) for (const s of bytesIn([layout.prefixed.seconds])) sequences.push([layout.prefixed.prefix, s]);
  const leads = [...bytesIn(layout.leads)];
  // Sequences of last-resort leads go last, so they only fill what nothing else encodes.
  leads.sort((a, b) => Number(inRanges(a, layout.lastResort)) - Number(inRanges(b, layout.lastResort)));
  for (const lead of leads) for (const trail of bytesIn(layout.trails)) sequences.push([lead, trail]);

  const bytes = Buffer.allocUnsafe(sequences.reduce((n, s) => n + s.length + 1, 0));
  let at = 0;
  for (const s of sequences) {
    for (const b of s) bytes[at++] = b;
    bytes[at++] = 0x0a;
  }
  const decoded = new TextDecoder(charset).decode(bytes).split('\n');
  const table: Table = new Map();
  for (let i = 0; i < sequences.length; i++) {
    const text = decoded[i]!;
    const cp = text.codePointAt(0);
    if (cp === undefined || cp === 0xfffd || String.fromCodePoint(cp) !== text || table.has(cp)) continue;
    const s = sequences[i]!;
    table.set(cp, s.length === 1 ? s[0]! : (s[0]! << 8) | s[1]!);
  }
  table.set(0x0a, 0x0a);
  return table;
}

function tableFor(charset: string): Table {
  let table = tables.get(charset);
  if (!table) {
    table = buildTable(charset, LAYOUTS[charset]!);
    tables.set(charset, table);
  }
  return table;
}

/** Python's message for a character a codec cannot encode. */
function cannotEncode(enc: string, cp: number, position: number): CharsetError {
  const hex = cp.toString(16).padStart(cp > 0xffff ? 8 : 4, '0');
  return new CharsetError(`'${enc}' codec can't encode character '\\${cp > 0xffff ? 'U' : 'u'}${hex}' in position ${position}: illegal multibyte sequence`);
}

function encodeWithTable(table: Table, text: string, enc: string): Buffer {
  const out = Buffer.allocUnsafe(text.length * 2);
  let at = 0;
  let position = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = table.get(cp);
    if (b === undefined) throw cannotEncode(enc, cp, position);
    if (b > 0xff) out[at++] = b >> 8;
    out[at++] = b & 0xff;
    position++;
  }
  return out.subarray(0, at);
}

const ESC_ASCII = [0x1b, 0x28, 0x42];
const ESC_JIS0208 = [0x1b, 0x24, 0x42];

/**
 * ISO-2022-JP: ASCII, and JIS X 0208 (EUC-JP's two-byte characters with the high bits cleared)
 * between escape sequences; the text ends in ASCII. ESC, SO and SI cannot be written, and neither
 * can half-width katakana, as in Python's codec.
 */
function encodeIso2022Jp(text: string, enc: string): Buffer {
  const euc = tableFor('euc-jp');
  const out: number[] = [];
  let jis = false;
  let position = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80 && cp !== 0x1b && cp !== 0x0e && cp !== 0x0f) {
      if (jis) out.push(...ESC_ASCII);
      jis = false;
      out.push(cp);
    } else {
      const b = euc.get(cp);
      if (b === undefined || b <= 0xff || b >> 8 === 0x8e) throw cannotEncode(enc, cp, position);
      if (!jis) out.push(...ESC_JIS0208);
      jis = true;
      out.push((b >> 8) & 0x7f, b & 0x7f);
    }
    position++;
  }
  if (jis) out.push(...ESC_ASCII);
  return Buffer.from(out);
}

/** Node's name for the charset a label stands for, or null when Node does not know the label. */
function whatwgName(label: string): string | null {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return null;
  }
}

/**
 * The encoder for a charset label (in `normCodec` form) Node decodes as one of these multi-byte
 * charsets, or null. It throws CharsetError, with Python's message, on a character the charset
 * does not have.
 */
export function multiByteEncoder(label: string): ((text: string, enc: string) => Buffer) | null {
  const charset = whatwgName(label);
  if (charset === 'iso-2022-jp') return encodeIso2022Jp;
  if (charset === null || !(charset in LAYOUTS)) return null;
  return (text, enc) => encodeWithTable(tableFor(charset), text, enc);
}
