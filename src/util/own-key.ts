/**
 * Give an object an own enumerable key, also when the key is "__proto__": plain assignment of
 * that key would swallow it and set the object's prototype instead, which lets data read from a
 * file (flow metadata, a nested dict) change how the object behaves.
 */
export function setOwnKey<T>(obj: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
