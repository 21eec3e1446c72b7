/**
 * The one place that maps the flow model to mitmweb's flow JSON (web-api.md §4): key names and
 * key order are mitmproxy's, because the web front end and scripts read them. Bodies are never
 * included, only their length and SHA-256 (`contentHash`, the front end's cache key for content
 * requests).
 */
import * as crypto from 'node:crypto';
import type { Address, Client, Server } from '../../connection.js';
import type { AnyFlow } from '../../flows.js';
import type { Flow } from '../../flow.js';
import { HTTPFlow, type Message } from '../../http.js';
import type { Headers } from '../../headers.js';
import { TCPFlow } from '../../tcp.js';
import { WebSocketData } from '../../websocket.js';
import { DNSFlow, DNSMessage, DNSResourceRecord, dnsClassName, dnsOpcodeName, dnsRcodeName, dnsTypeName, type HttpsRecordJson } from '../../dns.js';
import { parseCertificate, pemCertificates } from '../../certs/index.js';
import { formatLogLine, type LogEntry } from '../../log.js';
import { bytesToText } from '../../util/bytes.js';
import { BoundedCache } from '../../util/bounded-cache.js';
import { renderMarker } from '../../util/markers.js';
import { jsonString, pyJson, type JsonValue } from './json.js';

export type AddressJson = [string, number] | [string, number, number, number] | null;
export type HeadersJson = Array<[string, string]>;

export type CertJson = {
  keyinfo: [string, number];
  sha256: string;
  notbefore: number;
  notafter: number;
  serial: string;
  subject: Array<[string, string]>;
  issuer: Array<[string, string]>;
  altnames: string[];
};

/**
 * The fields both sides of a connection have (mitmproxy's Connection base class). The key order
 * on the wire is set by clientConnJson/serverConnJson, not by these types.
 */
type ConnectionJson = {
  id: string;
  peername: AddressJson;
  sockname: AddressJson;
  tls_established: boolean;
  cert: CertJson | null;
  sni: string | null;
  cipher: string | null;
  alpn: string | null;
  tls_version: string | null;
  timestamp_start: number | null;
  timestamp_tls_setup: number | null;
  timestamp_end: number | null;
};

export type ClientConnJson = ConnectionJson;

/** A server connection also has the address it was asked to connect to and when TCP was set up. */
export type ServerConnJson = ConnectionJson & {
  address: AddressJson;
  timestamp_tcp_setup: number | null;
};

export type MessagesMetaJson = { contentLength: number; count: number; timestamp_last: number | null };

export type RequestJson = {
  method: string;
  scheme: string;
  host: string;
  port: number;
  path: string;
  http_version: string;
  headers: HeadersJson;
  contentLength: number | null;
  contentHash: string | null;
  timestamp_start: number;
  timestamp_end: number | null;
  pretty_host: string;
};

export type ResponseJson = {
  http_version: string;
  status_code: number;
  reason: string;
  headers: HeadersJson;
  contentLength: number | null;
  contentHash: string | null;
  timestamp_start: number;
  timestamp_end: number | null;
  trailers?: HeadersJson;
};

export type WebSocketJson = {
  messages_meta: MessagesMetaJson;
  closed_by_client: boolean | null;
  close_code: number | null;
  close_reason: string | null;
  timestamp_end: number | null;
};

export type DnsQuestionJson = { name: string; type: string; class: string };
export type DnsRecordJson = { name: string; type: string; class: string; ttl: number; data: string | HttpsRecordJson };
export type DnsMessageJson = {
  id: number;
  query: boolean;
  op_code: string;
  authoritative_answer: boolean;
  truncation: boolean;
  recursion_desired: boolean;
  recursion_available: boolean;
  response_code: string;
  status_code: number;
  questions: DnsQuestionJson[];
  answers: DnsRecordJson[];
  authorities: DnsRecordJson[];
  additionals: DnsRecordJson[];
  size: number;
  timestamp?: number;
};

