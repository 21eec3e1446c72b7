/**
 * The shape of mitmproxy's flow state dictionaries (format 21, spec/flow-format.md §2), written
 * down once and used both ways:
 *
 * - reading: `conformFlowState` checks a decoded (and migrated) dict against it, with the same
 *   strictness as mitmproxy (str vs bytes, literal values, no missing or unknown keys), and
 *   returns a clean state object in writer order;
 * - writing: `writeFlowState` walks a state with it, so every number is written as the int or
 *   float mitmproxy has there (a timestamp of `1795793585` is written `1795793585.0`).
 */
import { domainToUnicode } from 'node:url';
import type { FlowState, FlowType } from '../flow.js';
import type { ReverseWriter, TNetValue, TNetDict } from './tnetstring.js';

export type Schema =
  | { t: 'str' }
  | { t: 'bytes' }
  /** bytes on disk; mitmproxy's Request/Response constructors also accept text here. */
  | { t: 'bytesish' }
  /** Request.host: text; bytes are IDNA-decoded as mitmproxy does. */
  | { t: 'host' }
  | { t: 'int' }
  | { t: 'float' }
  | { t: 'bool' }
  /** Free-form (metadata): written without a schema. */
  | { t: 'any' }
  | { t: 'literal'; values: readonly string[] }
  | { t: 'opt'; of: Schema }
  | { t: 'list'; of: Schema }
  | { t: 'tuple'; items: readonly Schema[]; min?: number }
  | { t: 'dict'; name: string; fields: ReadonlyArray<readonly [string, Schema]>; optional?: ReadonlySet<string>; keyItems?: readonly Buffer[] }
  | { t: 'anydict' }
  /** A nested full flow state (`backup`). */
  | { t: 'flow' };

const str: Schema = { t: 'str' };
const bytes: Schema = { t: 'bytes' };
const bytesish: Schema = { t: 'bytesish' };
const int: Schema = { t: 'int' };
const float: Schema = { t: 'float' };
const bool: Schema = { t: 'bool' };
const opt = (of: Schema): Schema => ({ t: 'opt', of });
const list = (of: Schema): Schema => ({ t: 'list', of });
const tuple = (items: Schema[], min?: number): Schema => (min === undefined ? { t: 'tuple', items } : { t: 'tuple', items, min });
/** The tnetstring item of a constant dict key, encoded once. */
const keyItem = (k: string): Buffer => Buffer.from(`${Buffer.byteLength(k)}:${k};`, 'utf8');

const dict = (name: string, fields: Array<readonly [string, Schema]>, optional?: string[]): Schema & { t: 'dict' } => {
  const keyItems = fields.map(([k]) => keyItem(k));
  return optional ? { t: 'dict', name, fields, optional: new Set(optional), keyItems } : { t: 'dict', name, fields, keyItems };
};

export const TLS_VERSION_VALUES = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'DTLSv0.9', 'DTLSv1', 'DTLSv1.2', 'QUICv1'] as const;
export const VIA_SCHEMES = ['http', 'https', 'http3', 'tls', 'dtls', 'tcp', 'udp', 'dns', 'quic'] as const;

/** `[host, port]`, or `[host, port, flowinfo, scope_id]` for IPv6 sockets. */
const address: Schema = tuple([str, int, int, int], 2);

const connectionFields = (timestampStart: Schema): Array<readonly [string, Schema]> => [
  ['peername', opt(address)],
  ['sockname', opt(address)],
  ['id', str],
  ['transport_protocol', { t: 'literal', values: ['tcp', 'udp'] }],
  ['error', opt(str)],
  ['tls', bool],
  ['certificate_list', list(bytes)],
  ['alpn', opt(bytes)],
  ['alpn_offers', list(bytes)],
  ['cipher', opt(str)],
  ['cipher_list', list(str)],
  ['tls_version', opt({ t: 'literal', values: TLS_VERSION_VALUES })],
  ['sni', opt(str)],
  ['timestamp_start', timestampStart],
  ['timestamp_end', opt(float)],
  ['timestamp_tls_setup', opt(float)],
];

export const CLIENT_SCHEMA = dict('client_conn', [...connectionFields(float), ['mitmcert', opt(bytes)], ['proxy_mode', str]]);

export const SERVER_SCHEMA = dict('server_conn', [
  ...connectionFields(opt(float)),
  ['address', opt(tuple([str, int]))],
  ['timestamp_tcp_setup', opt(float)],
  ['via', opt(tuple([{ t: 'literal', values: VIA_SCHEMES }, tuple([str, int])]))],
]);

