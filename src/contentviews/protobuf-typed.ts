/**
 * Decoding a protobuf message with a type from a .proto file, into the same YAML model as the
 * schema-less decoder, following what mitmproxy prints:
 * - declared fields are keyed by name, in declaration order, and only when present on the wire;
 * - numbers are plain values (no alternative readings), floats as floats, enums by value name
 *   (the number when the enum does not name it), bytes as `!binary` hex, repeated fields and
 *   maps always as lists and mappings, and packed and unpacked repeated scalars both accepted;
 * - fields the top-level type does not declare follow, numbered and guessed as without a
 *   definition; undeclared fields of nested declared messages are not shown (nor by mitmproxy).
 * Data that does not fit the type (a wrong wire type, invalid UTF-8 in a string, an int32 out of
 * range, a missing required field) throws ProtobufError; the views then decode schema-less.
 */
import type { FieldType, MessageType, ValueType } from './proto-definitions.js';
import type { ScalarType } from './proto-parser.js';
import { decodePackedVarints, decodeProtobufToYaml, decodeStringField, f32FromBits, f64FromBits, parseWire, ProtobufError, unknownFieldsToYaml, type WireValue } from './protobuf-wire.js';
import { YamlFloat, YamlMap, YamlTagged, type YamlKey, type YamlNode } from './yaml-emit.js';

const MAX_DEPTH = 100;

function wireTypeOf(t: ValueType): 0 | 1 | 2 | 5 {
  switch (t.kind) {
    case 'enum':
      return 0;
    case 'message':
    case 'opaque':
      return 2;
    case 'group':
      throw new ProtobufError('groups are not supported');
    default:
      switch (t.type) {
        case 'double':
        case 'fixed64':
        case 'sfixed64':
          return 1;
        case 'float':
        case 'fixed32':
        case 'sfixed32':
          return 5;
        case 'string':
        case 'bytes':
          return 2;
        default:
          return 0;
      }
  }
}

function toInt32(v: bigint): number {
  const x = BigInt.asIntN(64, v);
  if (x < -0x80000000n || x > 0x7fffffffn) throw new ProtobufError(`int32 out of range: ${x}`);
  return Number(x);
}

function toUint32(v: bigint): number {
  if (v > 0xffffffffn) throw new ProtobufError(`uint32 out of range: ${v}`);
  return Number(v);
}

function scalarNode(type: ScalarType, w: WireValue): YamlNode {
  const v = w.v;
  switch (type) {
    case 'double':
      return new YamlFloat(f64FromBits(v as bigint));
    case 'float':
      return new YamlFloat(f32FromBits(v as number));
    case 'int64':
    case 'sfixed64':
      return BigInt.asIntN(64, v as bigint);
    case 'uint64':
    case 'fixed64':
      return v as bigint;
    case 'int32':
      return toInt32(v as bigint);
    case 'uint32':
      return toUint32(v as bigint);
    case 'sint32': {
      const n = toUint32(v as bigint);
      return (n >>> 1) ^ -(n & 1);
    }
    case 'sint64': {
      const n = v as bigint;
      return (n >> 1n) ^ -(n & 1n);
    }
    case 'fixed32':
      return v as number;
    case 'sfixed32':
      return (v as number) | 0;
    case 'bool':
      return (v as bigint) !== 0n;
    case 'string':
      return decodeStringField(v as Buffer);
    case 'bytes':
      return new YamlTagged('!binary', (v as Buffer).toString('hex'));
  }
}

/** One value of a field whose wire type has been checked. */
function valueNode(t: ValueType, w: WireValue, depth: number): YamlNode {
  switch (t.kind) {
    case 'scalar':
      return scalarNode(t.type, w);
    case 'enum': {
      const n = toInt32(w.v as bigint);
      return t.enum.names.get(n) ?? n;
    }
    case 'message':
      return decodeDeclared(parseWire(w.v as Buffer), t.message, depth + 1).map;
    case 'opaque':
      return (w.v as Buffer).length === 0 ? new YamlMap() : decodeProtobufToYaml(w.v as Buffer);
    default:
      throw new ProtobufError('groups are not supported');
  }
}

/** The values of a packed repeated scalar field. */
function unpack(t: ValueType, b: Buffer): WireValue[] {
  const wire = wireTypeOf(t);
  if (wire === 0) return decodePackedVarints(b).map((v) => ({ wire: 0, v }));
  const size = wire === 1 ? 8 : 4;
  if (wire === 2 || b.length % size !== 0) throw new ProtobufError('invalid packed field');
  const out: WireValue[] = [];
  for (let i = 0; i < b.length; i += size) out.push(wire === 1 ? { wire: 1, v: b.readBigUInt64LE(i) } : { wire: 5, v: b.readUInt32LE(i) });
  return out;
}