export type FlowJson = {
  id: string;
  intercepted: boolean;
  is_replay: 'request' | 'response' | null;
  type: 'http' | 'tcp' | 'udp' | 'dns';
  modified: boolean;
  marked: string;
  comment: string;
  timestamp_created: number;
  client_conn: ClientConnJson;
  server_conn: ServerConnJson;
  error?: { msg: string; timestamp: number };
  request?: RequestJson | DnsMessageJson;
  response?: ResponseJson | DnsMessageJson;
  websocket?: WebSocketJson;
  messages_meta?: MessagesMetaJson;
};

export type LogEntryJson = { id: number; message: string; level: string };

// ---------------------------------------------------------------------------------------------
// Bodies

/**
 * SHA-256 hex digests of bodies, remembered on the Buffer object itself: the model replaces the
 * Buffer whenever a body is set, so a remembered digest is only stale if someone writes into a
 * body's bytes in place. This makes repeated `GET /flows` of a large view cheap. (A property on
 * the Buffer instead of a WeakMap: a WeakMap with hundreds of thousands of entries slows every
 * garbage collection down.)
 */
const DIGEST = Symbol('mitmproxy-ts.sha256');
type DigestCarrier = Buffer & { [DIGEST]?: string };
const oneShotHash = (crypto as { hash?: (alg: string, data: Buffer, enc: 'hex') => string }).hash;

