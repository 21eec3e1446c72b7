/**
 * Image headers read without decoding pixels: the format, dimensions and text metadata that
 * mitmproxy's image view lists. Each parser for a format mitmproxy parses throws on data that
 * does not follow it (mitmproxy then falls back to Raw).
 */
import { inflateSync } from 'node:zlib';
import { decodeUtf8BackslashReplace } from './text.js';
import { pyFloatRepr } from '../util/pyfloat.js';
import { stripChar } from '../util/strip-char.js';

export type ImageMetadata = Array<[string, string]>;

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly littleEndian = false,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`unexpected end of image data at byte ${this.pos}`);
  }
  u1(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u2(): number {
    this.need(2);
    const v = this.littleEndian ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u4(): number {
    this.need(4);
    const v = this.littleEndian ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  expect(contents: number[] | string, what: string): void {
    const want = typeof contents === 'string' ? Buffer.from(contents, 'latin1') : Buffer.from(contents);
    if (!this.bytes(want.length).equals(want)) throw new Error(`not a valid ${what}`);
  }
  get eof(): boolean {
    return this.pos >= this.buf.length;
  }
}

/** A NUL-terminated string from `b` (the rest when there is no NUL) and what follows it. */
function strz(b: Buffer, from = 0): { value: Buffer; next: number } {
  const end = b.indexOf(0, from);
  if (end < 0) throw new Error('missing string terminator');
  return { value: b.subarray(from, end), next: end + 1 };
}

/** Python's str(bytes): b'...' with escapes (double quotes when the bytes hold ' but no "). */
export function pythonBytesRepr(b: Uint8Array): string {
  const hasSingle = b.includes(0x27);
  const quote = hasSingle && !b.includes(0x22) ? '"' : "'";
  let out = 'b' + quote;
  for (const c of b) {
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x27 && quote === "'") out += "\\'";
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + quote;
}

export function parsePng(data: Buffer): ImageMetadata {
  const r = new Reader(data);
  r.expect([137, 80, 78, 71, 13, 10, 26, 10], 'PNG');
  r.expect([0, 0, 0, 13], 'PNG (IHDR length)');
  r.expect('IHDR', 'PNG (IHDR)');
  const width = r.u4();
  const height = r.u4();
  r.bytes(5); // bit depth, color type, compression, filter, interlace
  r.u4(); // CRC
  const parts: ImageMetadata = [
    ['Format', 'Portable network graphics'],
    ['Size', `${width} x ${height} px`],
  ];
  for (;;) {
    if (r.eof) break;
    const len = r.u4();
    const type = r.bytes(4).toString('latin1');
    const body = r.bytes(len);
    r.u4(); // CRC, not checked (mitmproxy does not either)
    if (type === 'gAMA') {
      if (body.length < 4) throw new Error('short gAMA chunk');
      parts.push(['gamma', pyFloatRepr(body.readUInt32BE(0) / 100000)]);
    } else if (type === 'pHYs') {
      if (body.length < 9) throw new Error('short pHYs chunk');
      parts.push(['aspect', `${body.readUInt32BE(0)} x ${body.readUInt32BE(4)}`]);
    } else if (type === 'tEXt') {
      const k = strz(body);
      parts.push([k.value.toString('latin1'), body.subarray(k.next).toString('latin1')]);
    } else if (type === 'iTXt') {
      const k = strz(body);
      let p = k.next + 2; // compression flag and method
      if (p > body.length) throw new Error('short iTXt chunk');
      p = strz(body, p).next; // language tag
      p = strz(body, p).next; // translated keyword
      parts.push([decodeUtf8Strict(k.value), decodeUtf8Strict(body.subarray(p))]);
    } else if (type === 'zTXt') {
      const k = strz(body);
      if (k.next + 1 > body.length) throw new Error('short zTXt chunk');
      parts.push([k.value.toString('latin1'), inflateSync(body.subarray(k.next + 1)).toString('latin1')]);
    }
    if (type === 'IEND') break;
  }
  return parts;
}

function decodeUtf8Strict(b: Buffer): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(b);
}

function gifSubblocks(r: Reader): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const n = r.u1();
    out.push(r.bytes(n));
    if (n === 0) return out;
  }
}