const ERROR_SCHEMA = dict('error', [
  ['msg', str],
  ['timestamp', float],
]);

const headers: Schema = list(tuple([bytesish, bytesish]));

const messageFields: Array<readonly [string, Schema]> = [
  ['http_version', bytesish],
  ['headers', headers],
  ['content', opt(bytes)],
  ['trailers', opt(headers)],
  ['timestamp_start', float],
  ['timestamp_end', opt(float)],
];

export const REQUEST_SCHEMA = dict('request', [
  ...messageFields,
  ['host', { t: 'host' }],
  ['port', int],
  ['method', bytesish],
  ['scheme', bytesish],
  ['authority', bytesish],
  ['path', bytesish],
]);

export const RESPONSE_SCHEMA = dict('response', [...messageFields, ['status_code', int], ['reason', bytesish]]);

export const WEBSOCKET_SCHEMA = dict('websocket', [
  // [type, from_client, content, timestamp, dropped, injected]
  ['messages', list(tuple([int, bool, bytesish, float, bool, bool]))],
  ['closed_by_client', opt(bool)],
  ['close_code', opt(int)],
  ['close_reason', opt(str)],
  ['timestamp_end', opt(float)],
]);

const dnsQuestion = dict('question', [
  ['name', str],
  ['type', int],
  ['class_', int],
]);
const dnsRecord = dict('resource record', [
  ['name', str],
  ['type', int],
  ['class_', int],
  ['ttl', int],
  ['data', bytes],
]);
export const DNS_MESSAGE_SCHEMA = dict('dns message', [
  ['id', int],
  ['query', bool],
  ['op_code', int],
  ['authoritative_answer', bool],
  ['truncation', bool],
  ['recursion_desired', bool],
  ['recursion_available', bool],
  ['reserved', int],
  ['response_code', int],
  ['questions', list(dnsQuestion)],
  ['answers', list(dnsRecord)],
  ['authorities', list(dnsRecord)],
  ['additionals', list(dnsRecord)],
  ['timestamp', opt(float)],
]);

const commonFlowFields: Array<readonly [string, Schema]> = [
  ['version', int],
  ['type', { t: 'literal', values: ['http', 'tcp', 'udp', 'dns'] }],
  ['id', str],
  ['error', opt(ERROR_SCHEMA)],
  ['client_conn', CLIENT_SCHEMA],
  ['server_conn', SERVER_SCHEMA],
  ['intercepted', bool],
  ['is_replay', opt(str)],
  ['marked', str],
  ['metadata', { t: 'anydict' }],
  ['comment', str],
  ['timestamp_created', float],
  ['backup', opt({ t: 'flow' })],
];

const tcpMessages: Schema = list(tuple([bool, bytesish, float]));

/** The format-21 schema of each flow type. `backup` may be left out (mitmproxy allows that). */
export const FLOW_SCHEMAS: Record<FlowType, Schema & { t: 'dict' }> = {
  http: dict(
    'http flow',
    [...commonFlowFields, ['request', REQUEST_SCHEMA], ['response', opt(RESPONSE_SCHEMA)], ['websocket', opt(WEBSOCKET_SCHEMA)]],
    ['backup'],
  ),
  tcp: dict('tcp flow', [...commonFlowFields, ['messages', tcpMessages]], ['backup']),
  udp: dict('udp flow', [...commonFlowFields, ['messages', tcpMessages]], ['backup']),
  dns: dict('dns flow', [...commonFlowFields, ['request', DNS_MESSAGE_SCHEMA], ['response', opt(DNS_MESSAGE_SCHEMA)]], ['backup']),
};

// --------------------------------------------------------------------------------------------
// Reading: decoded dict -> clean state

/** A flow state that does not fit the format: says where (`path`) and what is wrong. */
export class FlowStateError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'FlowStateError';
  }
}

function describe(v: TNetValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Buffer.isBuffer(v)) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'boolean') return 'bool';
  return 'dict';
}

function isDict(v: TNetValue | undefined): v is TNetDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

const NON_ASCII = /[^\x00-\x7f]/;

function expected(what: string, v: TNetValue | undefined): FlowStateError {
  return new FlowStateError('', `expected ${what}, got ${describe(v)}`);
}

/** Re-throw a FlowStateError from a nested value with the key it sits under in front of its path. */
function within(e: unknown, key: string | number): unknown {
  if (!(e instanceof FlowStateError)) return e;
  const head = typeof key === 'number' ? `[${key}]` : key;
  const path = e.path === '' ? head : e.path.startsWith('[') ? head + e.path : `${head}.${e.path}`;
  return new FlowStateError(path, e.detail);
}