export function sha256Hex(data: Buffer): string {
  const carrier = data as DigestCarrier;
  let d = carrier[DIGEST];
  if (d === undefined) {
    d = oneShotHash ? oneShotHash('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
    carrier[DIGEST] = d;
  }
  return d;
}

/** Bodies up to this size get their digest as soon as they are final (see `warmDigests`). */
const EAGER_DIGEST_MAX = 64 * 1024;

/**
 * Compute the `contentHash` of a flow's small bodies now, while the flow is fresh in memory, so
 * that the first `GET /flows` of a large view does not hash every body at once. Large bodies
 * are left to be hashed when first shown. Cheap to call repeatedly: digests are remembered.
 */
export function warmDigests(flow: AnyFlow): void {
  if (!(flow instanceof HTTPFlow)) return;
  const req = flow.request.rawContent;
  if (req !== null && req.length <= EAGER_DIGEST_MAX) sha256Hex(req);
  const resp = flow.response?.rawContent;
  if (resp && resp.length <= EAGER_DIGEST_MAX && flow.response!.timestampEnd !== null) sha256Hex(resp);
}

function headersJson(h: Headers): HeadersJson {
  return h.items(true);
}

// ---------------------------------------------------------------------------------------------
// Connections

function addressJson(a: Address | readonly [string, number] | null): AddressJson {
  return a ? ([...a] as AddressJson) : null;
}

/** Bytes shown as ASCII with backslash escapes for anything else (Python's "backslashreplace"). */
function asciiBackslash(s: string | null): string | null {
  if (s === null) return null;
  return s.replace(/[^\x00-\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

const RFC4514_NAMES = new Set(['CN', 'L', 'ST', 'O', 'OU', 'C', 'STREET', 'DC', 'UID']);
const OID_OF_NAME: Record<string, string> = { serialNumber: '2.5.4.5', emailAddress: '1.2.840.113549.1.9.1' };
/** OpenSSL curve names -> the names mitmproxy (python-cryptography) reports. */
const CURVE_NAMES: Record<string, string> = { prime256v1: 'secp256r1', secp384r1: 'secp384r1', secp521r1: 'secp521r1' };

function rfc4514Attrs(attrs: Array<[string, string]>): Array<[string, string]> {
  return attrs.map(([k, v]) => [RFC4514_NAMES.has(k) ? k : (OID_OF_NAME[k] ?? k), v]);
}

function keyInfo(spkiDer: Buffer): [string, number] {
  try {
    const key = crypto.createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    const details = key.asymmetricKeyDetails ?? {};
    switch (key.asymmetricKeyType) {
      case 'rsa':
      case 'rsa-pss':
        return ['RSA', details.modulusLength ?? -1];
      case 'dsa':
        return ['DSA', details.modulusLength ?? -1];
      case 'ec': {
        const curve = details.namedCurve ?? 'unknown';
        const size = /(\d+)/.exec(curve);
        return [`EC (${CURVE_NAMES[curve] ?? curve})`, size ? Number(size[1]) : -1];
      }
      case 'ed25519':
        return ['Ed25519', -1];
      case 'ed448':
        return ['Ed448', -1];
      default:
        return [String(key.asymmetricKeyType ?? 'unknown'), -1];
    }
  } catch {
    return ['unknown', -1];
  }
}

/** Parsed certificate JSON by PEM text; a handful of certificates are shared by thousands of flows. */
const certCache = new BoundedCache<string, CertJson | null>(512);

/** mitmproxy's `cert_to_json`: only the first certificate of the chain, or null. */
export function certToJson(certificateList: readonly string[]): CertJson | null {
  const pem = certificateList[0];
  if (!pem) return null;
  return certCache.getOrCompute(pem, pemToCertJson);
}

function pemToCertJson(pem: string): CertJson | null {
  try {
    const der = pemCertificates(pem)[0];
    if (der) {
      const c = parseCertificate(der);
      return {
        keyinfo: keyInfo(c.spkiDer),
        sha256: crypto.createHash('sha256').update(c.der).digest('hex'),
        notbefore: Math.floor(c.notBefore.getTime() / 1000),
        notafter: Math.floor(c.notAfter.getTime() / 1000),
        serial: c.serial.toString(),
        subject: rfc4514Attrs(c.subject),
        issuer: rfc4514Attrs(c.issuer),
        altnames: c.subjectAltNames.filter((n) => n.type !== 'other').map((n) => (n as { value: string }).value),
      };
    }
  } catch {
    // A certificate we cannot read is shown as none.
  }
  return null;
}

export function clientConnJson(c: Client): ClientConnJson {
  return {
    id: c.id,
    peername: addressJson(c.peername),
    sockname: addressJson(c.sockname),
    tls_established: c.tlsEstablished,
    cert: certToJson(c.certificateList),
    sni: c.sni,
    cipher: c.cipher,
    alpn: asciiBackslash(c.alpn),
    tls_version: c.tlsVersion,
    timestamp_start: c.timestampStart,
    timestamp_tls_setup: c.timestampTlsSetup,
    timestamp_end: c.timestampEnd,
  };
}

export function serverConnJson(s: Server): ServerConnJson {
  return {
    id: s.id,
    peername: addressJson(s.peername),
    sockname: addressJson(s.sockname),
    address: addressJson(s.address),
    tls_established: s.tlsEstablished,
    cert: certToJson(s.certificateList),
    sni: s.sni,
    cipher: s.cipher,
    alpn: asciiBackslash(s.alpn),
    tls_version: s.tlsVersion,
    timestamp_start: s.timestampStart,
    timestamp_tcp_setup: s.timestampTcpSetup,
    timestamp_tls_setup: s.timestampTlsSetup,
    timestamp_end: s.timestampEnd,
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

function bodyMeta(m: Message): { contentLength: number | null; contentHash: string | null } {
  const raw = m.rawContent;
  return raw === null ? { contentLength: null, contentHash: null } : { contentLength: raw.length, contentHash: sha256Hex(raw) };
}

function messagesMeta(messages: ReadonlyArray<{ contentLength: number; timestamp: number }> | WebSocketData): MessagesMetaJson {
  if (messages instanceof WebSocketData) {
    // Without making objects of recorded messages (see WebSocketData.messages).
    return { contentLength: messages.totalContentLength(), count: messages.messageCount, timestamp_last: messages.lastTimestamp };
  }
  let len = 0;
  for (const m of messages) len += m.contentLength;
  return { contentLength: len, count: messages.length, timestamp_last: messages.length ? messages[messages.length - 1]!.timestamp : null };
}

/** HTTP-like status for a DNS response code, as mitmproxy maps them. */
const DNS_STATUS: Record<number, number> = { 0: 200, 1: 400, 2: 500, 3: 404, 4: 501, 5: 403, 6: 409, 7: 409, 8: 410, 9: 401, 10: 404, 11: 501 };

function dnsRecordJson(r: DNSResourceRecord): DnsRecordJson {
  return { name: r.name, type: dnsTypeName(r.type), class: dnsClassName(r.class_), ttl: r.ttl, data: r.dataJson() };
}

export function dnsMessageJson(m: DNSMessage): DnsMessageJson {
  const out: DnsMessageJson = {
    id: m.id,
    query: m.query,
    op_code: dnsOpcodeName(m.opCode),
    authoritative_answer: m.authoritativeAnswer,
    truncation: m.truncation,
    recursion_desired: m.recursionDesired,
    recursion_available: m.recursionAvailable,
    response_code: dnsRcodeName(m.responseCode),
    status_code: DNS_STATUS[m.responseCode] ?? 500,
    questions: m.questions.map((q) => ({ name: q.name, type: dnsTypeName(q.type), class: dnsClassName(q.class_) })),
    answers: m.answers.map(dnsRecordJson),
    authorities: m.authorities.map(dnsRecordJson),
    additionals: m.additionals.map(dnsRecordJson),
    size: m.size,
  };
  if (m.timestamp) out.timestamp = m.timestamp;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Flows

/** Whether the flow is modified (a backup exists and differs); a cheap check first. */
function isModified(f: Flow): boolean {
  return f.hasBackup && f.modified();
}

/** mitmproxy's `flow_to_json`. */
export function flowToJson(flow: AnyFlow): FlowJson {
  const f: FlowJson = {
    id: flow.id,
    intercepted: flow.intercepted,
    is_replay: flow.isReplay,
    type: flow.type,
    modified: isModified(flow),
    marked: renderMarker(flow.marked),
    comment: flow.comment,
    timestamp_created: flow.timestampCreated,
    client_conn: clientConnJson(flow.clientConn),
    server_conn: serverConnJson(flow.serverConn),
  };
  if (flow.error) f.error = { msg: flow.error.msg, timestamp: flow.error.timestamp };
  if (flow instanceof HTTPFlow) {
    const req = flow.request;
    f.request = {
      method: bytesToText(req.method),
      scheme: bytesToText(req.scheme),
      host: req.host,
      port: req.port,
      path: bytesToText(req.path),
      http_version: bytesToText(req.httpVersion),
      headers: headersJson(req.headers),
      ...bodyMeta(req),
      timestamp_start: req.timestampStart,
      timestamp_end: req.timestampEnd,
      pretty_host: req.prettyHost,
    };
    const resp = flow.response;
    if (resp) {
      const r: ResponseJson = {
        http_version: bytesToText(resp.httpVersion),
        status_code: resp.statusCode,
        reason: bytesToText(resp.reason),
        headers: headersJson(resp.headers),
        ...bodyMeta(resp),
        timestamp_start: resp.timestampStart,
        timestamp_end: resp.timestampEnd,
      };
      if (resp.trailers && resp.trailers.fields.length) r.trailers = headersJson(resp.trailers);
      f.response = r;
    }
    const ws = flow.websocket;
    if (ws) {
      f.websocket = {
        messages_meta: messagesMeta(ws),
        closed_by_client: ws.closedByClient,
        close_code: ws.closeCode,
        close_reason: ws.closeReason,
        timestamp_end: ws.timestampEnd,
      };
    }
  } else if (flow instanceof TCPFlow) {
    f.messages_meta = messagesMeta(flow.messages);
  } else if (flow instanceof DNSFlow) {
    f.request = dnsMessageJson(flow.request);
    if (flow.response) f.response = dnsMessageJson(flow.response);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Flow JSON as text

/*
 * `flowJsonText(f, ascii)` writes exactly `pyJson(flowToJson(f), ascii)`, straight from the model
 * without building the intermediate objects: `GET /flows` of a large view and the /updates pushes
 * spend most of their time here. The structure below mirrors `flowToJson` key for key; a test
 * checks that both agree for every kind of flow.
 */

/** Characters that need more than quoting: quotes, backslashes, controls, non-ASCII, and "</". */
const NEEDS_ESCAPE_ASCII = /["\\\x00-\x1f\x7f-\uffff]|<\//;
/** Without ASCII escaping only JSON's own escapes (and lone surrogates) matter. */
const NEEDS_ESCAPE_UTF8 = /["\\\x00-\x1f\ud800-\udfff]/;

function jstr(s: string, ascii: boolean): string {
  return (ascii ? NEEDS_ESCAPE_ASCII : NEEDS_ESCAPE_UTF8).test(s) ? jsonString(s, ascii) : `"${s}"`;
}

/** A byte string (head fields) as JSON text: quoted directly when it is plain ASCII, else decoded first. */
function jbytes(s: string, ascii: boolean): string {
  return NEEDS_ESCAPE_ASCII.test(s) ? jstr(bytesToText(s), ascii) : `"${s}"`;
}

function jstrOrNull(s: string | null, ascii: boolean): string {
  return s === null ? 'null' : jstr(s, ascii);
}

function jnum(n: number | null): string {
  return n === null ? 'null' : Number.isFinite(n) ? String(n) : 'null';
}

function jaddr(a: Address | readonly [string, number] | null, ascii: boolean): string {
  if (!a) return 'null';
  let out = `[${jstr(a[0], ascii)}`;
  for (let i = 1; i < a.length; i++) out += `, ${jnum(a[i] as number)}`;
  return out + ']';
}

function jheaders(h: Headers, ascii: boolean): string {
  const f = h.fields;
  if (f.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < f.length; i++) {
    const [n, v] = f[i]!;
    out += `${i ? ', ' : ''}[${jbytes(n, ascii)}, ${jbytes(v, ascii)}]`;
  }
  return out + ']';
}

function jtext(v: unknown, ascii: boolean): string {
  return pyJson(v as JsonValue, ascii);
}

function jcert(list: readonly string[], ascii: boolean): string {
  const c = certToJson(list);
  return c === null ? 'null' : jtext(c, ascii);
}

function jbody(m: Message): string {
  const raw = m.rawContent;
  return raw === null ? '"contentLength": null, "contentHash": null' : `"contentLength": ${raw.length}, "contentHash": "${sha256Hex(raw)}"`;
}

function jmeta(messages: ReadonlyArray<{ contentLength: number; timestamp: number }> | WebSocketData): string {
  const m = messagesMeta(messages);
  return `{"contentLength": ${m.contentLength}, "count": ${m.count}, "timestamp_last": ${jnum(m.timestamp_last)}}`;
}

function jclient(c: Client, ascii: boolean): string {
  return (
    `{"id": ${jstr(c.id, ascii)}, "peername": ${jaddr(c.peername, ascii)}, "sockname": ${jaddr(c.sockname, ascii)}, ` +
    `"tls_established": ${c.tlsEstablished}, "cert": ${jcert(c.certificateList, ascii)}, "sni": ${jstrOrNull(c.sni, ascii)}, ` +
    `"cipher": ${jstrOrNull(c.cipher, ascii)}, "alpn": ${jstrOrNull(asciiBackslash(c.alpn), ascii)}, "tls_version": ${jstrOrNull(c.tlsVersion, ascii)}, ` +
    `"timestamp_start": ${jnum(c.timestampStart)}, "timestamp_tls_setup": ${jnum(c.timestampTlsSetup)}, "timestamp_end": ${jnum(c.timestampEnd)}}`
  );
}

function jserver(s: Server, ascii: boolean): string {
  return (
    `{"id": ${jstr(s.id, ascii)}, "peername": ${jaddr(s.peername, ascii)}, "sockname": ${jaddr(s.sockname, ascii)}, ` +
    `"address": ${jaddr(s.address, ascii)}, "tls_established": ${s.tlsEstablished}, "cert": ${jcert(s.certificateList, ascii)}, ` +
    `"sni": ${jstrOrNull(s.sni, ascii)}, "cipher": ${jstrOrNull(s.cipher, ascii)}, "alpn": ${jstrOrNull(asciiBackslash(s.alpn), ascii)}, ` +
    `"tls_version": ${jstrOrNull(s.tlsVersion, ascii)}, "timestamp_start": ${jnum(s.timestampStart)}, "timestamp_tcp_setup": ${jnum(s.timestampTcpSetup)}, ` +
    `"timestamp_tls_setup": ${jnum(s.timestampTlsSetup)}, "timestamp_end": ${jnum(s.timestampEnd)}}`
  );
}

/**
 * Connection JSON shared by the flows of one batch: flows of a keep-alive connection all carry
 * the same `client_conn` (and often `server_conn`). Only use one memo for work done without
 * yielding to the event loop, so every entry is a snapshot of the same moment.
 */
export type ConnJsonMemo = Map<Client | Server, string>;

/**
 * The flow JSON of `flowToJson`, serialised as `pyJson` would (ASCII-escaped for REST bodies).
 * `memo` reuses the JSON of connections shared by several flows (see ConnJsonMemo).
 */
export function flowJsonText(flow: AnyFlow, ascii: boolean, memo?: ConnJsonMemo): string {
  const c = flow.clientConn;
  const s = flow.serverConn;
  let cj = memo?.get(c);
  if (cj === undefined) {
    cj = jclient(c, ascii);
    memo?.set(c, cj);
  }
  let sj = memo?.get(s);
  if (sj === undefined) {
    sj = jserver(s, ascii);
    memo?.set(s, sj);
  }
  let out =
    `{"id": ${jstr(flow.id, ascii)}, "intercepted": ${flow.intercepted}, "is_replay": ${jstrOrNull(flow.isReplay, ascii)}, ` +
    `"type": ${jstr(flow.type, ascii)}, "modified": ${isModified(flow)}, "marked": ${jstr(renderMarker(flow.marked), ascii)}, ` +
    `"comment": ${jstr(flow.comment, ascii)}, "timestamp_created": ${jnum(flow.timestampCreated)}, ` +
    `"client_conn": ${cj}, "server_conn": ${sj}`;
  if (flow.error) out += `, "error": {"msg": ${jstr(flow.error.msg, ascii)}, "timestamp": ${jnum(flow.error.timestamp)}}`;
  if (flow instanceof HTTPFlow) {
    const req = flow.request;
    out +=
      `, "request": {"method": ${jbytes(req.method, ascii)}, "scheme": ${jbytes(req.scheme, ascii)}, ` +
      `"host": ${jstr(req.host, ascii)}, "port": ${jnum(req.port)}, "path": ${jbytes(req.path, ascii)}, ` +
      `"http_version": ${jbytes(req.httpVersion, ascii)}, "headers": ${jheaders(req.headers, ascii)}, ${jbody(req)}, ` +
      `"timestamp_start": ${jnum(req.timestampStart)}, "timestamp_end": ${jnum(req.timestampEnd)}, "pretty_host": ${jstr(req.prettyHost, ascii)}}`;
    const resp = flow.response;
    if (resp) {
      out +=
        `, "response": {"http_version": ${jbytes(resp.httpVersion, ascii)}, "status_code": ${jnum(resp.statusCode)}, ` +
        `"reason": ${jbytes(resp.reason, ascii)}, "headers": ${jheaders(resp.headers, ascii)}, ${jbody(resp)}, ` +
        `"timestamp_start": ${jnum(resp.timestampStart)}, "timestamp_end": ${jnum(resp.timestampEnd)}`;
      if (resp.trailers && resp.trailers.fields.length) out += `, "trailers": ${jheaders(resp.trailers, ascii)}`;
      out += '}';
    }
    const ws = flow.websocket;
    if (ws) {
      out +=
        `, "websocket": {"messages_meta": ${jmeta(ws)}, "closed_by_client": ${ws.closedByClient === null ? 'null' : ws.closedByClient}, ` +
        `"close_code": ${jnum(ws.closeCode)}, "close_reason": ${jstrOrNull(ws.closeReason, ascii)}, "timestamp_end": ${jnum(ws.timestampEnd)}}`;
    }
  } else if (flow instanceof TCPFlow) {
    out += `, "messages_meta": ${jmeta(flow.messages)}`;
  } else if (flow instanceof DNSFlow) {
    out += `, "request": ${jtext(dnsMessageJson(flow.request), ascii)}`;
    if (flow.response) out += `, "response": ${jtext(dnsMessageJson(flow.response), ascii)}`;
  }
  return out + '}';
}

// ---------------------------------------------------------------------------------------------
// Event log

/** mitmproxy's `logentry_to_json`. */
export function logEntryToJson(e: LogEntry): LogEntryJson {
  return { id: e.id, message: formatLogLine(e), level: e.level };
}