export function parseGif(data: Buffer): ImageMetadata {
  const r = new Reader(data, true);
  r.expect('GIF', 'GIF');
  const version = r.bytes(3).toString('latin1');
  const width = r.u2();
  const height = r.u2();
  const flags = r.u1();
  const bg = r.u1();
  r.u1(); // pixel aspect ratio
  if (flags & 0x80) r.bytes((2 << (flags & 7)) * 3);
  const parts: ImageMetadata = [
    ['Format', 'Compuserve GIF'],
    ['Version', `GIF${version}`],
    ['Size', `${width} x ${height} px`],
    ['background', String(bg)],
  ];
  const comments: string[] = [];
  while (!r.eof) {
    const blockType = r.u1();
    if (blockType === 0x3b) break; // trailer
    if (blockType === 0x2c) {
      r.bytes(8); // left, top, width, height
      const f = r.u1();
      if (f & 0x80) r.bytes((2 << (f & 7)) * 3);
      r.u1(); // LZW minimum code size
      gifSubblocks(r);
    } else if (blockType === 0x21) {
      const label = r.u1();
      if (label === 0xf9) {
        r.expect([4], 'GIF graphic control extension');
        r.bytes(4);
        r.expect([0], 'GIF graphic control extension');
      } else if (label === 0xff) {
        gifSubblocks(r);
      } else {
        const blocks = gifSubblocks(r);
        if (label === 0xfe) for (const b of blocks) if (b.length > 0) comments.push(pythonBytesRepr(b));
      }
    }
  }
  for (const c of comments) parts.push(['comment', c]);
  return parts;
}

/** JPEG markers mitmproxy's parser knows; any other marker makes it fail. */
const JPEG_MARKERS = new Set([0x01, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xfe, ...Array.from({ length: 16 }, (_, i) => 0xe0 + i)]);

/** Text-valued EXIF IFD0 tags (names as mitmproxy lists them). */
const EXIF_TAGS: Record<number, string> = {
  269: 'document_name', 270: 'image_description', 271: 'make', 272: 'model', 282: 'x_resolution', 283: 'y_resolution',
  305: 'software', 306: 'modify_date', 315: 'artist', 316: 'host_computer', 33432: 'copyright',
};

function exifFields(tiff: Buffer): ImageMetadata {
  const order = tiff.subarray(0, 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') throw new Error('bad EXIF byte order');
  const r = new Reader(tiff, order === 'II');
  r.pos = 2;
  r.u2(); // 42
  r.pos = r.u4();
  const count = r.u2();
  const out: ImageMetadata = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u2();
    const type = r.u2();
    const length = r.u4();
    const ofs = r.u4();
    const size = length * (type === 3 ? 2 : type === 4 ? 4 : 1);
    if (size <= 4) continue; // stored inline: mitmproxy shows only out-of-line values
    const name = EXIF_TAGS[tag];
    if (name === undefined) continue;
    if (ofs + size > tiff.length) throw new Error('EXIF value out of bounds');
    out.push([name, stripChar(decodeUtf8Strict(tiff.subarray(ofs, ofs + size)), '\0')]);
  }
  return out;
}

export function parseJpeg(data: Buffer): ImageMetadata {
  const r = new Reader(data);
  const parts: ImageMetadata = [['Format', 'JPEG (ISO 10918)']];
  while (!r.eof) {
    r.expect([0xff], 'JPEG segment');
    const marker = r.u1();
    if (!JPEG_MARKERS.has(marker)) throw new Error(`unknown JPEG marker 0x${marker.toString(16)}`);
    if (marker === 0xd8 || marker === 0xd9) continue;
    const length = r.u2();
    if (length < 2) throw new Error('bad JPEG segment length');
    const seg = r.bytes(length - 2);
    if (marker === 0xc0) {
      if (seg.length < 5) throw new Error('short SOF0 segment');
      parts.push(['Size', `${seg.readUInt16BE(3)} x ${seg.readUInt16BE(1)} px`]);
    } else if (marker === 0xe0) {
      if (seg.length < 14) throw new Error('short APP0 segment');
      parts.push(['jfif_version', `(${seg[5]}, ${seg[6]})`]);
      parts.push(['jfif_density', `(${seg.readUInt16BE(8)}, ${seg.readUInt16BE(10)})`]);
      parts.push(['jfif_unit', String(seg[7])]);
    } else if (marker === 0xfe) {
      parts.push(['comment', decodeUtf8BackslashReplace(seg)]);
    } else if (marker === 0xe1) {
      const magic = strz(seg);
      if (magic.value.toString('latin1') === 'Exif') parts.push(...exifFields(seg.subarray(magic.next + 1)));
    } else if (marker === 0xda) {
      break; // entropy-coded image data follows; nothing more to read
    }
  }
  return parts;
}

