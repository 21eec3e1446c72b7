/**
 * Flow format 17, the one mitmproxy 8.1.x reads and writes (spec/flow-format.md §2.9), produced
 * from a format-21 state so that files can be handed to mitmproxy 8 users. mitmproxy 8 refuses
 * files of a newer format, so this is the only way to feed it.
 *
 * What format 21 does not record is reconstructed the way 8.1.1 derives it: `tls_established` is
 * "TLS set up" (a tls_setup timestamp), `state` is open (3) while the connection has started and
 * not ended, else closed (0); `tls_extensions` is always empty and the old `via` always null.
 */
import type { FlowState } from '../flow.js';
import type { ClientState, ServerState } from '../connection.js';
import { PyFloat, type TNetInput } from './tnetstring.js';

const f = (v: number | null | undefined): PyFloat | null => (v === null || v === undefined ? null : new PyFloat(v));

/**
 * 8.1.1's ConnectionState: OPEN (3) or CLOSED (0). Format 21 does not keep it; a connection that
 * started and did not end is taken as open, except for flows saved when their connection ended
 * (a finished WebSocket, a TCP/UDP flow), whose connections 8.1.1 records as closed.
 */
function connState(c: { timestamp_start: number | null; timestamp_end: number | null }, finished: boolean): number {
  return c.timestamp_start !== null && c.timestamp_end === null && !finished ? 3 : 0;
}

function savedAtConnectionEnd(s: FlowState): boolean {
  if (s.type === 'tcp' || s.type === 'udp') return true;
  const ws = s['websocket'] as { timestamp_end: number | null } | null | undefined;
  return s.type === 'http' && !!ws && ws.timestamp_end !== null;
}

function client17(c: ClientState, finished: boolean): TNetInput {
  return {
    address: c.peername ? [...c.peername] : null,
    alpn: c.alpn,
    cipher_name: c.cipher,
    id: c.id,
    mitmcert: c.mitmcert,
    sni: c.sni,
    timestamp_end: f(c.timestamp_end),
    timestamp_start: f(c.timestamp_start),
    timestamp_tls_setup: f(c.timestamp_tls_setup),
    tls_established: c.timestamp_tls_setup !== null,
    tls_extensions: [],
    tls_version: c.tls_version,
    state: connState(c, finished),
    sockname: c.sockname ? [...c.sockname] : null,
    error: c.error,
    tls: c.tls,
    certificate_list: [...c.certificate_list],
    alpn_offers: [...c.alpn_offers],
    cipher_list: [...c.cipher_list],
  };
}

function server17(s: ServerState, finished: boolean): TNetInput {
  return {
    address: s.address ? [...s.address] : null,
    alpn: s.alpn,
    id: s.id,
    ip_address: s.peername ? [...s.peername] : null,
    sni: s.sni,
    source_address: s.sockname ? [...s.sockname] : null,
    timestamp_end: f(s.timestamp_end),
    timestamp_start: f(s.timestamp_start),
    timestamp_tcp_setup: f(s.timestamp_tcp_setup),
    timestamp_tls_setup: f(s.timestamp_tls_setup),
    tls_established: s.timestamp_tls_setup !== null,
    tls_version: s.tls_version,
    via: null,
    state: connState(s, finished),
    error: s.error,
    tls: s.tls,
    certificate_list: [...s.certificate_list],
    alpn_offers: [...s.alpn_offers],
    cipher_name: s.cipher,
    cipher_list: [...s.cipher_list],
    via2: s.via ? [s.via[0], [...s.via[1]]] : null,
  };
}

type Msg = {
  http_version: Buffer;
  headers: Array<[Buffer, Buffer]>;
  content: Buffer | null;
  trailers: Array<[Buffer, Buffer]> | null;
  timestamp_start: number;
  timestamp_end: number | null;
  [k: string]: unknown;
};

function message17(m: Msg, extra: Record<string, TNetInput>): TNetInput {
  return {
    http_version: m.http_version,
    headers: m.headers.map(([n, v]) => [n, v]),
    content: m.content,
    trailers: m.trailers ? m.trailers.map(([n, v]) => [n, v]) : null,
    timestamp_start: f(m.timestamp_start),
    timestamp_end: f(m.timestamp_end),
    ...extra,
  };
}

