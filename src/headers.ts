import { bytesToText, textToBytes } from './util/bytes.js';

/** One header field: name and value as byte strings (see util/bytes.ts), exactly as on the wire. */
export type HeaderField = [name: string, value: string];

/** Anything a Headers object can be built from. */
export type HeadersInit = Headers | Iterable<readonly [string, string]> | Record<string, string | string[]>;

/**
 * An ordered multimap of HTTP header fields. Order, case and duplicates are kept exactly as
 * received; lookups are case-insensitive, as in mitmproxy's `Headers`.
 *
 * `fields` holds the raw byte strings. The accessors (`get`, `set`, ...) speak text: values
 * with non-ASCII bytes are decoded as UTF-8 on the way out and encoded as UTF-8 on the way in.
 */
export class Headers implements Iterable<HeaderField> {
  fields: HeaderField[];

  constructor(init?: HeadersInit) {
    this.fields = [];
    if (init === undefined) return;
    if (init instanceof Headers) {
      this.fields = init.fields.map(([n, v]) => [n, v]);
    } else if (Symbol.iterator in init) {
      for (const [n, v] of init as Iterable<readonly [string, string]>) this.fields.push([textToBytes(n), textToBytes(v)]);
    } else {
      for (const [n, v] of Object.entries(init)) {
        if (Array.isArray(v)) for (const item of v) this.fields.push([textToBytes(n), textToBytes(item)]);
        else this.fields.push([textToBytes(n), textToBytes(v)]);
      }
    }
  }

  /** From node's flat `rawHeaders` array `[name, value, name, value, ...]` (latin1 strings). */
  static fromRaw(raw: readonly string[]): Headers {
    const h = new Headers();
    for (let i = 0; i + 1 < raw.length; i += 2) h.fields.push([raw[i]!, raw[i + 1]!]);
    return h;
  }

  /** To a flat `[name, value, ...]` array (byte strings), the form node's http APIs accept. */
  toRaw(): string[] {
    const out: string[] = new Array(this.fields.length * 2);
    let i = 0;
    for (const [n, v] of this.fields) {
      out[i++] = n;
      out[i++] = v;
    }
    return out;
  }

  get length(): number {
    return this.fields.length;
  }

  /** The value for `name`; repeated fields are joined with ", " as mitmproxy does. */
  get(name: string): string | undefined {
    const lname = name.toLowerCase();
    let found: string | undefined;
    for (const [n, v] of this.fields) {
      if (n.length === lname.length && n.toLowerCase() === lname) {
        found = found === undefined ? v : `${found}, ${v}`;
      }
    }
    return found === undefined ? undefined : bytesToText(found);
  }

  /** Every value for `name`, in order, without joining. */
  getAll(name: string): string[] {
    const lname = name.toLowerCase();
    const out: string[] = [];
    for (const [n, v] of this.fields) if (n.toLowerCase() === lname) out.push(bytesToText(v));
    return out;
  }

  has(name: string): boolean {
    const lname = name.toLowerCase();
    for (const [n] of this.fields) if (n.length === lname.length && n.toLowerCase() === lname) return true;
    return false;
  }

  /**
   * Set a header: the first field with this name keeps its position and case and gets the new
   * value, other fields with the name are removed; a new field is appended when there was none.
   */
  set(name: string, value: string | number): this {
    const lname = name.toLowerCase();
    const raw = textToBytes(String(value));
    let placed = false;
    const out: HeaderField[] = [];
    for (const f of this.fields) {
      if (f[0].toLowerCase() === lname) {
        if (!placed) {
          out.push([f[0], raw]);
          placed = true;
        }
      } else {
        out.push(f);
      }
    }
    if (!placed) out.push([textToBytes(name), raw]);
    this.fields = out;
    return this;
  }

  /** Replace all fields named `name` with one field per value (appended at the position of the first). */
  setAll(name: string, values: readonly string[]): this {
    const lname = name.toLowerCase();
    const idx = this.fields.findIndex(([n]) => n.toLowerCase() === lname);
    const keepName = idx >= 0 ? this.fields[idx]![0] : textToBytes(name);
    const rest = this.fields.filter(([n]) => n.toLowerCase() !== lname);
    const insertAt = idx >= 0 ? this.fields.slice(0, idx).filter(([n]) => n.toLowerCase() !== lname).length : rest.length;
    rest.splice(insertAt, 0, ...values.map((v): HeaderField => [keepName, textToBytes(v)]));
    this.fields = rest;
    return this;
  }

  /** Append a field, keeping any existing ones. */
  add(name: string, value: string | number): this {
    this.fields.push([textToBytes(name), textToBytes(String(value))]);
    return this;
  }

  /** Insert a field at a position. */
  insert(index: number, name: string, value: string): this {
    this.fields.splice(index, 0, [textToBytes(name), textToBytes(value)]);
    return this;
  }

  /** Remove every field named `name`; returns whether any was removed. */
  delete(name: string): boolean {
    const lname = name.toLowerCase();
    const before = this.fields.length;
    this.fields = this.fields.filter(([n]) => n.toLowerCase() !== lname);
    return this.fields.length !== before;
  }

  clear(): void {
    this.fields = [];
  }

  /** Distinct header names in order of first appearance (case of the first occurrence). */
  keys(): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const [n] of this.fields) {
      const l = n.toLowerCase();
      if (!seen.has(l)) {
        seen.add(l);
        out.push(bytesToText(n));
      }
    }
    return out;
  }

  /** `[name, value]` pairs as text; with `multi` false, repeated names are joined like `get`. */
  items(multi = true): HeaderField[] {
    if (multi) return this.fields.map(([n, v]) => [bytesToText(n), bytesToText(v)]);
    return this.keys().map((k) => [k, this.get(k)!]);
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.items(true)[Symbol.iterator]();
  }

  copy(): Headers {
    return new Headers(this);
  }

  equals(other: Headers): boolean {
    if (other.fields.length !== this.fields.length) return false;
    for (let i = 0; i < this.fields.length; i++) {
      const a = this.fields[i]!;
      const b = other.fields[i]!;
      if (a[0] !== b[0] || a[1] !== b[1]) return false;
    }
    return true;
  }

  /** Text `[name, value]` pairs, the shape of the web API's flow JSON. */
  toJSON(): HeaderField[] {
    return this.items(true);
  }

  toString(): string {
    return this.fields.map(([n, v]) => `${n}: ${v}\r\n`).join('');
  }
}
