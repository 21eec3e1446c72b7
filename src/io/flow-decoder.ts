/**
 * Format-21 decoding straight into flow objects, the mirror of flow-encoder.ts. A format-21
 * flow written by mitmproxy (or by us) has a fixed layout: every dict's keys in a known order.
 * Following that layout, values go directly into the model, with no intermediate dicts, key
 * strings or state objects, and each value is checked as it is read.
 *
 * Anything off the layout (another version, key order or type, a DNS flow, a backup) makes the
 * decoder give up on that item, and the general path (decode, migrate, check against the
 * schema, build) handles it, with its exact error messages. So this never decides whether a
 * file is valid; it only makes the common case cheap. A test checks that both paths build
 * identical flows from real files.
 */
import type { AnyFlow } from '../flows.js';
import type { MetadataValue } from '../flow.js';
import { FlowError } from '../flow.js';
import { HTTPFlow, Request, Response, Headers } from '../http.js';
import { TCPFlow, TCPMessage, UDPFlow, UDPMessage } from '../tcp.js';
import { Client, Server, type Address, type TlsVersion, type Via, type ViaScheme } from '../connection.js';
import { WebSocketData, WebSocketMessage } from '../websocket.js';
import { FLOW_FORMAT_VERSION } from '../version.js';
import { loads, type TNetValue } from './tnetstring.js';
import { cloneTree } from '../util/own-key.js';
import { TLS_VERSION_VALUES, VIA_SCHEMES } from './state-schema.js';

/** Thrown inside the decoder to give up on an item (never escapes this module). */
class OffLayout {}
const OFF = new OffLayout();

const keyItem = (k: string): Buffer => Buffer.from(`${Buffer.byteLength(k)}:${k};`, 'utf8');