type DnsMsg = Record<string, unknown> & { timestamp: number | null; questions: unknown[]; answers: unknown[]; authorities: unknown[]; additionals: unknown[] };

function dns17(m: DnsMsg): TNetInput {
  return {
    timestamp: f(m.timestamp),
    id: m['id'] as number,
    query: m['query'] as boolean,
    op_code: m['op_code'] as number,
    authoritative_answer: m['authoritative_answer'] as boolean,
    truncation: m['truncation'] as boolean,
    recursion_desired: m['recursion_desired'] as boolean,
    recursion_available: m['recursion_available'] as boolean,
    reserved: m['reserved'] as number,
    response_code: m['response_code'] as number,
    questions: m.questions as TNetInput[],
    answers: m.answers as TNetInput[],
    authorities: m.authorities as TNetInput[],
    additionals: m.additionals as TNetInput[],
  };
}

/** A format-21 flow state as the format-17 dict mitmproxy 8.1.1 would write (floats marked). */
export function downgradeTo17(s: FlowState): TNetInput {
  const out: Record<string, TNetInput> = {
    id: s.id,
    error: s.error ? { msg: s.error.msg, timestamp: new PyFloat(s.error.timestamp) } : null,
    client_conn: client17(s.client_conn, savedAtConnectionEnd(s)),
    server_conn: server17(s.server_conn, savedAtConnectionEnd(s)),
    intercepted: s.intercepted,
    is_replay: s.is_replay,
    marked: s.marked,
    metadata: jsonValuesOnly(s.metadata) as TNetInput,
    comment: s.comment,
    timestamp_created: new PyFloat(s.timestamp_created),
  };
  if (s.type === 'http') {
    const req = s['request'] as Msg;
    const resp = s['response'] as Msg | null;
    const ws = s['websocket'] as { messages: Array<[number, boolean, Buffer, number, boolean, boolean]>; closed_by_client: boolean | null; close_code: number | null; close_reason: string | null; timestamp_end: number | null } | null;
    out['request'] = message17(req, {
      host: req['host'] as string,
      port: req['port'] as number,
      method: req['method'] as Buffer,
      scheme: req['scheme'] as Buffer,
      authority: req['authority'] as Buffer,
      path: req['path'] as Buffer,
    });
    out['response'] = resp ? message17(resp, { status_code: resp['status_code'] as number, reason: resp['reason'] as Buffer }) : null;
    out['websocket'] = ws
      ? {
          messages: ws.messages.map((m) => [m[0], m[1], m[2], new PyFloat(m[3]), m[4], m[5]]),
          closed_by_client: ws.closed_by_client,
          close_code: ws.close_code,
          close_reason: ws.close_reason,
          timestamp_end: f(ws.timestamp_end),
        }
      : null;
  } else if (s.type === 'tcp' || s.type === 'udp') {
    const msgs = s['messages'] as Array<[boolean, Buffer, number]>;
    out['messages'] = msgs.map((m) => [m[0], m[1], new PyFloat(m[2])]);
  } else if (s.type === 'dns') {
    out['request'] = dns17(s['request'] as DnsMsg);
    const r = s['response'] as DnsMsg | null;
    out['response'] = r ? dns17(r) : null;
  }
  out['version'] = 17;
  out['type'] = s.type;
  if (s.backup) out['backup'] = downgradeTo17(s.backup);
  return out;
}

/** Whether format 17 can hold a flow of this type: UDP flows only exist since format 18. */
export function writableAs17(flow: { readonly type: string }): boolean {
  return flow.type !== 'udp';
}

/**
 * Metadata as mitmproxy 8 accepts it: it refuses a whole file whose metadata is not JSON
 * ("Data not serializable"), so bytes and other non-JSON values are left out.
 */
function jsonValuesOnly(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (v instanceof PyFloat) return v;
  if (Array.isArray(v)) return v.map(jsonValuesOnly).filter((x) => x !== OMIT);
  if (typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const kept = jsonValuesOnly(x);
      if (kept !== OMIT) out[k] = kept;
    }
    return out;
  }
  return OMIT;
}
const OMIT = Symbol('not JSON');
