/**
 * A small DER (ASN.1 Distinguished Encoding Rules) codec: just what certificates, CRLs and
 * PKCS#12 files need. We write our own instead of going through @peculiar/x509 for two reasons
 * measured on this code base: building a leaf with @peculiar/x509 over WebCrypto costs ~1.8 ms of
 * main-thread time per certificate (its reflection-based ASN.1 layer), against ~0.1 ms for these
 * byte builders plus node's threadpool `crypto.sign`; and we need byte-exact control (UTF8String
 * names, the CA subject copied verbatim as the leaf issuer, positive serials).
 *
 * The reader is strict (definite lengths, single-byte tags, nothing past the end) and throws
 * `DerError` on anything malformed; callers turn that into their own user-facing errors.
 */

/** Malformed DER input. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

// Universal tags (with the constructed bit where DER requires it).
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------------------------------------
// Writing

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag byte, DER length, content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(items));
}

/** A SET OF: DER wants the elements sorted by their encodings. */
export function setOf(...items: Buffer[]): Buffer {
  const sorted = [...items].sort(Buffer.compare);
  return tlv(TAG.SET, Buffer.concat(sorted));
}

/** A non-negative INTEGER from a bigint or unsigned big-endian bytes (a 0x00 is prepended when the top bit is set). */
export function integer(value: bigint | number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number' || typeof value === 'bigint') {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError('negative INTEGERs are not needed here');
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Buffer.from(out);
  } else {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    bytes = Buffer.from(value.subarray(start));
    if (bytes.length === 0) bytes = Buffer.from([0]);
  }
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.INTEGER, bytes);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`bad OID ${dotted}`);
    return BigInt(p);
  });
  if (parts.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  const out: number[] = [];
  for (const arc of arcs) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

export function utf8String(s: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
}

export function ia5String(s: string): Buffer {
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
}

/** BMPString (UTF-16 big endian), as PKCS#12 friendly names use. */
export function bmpString(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  return tlv(TAG.BMP_STRING, le.swap16());
}

export function octetString(b: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, b);
}

export function bitString(b: Uint8Array, unusedBits = 0): Buffer {
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), b]));
}

export function boolean(v: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return Buffer.from([TAG.NULL, 0]);
}

/** `[n] EXPLICIT`: a constructed context-specific tag wrapping one complete element. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  return tlv(0xa0 | n, inner);
}

/** `[n] IMPLICIT` primitive: the context tag replaces the element's own tag. */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  return tlv(0x80 | n, content);
}

/** `[n] IMPLICIT` constructed (e.g. an implicitly tagged SEQUENCE). */
export function implicitConstructed(n: number, content: Uint8Array): Buffer {
  return tlv(0xa0 | n, content);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** RFC 5280 §4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050; whole seconds, always UTC. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad(y % 100) + rest, 'ascii'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(pad(y, 4) + rest, 'ascii'));
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One decoded element. `raw` is the whole TLV, `content` its value bytes (views into the input). */
export interface DerNode {
  tag: number;
  constructed: boolean;
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  tagClass: number;
  /** The tag number without class and constructed bits. */
  tagNumber: number;
  raw: Buffer;
  content: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

/** Read one element at `offset`. */
export function readDer(buf: Buffer, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new DerError('truncated DER element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) length = first;
  else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite DER length');
    if (n > 4) throw new DerError('DER length too large');
    if (pos + n > buf.length) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > buf.length) throw new DerError('DER element runs past the end of its container');
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    tagClass: tag >> 6,
    tagNumber: tag & 0x1f,
    raw: buf.subarray(offset, end),
    content: buf.subarray(pos, end),
    end,
  };
}

/** Read exactly one element spanning the whole buffer. */
export function readDerExact(buf: Buffer): DerNode {
  const node = readDer(buf, 0);
  if (node.end !== buf.length) throw new DerError('trailing bytes after DER element');
  return node;
}

/** The elements inside a constructed element. */
export function children(node: DerNode): DerNode[] {
  if (!node.constructed) throw new DerError(`expected a constructed element, got tag 0x${node.tag.toString(16)}`);
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < node.content.length) {
    const child = readDer(node.content, pos);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Check the tag of an element and return it (for readable parsers). */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`missing ${what}`);
  if (node.tag !== tag) throw new DerError(`expected ${what} (tag 0x${tag.toString(16)}), got tag 0x${node.tag.toString(16)}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  if (node.tag !== TAG.OID) throw new DerError('expected an OBJECT IDENTIFIER');
  const b = node.content;
  if (b.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < b.length; i++) {
    v = (v << 7n) | BigInt(b[i]! & 0x7f);
    if ((b[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    } else if (i === b.length - 1) throw new DerError('truncated OBJECT IDENTIFIER');
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** An INTEGER's value (two's complement). */
export function decodeInteger(node: DerNode): bigint {
  if (node.tag !== TAG.INTEGER) throw new DerError('expected an INTEGER');
  const b = node.content;
  if (b.length === 0) throw new DerError('empty INTEGER');
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  if (b[0]! & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

/** The text of any of the string types X.509 names use. */
export function decodeString(node: DerNode): string {
  switch (node.tag) {
    case TAG.UTF8_STRING:
      return node.content.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.T61_STRING:
      return node.content.toString('latin1');
    case TAG.BMP_STRING:
      return Buffer.from(node.content).swap16().toString('utf16le');
    case TAG.UNIVERSAL_STRING: {
      let s = '';
      for (let i = 0; i + 4 <= node.content.length; i += 4) s += String.fromCodePoint(node.content.readUInt32BE(i));
      return s;
    }
    default:
      return node.content.toString('latin1');
  }
}

export function decodeTime(node: DerNode): Date {
  const s = node.content.toString('ascii');
  let m: RegExpMatchArray | null;
  if (node.tag === TAG.UTC_TIME && (m = s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  if (node.tag === TAG.GENERALIZED_TIME && (m = s.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw new DerError(`unsupported time value ${JSON.stringify(s)}`);
}
