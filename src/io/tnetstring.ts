/**
 * tnetstrings as mitmproxy writes them (spec/flow-format.md §1): `<length>:<payload><tag>` items,
 * with mitmproxy's `;` text extension, dict entries on disk in reverse insertion order, and
 * Python's number formatting.
 *
 * Encoding runs back to front into one growing buffer: a container's length prefix is written
 * after its payload, so nothing is measured twice and a body is copied exactly once. Walking a
 * dict's entries in order while writing backwards is also what puts them on disk in reverse order,
 * which is the order mitmproxy produces.
 */

import { setOwnKey } from '../util/own-key.js';
import { pyFloatRepr } from '../util/pyfloat.js';

/** A float that must be written with the `^` tag even when it is integral (`3` -> `3.0`). */
export class PyFloat {
  constructor(readonly value: number) {}

  /** Plain JSON (`JSON.stringify` of `makeHar`'s result, say) shows the number. */
  toJSON(): number {
    return this.value;
  }
}

/** A decoded dict (keys are text; bytes keys of very old files are decoded). */
export interface TNetDict {
  [key: string]: TNetValue;
}

/**
 * What the decoder returns: `Buffer` for bytes (`,`), `string` for text (`;`), `number` for
 * floats and safe integers, `bigint` for integers beyond 2^53, arrays for lists, plain objects
 * for dicts.
 */
export type TNetValue = null | boolean | number | bigint | string | Buffer | TNetValue[] | TNetDict;

/** What the encoder accepts: decoded values plus `PyFloat` to force a float. */
export type TNetInput = null | boolean | number | bigint | string | Uint8Array | PyFloat | TNetInput[] | { [key: string]: TNetInput };

/** Malformed tnetstring data. `offset` is the byte offset (in the whole input) where the problem is. */
export class TNetstringError extends Error {
  constructor(
    /** What is wrong, without the offset. */
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} (at byte offset ${offset})`);
    this.name = 'TNetstringError';
  }
}

// --------------------------------------------------------------------------------------------
// Python number formatting

// Floats are written in Python's repr form; re-exported because io's API (io/index.ts) offers it.
export { pyFloatRepr };

// --------------------------------------------------------------------------------------------
// Encoding

const TAG_BYTES = 0x2c; // ,
const TAG_TEXT = 0x3b; // ;
const TAG_INT = 0x23; // #
const TAG_FLOAT = 0x5e; // ^
const TAG_BOOL = 0x21; // !
const TAG_NULL = 0x7e; // ~
const TAG_LIST = 0x5d; // ]
const TAG_DICT = 0x7d; // }

/**
 * Writes tnetstring items back to front. Call the scalar methods for the last item first; for a
 * container call `begin(tag)`, write its children last-first, then `end(mark)`.
 */
export class ReverseWriter {
  private buf: Buffer;
  /** Index of the first written byte; the output is `buf[pos..]`. */
  private pos: number;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.pos = initialSize;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.buf.length - this.pos;
  }

  /** Forget everything written (the buffer is kept for reuse). */
  reset(): void {
    this.pos = this.buf.length;
  }

  /** The output. It shares memory with the writer: copy it before writing more. */
  view(): Buffer {
    return this.buf.subarray(this.pos);
  }

  /** A copy of the output. */
  toBuffer(): Buffer {
    return Buffer.from(this.view());
  }

  private ensure(n: number): void {
    if (this.pos >= n) return;
    const used = this.size;
    let len = this.buf.length * 2;
    while (len - used < n) len *= 2;
    const nb = Buffer.allocUnsafe(len);
    this.buf.copy(nb, len - used, this.pos);
    this.buf = nb;
    this.pos = len - used;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[--this.pos] = b;
  }

  private ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    this.pos -= n;
    for (let i = 0; i < n; i++) this.buf[this.pos + i] = s.charCodeAt(i);
  }

  private prefix(len: number): void {
    this.byte(0x3a); // :
    this.ascii(String(len));
  }

  nullValue(): void {
    this.ascii('0:~');
  }

  bool(v: boolean): void {
    this.ascii(v ? '4:true!' : '5:false!');
  }

  /** An integer (`#`). A non-integral number is written as a float rather than mangled. */
  int(v: number | bigint): void {
    if (typeof v === 'number' && !Number.isInteger(v)) return this.float(v);
    const s = typeof v === 'bigint' ? v.toString() : Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
    this.byte(TAG_INT);
    this.ascii(s);
    this.prefix(s.length);
  }

  /** A float (`^`) in Python repr form. */
  float(v: number): void {
    const s = pyFloatRepr(v);
    this.byte(TAG_FLOAT);
    this.ascii(s);
    this.prefix(s.length);
  }