/** What a map entry holds when its key or value is left out: the type's default. */
function defaultNode(t: ValueType, depth: number): YamlNode {
  switch (t.kind) {
    case 'enum': {
      const first = t.enum.names.entries().next();
      return first.done ? 0 : first.value[1];
    }
    case 'message':
      return decodeDeclared([], t.message, depth + 1).map;
    case 'opaque':
      return new YamlMap();
    case 'group':
      throw new ProtobufError('groups are not supported');
    default:
      switch (t.type) {
        case 'string':
          return '';
        case 'bytes':
          return new YamlTagged('!binary', '');
        case 'bool':
          return false;
        case 'double':
        case 'float':
          return new YamlFloat(0);
        default:
          return 0;
      }
  }
}

function mapEntry(field: FieldType, b: Buffer, depth: number): [YamlKey, YamlNode] {
  let key: YamlNode | undefined;
  let value: YamlNode | undefined;
  for (const [n, w] of parseWire(b)) {
    const t = n === 1 ? field.key! : n === 2 ? field.value : undefined;
    if (!t) continue;
    if (w.wire !== wireTypeOf(t)) throw new ProtobufError(`unexpected wire type in map field ${field.name}`);
    if (n === 1) key = valueNode(t, w, depth);
    else value = valueNode(t, w, depth);
  }
  return [(key ?? defaultNode(field.key!, depth)) as YamlKey, value ?? defaultNode(field.value, depth)];
}

function decodeDeclared(wire: Array<[number, WireValue]>, type: MessageType, depth: number): { map: YamlMap; unknown: Array<[number, WireValue]> } {
  if (depth > MAX_DEPTH) throw new ProtobufError('message nesting too deep');
  const singular = new Map<FieldType, YamlNode>();
  const repeated = new Map<FieldType, YamlNode[]>();
  // Map keys keep the place of their first occurrence; a later entry with the same key wins.
  const maps = new Map<FieldType, Map<string, [YamlKey, YamlNode]>>();
  const unknown: Array<[number, WireValue]> = [];
  for (const [n, w] of wire) {
    const field = type.byNumber.get(n);
    if (!field) {
      unknown.push([n, w]);
      continue;
    }
    if (field.cardinality === 'map') {
      if (w.wire !== 2) throw new ProtobufError(`unexpected wire type for map field ${field.name}`);
      const [k, v] = mapEntry(field, w.v, depth);
      let m = maps.get(field);
      if (!m) maps.set(field, (m = new Map()));
      m.set(`${typeof k}:${String(k)}`, [k, v]);
    } else if (field.cardinality === 'repeated') {
      let list = repeated.get(field);
      if (!list) repeated.set(field, (list = []));
      const expected = wireTypeOf(field.value);
      if (w.wire === expected) list.push(valueNode(field.value, w, depth));
      else if (w.wire === 2 && field.value.kind !== 'message' && field.value.kind !== 'opaque') {
        for (const x of unpack(field.value, w.v)) list.push(valueNode(field.value, x, depth));
      } else throw new ProtobufError(`unexpected wire type for field ${field.name}`);
    } else {
      if (w.wire !== wireTypeOf(field.value)) throw new ProtobufError(`unexpected wire type for field ${field.name}`);
      // A singular field seen twice: the last occurrence wins, as in mitmproxy's decoder.
      singular.set(field, valueNode(field.value, w, depth));
    }
  }
  const map = new YamlMap();
  for (const field of type.fields) {
    if (field.cardinality === 'map') {
      const m = maps.get(field);
      if (m && m.size > 0) map.set(field.name, new YamlMap([...m.values()]));
    } else if (field.cardinality === 'repeated') {
      const list = repeated.get(field);
      if (list && list.length > 0) map.set(field.name, list);
    } else if (singular.has(field)) {
      map.set(field.name, singular.get(field)!);
    } else if (field.cardinality === 'required') {
      throw new ProtobufError(`missing required field ${type.fullName}.${field.name}`);
    }
  }
  return { map, unknown };
}

/** Decode `buf` as a message of `type` into the YAML model. Throws ProtobufError on a mismatch. */
export function decodeWithType(buf: Buffer, type: MessageType): YamlMap {
  const { map, unknown } = decodeDeclared(parseWire(buf), type, 0);
  if (unknown.length > 0) for (const entry of unknownFieldsToYaml(unknown).entries) map.set(entry[0], entry[1]);
  return map;
}
