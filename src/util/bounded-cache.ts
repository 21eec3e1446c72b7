/**
 * A memo of recent results that forgets its oldest entry when full. For work that repeats with
 * the same few inputs (a client's address, a server's certificate, a user's credentials) on
 * every connection or request, without letting the memo grow with every new input.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  /** The remembered value for `key`, or `compute(key)`, remembered. Any value but undefined is remembered, null too. */
  getOrCompute(key: K, compute: (key: K) => V): V {
    const known = this.entries.get(key);
    if (known !== undefined) return known;
    const value = compute(key);
    // Maps iterate in insertion order: the first key is the oldest.
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
    return value;
  }
}