/** A compiled check: validates (and fixes up) a value, returning the value to keep. */
type Check = (v: TNetValue | undefined) => unknown;

const checkStr: Check = (v) => {
  if (typeof v === 'string') return v;
  throw expected('str', v);
};
const checkBytes: Check = (v) => {
  if (Buffer.isBuffer(v)) return v;
  throw expected('bytes', v);
};
const checkBytesish: Check = (v) => {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, NON_ASCII.test(v) ? 'utf8' : 'latin1');
  throw expected('bytes', v);
};
const checkHost: Check = (v) => {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) {
    const raw = v.toString('latin1');
    const text = raw.includes('xn--') ? domainToUnicode(raw) : raw;
    return text === '' && raw !== '' ? raw : text;
  }
  throw expected('str', v);
};
const checkInt: Check = (v) => {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') throw new FlowStateError('', `integer ${v} is out of range`);
  throw expected('int', v);
};
const checkFloat: Check = (v) => {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw expected('float', v);
};
const checkBool: Check = (v) => {
  if (typeof v === 'boolean') return v;
  throw expected('bool', v);
};
const checkAny: Check = (v) => v;
const checkAnyDict: Check = (v) => {
  if (!isDict(v)) throw expected('dict', v);
  return v;
};

/**
 * Turn a schema into a check function, once. Values are fixed up in place where mitmproxy's
 * constructors convert (text where bytes belong, bytes hosts). Nothing is allocated on the
 * way (no closures per call, no path strings): reading must stay cheap for files with
 * 100 000s of flows; the path of a bad value is put together only when something is wrong.
 */
function compile(s: Schema): Check {
  switch (s.t) {
    case 'str':
      return checkStr;
    case 'bytes':
      return checkBytes;
    case 'bytesish':
      return checkBytesish;
    case 'host':
      return checkHost;
    case 'int':
      return checkInt;
    case 'float':
      return checkFloat;
    case 'bool':
      return checkBool;
    case 'any':
      return checkAny;
    case 'anydict':
      return checkAnyDict;
    case 'literal': {
      const values = s.values;
      return (v) => {
        if (typeof v !== 'string' || !values.includes(v)) {
          throw new FlowStateError('', `invalid value ${describeLiteral(v)}: expected one of ${values.join(', ')}`);
        }
        return v;
      };
    }
    case 'opt': {
      const inner = compile(s.of);
      return (v) => (v === null ? null : inner(v));
    }
    case 'list': {
      const inner = compile(s.of);
      return (v) => {
        if (!Array.isArray(v)) throw expected('list', v);
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          let y: unknown;
          try {
            y = inner(x);
          } catch (e) {
            throw within(e, i);
          }
          if (y !== x) v[i] = y as TNetValue;
        }
        return v;
      };
    }
    case 'tuple': {
      const items = s.items.map(compile);
      const max = items.length;
      const min = s.min ?? max;
      return (v) => {
        if (!Array.isArray(v)) throw expected('list', v);
        if (v.length < min || v.length > max) {
          throw new FlowStateError('', `expected ${min === max ? min : `${min} to ${max}`} elements, got ${v.length}`);
        }
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          let y: unknown;
          try {
            y = items[i]!(x);
          } catch (e) {
            throw within(e, i);
          }
          if (y !== x) v[i] = y as TNetValue;
        }
        return v;
      };
    }
    case 'dict':
      return compileDict(s);
    case 'flow':
      return (v) => {
        if (!isDict(v)) throw expected('dict', v);
        return conformFlowState(v);
      };
  }
}

/** Check a dict in place: every field present (optional ones default to null), no unknown keys. */
function compileDict(s: Schema & { t: 'dict' }): Check {
  const keys = s.fields.map(([k]) => k);
  let checks: Check[] | null = null; // compiled on first use: `flow` fields refer back to FLOW_SCHEMAS
  const n = keys.length;
  return (v) => {
    if (!isDict(v)) throw new FlowStateError('', `expected a ${s.name} dict, got ${describe(v)}`);
    checks ??= s.fields.map(([, fs]) => compile(fs));
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      if (!hasOwn.call(v, key)) {
        if (s.optional?.has(key)) {
          v[key] = null;
          continue;
        }
        throw new FlowStateError(key, `missing from the ${s.name}`);
      }
      const x = v[key];
      let y: unknown;
      try {
        y = checks[i]!(x);
      } catch (e) {
        throw within(e, key);
      }
      if (y !== x) v[key] = y as TNetValue;
    }
    let count = 0;
    for (const key in v) if (hasOwn.call(v, key)) count++;
    if (count !== n) {
      const known = new Set(keys);
      const extra = Object.keys(v).filter((key) => !known.has(key));
      throw new FlowStateError('', `unexpected key${extra.length > 1 ? 's' : ''} in the ${s.name}: ${extra.join(', ')}`);
    }
    return v;
  };
}

