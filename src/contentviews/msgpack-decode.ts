/**
 * A MessagePack reader that keeps map keys in wire order and any key type, producing the YAML
 * model directly. (@msgpack/msgpack's decode builds plain objects, which would move
 * integer-like keys to the front and turn other keys into strings.) Like mitmproxy's Rust view,
 * binary and extension values cannot be shown and make the view fail.
 */
import { YamlFloat, YamlMap, type YamlKey, type YamlNode } from './yaml-emit.js';

class MsgpackError extends Error {
  override name = 'MsgpackError';
}

const MAX_DEPTH = 512;

/**
 * Identities for keys, equal exactly when serde_yaml's Value equality says the keys are equal.
 * A collection's identity is made of its members' identities, each computed once and interned as
 * a short "#n": spelled out in full, a key nested 500 maps deep was rebuilt at every level, and
 * 100 kB of such a body took seconds.
 */
class KeyIds {
  private readonly known = new WeakMap<object, string>();
  private readonly interned = new Map<string, string>();

  of(k: YamlNode): string {
    if (Array.isArray(k) || k instanceof YamlMap) {
      let id = this.known.get(k);
      if (id === undefined) {
        const spelled = Array.isArray(k)
          ? `[${k.map((x) => this.of(x)).join(',')}]`
          : // Mappings compare without regard to order (serde_yaml's Mapping is an IndexMap).
            `{${k.entries.map(([a, b]) => `${this.of(a)}:${this.of(b)}`).sort().join(',')}}`;
        id = this.interned.get(spelled);
        if (id === undefined) this.interned.set(spelled, (id = `#${this.interned.size}`));
        this.known.set(k, id);
      }
      return id;
    }
    if (k instanceof YamlFloat) return `float:${k.value}`;
    if (typeof k === 'string') return JSON.stringify(k);
    return `${typeof k}:${String(k)}`;
  }
}

export function decodeMsgpackToYaml(data: Buffer): YamlNode {
  let pos = 0;
  const keyIds = new KeyIds();
  const need = (n: number): void => {
    if (pos + n > data.length) throw new MsgpackError('Failed to deserialize MsgPack: unexpected end of data');
  };
  const str = (n: number): string => {
    need(n);
    const s = data.subarray(pos, pos + n);
    pos += n;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(s);
    } catch {
      throw new MsgpackError('Failed to deserialize MsgPack: invalid UTF-8 in string');
    }
  };
  const uint = (n: number): number => {
    need(n);
    const v = data.readUIntBE(pos, n);
    pos += n;
    return v;
  };
  const arr = (n: number, depth: number): YamlNode[] => {
    const out: YamlNode[] = [];
    for (let i = 0; i < n; i++) out.push(value(depth + 1));
    return out;
  };
  const map = (n: number, depth: number): YamlMap => {
    const m = new YamlMap();
    const index = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const k = value(depth + 1);
      const v = value(depth + 1);
      // A repeated key keeps its first position and takes the last value.
      const id = keyIds.of(k);
      const at = index.get(id);
      if (at === undefined) {
        index.set(id, m.entries.length);
        m.entries.push([k as YamlKey, v]);
      } else m.entries[at]![1] = v;
    }
    return m;
  };
  const unsupported = (what: string): never => {
    throw new MsgpackError(`Failed to deserialize MsgPack: invalid type: ${what}, expected any YAML value`);
  };
  const value = (depth: number): YamlNode => {
    if (depth > MAX_DEPTH) throw new MsgpackError('Failed to deserialize MsgPack: depth limit exceeded');
    need(1);
    const b = data[pos++]!;
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: return unsupported('byte array');
      case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return unsupported('extension');
      case 0xca: need(4); pos += 4; return new YamlFloat(data.readFloatBE(pos - 4));
      case 0xcb: need(8); pos += 8; return new YamlFloat(data.readDoubleBE(pos - 8));
      case 0xcc: return uint(1);
      case 0xcd: return uint(2);
      case 0xce: return uint(4);
      case 0xcf: { need(8); pos += 8; const v = data.readBigUInt64BE(pos - 8); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
      case 0xd0: need(1); pos += 1; return data.readInt8(pos - 1);
      case 0xd1: need(2); pos += 2; return data.readInt16BE(pos - 2);
      case 0xd2: need(4); pos += 4; return data.readInt32BE(pos - 4);
      case 0xd3: { need(8); pos += 8; const v = data.readBigInt64BE(pos - 8); return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
      case 0xd9: return str(uint(1));
      case 0xda: return str(uint(2));
      case 0xdb: return str(uint(4));
      case 0xdc: return arr(uint(2), depth);
      case 0xdd: return arr(uint(4), depth);
      case 0xde: return map(uint(2), depth);
      case 0xdf: return map(uint(4), depth);
      default: throw new MsgpackError(`Failed to deserialize MsgPack: reserved marker 0x${b.toString(16)}`);
    }
  };
  return value(0);
}