  bytes(v: Uint8Array): void {
    this.byte(TAG_BYTES);
    const n = v.length;
    this.ensure(n);
    this.pos -= n;
    this.buf.set(v, this.pos);
    this.prefix(n);
  }

  /** Pre-encoded bytes (a whole item, e.g. a constant dict key). */
  raw(v: Uint8Array): void {
    const n = v.length;
    this.ensure(n);
    this.pos -= n;
    const buf = this.buf;
    const p = this.pos;
    if (n < 32) for (let i = 0; i < n; i++) buf[p + i] = v[i]!;
    else buf.set(v, p);
  }

  /** Bytes given as a byte string (one character per byte, as the model keeps header bytes). */
  bytesLatin1(v: string): void {
    this.byte(TAG_BYTES);
    const n = v.length;
    this.ensure(n);
    this.pos -= n;
    const buf = this.buf;
    const p = this.pos;
    if (n < 48) for (let i = 0; i < n; i++) buf[p + i] = v.charCodeAt(i);
    else buf.write(v, p, n, 'latin1');
    this.prefix(n);
  }

  text(v: string): void {
    this.byte(TAG_TEXT);
    const n = Buffer.byteLength(v, 'utf8');
    this.ensure(n);
    this.pos -= n;
    this.buf.write(v, this.pos, n, 'utf8');
    this.prefix(n);
  }

  /** Start a list (`]`) or dict (`}`); returns the mark to pass to `end`. */
  begin(tag: 'list' | 'dict'): number {
    this.byte(tag === 'list' ? TAG_LIST : TAG_DICT);
    return this.size;
  }

  end(mark: number): void {
    this.prefix(this.size - mark);
  }

  /**
   * Any value, without a schema: integral numbers are ints, others floats (wrap a number in
   * `PyFloat` to force a float); dict entries go on disk in reverse order, as mitmproxy writes them.
   */
  value(v: TNetInput): void {
    if (v === null) return this.nullValue();
    switch (typeof v) {
      case 'boolean':
        return this.bool(v);
      case 'number':
        return Number.isInteger(v) ? this.int(v) : this.float(v);
      case 'bigint':
        return this.int(v);
      case 'string':
        return this.text(v);
      case 'object':
        break;
      default:
        throw new TypeError(`cannot encode a ${typeof v} as tnetstring`);
    }
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof PyFloat) return this.float(v.value);
    if (Array.isArray(v)) {
      const mark = this.begin('list');
      for (let i = v.length - 1; i >= 0; i--) this.value(v[i]!);
      return this.end(mark);
    }
    const mark = this.begin('dict');
    for (const k of Object.keys(v)) {
      this.value(v[k]!);
      this.text(k);
    }
    this.end(mark);
  }
}

/** Encode one value as a tnetstring (see `ReverseWriter.value`). */
export function dumps(v: TNetInput): Buffer {
  const w = new ReverseWriter(1024);
  w.value(v);
  return w.toBuffer();
}

// --------------------------------------------------------------------------------------------
// Decoding

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const hasOwn = Object.prototype.hasOwnProperty;

/** Interned short texts, keyed by a hash of their bytes (bounded: it only ever saves work). */
const internTable = new Map<number, string>();
const INTERN_MAX_LEN = 24;
const INTERN_MAX_ENTRIES = 4096;

/** What Python's repr of a finite float looks like; anything else goes the long way. */
const SIMPLE_FLOAT_RE = /^-?\d+(?:\.\d+)?(?:e[+-]\d+)?$/;
const INT_RE = /^\s*[+-]?\d+(?:_\d+)*\s*$/;
/**
 * Python's float() syntax (digits with single underscores between them, an optional fraction,
 * an optional exponent). Written so that each character has one way to match: a looser pattern
 * with `\d+\.?\d*` backtracked quadratically over a long run of digits that did not end as a
 * float, so a 100 KB payload took a minute to refuse.
 */
const DIGITS = String.raw`\d+(?:_\d+)*`;
const FLOAT_RE = new RegExp(String.raw`^\s*[+-]?(?:(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?|inf|infinity|nan)\s*$`, 'i');
/**
 * Python (3.11 and later) refuses to convert integer text of more digits than this
 * (sys.int_info.default_max_str_digits); it also keeps an absurd number out of BigInt, whose
 * decimal parsing and printing take time quadratic in the number of digits.
 */
const MAX_INT_DIGITS = 4300;

