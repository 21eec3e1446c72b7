/**
 * Exchange ActiveSync WBXML (WAP Binary XML 1.3 with the [MS-ASWBXML] code pages) to XML text,
 * laid out as mitmproxy's WBXML view lays it out (minidom's toprettyxml, four-space indent).
 *
 * The format, as ActiveSync uses it:
 *
 *   header: version byte, public id (mb_u_int32), charset (mb_u_int32, 106 = UTF-8),
 *           string table length (mb_u_int32, 0: ActiveSync has no string table)
 *   body:   SWITCH_PAGE (0x00) page   selects the code page of the tags that follow
 *           END (0x01)                closes the innermost element
 *           STR_I (0x03) bytes 0x00   inline string
 *           OPAQUE (0xC3) len bytes   opaque data, shown as a CDATA section
 *           a tag byte                token in the low six bits; 0x40 set: the element has content
 *                                     and stays open until its END; 0x80 set: attributes follow
 *
 * An mb_u_int32 is big-endian base 128, seven bits per byte, the high bit set on all but the last.
 *
 * Like mitmproxy's decoder this accepts any version and public id, a document that ends with
 * elements still open, and opaque data shorter than its length says; it refuses other charsets, a
 * string table, attributes, the other global tokens (ENTITY, LITERAL*, EXT*, PI, STR_T) and code
 * pages beyond the last ActiveSync one. It differs where mitmproxy hangs or fails for no good
 * reason: a string without its NUL, a length or page number cut off by the end of the data, an
 * unknown tag (named UNKNOWN_TAG_XX here), "]]>" in opaque data, and deep nesting are handled or
 * refused cleanly. Strings are decoded as UTF-8 (mitmproxy maps each byte to one character), with
 * undecodable bytes written as \xNN.
 */
import { PrettyXmlWriter } from './pretty-xml-writer.js';
import { decodeUtf8BackslashReplace } from './text.js';
import { WBXML_CODE_PAGES } from './wbxml-code-pages.js';

export class WbxmlError extends Error {
  // mitmproxy's view fails with a ValueError.
  override name = 'ValueError';
}

const SWITCH_PAGE = 0x00;
const END = 0x01;
const STR_I = 0x03;
const OPAQUE = 0xc3;
const HAS_CONTENT = 0x40;
const HAS_ATTRIBUTES = 0x80;
const TOKEN_MASK = 0x3f;
const CHARSET_UTF8 = 106;

/** The global tokens ActiveSync does not use (they all make the document unreadable here). */
const UNSUPPORTED_GLOBALS: ReadonlyMap<number, string> = new Map([
  [0x02, 'ENTITY'], [0x04, 'LITERAL'],
  [0x40, 'EXT_I_0'], [0x41, 'EXT_I_1'], [0x42, 'EXT_I_2'], [0x43, 'PI'], [0x44, 'LITERAL_C'],
  [0x80, 'EXT_T_0'], [0x81, 'EXT_T_1'], [0x82, 'EXT_T_2'], [0x83, 'STR_T'], [0x84, 'LITERAL_A'],
  [0xc0, 'EXT_0'], [0xc1, 'EXT_1'], [0xc2, 'EXT_2'], [0xc4, 'LITERAL_AC'],
]);

/**
 * How deep elements may nest: far deeper than ActiveSync goes, and about where mitmproxy's
 * recursive serialiser hits Python's recursion limit (it renders 990 levels, not 1000).
 */
export const WBXML_MAX_DEPTH = 990;
/**
 * The longest XML text produced, in characters. Indentation makes the text grow with depth times
 * the number of elements, so a small body could otherwise ask for gigabytes.
 */
const WBXML_MAX_OUTPUT = 128 * 1024 * 1024;
const INDENT = '    ';

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

class Reader {
  pos = 0;
  constructor(private readonly data: Buffer) {}

  get atEnd(): boolean {
    return this.pos >= this.data.length;
  }

