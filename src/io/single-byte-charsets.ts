/**
 * Python's single-byte codecs (cp1252, koi8_r, iso8859_15, mac_roman, ...), decoding and
 * encoding body text as mitmproxy does.
 *
 * WHATWG's TextDecoder is close to them but not the same, and not even the same across Node
 * versions: Node 20 decodes windows-1252 as ISO-8859-1 and has no ISO-8859-16; WHATWG's
 * windows-125x pages map the bytes Python leaves undefined to C1 controls; its "iso-8859-9" and
 * "iso-8859-11" are the Windows pages 1254 and 874; and Node 20's and Node 24's tables disagree
 * on a few bytes of ibm866, koi8-u, windows-874, windows-1253 and windows-1255. So every charset
 * here is a 256-entry table, cp1252's written out below, the others read from TextDecoder once
 * and corrected where Python differs, and both directions go through that table: what
 * `message.text = ...` writes reads back the same, and (but for ISO-8859-16 on Node 20) the
 * same on every Node version.
 */
import { CharsetError } from './charset-error.js';

/** How a Python codec's table is made. */
interface CharsetSpec {
  /** Its names as Python accepts them (aliases included), in `normCodec` form. */
  names: readonly string[];
  /** The TextDecoder label whose table is the starting point; null: ISO-8859-1. */
  whatwg: string | null;
  /** Python's ISO-8859 codecs map 0x80-0x9F to the C1 controls, whatever WHATWG's label means. */
  c1?: boolean;
  /** Bytes Python's codec has no character for (decoding them fails). */
  undefinedBytes?: readonly number[];
  /** Bytes Python maps to another character than TextDecoder does. */
  fixes?: Readonly<Record<number, number>>;
}

const CP1252_UNDEFINED = [0x81, 0x8d, 0x8f, 0x90, 0x9d];

/** Microsoft's code page 1252 in 0x80-0x9F; the rest of it is ISO-8859-1. */
const CP1252_HIGH: Readonly<Record<number, number>> = {
  0x80: 0x20ac, // €
  0x82: 0x201a, // ‚
  0x83: 0x0192, // ƒ
  0x84: 0x201e, // „
  0x85: 0x2026, // …
  0x86: 0x2020, // †
  0x87: 0x2021, // ‡
  0x88: 0x02c6, // ˆ
  0x89: 0x2030, // ‰
  0x8a: 0x0160, // Š
  0x8b: 0x2039, // ‹
  0x8c: 0x0152, // Œ
  0x8e: 0x017d, // Ž
  0x91: 0x2018, // ‘
  0x92: 0x2019, // ’
  0x93: 0x201c, // “
  0x94: 0x201d, // ”
  0x95: 0x2022, // •
  0x96: 0x2013, // –
  0x97: 0x2014, // —
  0x98: 0x02dc, // ˜
  0x99: 0x2122, // ™
  0x9a: 0x0161, // š
  0x9b: 0x203a, // ›
  0x9c: 0x0153, // œ
  0x9e: 0x017e, // ž
  0x9f: 0x0178, // Ÿ
};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Python's ISO-8859-N: every name Python's alias table has for it. */
function iso(n: number, extra: readonly string[]): CharsetSpec {
  return { names: [`iso8859-${n}`, `iso-8859-${n}`, ...extra], whatwg: `iso-8859-${n}`, c1: true };
}

/** Python's cpNNNN Windows pages, known as NNNN, cpNNNN and windows-NNNN. */
function windows(page: number, undefinedBytes: readonly number[]): CharsetSpec {
  return { names: [`${page}`, `cp${page}`, `windows-${page}`], whatwg: `windows-${page}`, undefinedBytes };
}