function parseIntPayload(s: string, offset: number): number | bigint {
  if (!INT_RE.test(s)) throw new TNetstringError(`invalid integer ${JSON.stringify(s.slice(0, 40))}`, offset);
  const clean = s.trim().replace(/_/g, '');
  const digits = clean.length - (clean[0] === '+' || clean[0] === '-' ? 1 : 0);
  if (digits > MAX_INT_DIGITS) throw new TNetstringError(`integer of ${digits} digits exceeds the limit of ${MAX_INT_DIGITS} digits`, offset);
  const n = Number(clean);
  if (Number.isSafeInteger(n)) return n;
  return BigInt(clean);
}

function parseFloatPayload(s: string, offset: number): number {
  if (!FLOAT_RE.test(s) || !/[\dn]/i.test(s)) throw new TNetstringError(`invalid float ${JSON.stringify(s.slice(0, 40))}`, offset);
  const clean = s.trim().replace(/_/g, '').toLowerCase();
  const unsigned = clean.replace(/^[+-]/, '');
  const neg = clean.startsWith('-');
  if (unsigned === 'inf' || unsigned === 'infinity') return neg ? -Infinity : Infinity;
  if (unsigned === 'nan') return NaN;
  const n = Number(clean);
  if (Number.isNaN(n)) throw new TNetstringError(`invalid float ${JSON.stringify(s.slice(0, 40))}`, offset);
  return n;
}

/**
 * Parse the item starting at `start` of `data` (which must contain all of it). `base` is the
 * offset of `data[0]` in the whole input, used in error messages.
 */
/** Where the item parsed last ended (a module-level cursor instead of a result object per item). */
let nextPos = 0;

function parseItem(data: Buffer, start: number, end: number, base: number): TNetValue {
  // Length prefix: digits up to ':' (leading zeros are fine, as Python's int() allows).
  let i = start;
  let len = 0;
  let digits = 0;
  while (i < end && data[i] !== 0x3a) {
    const c = data[i]!;
    if (c < 0x30 || c > 0x39) throw new TNetstringError(`not a tnetstring: invalid length prefix byte 0x${c.toString(16).padStart(2, '0')}`, base + i);
    len = len * 10 + (c - 0x30);
    if (++digits > 12) throw new TNetstringError('not a tnetstring: absurdly large length prefix', base + start);
    i++;
  }
  if (i >= end) throw new TNetstringError('not a tnetstring: missing ":" after length prefix', base + start);
  if (digits === 0) throw new TNetstringError('not a tnetstring: empty length prefix', base + start);
  const payloadStart = i + 1;
  const payloadEnd = payloadStart + len;
  if (payloadEnd >= end) {
    throw new TNetstringError(`not a tnetstring: item of length ${len} is cut off, ${Math.max(0, end - payloadStart)} bytes available`, base + start);
  }
  const tag = data[payloadEnd]!;
  const value = parsePayload(data, payloadStart, payloadEnd, tag, base);
  nextPos = payloadEnd + 1;
  return value;
}

/**
 * How deep lists and dicts may nest. The parser recurses per level, and a file of a few kilobytes
 * could otherwise nest deep enough to overflow the stack (mitmproxy's reader fails there as well,
 * with Python's recursion limit of about a thousand).
 */
const MAX_NESTING = 1000;
/** Containers being parsed right now (module-level, like nextPos). */
let nesting = 0;

function parsePayload(data: Buffer, s: number, e: number, tag: number, base: number): TNetValue {
  switch (tag) {
    case TAG_BYTES:
      return data.subarray(s, e);
    case TAG_TEXT:
      return parseText(data, s, e, base);
    case TAG_DICT:
    case TAG_LIST:
      if (nesting >= MAX_NESTING) throw new TNetstringError(`lists and dicts nested more than ${MAX_NESTING} deep`, base + s);
      nesting++;
      try {
        return tag === TAG_DICT ? parseDict(data, s, e, base) : parseList(data, s, e, base);
      } finally {
        nesting--;
      }
    case TAG_INT:
      return parseInt10(data, s, e, base);
    case TAG_FLOAT: {
      const t = data.toString('latin1', s, e);
      if (SIMPLE_FLOAT_RE.test(t)) return Number(t);
      return parseFloatPayload(t, base + s);
    }
    case TAG_BOOL: {
      const t = data.toString('latin1', s, e);
      if (t === 'true') return true;
      if (t === 'false') return false;
      throw new TNetstringError(`invalid boolean ${JSON.stringify(t.slice(0, 40))}`, base + s);
    }
    case TAG_NULL:
      if (e !== s) throw new TNetstringError('null value with a non-empty payload', base + s);
      return null;
    default:
      throw new TNetstringError(`unknown type tag 0x${tag.toString(16).padStart(2, '0')}`, base + e);
  }
}