export function parseIco(data: Buffer): ImageMetadata {
  const r = new Reader(data, true);
  r.expect([0, 0, 1, 0], 'ICO');
  const n = r.u2();
  const parts: ImageMetadata = [
    ['Format', 'ICO'],
    ['Number of images', String(n)],
  ];
  const pad = ' '.repeat(18);
  for (let i = 0; i < n; i++) {
    const w = r.u1();
    const h = r.u1();
    r.u1(); // colors
    r.expect([0], 'ICO directory entry');
    r.u2(); // planes
    const bpp = r.u2();
    r.u4(); // size
    const ofs = r.u4();
    if (ofs + 8 > data.length) throw new Error('ICO image out of bounds');
    const isPng = data.subarray(ofs, ofs + 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    parts.push([`Image ${i + 1}`, `Size: ${w || 256} x ${h || 256}\n${pad}Bits per pixel: ${bpp}\n${pad}PNG: ${isPng ? 'True' : 'False'}`]);
  }
  return parts;
}

/**
 * WebP (not listed by mitmproxy, which shows only "# WEBP Image"): format and canvas size from
 * the VP8, VP8L or VP8X header. Never throws: mitmproxy shows the heading for any RIFF/WEBP data,
 * so a chunk we do not know or a header we cannot read just leaves the list empty.
 */
export function parseWebp(data: Buffer): ImageMetadata {
  // RIFF, size, WEBP, then the first chunk's fourcc and size, then its payload.
  const chunk = data.subarray(12, 16).toString('latin1');
  const b = data.subarray(20);
  let kind: string;
  let width: number;
  let height: number;
  if (chunk === 'VP8 ' && b.length >= 10 && b[3] === 0x9d && b[4] === 0x01 && b[5] === 0x2a) {
    kind = 'lossy';
    width = b.readUInt16LE(6) & 0x3fff;
    height = b.readUInt16LE(8) & 0x3fff;
  } else if (chunk === 'VP8L' && b.length >= 5 && b[0] === 0x2f) {
    const bits = b.readUInt32LE(1);
    kind = 'lossless';
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (chunk === 'VP8X' && b.length >= 10) {
    kind = 'extended';
    width = 1 + b.readUIntLE(4, 3);
    height = 1 + b.readUIntLE(7, 3);
  } else {
    return [];
  }
  return [
    ['Format', `WebP (${kind})`],
    ['Size', `${width} x ${height} px`],
  ];
}

/** Python's imghdr.what (plus ICO), which decides the "# <TYPE> Image" heading. */
export function imageType(h: Buffer): string | null {
  const s = (a: number, b: number): string => h.subarray(a, b).toString('latin1');
  if (s(6, 10) === 'JFIF' || s(6, 10) === 'Exif' || h.subarray(0, 4).equals(Buffer.from([0xff, 0xd8, 0xff, 0xdb]))) return 'jpeg';
  if (h.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) return 'png';
  if (s(0, 6) === 'GIF87a' || s(0, 6) === 'GIF89a') return 'gif';
  if (s(0, 2) === 'MM' || s(0, 2) === 'II') return 'tiff';
  if (h[0] === 0x01 && h[1] === 0xda) return 'rgb';
  if (h.length >= 3 && h[0] === 0x50 && ' \t\n\r'.includes(String.fromCharCode(h[2]!))) {
    if (h[1] === 0x31 || h[1] === 0x34) return 'pbm';
    if (h[1] === 0x32 || h[1] === 0x35) return 'pgm';
    if (h[1] === 0x33 || h[1] === 0x36) return 'ppm';
  }
  if (h.subarray(0, 4).equals(Buffer.from([0x59, 0xa6, 0x6a, 0x95]))) return 'rast';
  if (s(0, 8) === '#define ') return 'xbm';
  if (s(0, 2) === 'BM') return 'bmp';
  if (s(0, 4) === 'RIFF' && s(8, 12) === 'WEBP') return 'webp';
  if (h.subarray(0, 4).equals(Buffer.from([0x76, 0x2f, 0x31, 0x01]))) return 'exr';
  if (h.subarray(0, 4).equals(Buffer.from([0, 0, 1, 0]))) return 'ico';
  return null;
}