const SPECS: readonly CharsetSpec[] = [
  { names: ['1252', 'cp1252', 'windows-1252'], whatwg: null, fixes: CP1252_HIGH, undefinedBytes: CP1252_UNDEFINED },
  windows(1250, [0x81, 0x83, 0x88, 0x90, 0x98]),
  windows(1251, [0x98]),
  windows(1253, [0x81, 0x88, 0x8a, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x98, 0x9a, 0x9c, 0x9d, 0x9e, 0x9f, 0xaa, 0xd2, 0xff]),
  windows(1254, [0x81, 0x8d, 0x8e, 0x8f, 0x90, 0x9d, 0x9e]),
  windows(1255, [0x81, 0x8a, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x9a, 0x9c, 0x9d, 0x9e, 0x9f, 0xca, ...range(0xd9, 0xdf), 0xfb, 0xfc, 0xff]),
  windows(1256, []),
  windows(1257, [0x81, 0x83, 0x88, 0x8a, 0x8c, 0x90, 0x98, 0x9a, 0x9c, 0x9f, 0xa1, 0xa5]),
  windows(1258, [0x81, 0x8a, 0x8d, 0x8e, 0x8f, 0x90, 0x9a, 0x9d, 0x9e]),
  // Python knows this one only as cp874 (not windows-874).
  {
    names: ['cp874'],
    whatwg: 'windows-874',
    undefinedBytes: [...range(0x81, 0x84), ...range(0x86, 0x90), ...range(0x98, 0x9f), ...range(0xdb, 0xde), ...range(0xfc, 0xff)],
  },
  iso(2, ['csisolatin2', 'iso-8859-2-1987', 'iso-ir-101', 'l2', 'latin2']),
  iso(3, ['csisolatin3', 'iso-8859-3-1988', 'iso-ir-109', 'l3', 'latin3']),
  iso(4, ['csisolatin4', 'iso-8859-4-1988', 'iso-ir-110', 'l4', 'latin4']),
  iso(5, ['csisolatincyrillic', 'cyrillic', 'iso-8859-5-1988', 'iso-ir-144']),
  iso(6, ['arabic', 'asmo-708', 'csisolatinarabic', 'ecma-114', 'iso-8859-6-1987', 'iso-ir-127']),
  iso(7, ['csisolatingreek', 'ecma-118', 'elot-928', 'greek', 'greek8', 'iso-8859-7-1987', 'iso-ir-126']),
  iso(8, ['csisolatinhebrew', 'hebrew', 'iso-8859-8-1988', 'iso-ir-138']),
  iso(9, ['csisolatin5', 'iso-8859-9-1989', 'iso-ir-148', 'l5', 'latin5']),
  iso(10, ['csisolatin6', 'iso-8859-10-1992', 'iso-ir-157', 'l6', 'latin6']),
  { ...iso(11, ['iso-8859-11-2001', 'thai']), undefinedBytes: [...range(0xdb, 0xde), ...range(0xfc, 0xff)] },
  iso(13, ['l7', 'latin7']),
  iso(14, ['iso-8859-14-1998', 'iso-celtic', 'iso-ir-199', 'l8', 'latin8']),
  iso(15, ['l9', 'latin9']),
  // Node 20 has no ISO-8859-16: the codec is then unknown, as it was.
  iso(16, ['iso-8859-16-2001', 'iso-ir-226', 'l10', 'latin10']),
  { names: ['cp866', '866', 'csibm866', 'ibm866'], whatwg: 'ibm866' },
  { names: ['koi8-r', 'cskoi8r'], whatwg: 'koi8-r' },
  // WHATWG's koi8-u is KOI8-RU (ў and Ў at 0xAE and 0xBE); Python's keeps the box drawing characters.
  { names: ['koi8-u'], whatwg: 'koi8-u', fixes: { 0xae: 0x255d, 0xbe: 0x256c } },
  { names: ['mac-roman', 'macintosh', 'macroman'], whatwg: 'macintosh' },
  { names: ['mac-cyrillic', 'maccyrillic'], whatwg: 'x-mac-cyrillic' },
];

const SPEC_BY_NAME = new Map(SPECS.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));

/** No byte of these charsets decodes to U+FFFD, so it marks a byte without a character. */
const NONE = 0xfffd;

/** A codec's table both ways. Every character of these charsets is a single UTF-16 code unit. */
interface Table {
  toChar: Uint16Array;
  toByte: Map<number, number>;
}

/** Tables by spec, built on first use; null when this Node's TextDecoder lacks the base. */
const tables = new Map<CharsetSpec, Table | null>();

function buildTable(spec: CharsetSpec): Table | null {
  const toChar = new Uint16Array(256);
  if (spec.whatwg === null) {
    for (let b = 0; b < 256; b++) toChar[b] = b;
  } else {
    let decoder: InstanceType<typeof TextDecoder>;
    try {
      decoder = new TextDecoder(spec.whatwg);
    } catch {
      return null;
    }
    // Non-fatal: a byte without a character comes back as U+FFFD, which is NONE.
    for (let b = 0; b < 256; b++) toChar[b] = decoder.decode(Uint8Array.of(b)).charCodeAt(0);
  }
  // All of Python's single-byte codecs are ASCII below 0x80 (Node 20's ibm866 is not).
  for (let b = 0; b < 0x80; b++) toChar[b] = b;
  if (spec.c1) for (let b = 0x80; b < 0xa0; b++) toChar[b] = b;
  for (const [b, c] of Object.entries(spec.fixes ?? {})) toChar[Number(b)] = c;
  for (const b of spec.undefinedBytes ?? []) toChar[b] = NONE;
  const toByte = new Map<number, number>();
  toChar.forEach((c, b) => {
    if (c !== NONE) toByte.set(c, b);
  });
  return { toChar, toByte };
}

function tableFor(spec: CharsetSpec): Table | null {
  let table = tables.get(spec);
  if (table === undefined) {
    table = buildTable(spec);
    tables.set(spec, table);
  }
  return table;
}

/** A single-byte codec: Python's strict decoding and encoding. */
export interface SingleByteCharset {
  decode(b: Uint8Array, enc: string): string;
  encode(text: string, enc: string): Buffer;
}

/** The codec for a name in `normCodec` form, or null when it is not one of these (or this Node cannot build it). */
export function singleByteCharset(name: string): SingleByteCharset | null {
  const spec = SPEC_BY_NAME.get(name);
  const table = spec ? tableFor(spec) : null;
  if (!table) return null;
  return {
    decode: (b, enc) => decodeWith(table, b, enc),
    encode: (text, enc) => encodeWith(table, text, enc),
  };
}

function decodeWith(table: Table, b: Uint8Array, enc: string): string {
  // Written as UTF-16LE bytes and converted at once: several times faster than building the
  // string from character codes, and every character is one code unit.
  const out = Buffer.allocUnsafe(b.length * 2);
  for (let i = 0; i < b.length; i++) {
    const c = table.toChar[b[i]!]!;
    if (c === NONE) throw new CharsetError(`'${enc}' codec can't decode byte 0x${b[i]!.toString(16).padStart(2, '0')} in position ${i}`);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >> 8;
  }
  return out.toString('utf16le');
}

function encodeWith(table: Table, text: string, enc: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  for (let i = 0; i < text.length; i++) {
    const b = table.toByte.get(text.charCodeAt(i));
    if (b === undefined) {
      const cp = text.codePointAt(i)!.toString(16).toUpperCase().padStart(4, '0');
      throw new CharsetError(`'${enc}' codec can't encode character U+${cp}`);
    }
    out[i] = b;
  }
  return out;
}