/**
 * Text. Short ASCII texts (dict keys, ids, most values) skip the UTF-8 decoder; the shortest
 * ones (dict keys above all, repeated in every flow) come from a small intern table.
 */
function parseText(data: Buffer, s: number, e: number, base: number): string {
  const len = e - s;
  if (len <= 64) {
    let ascii = true;
    let h = len;
    for (let i = s; i < e; i++) {
      const c = data[i]!;
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      h = (Math.imul(h, 31) + c) | 0;
    }
    if (ascii) {
      if (len > INTERN_MAX_LEN) return data.toString('latin1', s, e);
      const cached = internTable.get(h);
      if (cached !== undefined && cached.length === len) {
        let same = true;
        for (let i = 0; i < len; i++) {
          if (cached.charCodeAt(i) !== data[s + i]) {
            same = false;
            break;
          }
        }
        if (same) return cached;
      }
      const str = data.toString('latin1', s, e);
      if (internTable.size < INTERN_MAX_ENTRIES) internTable.set(h, str);
      return str;
    }
  }
  try {
    return utf8Fatal.decode(data.subarray(s, e));
  } catch {
    throw new TNetstringError('invalid UTF-8 in text value', base + s);
  }
}

/** Integers: plain decimal ones that fit a double exactly without a regex or a string. */
function parseInt10(data: Buffer, s: number, e: number, base: number): number | bigint {
  const len = e - s;
  if (len > 0 && len <= 15) {
    let i = s;
    const neg = data[i] === 0x2d;
    if (neg) i++;
    let n = 0;
    let ok = i < e;
    for (; i < e; i++) {
      const c = data[i]! - 0x30;
      if (c < 0 || c > 9) {
        ok = false;
        break;
      }
      n = n * 10 + c;
    }
    if (ok) return neg ? -n : n;
  }
  return parseIntPayload(data.toString('latin1', s, e), base + s);
}

/**
 * Entries of the dicts being parsed, shared by all nesting levels (each level works above the
 * stack height it started at), so parsing a dict allocates nothing but the dict itself.
 */
const entryStack: Array<string | TNetValue> = [];

/**
 * A dict. On disk the entries are in reverse insertion order; they are collected and the dict
 * is rebuilt in the writer's order, so that writing it again gives the same bytes. The last
 * occurrence on disk of a repeated key wins, as in Python.
 */
function parseDict(data: Buffer, s: number, e: number, base: number): TNetDict {
  const stack = entryStack;
  const bottom = stack.length;
  let p = s;
  while (p < e) {
    const keyAt = p;
    const k = parseItem(data, p, e, base);
    if (nextPos >= e) {
      stack.length = bottom;
      throw new TNetstringError('dict key without a value', base + keyAt);
    }
    const key = typeof k === 'string' ? k : dictKey(k);
    stack.push(key, parseItem(data, nextPos, e, base));
    p = nextPos;
  }
  const d: TNetDict = {};
  for (let j = stack.length - 2; j >= bottom; j -= 2) {
    const key = stack[j] as string;
    if (key === '__proto__' || hasOwn.call(d, key)) {
      if (!hasOwn.call(d, key)) setOwnKey(d, key, stack[j + 1] as TNetValue);
      continue;
    }
    d[key] = stack[j + 1] as TNetValue;
  }
  stack.length = bottom;
  return d;
}

function parseList(data: Buffer, s: number, e: number, base: number): TNetValue[] {
  const out: TNetValue[] = [];
  let p = s;
  while (p < e) {
    out.push(parseItem(data, p, e, base));
    p = nextPos;
  }
  return out;
}

/** Dict keys are text in modern files and bytes in very old ones; other key types are stringified (as Python's str()). */
function dictKey(k: TNetValue): string {
  if (typeof k === 'string') return k;
  if (Buffer.isBuffer(k)) {
    try {
      return utf8Fatal.decode(k);
    } catch {
      return k.toString('latin1');
    }
  }
  if (typeof k === 'boolean') return k ? 'True' : 'False';
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  if (k === null) return 'None';
  throw new TypeError('unhashable dict key');
}

/** Decode exactly one item that fills `data` completely. */
export function loads(data: Uint8Array, base = 0): TNetValue {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) throw new TNetstringError('not a tnetstring: empty input', base);
  entryStack.length = 0;
  const value = parseItem(buf, 0, buf.length, base);
  if (nextPos !== buf.length) throw new TNetstringError(`trailing data after the item: ${buf.length - nextPos} bytes`, base + nextPos);
  return value;
}

