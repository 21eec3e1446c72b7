/**
 * Schema-less protobuf decoding in the manner of mitmproxy's Protobuf view: field types are
 * guessed from the wire data (varint, fixed32, fixed64, and for length-delimited fields: text if
 * every value is printable ASCII, else a nested message if every value parses as one with the
 * schema guessed from the first, else bytes), then the message is printed as YAML with every
 * reading of a number (unsigned, zigzag, float, signed) given in a comment.
 */
import { rustF32Display, rustF64Display } from './rust-floats.js';
import { YamlMap, YamlRaw, YamlTagged, type YamlNode } from './yaml-emit.js';

export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

export type WireValue =
  | { wire: 0; v: bigint }
  | { wire: 1; v: bigint }
  | { wire: 5; v: number }
  | { wire: 2; v: Buffer };

const MAX_DEPTH = 100;

function readVarint(buf: Buffer, pos: number): { v: bigint; next: number } {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { v: BigInt.asUintN(64, result), next: pos };
    shift += 7n;
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** Every (field number, value) of a message, in wire order. Throws on malformed data. */
export function parseWire(buf: Buffer): Array<[number, WireValue]> {
  const out: Array<[number, WireValue]> = [];
  let pos = 0;
  while (pos < buf.length) {
    const tag = readVarint(buf, pos);
    pos = tag.next;
    if (tag.v > 0xffffffffn) throw new ProtobufError('invalid tag');
    const field = Number(tag.v >> 3n);
    const wire = Number(tag.v & 7n);
    if (field === 0) throw new ProtobufError('field number 0');
    switch (wire) {
      case 0: {
        const r = readVarint(buf, pos);
        pos = r.next;
        out.push([field, { wire: 0, v: r.v }]);
        break;
      }
      case 1:
        if (pos + 8 > buf.length) throw new ProtobufError('truncated fixed64');
        out.push([field, { wire: 1, v: buf.readBigUInt64LE(pos) }]);
        pos += 8;
        break;
      case 5:
        if (pos + 4 > buf.length) throw new ProtobufError('truncated fixed32');
        out.push([field, { wire: 5, v: buf.readUInt32LE(pos) }]);
        pos += 4;
        break;
      case 2: {
        const len = readVarint(buf, pos);
        pos = len.next;
        if (len.v > BigInt(buf.length - pos)) throw new ProtobufError('truncated length-delimited field');
        const n = Number(len.v);
        out.push([field, { wire: 2, v: buf.subarray(pos, pos + n) }]);
        pos += n;
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

type FieldKind = 'varint' | 'fixed32' | 'fixed64' | 'string' | 'bytes' | 'message';
interface FieldSchema {
  kind: FieldKind;
  repeated: boolean;
  nested?: Schema;
}
/** Field number -> type, in ascending field order. */
type Schema = Map<number, FieldSchema>;

function isPrintableAsciiText(b: Buffer): boolean {
  for (const c of b) {
    // Rust's is_ascii_graphic or is_ascii_whitespace (space, \t, \n, \x0c, \r).
    if (!((c >= 0x21 && c <= 0x7e) || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d)) return false;
  }
  return true;
}

/** Guess a schema from one message's wire data. Throws when the data is not a message. */
export function guessSchema(buf: Buffer, depth = 0): Schema {
  return guessSchemaOfFields(parseWire(buf), depth);
}

function guessSchemaOfFields(fields: Array<[number, WireValue]>, depth: number): Schema {
  if (depth > MAX_DEPTH) throw new ProtobufError('message nesting too deep');
  const groups = new Map<number, WireValue[]>();
  for (const [f, v] of fields) {
    let g = groups.get(f);
    if (!g) groups.set(f, (g = []));
    g.push(v);
  }
  const schema: Schema = new Map();
  for (const f of [...groups.keys()].sort((a, b) => a - b)) {
    const values = groups.get(f)!;
    const repeated = values.length > 1;
    const first = values[0]!;
    if (first.wire === 0) schema.set(f, { kind: 'varint', repeated });
    else if (first.wire === 1) schema.set(f, { kind: 'fixed64', repeated });
    else if (first.wire === 5) schema.set(f, { kind: 'fixed32', repeated });
    else {
      if (values.some((v) => v.wire !== 2)) throw new ProtobufError('varying types in protobuf');
      const datas = values.map((v) => v.v as Buffer);
      schema.set(f, { ...guessLengthDelimited(datas, depth), repeated });
    }
  }
  return schema;
}

function guessLengthDelimited(values: Buffer[], depth: number): { kind: FieldKind; nested?: Schema } {
  if (values.every((v) => isPrintableAsciiText(v))) return { kind: 'string' };
  try {
    const nested = guessSchema(values[0]!, depth + 1);
    for (const v of values.slice(1)) decodeWithSchema(v, nested, depth + 1);
    return { kind: 'message', nested };
  } catch (e) {
    if (!(e instanceof ProtobufError)) throw e;
    return { kind: 'bytes' };
  }
}

type Decoded = number | bigint | string | Buffer | DecodedMessage | WireValue;
type DecodedMessage = Map<number, Array<{ kind: FieldKind; value: Decoded }>>;

export function decodePackedVarints(b: Buffer): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  while (pos < b.length) {
    const r = readVarint(b, pos);
    out.push(r.v);
    pos = r.next;
  }
  return out;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** A string field's text; invalid UTF-8 fails the whole decode (field number in the message when known). */
export function decodeStringField(b: Buffer, field?: number): string {
  try {
    return utf8Fatal.decode(b);
  } catch {
    throw new ProtobufError(`invalid UTF-8 in string field${field === undefined ? '' : ` ${field}`}`);
  }
}

/** The double whose bits a fixed64 holds. */
export function f64FromBits(v: bigint): number {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.readDoubleLE(0);
}

/** The float whose bits a fixed32 holds. */
export function f32FromBits(v: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b.readFloatLE(0);
}

/** Decode a message with a known schema; fields the schema lacks are left out. */
function decodeWithSchema(buf: Buffer, schema: Schema, depth: number): DecodedMessage {
  return decodeFieldsWithSchema(parseWire(buf), schema, depth);
}

function decodeFieldsWithSchema(fields: Array<[number, WireValue]>, schema: Schema, depth: number): DecodedMessage {
  if (depth > MAX_DEPTH) throw new ProtobufError('message nesting too deep');
  const collected = new Map<number, WireValue[]>();
  for (const [f, v] of fields) {
    const s = schema.get(f);
    if (!s) continue;
    let g = collected.get(f);
    if (!g) collected.set(f, (g = []));
    g.push(v);
  }
  const out: DecodedMessage = new Map();
  for (const [f, s] of schema) {
    const values = collected.get(f);
    if (!values) continue;
    const decoded: Array<{ kind: FieldKind; value: Decoded }> = [];
    for (const v of values) {
      switch (s.kind) {
        case 'varint':
          if (v.wire === 0) decoded.push({ kind: 'varint', value: v.v });
          else if (v.wire === 2 && s.repeated) for (const x of decodePackedVarints(v.v)) decoded.push({ kind: 'varint', value: x });
          else throw new ProtobufError(`unexpected wire type for field ${f}`);
          break;
        case 'fixed32':
        case 'fixed64':
          if ((s.kind === 'fixed32' && v.wire === 5) || (s.kind === 'fixed64' && v.wire === 1)) decoded.push({ kind: s.kind, value: v.v });
          else throw new ProtobufError(`unexpected wire type for field ${f}`);
          break;
        default:
          if (v.wire !== 2) throw new ProtobufError(`unexpected wire type for field ${f}`);
          decoded.push({ kind: s.kind, value: v.v });
      }
    }
    let final = decoded;
    if (!s.repeated && decoded.length > 1) {
      // A singular field seen more than once: the last scalar wins, message parts merge.
      if (s.kind === 'message') final = [{ kind: 'message', value: Buffer.concat(decoded.map((d) => d.value as Buffer)) }];
      else final = [decoded[decoded.length - 1]!];
    }
    for (const d of final) {
      if (d.kind === 'string') d.value = decodeStringField(d.value as Buffer, f);
      else if (d.kind === 'message') {
        d.value = decodeWithSchema(d.value as Buffer, s.nested!, depth + 1);
      }
    }
    out.set(f, final);
  }
  return out;
}

/** All readings of a number: the shortest is the value, the others go in a comment. */
function numberReprs(reprs: Array<[string, string]>): string {
  let best = reprs[0]!;
  for (const r of reprs) if (r[0].length < best[0].length || (r[0].length === best[0].length && r[1].length < best[1].length)) best = r;
  const rest = reprs.filter((r) => r[0] !== best[0]);
  let s = best[1];
  rest.forEach((r, i) => (s += `${i === 0 ? '  # ' : ', '}${r[0]}: ${r[1]}`));
  return s;
}

function withPoint(s: string): string {
  return s.includes('.') ? s : s + '.0';
}

function varintText(v: bigint): string {
  if (v >= 1n << 63n) return numberReprs([['u64', v.toString()], ['i64', BigInt.asIntN(64, v).toString()]]);
  const zigzag = (v >> 1n) ^ -(v & 1n);
  return numberReprs([['u64', v.toString()], ['!sint', zigzag.toString()]]);
}

function fixed64Text(v: bigint): string {
  const reprs: Array<[string, string]> = [['u64', v.toString()]];
  const f = f64FromBits(v);
  if (!Number.isNaN(f) && Math.abs(f) > 0.0000001) reprs.push(['f64', withPoint(rustF64Display(f))]);
  if (v >= 1n << 63n) reprs.push(['i64', BigInt.asIntN(64, v).toString()]);
  return '!fixed64 ' + numberReprs(reprs);
}

function fixed32Text(v: number): string {
  const reprs: Array<[string, string]> = [['u32', v.toString()]];
  const f = f32FromBits(v);
  if (!Number.isNaN(f) && Math.abs(f) > 0.0000001) reprs.push(['f32', withPoint(rustF32Display(f))]);
  if (v >= 0x80000000) reprs.push(['i32', (v | 0).toString()]);
  return '!fixed32 ' + numberReprs(reprs);
}

function toYaml(msg: DecodedMessage, schema: Schema): YamlMap {
  const map = new YamlMap();
  for (const [f, values] of msg) {
    const s = schema.get(f)!;
    const nodes = values.map((d): YamlNode => {
      switch (d.kind) {
        case 'varint':
          return new YamlRaw(varintText(d.value as bigint));
        case 'fixed64':
          return new YamlRaw(fixed64Text(d.value as bigint));
        case 'fixed32':
          return new YamlRaw(fixed32Text(d.value as number));
        case 'string':
          return d.value as string;
        case 'bytes':
          return new YamlTagged('!binary', (d.value as Buffer).toString('hex'));
        default:
          return toYaml(d.value as DecodedMessage, s.nested!);
      }
    });
    // A field seen more than once is repeated and always shown as a list.
    map.set(f, s.repeated ? nodes : nodes[0]!);
  }
  return map;
}

/** Decode a protobuf message without a schema into the YAML model (its wire fields parsed once). */
export function decodeProtobufToYaml(buf: Buffer): YamlMap {
  return unknownFieldsToYaml(parseWire(buf));
}

/**
 * The fields a .proto definition does not declare, shown as without a definition (numbered keys,
 * guessed types): mitmproxy merges them into the matched message this way.
 */
export function unknownFieldsToYaml(fields: Array<[number, WireValue]>): YamlMap {
  const schema = guessSchemaOfFields(fields, 0);
  return toYaml(decodeFieldsWithSchema(fields, schema, 0), schema);
}