const TLS_VERSIONS = new Set<string>(TLS_VERSION_VALUES);
const VIA = new Set<string>(VIA_SCHEMES);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over one top-level item. */
class Cursor {
  pos: number;
  constructor(
    readonly data: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Read an item header; returns the payload end (the tag is at that index). */
  private header(): number {
    const d = this.data;
    let i = this.pos;
    let len = 0;
    let digits = 0;
    for (;;) {
      if (i >= this.end) throw OFF;
      const c = d[i]!;
      if (c === 0x3a) break;
      if (c < 0x30 || c > 0x39 || ++digits > 12) throw OFF;
      len = len * 10 + (c - 0x30);
      i++;
    }
    if (digits === 0) throw OFF;
    this.pos = i + 1;
    const e = this.pos + len;
    if (e >= this.end) throw OFF;
    return e;
  }

  /** The next bytes must be exactly this (a dict key item). */
  key(item: Buffer): void {
    const d = this.data;
    const p = this.pos;
    const n = item.length;
    if (p + n > this.end) throw OFF;
    for (let i = 0; i < n; i++) if (d[p + i] !== item[i]) throw OFF;
    this.pos = p + n;
  }

  /** Is the next item null? (consumes it if so) */
  isNull(): boolean {
    const d = this.data;
    const p = this.pos;
    if (d[p] === 0x30 && d[p + 1] === 0x3a && d[p + 2] === 0x7e) {
      this.pos = p + 3;
      return true;
    }
    return false;
  }

  /** Enter a container with tag `tag`; returns where it ends. */
  open(tag: number): number {
    const e = this.header();
    if (this.data[e] !== tag) throw OFF;
    return e;
  }

  /** Leave a container that ends at `e`. */
  close(e: number): void {
    if (this.pos !== e) throw OFF;
    this.pos = e + 1;
  }

  private payload(tag: number): number {
    const e = this.header();
    if (this.data[e] !== tag) throw OFF;
    return e;
  }

  /** Bytes as a byte string (one character per byte), as the model keeps header bytes. */
  latin1(): string {
    const e = this.payload(0x2c);
    const s = this.pos;
    this.pos = e + 1;
    return this.data.toString('latin1', s, e);
  }

  /** Bytes, copied (so that flows do not keep the file's chunks alive). */
  bytesCopy(): Buffer {
    const e = this.payload(0x2c);
    const s = this.pos;
    this.pos = e + 1;
    return Buffer.from(this.data.subarray(s, e));
  }

  text(): string {
    const e = this.payload(0x3b);
    const s = this.pos;
    this.pos = e + 1;
    const d = this.data;
    for (let i = s; i < e; i++) {
      if (d[i]! > 0x7f) {
        try {
          return utf8.decode(d.subarray(s, e));
        } catch {
          throw OFF;
        }
      }
    }
    return d.toString('latin1', s, e);
  }

  optText(): string | null {
    return this.isNull() ? null : this.text();
  }

  int(): number {
    const e = this.payload(0x23);
    const d = this.data;
    let i = this.pos;
    this.pos = e + 1;
    const neg = d[i] === 0x2d;
    if (neg) i++;
    if (i >= e || e - i > 15) throw OFF;
    let n = 0;
    for (; i < e; i++) {
      const c = d[i]! - 0x30;
      if (c < 0 || c > 9) throw OFF;
      n = n * 10 + c;
    }
    return neg ? -n : n;
  }

  float(): number {
    const e = this.payload(0x5e);
    const s = this.pos;
    this.pos = e + 1;
    const t = this.data.toString('latin1', s, e);
    if (!SIMPLE_FLOAT_RE.test(t)) throw OFF;
    return Number(t);
  }

  optFloat(): number | null {
    return this.isNull() ? null : this.float();
  }

  bool(): boolean {
    const d = this.data;
    const p = this.pos;
    if (d[p] === 0x34 && d[p + 1] === 0x3a && d[p + 2] === 0x74 && d[p + 3] === 0x72 && d[p + 4] === 0x75 && d[p + 5] === 0x65 && d[p + 6] === 0x21) {
      this.pos = p + 7;
      return true;
    }
    if (d[p] === 0x35 && d[p + 1] === 0x3a && d[p + 2] === 0x66 && d[p + 3] === 0x61 && d[p + 4] === 0x6c && d[p + 5] === 0x73 && d[p + 6] === 0x65 && d[p + 7] === 0x21) {
      this.pos = p + 8;
      return false;
    }
    throw OFF;
  }

  /** Any value (free-form metadata), with the general decoder. */
  any(): TNetValue {
    const start = this.pos;
    const e = this.header();
    this.pos = e + 1;
    try {
      return loads(this.data.subarray(start, e + 1));
    } catch {
      throw OFF;
    }
  }
}

const SIMPLE_FLOAT_RE = /^-?\d+(?:\.\d+)?(?:e[+-]\d+)?$/;
const LIST = 0x5d;
const DICT = 0x7d;

const k = Object.fromEntries(
  [
    'version', 'type', 'id', 'error', 'client_conn', 'server_conn', 'intercepted', 'is_replay', 'marked', 'metadata', 'comment',
    'timestamp_created', 'backup', 'request', 'response', 'websocket', 'messages', 'msg', 'timestamp', 'peername', 'sockname',
    'transport_protocol', 'tls', 'certificate_list', 'alpn', 'alpn_offers', 'cipher', 'cipher_list', 'tls_version', 'sni',
    'timestamp_start', 'timestamp_end', 'timestamp_tls_setup', 'mitmcert', 'proxy_mode', 'address', 'timestamp_tcp_setup', 'via',
    'http_version', 'headers', 'content', 'trailers', 'host', 'port', 'method', 'scheme', 'authority', 'path', 'status_code',
    'reason', 'closed_by_client', 'close_code', 'close_reason',
  ].map((name) => [name, keyItem(name)]),
) as Record<string, Buffer>;

function address(c: Cursor): Address | null {
  if (c.isNull()) return null;
  const e = c.open(LIST);
  const host = c.text();
  const port = c.int();
  let out: Address = [host, port];
  if (c.pos !== e) {
    const flowinfo = c.int();
    const scope = c.int();
    out = [host, port, flowinfo, scope];
  }
  c.close(e);
  return out;
}

function pair(c: Cursor): [string, number] | null {
  const a = address(c);
  if (a !== null && a.length !== 2) throw OFF;
  return a as [string, number] | null;
}

function list<T>(c: Cursor, item: (c: Cursor) => T): T[] {
  const e = c.open(LIST);
  const out: T[] = [];
  while (c.pos < e) out.push(item(c));
  c.close(e);
  return out;
}

const pem = (c: Cursor) => c.bytesCopy().toString('utf8');
const latin1 = (c: Cursor) => c.latin1();
const text = (c: Cursor) => c.text();

/** The connection fields from `sni` down to `peername` (disk order), shared by client and server. */
function connectionTail(c: Cursor, conn: Client | Server): void {
  c.key(k['sni']!);
  conn.sni = c.optText();
  c.key(k['tls_version']!);
  const tv = c.optText();
  if (tv !== null && !TLS_VERSIONS.has(tv)) throw OFF;
  conn.tlsVersion = tv as TlsVersion | null;
  c.key(k['cipher_list']!);
  conn.cipherList = list(c, text);
  c.key(k['cipher']!);
  conn.cipher = c.optText();
  c.key(k['alpn_offers']!);
  conn.alpnOffers = list(c, latin1);
  c.key(k['alpn']!);
  conn.alpn = c.isNull() ? null : c.latin1();
  c.key(k['certificate_list']!);
  conn.certificateList = list(c, pem);
  c.key(k['tls']!);
  conn.tls = c.bool();
  c.key(k['error']!);
  conn.error = c.optText();
  c.key(k['transport_protocol']!);
  const tp = c.text();
  if (tp !== 'tcp' && tp !== 'udp') throw OFF;
  conn.transportProtocol = tp;
  c.key(k['id']!);
  conn.id = c.text();
  c.key(k['sockname']!);
  conn.sockname = address(c);
  c.key(k['peername']!);
  conn.peername = address(c);
}

function client(c: Cursor): Client {
  const e = c.open(DICT);
  const conn = new Client();
  c.key(k['proxy_mode']!);
  conn.proxyMode = c.text();
  c.key(k['mitmcert']!);
  conn.mitmcert = c.isNull() ? null : pem(c);
  c.key(k['timestamp_tls_setup']!);
  conn.timestampTlsSetup = c.optFloat();
  c.key(k['timestamp_end']!);
  conn.timestampEnd = c.optFloat();
  c.key(k['timestamp_start']!);
  conn.timestampStart = c.float();
  connectionTail(c, conn);
  c.close(e);
  return conn;
}

function server(c: Cursor): Server {
  const e = c.open(DICT);
  const conn = new Server();
  c.key(k['via']!);
  if (c.isNull()) conn.via = null;
  else {
    const l = c.open(LIST);
    const scheme = c.text();
    if (!VIA.has(scheme)) throw OFF;
    const a = pair(c);
    if (a === null) throw OFF;
    c.close(l);
    conn.via = [scheme as ViaScheme, a] as Via;
  }
  c.key(k['timestamp_tcp_setup']!);
  conn.timestampTcpSetup = c.optFloat();
  c.key(k['address']!);
  conn.address = pair(c);
  c.key(k['timestamp_tls_setup']!);
  conn.timestampTlsSetup = c.optFloat();
  c.key(k['timestamp_end']!);
  conn.timestampEnd = c.optFloat();
  c.key(k['timestamp_start']!);
  conn.timestampStart = c.optFloat();
  connectionTail(c, conn);
  c.close(e);
  return conn;
}

function headers(c: Cursor): Headers {
  const h = new Headers();
  const e = c.open(LIST);
  const fields = h.fields;
  while (c.pos < e) {
    const p = c.open(LIST);
    const name = c.latin1();
    const value = c.latin1();
    c.close(p);
    fields.push([name, value]);
  }
  c.close(e);
  return h;
}

interface MessageTail {
  timestampEnd: number | null;
  timestampStart: number;
  trailers: Headers | null;
  content: Buffer | null;
  headers: Headers;
  httpVersion: string;
}

/** The message fields from `timestamp_end` down to `http_version` (disk order). */
function messageTail(c: Cursor): MessageTail {
  c.key(k['timestamp_end']!);
  const timestampEnd = c.optFloat();
  c.key(k['timestamp_start']!);
  const timestampStart = c.float();
  c.key(k['trailers']!);
  const trailers = c.isNull() ? null : headers(c);
  c.key(k['content']!);
  const content = c.isNull() ? null : c.bytesCopy();
  c.key(k['headers']!);
  const hs = headers(c);
  c.key(k['http_version']!);
  const httpVersion = c.latin1();
  return { timestampEnd, timestampStart, trailers, content, headers: hs, httpVersion };
}

function request(c: Cursor): Request {
  const e = c.open(DICT);
  c.key(k['path']!);
  const path = c.latin1();
  c.key(k['authority']!);
  const authority = c.latin1();
  c.key(k['scheme']!);
  const scheme = c.latin1();
  c.key(k['method']!);
  const method = c.latin1();
  c.key(k['port']!);
  const port = c.int();
  c.key(k['host']!);
  const host = c.text();
  const m = messageTail(c);
  c.close(e);
  return new Request({ host, port, method, scheme, authority, path, ...m });
}

function response(c: Cursor): Response {
  const e = c.open(DICT);
  c.key(k['reason']!);
  const reason = c.latin1();
  c.key(k['status_code']!);
  const statusCode = c.int();
  const m = messageTail(c);
  c.close(e);
  return new Response({ statusCode, reason, ...m });
}

function websocket(c: Cursor): WebSocketData {
  const e = c.open(DICT);
  const ws = new WebSocketData();
  c.key(k['timestamp_end']!);
  ws.timestampEnd = c.optFloat();
  c.key(k['close_reason']!);
  ws.closeReason = c.optText();
  c.key(k['close_code']!);
  ws.closeCode = c.isNull() ? null : c.int();
  c.key(k['closed_by_client']!);
  ws.closedByClient = c.isNull() ? null : c.bool();
  c.key(k['messages']!);
  ws.messages = list(c, (c) => {
    const l = c.open(LIST);
    const type = c.int();
    const fromClient = c.bool();
    const content = c.bytesCopy();
    const timestamp = c.float();
    const dropped = c.bool();
    const injected = c.bool();
    c.close(l);
    return new WebSocketMessage(type, fromClient, content, timestamp, dropped, injected);
  });
  c.close(e);
  return ws;
}

/** The common flow fields from `timestamp_created` down to `version` (disk order). */
function flowTail(c: Cursor, flow: HTTPFlow | TCPFlow, expectedType: string | null): string {
  c.key(k['timestamp_created']!);
  flow.timestampCreated = c.float();
  c.key(k['comment']!);
  flow.comment = c.text();
  c.key(k['metadata']!);
  const md = c.any();
  if (typeof md !== 'object' || md === null || Array.isArray(md) || Buffer.isBuffer(md)) throw OFF;
  flow.metadata = cloneTree(md) as Record<string, MetadataValue>;
  c.key(k['marked']!);
  flow.marked = c.text();
  c.key(k['is_replay']!);
  const replay = c.optText();
  flow.isReplay = replay as HTTPFlow['isReplay'];
  c.key(k['intercepted']!);
  flow.intercepted = c.bool();
  c.key(k['server_conn']!);
  flow.serverConn = server(c);
  c.key(k['client_conn']!);
  flow.clientConn = client(c);
  c.key(k['error']!);
  if (c.isNull()) flow.error = null;
  else {
    const e = c.open(DICT);
    c.key(k['timestamp']!);
    const ts = c.float();
    c.key(k['msg']!);
    const msg = c.text();
    c.close(e);
    flow.error = new FlowError(msg, ts);
  }
  c.key(k['id']!);
  flow.id = c.text();
  c.key(k['type']!);
  const type = c.text();
  if (expectedType !== null && type !== expectedType) throw OFF;
  c.key(k['version']!);
  if (c.int() !== FLOW_FORMAT_VERSION) throw OFF;
  return type;
}

/**
 * Decode one top-level item (`data[start..end]`, the whole item including its header) that is
 * a format-21 HTTP, TCP or UDP flow in the standard layout; null when it is anything else.
 */
export function decodeFlowFast(data: Buffer, start: number, end: number): AnyFlow | null {
  const c = new Cursor(data, start, end);
  try {
    const e = c.open(DICT);
    let flow: HTTPFlow | TCPFlow;
    if (data[c.pos + 0] === 0x39 && data[c.pos + 2] === 0x77) {
      // "9:websocket;" comes first: an HTTP flow.
      c.key(k['websocket']!);
      const ws = c.isNull() ? null : websocket(c);
      c.key(k['response']!);
      const resp = c.isNull() ? null : response(c);
      c.key(k['request']!);
      const req = request(c);
      c.key(k['backup']!);
      if (!c.isNull()) return null;
      const f = new HTTPFlow(undefined, undefined, false, req);
      f.response = resp;
      f.websocket = ws;
      flowTail(c, f, 'http');
      flow = f;
    } else {
      c.key(k['messages']!);
      const msgs = list(c, (c) => {
        const l = c.open(LIST);
        const fromClient = c.bool();
        const content = c.bytesCopy();
        const timestamp = c.float();
        c.close(l);
        return [fromClient, content, timestamp] as const;
      });
      c.key(k['backup']!);
      if (!c.isNull()) return null;
      // The type is near the end; parse into a TCP flow and re-class it for UDP.
      const tcp = new TCPFlow();
      const type = flowTail(c, tcp, null);
      if (type === 'tcp') {
        tcp.messages = msgs.map(([fc, content, ts]) => new TCPMessage(fc, content, ts));
        flow = tcp;
      } else if (type === 'udp') {
        const udp = new UDPFlow(tcp.clientConn, tcp.serverConn);
        for (const key of ['id', 'error', 'intercepted', 'isReplay', 'marked', 'comment', 'metadata', 'timestampCreated'] as const) {
          (udp as unknown as Record<string, unknown>)[key] = (tcp as unknown as Record<string, unknown>)[key];
        }
        udp.messages = msgs.map(([fc, content, ts]) => new UDPMessage(fc, content, ts));
        flow = udp;
      } else return null;
    }
    c.close(e);
    if (c.pos !== end) return null;
    return flow;
  } catch (err) {
    if (err === OFF) return null;
    throw err;
  }
}