/** Decode every top-level item of a complete buffer (a whole flow file in memory). */
export function loadsAll(data: Uint8Array): TNetValue[] {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: TNetValue[] = [];
  let p = 0;
  while (p < buf.length) {
    entryStack.length = 0;
    out.push(parseItem(buf, p, buf.length, 0));
    p = nextPos;
  }
  return out;
}

// --------------------------------------------------------------------------------------------
// Streaming: one top-level item at a time from a byte source

/** One top-level item: its decoded value, where it started and its size in bytes. */
export interface TNetItem {
  value: TNetValue;
  offset: number;
  size: number;
}

/** A top-level item as bytes: the whole item, its offset in the input and the size of its length prefix. */
export interface RawItem {
  bytes: Buffer;
  offset: number;
  headerLen: number;
}

/** Decode an item returned by `ItemSplitter.nextRaw`. */
export function decodeRawItem(raw: RawItem): TNetValue {
  entryStack.length = 0;
  const b = raw.bytes;
  return parsePayload(b, raw.headerLen, b.length - 1, b[b.length - 1]!, raw.offset);
}

/**
 * Splits a byte stream into top-level items, synchronously: feed it chunks with `push`, take
 * complete items with `next`, and call `end` when the input is over. It holds no more than the
 * current item and the rest of the last chunk.
 */
export class ItemSplitter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Offset in the whole input of the first pending byte. */
  private offset = 0;
  /** Size of the item being assembled once its header was read, else -1. */
  private need = -1;
  private headerLen = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingLen += chunk.length;
  }

  /** The next complete item, decoded, or null when more input is needed. */
  next(): TNetItem | null {
    const raw = this.nextRaw();
    return raw === null ? null : { value: decodeRawItem(raw), offset: raw.offset, size: raw.bytes.length };
  }

  /** The next complete item as bytes (not decoded yet), or null when more input is needed. */
  nextRaw(): RawItem | null {
    if (this.need < 0) {
      if (this.pendingLen === 0) return null;
      this.readHeader();
      if (this.need < 0) return null;
    }
    if (this.pendingLen < this.need) return null;
    const offset = this.offset;
    const bytes = this.take(this.need);
    this.need = -1;
    return { bytes, offset, headerLen: this.headerLen };
  }

  /** The input is over: throws when it stopped inside an item. */
  end(): void {
    if (this.pendingLen === 0) return;
    if (this.need < 0) this.readHeader();
    if (this.need < 0) throw new TNetstringError(`not a tnetstring: input ends inside a length prefix, after ${this.pendingLen} bytes`, this.offset);
    throw new TNetstringError(`not a tnetstring: input ends inside an item of ${this.need} bytes, ${this.pendingLen} bytes available`, this.offset);
  }

  /** The next `n` bytes: a view when they are in one chunk, else a copy of just those bytes. */
  private take(n: number): Buffer {
    const pending = this.pending;
    const first = pending[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const c = pending[0]!;
        const use = Math.min(c.length, n - got);
        c.copy(out, got, 0, use);
        got += use;
        if (use === c.length) pending.shift();
        else pending[0] = c.subarray(use);
      }
    }
    this.pendingLen -= n;
    this.offset += n;
    return out;
  }

  /** Look for "<digits>:" at the start of the pending data, without concatenating chunks. */
  private readHeader(): void {
    let len = 0;
    let i = 0;
    for (const chunk of this.pending) {
      for (let j = 0; j < chunk.length; j++, i++) {
        const c = chunk[j]!;
        if (c === 0x3a) {
          if (i === 0) throw new TNetstringError('not a tnetstring: empty length prefix', this.offset);
          this.headerLen = i + 1;
          this.need = this.headerLen + len + 1;
          return;
        }
        if (c < 0x30 || c > 0x39) throw new TNetstringError(`not a tnetstring: invalid length prefix byte 0x${c.toString(16).padStart(2, '0')}`, this.offset + i);
        if (i >= 12) throw new TNetstringError('not a tnetstring: absurdly large length prefix', this.offset);
        len = len * 10 + (c - 0x30);
      }
    }
  }
}

/**
 * Reads top-level items one after another from chunks of bytes (a file, a socket, stdin), never
 * holding more than the current item and one chunk. A clean end of input between items ends the
 * iteration; anything else (a cut-off item, garbage) throws a `TNetstringError` with the offset.
 */
export async function* readItems(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<TNetItem> {
  const splitter = new ItemSplitter();
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    splitter.push(chunk);
    for (let item = splitter.next(); item !== null; item = splitter.next()) yield item;
  }
  splitter.end();
}
