/**
 * An ordered list of `[key, value]` pairs with multimap lookups: the shape of query strings,
 * cookies and form fields (mitmproxy's MultiDict). Mutations call `onChange`, which lets a
 * request write a modified query back into its path.
 */
export class MultiDict<V = string> implements Iterable<[string, V]> {
  fields: Array<[string, V]>;
  private readonly onChange: ((fields: Array<[string, V]>) => void) | undefined;
  private readonly caseInsensitive: boolean;

  constructor(
    fields: Iterable<readonly [string, V]> = [],
    opts: { onChange?: (fields: Array<[string, V]>) => void; caseInsensitive?: boolean } = {},
  ) {
    this.fields = Array.from(fields, ([k, v]): [string, V] => [k, v]);
    this.onChange = opts.onChange;
    this.caseInsensitive = opts.caseInsensitive ?? false;
  }

  private same(a: string, b: string): boolean {
    return this.caseInsensitive ? a.toLowerCase() === b.toLowerCase() : a === b;
  }

  private changed(): void {
    this.onChange?.(this.fields);
  }

  get length(): number {
    return this.fields.length;
  }

  /** The first value for `key`. */
  get(key: string): V | undefined {
    for (const [k, v] of this.fields) if (this.same(k, key)) return v;
    return undefined;
  }

  getAll(key: string): V[] {
    return this.fields.filter(([k]) => this.same(k, key)).map(([, v]) => v);
  }

  has(key: string): boolean {
    return this.fields.some(([k]) => this.same(k, key));
  }

  /** Replace the values of `key` by one value, keeping the position of the first occurrence. */
  set(key: string, value: V): this {
    return this.setAll(key, [value]);
  }

  setAll(key: string, values: readonly V[]): this {
    const out: Array<[string, V]> = [];
    let inserted = false;
    for (const f of this.fields) {
      if (this.same(f[0], key)) {
        if (!inserted) {
          for (const v of values) out.push([f[0], v]);
          inserted = true;
        }
      } else {
        out.push(f);
      }
    }
    if (!inserted) for (const v of values) out.push([key, v]);
    this.fields = out;
    this.changed();
    return this;
  }

  add(key: string, value: V): this {
    this.fields.push([key, value]);
    this.changed();
    return this;
  }

  delete(key: string): boolean {
    const before = this.fields.length;
    this.fields = this.fields.filter(([k]) => !this.same(k, key));
    if (this.fields.length !== before) this.changed();
    return this.fields.length !== before;
  }

  clear(): void {
    this.fields = [];
    this.changed();
  }

  keys(): string[] {
    const out: string[] = [];
    for (const [k] of this.fields) if (!out.some((x) => this.same(x, k))) out.push(k);
    return out;
  }

  values(): V[] {
    return this.fields.map(([, v]) => v);
  }

  [Symbol.iterator](): Iterator<[string, V]> {
    return this.fields[Symbol.iterator]();
  }

  /** A plain object keyed by name; the first value of each key wins. */
  toObject(): Record<string, V> {
    const out: Record<string, V> = {};
    for (const [k, v] of this.fields) if (!(k in out)) out[k] = v;
    return out;
  }
}