function describeLiteral(v: TNetValue | undefined): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return describe(v);
}

const hasOwn = Object.prototype.hasOwnProperty;

const flowChecks = new Map<FlowType, Check>();

/**
 * Check a format-21 flow dict against the schema, fixing it up in place (bytes as Buffers, text
 * as strings), ready for `flowFromState`. Throws `FlowStateError` saying which field is wrong.
 */
export function conformFlowState(v: TNetDict, path = ''): FlowState {
  const type = v['type'];
  if (typeof type !== 'string' || !hasOwn.call(FLOW_SCHEMAS, type)) {
    throw new FlowStateError(path, `Unknown flow type: ${typeof type === 'string' ? type : describe(type)}`);
  }
  let check = flowChecks.get(type as FlowType);
  if (!check) {
    check = compileDict(FLOW_SCHEMAS[type as FlowType]);
    flowChecks.set(type as FlowType, check);
  }
  try {
    return check(v) as unknown as FlowState;
  } catch (e) {
    throw path ? within(e, path) : e;
  }
}

// --------------------------------------------------------------------------------------------
// Writing: state -> tnetstring, numbers typed by the schema

type StateValue = unknown;

function writeWith(w: ReverseWriter, v: StateValue, s: Schema, path: string): void {
  switch (s.t) {
    case 'str':
    case 'literal':
      if (typeof v !== 'string') throw new FlowStateError(path, `expected str, got ${typeof v}`);
      return w.text(v);
    case 'host':
      if (typeof v !== 'string') throw new FlowStateError(path, `expected str, got ${typeof v}`);
      return w.text(v);
    case 'bytes':
    case 'bytesish':
      if (v instanceof Uint8Array) return w.bytes(v);
      if (typeof v === 'string') return w.bytes(Buffer.from(v, 'latin1'));
      throw new FlowStateError(path, `expected bytes, got ${typeof v}`);
    case 'int':
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new FlowStateError(path, `expected int, got ${typeof v}`);
      return w.int(v);
    case 'float':
      if (typeof v === 'bigint') return w.float(Number(v));
      if (typeof v !== 'number') throw new FlowStateError(path, `expected float, got ${typeof v}`);
      return w.float(v);
    case 'bool':
      if (typeof v !== 'boolean') throw new FlowStateError(path, `expected bool, got ${typeof v}`);
      return w.bool(v);
    case 'any':
    case 'anydict':
      return w.value(v as TNetValue);
    case 'opt':
      if (v === null || v === undefined) return w.nullValue();
      return writeWith(w, v, s.of, path);
    case 'list': {
      if (!Array.isArray(v)) throw new FlowStateError(path, 'expected a list');
      const mark = w.begin('list');
      for (let i = v.length - 1; i >= 0; i--) writeWith(w, v[i], s.of, path);
      return w.end(mark);
    }
    case 'tuple': {
      if (!Array.isArray(v)) throw new FlowStateError(path, 'expected a list');
      const mark = w.begin('list');
      for (let i = v.length - 1; i >= 0; i--) writeWith(w, v[i], s.items[i] ?? { t: 'any' }, path);
      return w.end(mark);
    }
    case 'dict': {
      if (typeof v !== 'object' || v === null) throw new FlowStateError(path, `expected a ${s.name} dict`);
      const d = v as Record<string, StateValue>;
      const mark = w.begin('dict');
      const fields = s.fields;
      const keyItems = s.keyItems;
      for (let i = 0; i < fields.length; i++) {
        const [key, fs] = fields[i]!;
        const x = d[key];
        if (x === undefined) {
          if (!s.optional?.has(key)) throw new FlowStateError(path ? `${path}.${key}` : key, 'missing');
          w.nullValue();
        } else writeWith(w, x, fs, path);
        if (keyItems) w.raw(keyItems[i]!);
        else w.text(key);
      }
      return w.end(mark);
    }
    case 'flow':
      return writeFlowState(w, v as FlowState);
  }
}

/** Write a format-21 flow state as one tnetstring item (exactly mitmproxy's bytes). */
export function writeFlowState(w: ReverseWriter, state: FlowState): void {
  const schema = FLOW_SCHEMAS[state.type];
  if (!schema) throw new FlowStateError('type', `Unknown flow type: ${String(state.type)}`);
  writeWith(w, state, schema, '');
}