  byte(what: string): number {
    const b = this.data[this.pos];
    if (b === undefined) throw new WbxmlError(`data ends before the ${what}`);
    this.pos++;
    return b;
  }

  /** A multi-byte unsigned integer of at most 32 bits (leading zero groups are accepted). */
  mbUInt32(what: string): number {
    let value = 0;
    for (;;) {
      const b = this.byte(what);
      value = value * 128 + (b & 0x7f);
      if (value > 0xffffffff) throw new WbxmlError(`the ${what} does not fit in 32 bits`);
      if ((b & 0x80) === 0) return value;
    }
  }

  /** Bytes up to a NUL, which is consumed. */
  terminatedString(): Buffer {
    const end = this.data.indexOf(0, this.pos);
    if (end < 0) throw new WbxmlError(`inline string at offset ${this.pos - 1} has no terminating NUL byte`);
    const s = this.data.subarray(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  /** Up to `n` bytes: fewer when the data ends first. */
  upTo(n: number): Buffer {
    const s = this.data.subarray(this.pos, Math.min(this.data.length, this.pos + n));
    this.pos += s.length;
    return s;
  }
}

export interface WbxmlToXmlOptions {
  /** Only this many lines are wanted: stop writing after them (the whole input is still checked). */
  maxLines?: number;
}

/** Decode an ActiveSync WBXML document to indented XML text. Throws WbxmlError on bad input. */
export function wbxmlToXml(data: Buffer, opts: WbxmlToXmlOptions = {}): string {
  const r = new Reader(data);
  if (data.length === 0) throw new WbxmlError('no data');
  r.byte('version');
  r.mbUInt32('public identifier');
  const charset = r.mbUInt32('charset');
  if (charset !== CHARSET_UTF8) throw new WbxmlError(`charset ${charset} is not UTF-8 (106)`);
  const stringTableLength = r.mbUInt32('string table length');
  if (stringTableLength !== 0) throw new WbxmlError(`a string table (${stringTableLength} bytes), which ActiveSync does not use`);

  const out = new PrettyXmlWriter({ indent: INDENT, maxChars: WBXML_MAX_OUTPUT, ...(opts.maxLines !== undefined ? { maxLines: opts.maxLines } : {}) });
  let page = WBXML_CODE_PAGES[0]!;
  while (!r.atEnd) {
    const offset = r.pos;
    const b = r.byte('token');
    if (b === SWITCH_PAGE) {
      const n = r.byte('code page number');
      const next = WBXML_CODE_PAGES[n];
      if (!next) throw new WbxmlError(`unknown code page ${n} at offset ${offset}`);
      page = next;
    } else if (b === END) {
      if (out.depth === 0) throw new WbxmlError(`END at offset ${offset} without an open element`);
      out.endElement();
    } else if (b === STR_I) {
      out.text(decodeUtf8BackslashReplace(r.terminatedString()));
    } else if (b === OPAQUE) {
      const length = r.mbUInt32('length of opaque data');
      out.cdata(decodeUtf8BackslashReplace(r.upTo(length)));
    } else if (UNSUPPORTED_GLOBALS.has(b)) {
      throw new WbxmlError(`unsupported global token ${UNSUPPORTED_GLOBALS.get(b)!} (0x${hex2(b)}) at offset ${offset}`);
    } else if (b & HAS_ATTRIBUTES) {
      throw new WbxmlError(`tag 0x${hex2(b & TOKEN_MASK)} at offset ${offset} has attributes, which ActiveSync does not use`);
    } else {
      const token = b & TOKEN_MASK;
      out.startElement(page.tags[token] ?? `UNKNOWN_TAG_${hex2(token)}`);
      if (b & HAS_CONTENT) {
        if (out.depth > WBXML_MAX_DEPTH) throw new WbxmlError(`elements nested deeper than ${WBXML_MAX_DEPTH} levels`);
      } else {
        out.endElement();
      }
    }
  }
  return out.finish();
}
