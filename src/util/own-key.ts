/**
 * Give an object an own enumerable key, also when the key is "__proto__": plain assignment of
 * that key would swallow it and set the object's prototype instead, which lets data read from a
 * file (flow metadata, a nested dict) change how the object behaves.
 */
export function setOwnKey<T>(obj: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** A value of the shape flow files hold: what tnetstring decodes, and what flow metadata may contain. */
export type DataTree = null | boolean | number | bigint | string | Buffer | DataTree[] | { [key: string]: DataTree };

/** A deep copy: lists, dicts and byte strings are new, and "__proto__" keys stay keys (see setOwnKey). */
export function cloneTree<T extends DataTree>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return Buffer.from(v) as T;
  if (Array.isArray(v)) return v.map((x) => cloneTree(x)) as T;
  const out: { [key: string]: DataTree } = {};
  for (const key of Object.keys(v)) setOwnKey(out, key, cloneTree((v as { [key: string]: DataTree })[key]!));
  return out as T;
}
