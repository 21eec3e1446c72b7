/**
 * Upgrading flow dicts written by older mitmproxy releases to format 21, one step at a time, as
 * mitmproxy's compat module does (spec/flow-format.md §3). Migrations work on the raw decoded
 * dict, before any typed object is built.
 *
 * Two steps need memory across flows (invented connection ids in 4→5 and the WebSocket handshake
 * cache of 11→12). mitmproxy keeps that in process-wide globals; here it lives in a
 * `MigrationContext` owned by one reader, so reading many files does not grow memory forever.
 */
import { uuid4 } from '../util/uuid.js';
import { FLOW_FORMAT_VERSION } from '../version.js';
import { MITMPROXY_COMPAT_VERSION } from '../version.js';
import { type TNetDict, type TNetValue } from './tnetstring.js';
import { cloneTree, setOwnKey } from '../util/own-key.js';

/** A version that cannot be read, or a dict too broken to migrate. The message is mitmproxy's where it has one. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** State shared by the migrations of one file. */
export class MigrationContext {
  readonly clientIds = new Map<string, string>();
  readonly serverIds = new Map<string, string>();
  readonly websocketHandshakes = new Map<string, TNetDict>();
}

type Version = number | readonly [number, number];

function isDict(v: TNetValue | undefined): v is TNetDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A nested dict that a step needs; a missing one makes the file unreadable ("Invalid data format."). */
function sub(d: TNetDict, key: string): TNetDict {
  const v = d[key];
  if (!isDict(v)) throw new MigrationError(`Invalid data format: "${key}" must be a dict, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function optSub(d: TNetDict, key: string): TNetDict | null {
  const v = d[key];
  return isDict(v) ? v : null;
}

function pop(d: TNetDict, key: string, dflt: TNetValue = null): TNetValue {
  if (!Object.prototype.hasOwnProperty.call(d, key)) return dflt;
  const v = d[key]!;
  delete d[key];
  return v;
}

function popRequired(d: TNetDict, key: string): TNetValue {
  if (!Object.prototype.hasOwnProperty.call(d, key)) throw new MigrationError(`Invalid data format: missing "${key}"`);
  return pop(d, key);
}

function set(d: TNetDict, key: string, v: TNetValue): void {
  setOwnKey(d, key, v);
}

function rename(d: TNetDict, from: string, to: string): void {
  set(d, to, popRequired(d, from));
}

/** Python truthiness, for the `if x:` tests of the migrations. */
function truthy(v: TNetValue | undefined): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Buffer.isBuffer(v) || Array.isArray(v)) return v.length > 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** bytes -> str (strict UTF-8), str unchanged: mitmproxy's always_str. */
function alwaysStr(v: TNetValue | undefined): TNetValue {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) {
    try {
      return utf8Fatal.decode(v);
    } catch {
      throw new MigrationError('Invalid data format: a text value is not valid UTF-8');
    }
  }
  return v;
}

/** bytes -> str as ASCII with backslash escapes for other bytes (the 10→11 `sni` rule). */
function asciiBackslash(v: TNetValue | undefined): TNetValue {
  if (!Buffer.isBuffer(v)) return v ?? null;
  let out = '';
  for (const b of v) out += b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** bytes -> str as UTF-8 with backslash escapes for invalid bytes (the 18→19 address rule). */
function utf8Backslash(b: Buffer): string {
  try {
    return utf8Fatal.decode(b);
  } catch {
    let out = '';
    let i = 0;
    while (i < b.length) {
      // Decode the longest valid UTF-8 sequence at i, or escape one byte.
      let decoded: string | null = null;
      for (let n = 1; n <= 4 && i + n <= b.length; n++) {
        try {
          decoded = utf8Fatal.decode(b.subarray(i, i + n));
          i += n;
          break;
        } catch {
          /* try a longer sequence */
        }
      }
      if (decoded === null) {
        out += `\\x${b[i]!.toString(16).padStart(2, '0')}`;
        i++;
      } else out += decoded;
    }
    return out;
  }
}

function httpVersionFromList(v: TNetValue): Buffer {
  if (!Array.isArray(v)) throw new MigrationError('Invalid data format: httpversion must be a list');
  return Buffer.from('HTTP/' + v.map((x) => String(x)).join('.'), 'latin1');
}

/** The Python-2 era string conversion: every dict key is text already; some values become text too. */
function convertUnicode(data: TNetDict): void {
  for (const key of ['type', 'id']) if (key in data) set(data, key, alwaysStr(data[key]));
  const req = optSub(data, 'request');
  if (req && 'first_line_format' in req) set(req, 'first_line_format', alwaysStr(req['first_line_format']));
  const err = optSub(data, 'error');
  if (err && 'msg' in err) set(err, 'msg', alwaysStr(err['msg']));
}

function via(data: TNetDict): TNetDict | null {
  return optSub(sub(data, 'server_conn'), 'via');
}

/** The address inside an old `{address: [host, port], use_ipv6: ...}` object. */
function innerAddress(v: TNetValue | undefined): TNetValue {
  if (!isDict(v)) throw new MigrationError('Invalid data format: address must be a dict');
  return v['address'] ?? null;
}

function keyOf(parts: Array<TNetValue | undefined>): string {
  return JSON.stringify(parts.map((p) => (Buffer.isBuffer(p) ? `b:${p.toString('latin1')}` : typeof p === 'bigint' ? p.toString() : p ?? null)));
}

type Step = (data: TNetDict, ctx: MigrationContext) => TNetDict;

const steps = new Map<string, Step>();
const step = (from: Version, fn: Step) => steps.set(versionKey(from), fn);

function versionKey(v: Version): string {
  return typeof v === 'number' ? String(v) : `${v[0]},${v[1]}`;
}

step([0, 11], (d) => (set(d, 'version', [0, 12]), d));
step([0, 12], (d) => (set(d, 'version', [0, 13]), d));
step([0, 13], (d) => {
  const req = sub(d, 'request');
  set(req, 'first_line_format', popRequired(req, 'form_in'));
  set(req, 'http_version', httpVersionFromList(popRequired(req, 'httpversion')));
  const resp = optSub(d, 'response');
  if (resp) {
    set(resp, 'http_version', httpVersionFromList(popRequired(resp, 'httpversion')));
    set(resp, 'status_code', popRequired(resp, 'code'));
    set(resp, 'body', popRequired(resp, 'content'));
  }
  const sc = sub(d, 'server_conn');
  pop(sc, 'state');
  set(sc, 'via', null);
  set(d, 'version', [0, 14]);
  return d;
});
step([0, 14], (d) => (set(d, 'version', [0, 15]), d));
step([0, 15], (d) => {
  for (const m of ['request', 'response']) {
    const msg = optSub(d, m);
    if (msg && 'body' in msg) rename(msg, 'body', 'content');
  }
  const resp = optSub(d, 'response');
  if (resp && 'msg' in resp) rename(resp, 'msg', 'reason');
  pop(sub(d, 'request'), 'form_out');
  set(d, 'version', [0, 16]);
  return d;
});
step([0, 16], (d) => {
  set(sub(d, 'server_conn'), 'peer_address', null);
  set(d, 'version', [0, 17]);
  return d;
});
step([0, 17], (d) => {
  convertUnicode(d);
  const sc = sub(d, 'server_conn');
  set(sc, 'ip_address', pop(sc, 'peer_address'));
  set(d, 'marked', false);
  set(d, 'version', [0, 18]);
  return d;
});
step([0, 18], (d) => {
  convertUnicode(d);
  const req = sub(d, 'request');
  pop(req, 'stickyauth');
  pop(req, 'stickycookie');
  const cc = sub(d, 'client_conn');
  for (const k of ['sni', 'alpn_proto_negotiated', 'cipher_name', 'tls_version']) set(cc, k, null);
  set(sub(d, 'server_conn'), 'alpn_proto_negotiated', null);
  const v = via(d);
  if (v) set(v, 'alpn_proto_negotiated', null);
  set(d, 'mode', 'regular');
  set(d, 'metadata', {});
  set(d, 'version', [0, 19]);
  return d;
});
step([0, 19], (d) => {
  convertUnicode(d);
  set(d, 'version', [1, 0, 0]);
  return d;
});
step([1, 0], (d) => {
  set(d, 'version', [2, 0, 0]);
  const cc = sub(d, 'client_conn');
  set(cc, 'address', innerAddress(cc['address']));
  const flatten = (sc: TNetDict) => {
    set(sc, 'address', innerAddress(sc['address']));
    set(sc, 'source_address', innerAddress(sc['source_address']));
    if (truthy(sc['ip_address'])) set(sc, 'ip_address', innerAddress(sc['ip_address']));
  };
  flatten(sub(d, 'server_conn'));
  const v = via(d);
  if (v) flatten(v);
  return d;
});
step([2, 0], (d) => {
  set(d, 'version', [3, 0, 0]);
  set(sub(d, 'client_conn'), 'mitmcert', null);
  set(sub(d, 'server_conn'), 'tls_version', null);
  const v = via(d);
  if (v) set(v, 'tls_version', null);
  return d;
});
step([3, 0], (d) => (set(d, 'version', 4), d));
step(4, (d, ctx) => {
  set(d, 'version', 5);
  const cc = sub(d, 'client_conn');
  const sc = sub(d, 'server_conn');
  const addr = (v: TNetValue | undefined): TNetValue[] => (Array.isArray(v) ? v : []);
  const idFor = (cache: Map<string, string>, key: string): string => {
    let id = cache.get(key);
    if (id === undefined) {
      id = uuid4();
      cache.set(key, id);
    }
    return id;
  };
  set(cc, 'id', idFor(ctx.clientIds, keyOf([cc['timestamp_start'], ...addr(cc['address'])])));
  set(sc, 'id', idFor(ctx.serverIds, keyOf([sc['timestamp_start'], ...addr(sc['source_address'])])));
  const v = via(d);
  if (v) set(v, 'id', idFor(ctx.serverIds, keyOf([v['timestamp_start'], ...addr(v['source_address'])])));
  return d;
});
step(5, (d) => {
  set(d, 'version', 6);
  const conns = [sub(d, 'client_conn'), sub(d, 'server_conn')];
  const v = via(d);
  if (v) conns.push(v);
  for (const c of conns) {
    rename(c, 'ssl_established', 'tls_established');
    rename(c, 'timestamp_ssl_setup', 'timestamp_tls_setup');
  }
  return d;
});
step(6, (d) => {
  set(d, 'version', 7);
  set(sub(d, 'client_conn'), 'tls_extensions', null);
  return d;
});
step(7, (d) => {
  set(d, 'version', 8);
  const req = optSub(d, 'request');
  if (req) set(req, 'trailers', null);
  const resp = optSub(d, 'response');
  if (resp) set(resp, 'trailers', null);
  return d;
});
step(8, (d) => {
  set(d, 'version', 9);
  let requestReplay: TNetValue = false;
  if ('request' in d) {
    const req = sub(d, 'request');
    popRequired(req, 'first_line_format');
    set(req, 'authority', Buffer.alloc(0));
    requestReplay = pop(req, 'is_replay', false);
  }
  let responseReplay: TNetValue = false;
  const resp = optSub(d, 'response');
  if (resp) responseReplay = pop(resp, 'is_replay', false);
  set(d, 'is_replay', truthy(requestReplay) ? 'request' : truthy(responseReplay) ? 'response' : null);
  return d;
});
step(9, (d) => {
  set(d, 'version', 10);
  const convConn = (c: TNetDict) => {
    set(c, 'state', 0);
    set(c, 'error', null);
    set(c, 'tls', c['tls_established'] ?? false);
    const alpn = c['alpn_proto_negotiated'];
    set(c, 'alpn_offers', truthy(alpn) ? [alpn!] : null);
    const cipher = c['cipher_name'];
    set(c, 'cipher_list', truthy(cipher) ? [cipher!] : null);
  };
  const convServer = (c: TNetDict) => {
    const crt = pop(c, 'cert');
    set(c, 'certificate_list', truthy(crt) ? [crt] : []);
    set(c, 'cipher_name', null);
    set(c, 'via2', null);
    convConn(c);
  };
  const cc = sub(d, 'client_conn');
  set(cc, 'sockname', ['', 0]);
  const ccert = pop(cc, 'clientcert');
  set(cc, 'certificate_list', truthy(ccert) ? [ccert] : []);
  convConn(cc);
  convServer(sub(d, 'server_conn'));
  const v = via(d);
  if (v) convServer(v);
  return d;
});
step(10, (d) => {
  set(d, 'version', 11);
  const conv = (c: TNetDict) => {
    set(c, 'sni', asciiBackslash(c['sni']));
    set(c, 'alpn', popRequired(c, 'alpn_proto_negotiated'));
    if (!truthy(c['alpn_offers'])) set(c, 'alpn_offers', []);
    if (!truthy(c['cipher_list'])) set(c, 'cipher_list', []);
  };
  conv(sub(d, 'client_conn'));
  conv(sub(d, 'server_conn'));
  const v = via(d);
  if (v) conv(v);
  return d;
});
step(11, (d, ctx) => {
  set(d, 'version', 12);
  const metadata = optSub(d, 'metadata') ?? {};
  if ('websocket' in metadata) ctx.websocketHandshakes.set(String(d['id']), structuredCloneDict(d));
  if (!('websocket_handshake' in metadata)) {
    set(d, 'websocket', null);
    return d;
  }
  const ws = d;
  const handshakeId = String(metadata['websocket_handshake']);
  let out = ctx.websocketHandshakes.get(handshakeId);
  ctx.websocketHandshakes.delete(handshakeId);
  if (!out) {
    // The handshake flow is missing: make up a placeholder request, as mitmproxy does.
    out = {
      client_conn: ws['client_conn'] ?? null,
      error: ws['error'] ?? null,
      id: ws['id'] ?? null,
      intercepted: ws['intercepted'] ?? false,
      is_replay: ws['is_replay'] ?? null,
      marked: ws['marked'] ?? false,
      metadata: {},
      mode: 'transparent',
      request: {
        authority: Buffer.alloc(0),
        content: null,
        headers: [],
        host: Buffer.from('unknown'),
        http_version: Buffer.from('HTTP/1.1'),
        method: Buffer.from('GET'),
        path: Buffer.from('/'),
        port: 80,
        scheme: Buffer.from('http'),
        timestamp_end: 0,
        timestamp_start: 0,
        trailers: null,
      },
      response: null,
      server_conn: ws['server_conn'] ?? null,
      type: 'http',
      version: 12,
    };
  }
  const outMeta = optSub(out, 'metadata');
  if (outMeta) set(outMeta, 'duplicated', 'This WebSocket flow has been migrated from an old file format version and may appear duplicated.');
  const serverConn = optSub(out, 'server_conn');
  set(out, 'websocket', {
    messages: ws['messages'] ?? [],
    closed_by_client: ws['close_sender'] === 'client' || (Buffer.isBuffer(ws['close_sender']) && ws['close_sender'].toString('latin1') === 'client'),
    close_code: ws['close_code'] ?? null,
    close_reason: ws['close_reason'] ?? null,
    timestamp_end: serverConn ? (serverConn['timestamp_end'] ?? null) : null,
  });
  return out;
});
step(12, (d) => {
  set(d, 'version', 13);
  set(d, 'marked', truthy(d['marked']) ? ':default:' : '');
  return d;
});
step(13, (d) => {
  set(d, 'version', 14);
  set(d, 'comment', '');
  const resp = optSub(d, 'response');
  if (resp && resp['timestamp_start'] === null) {
    const end = sub(d, 'request')['timestamp_end'];
    set(resp, 'timestamp_start', end ?? null);
    set(resp, 'timestamp_end', typeof end === 'number' ? end + 1 : null);
  }
  return d;
});
step(14, (d) => {
  set(d, 'version', 15);
  const ws = optSub(d, 'websocket');
  if (ws && Array.isArray(ws['messages'])) set(ws, 'messages', ws['messages'].map((m) => (Array.isArray(m) ? [...m, false] : m)));
  return d;
});
step(15, (d) => {
  set(d, 'version', 16);
  const from = 'request' in d ? sub(d, 'request') : sub(d, 'client_conn');
  set(d, 'timestamp_created', from['timestamp_start'] ?? null);
  return d;
});
step(16, (d) => {
  set(d, 'version', 17);
  pop(d, 'mode');
  return d;
});
step(17, (d) => {
  set(d, 'version', 18);
  set(sub(d, 'client_conn'), 'proxy_mode', 'regular');
  return d;
});
step(18, (d) => {
  set(d, 'version', 19);
  const cc = sub(d, 'client_conn');
  set(cc, 'peername', pop(cc, 'address'));
  if (cc['timestamp_start'] === null || cc['timestamp_start'] === undefined) set(cc, 'timestamp_start', 0);
  popRequired(cc, 'tls_extensions');
  const sc = sub(d, 'server_conn');
  set(sc, 'peername', pop(sc, 'ip_address'));
  set(sc, 'sockname', pop(sc, 'source_address'));
  set(sc, 'via', pop(sc, 'via2'));
  for (const c of [cc, sc]) {
    popRequired(c, 'tls_established');
    set(c, 'cipher', pop(c, 'cipher_name'));
    if (!('transport_protocol' in c)) set(c, 'transport_protocol', 'tcp');
    for (const name of ['peername', 'sockname', 'address']) {
      const a = c[name];
      if (Array.isArray(a) && a.length > 0 && Buffer.isBuffer(a[0])) a[0] = utf8Backslash(a[0]);
    }
  }
  if (sc['sni'] === true) {
    const a = sc['address'];
    set(sc, 'sni', Array.isArray(a) && a.length > 0 ? a[0]! : null);
  }
  return d;
});
step(19, (d) => {
  set(d, 'version', 20);
  pop(sub(d, 'client_conn'), 'state');
  pop(sub(d, 'server_conn'), 'state');
  return d;
});
step(20, (d) => {
  set(d, 'version', 21);
  for (const c of [sub(d, 'client_conn'), sub(d, 'server_conn')]) if (c['tls_version'] === 'QUIC') set(c, 'tls_version', 'QUICv1');
  return d;
});

function structuredCloneDict(d: TNetDict): TNetDict {
  return cloneTree(d);
}

/** The format version of a flow dict: an int, or the first two numbers of an old version list. */
export function flowVersion(data: TNetDict): Version {
  const v = data['version'];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length >= 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]];
  throw new MigrationError('Invalid data format: the flow has no valid "version"');
}

function formatVersion(v: Version): string {
  return typeof v === 'number' ? String(v) : `(${v[0]}, ${v[1]})`;
}

/**
 * Upgrade one decoded flow dict to format 21 (in place where possible; the 11→12 step may return
 * a different dict). Throws `MigrationError` with mitmproxy's message for unreadable versions.
 * A nested `backup` state is migrated too (mitmproxy leaves it old, which breaks reverting it).
 */
export function migrateFlow(data: TNetDict, ctx: MigrationContext = new MigrationContext()): TNetDict {
  let d = data;
  for (;;) {
    const v = flowVersion(d);
    if (v === FLOW_FORMAT_VERSION) break;
    const fn = steps.get(versionKey(v));
    if (!fn) {
      const upgrade = typeof v === 'number' && v > FLOW_FORMAT_VERSION;
      throw new MigrationError(
        `mitmproxy ${MITMPROXY_COMPAT_VERSION} cannot read files with flow format version ${formatVersion(v)}${upgrade ? ', please update mitmproxy' : ''}.`,
      );
    }
    d = fn(d, ctx);
  }
  const backup = d['backup'];
  if (isDict(backup)) set(d, 'backup', migrateFlow(backup, new MigrationContext()));
  return d;
}

/** The oldest and newest versions we read (mitmproxy's range). */
export const OLDEST_READABLE_VERSION = '(0, 11)';
export const NEWEST_READABLE_VERSION = FLOW_FORMAT_VERSION;
