/**
 * Format-21 encoding straight from the flow objects, without building the state dictionary
 * first. `getState()` allocates some sixty objects and copies every header and body per flow;
 * when 100 000 flows are saved at once that garbage, on top of a large live heap, costs more
 * than the encoding itself. The output is byte-identical to `writeFlowState(w, flow.getState())`
 * (a test checks it on real files); flows this does not cover (DNS flows, flows carrying a
 * backup) go the general way.
 */
import type { AnyFlow } from '../flows.js';
import { HTTPFlow, type Message, type Request, type Response } from '../http.js';
import { TCPFlow } from '../tcp.js';
import type { Client, Connection, Server } from '../connection.js';
import type { Headers } from '../headers.js';
import type { WebSocketData } from '../websocket.js';
import { FLOW_FORMAT_VERSION } from '../version.js';
import type { ReverseWriter } from './tnetstring.js';

const keyCache = new Map<string, Buffer>();
/** The encoded item of a constant dict key. */
function K(k: string): Buffer {
  let b = keyCache.get(k);
  if (!b) {
    b = Buffer.from(`${Buffer.byteLength(k)}:${k};`, 'utf8');
    keyCache.set(k, b);
  }
  return b;
}

// Keys, encoded once.
const k = {
  version: K('version'), type: K('type'), id: K('id'), error: K('error'), client_conn: K('client_conn'), server_conn: K('server_conn'),
  intercepted: K('intercepted'), is_replay: K('is_replay'), marked: K('marked'), metadata: K('metadata'), comment: K('comment'),
  timestamp_created: K('timestamp_created'), backup: K('backup'), request: K('request'), response: K('response'), websocket: K('websocket'),
  messages: K('messages'), msg: K('msg'), timestamp: K('timestamp'),
  peername: K('peername'), sockname: K('sockname'), transport_protocol: K('transport_protocol'), tls: K('tls'),
  certificate_list: K('certificate_list'), alpn: K('alpn'), alpn_offers: K('alpn_offers'), cipher: K('cipher'), cipher_list: K('cipher_list'),
  tls_version: K('tls_version'), sni: K('sni'), timestamp_start: K('timestamp_start'), timestamp_end: K('timestamp_end'),
  timestamp_tls_setup: K('timestamp_tls_setup'), mitmcert: K('mitmcert'), proxy_mode: K('proxy_mode'), address: K('address'),
  timestamp_tcp_setup: K('timestamp_tcp_setup'), via: K('via'),
  http_version: K('http_version'), headers: K('headers'), content: K('content'), trailers: K('trailers'), host: K('host'), port: K('port'),
  method: K('method'), scheme: K('scheme'), authority: K('authority'), path: K('path'), status_code: K('status_code'), reason: K('reason'),
  closed_by_client: K('closed_by_client'), close_code: K('close_code'), close_reason: K('close_reason'),
};

function optText(w: ReverseWriter, v: string | null): void {
  if (v === null) w.nullValue();
  else w.text(v);
}

function optFloat(w: ReverseWriter, v: number | null): void {
  if (v === null) w.nullValue();
  else w.float(v);
}

function address(w: ReverseWriter, a: readonly (string | number)[] | null): void {
  if (a === null) return w.nullValue();
  const m = w.begin('list');
  for (let i = a.length - 1; i > 0; i--) w.int(a[i] as number);
  w.text(a[0] as string);
  w.end(m);
}

function textList(w: ReverseWriter, items: readonly string[], asBytes: 'latin1' | 'utf8' | null): void {
  const m = w.begin('list');
  for (let i = items.length - 1; i >= 0; i--) {
    if (asBytes === 'latin1') w.bytesLatin1(items[i]!);
    else if (asBytes === 'utf8') w.bytes(Buffer.from(items[i]!, 'utf8'));
    else w.text(items[i]!);
  }
  w.end(m);
}

/** The fields every connection has, in writer order (each value written before its key). */
function connectionBase(w: ReverseWriter, c: Connection, timestampStart: number | null): void {
  address(w, c.peername);
  w.raw(k.peername);
  address(w, c.sockname);
  w.raw(k.sockname);
  w.text(c.id);
  w.raw(k.id);
  w.text(c.transportProtocol);
  w.raw(k.transport_protocol);
  optText(w, c.error);
  w.raw(k.error);
  w.bool(c.tls);
  w.raw(k.tls);
  textList(w, c.certificateList, 'utf8');
  w.raw(k.certificate_list);
  if (c.alpn === null) w.nullValue();
  else w.bytesLatin1(c.alpn);
  w.raw(k.alpn);
  textList(w, c.alpnOffers, 'latin1');
  w.raw(k.alpn_offers);
  optText(w, c.cipher);
  w.raw(k.cipher);
  textList(w, c.cipherList, null);
  w.raw(k.cipher_list);
  optText(w, c.tlsVersion);
  w.raw(k.tls_version);
  optText(w, c.sni);
  w.raw(k.sni);
  optFloat(w, timestampStart);
  w.raw(k.timestamp_start);
  optFloat(w, c.timestampEnd);
  w.raw(k.timestamp_end);
  optFloat(w, c.timestampTlsSetup);
  w.raw(k.timestamp_tls_setup);
}

function client(w: ReverseWriter, c: Client): void {
  const m = w.begin('dict');
  connectionBase(w, c, c.timestampStart ?? 0);
  if (c.mitmcert === null) w.nullValue();
  else w.bytes(Buffer.from(c.mitmcert, 'utf8'));
  w.raw(k.mitmcert);
  w.text(c.proxyMode);
  w.raw(k.proxy_mode);
  w.end(m);
}

function server(w: ReverseWriter, s: Server): void {
  const m = w.begin('dict');
  connectionBase(w, s, s.timestampStart);
  address(w, s.address);
  w.raw(k.address);
  optFloat(w, s.timestampTcpSetup);
  w.raw(k.timestamp_tcp_setup);
  if (s.via === null) w.nullValue();
  else {
    const l = w.begin('list');
    address(w, s.via[1]);
    w.text(s.via[0]);
    w.end(l);
  }
  w.raw(k.via);
  w.end(m);
}

function headers(w: ReverseWriter, h: Headers): void {
  const m = w.begin('list');
  const f = h.fields;
  for (let i = f.length - 1; i >= 0; i--) {
    const pair = w.begin('list');
    w.bytesLatin1(f[i]![1]);
    w.bytesLatin1(f[i]![0]);
    w.end(pair);
  }
  w.end(m);
}

function messageCommon(w: ReverseWriter, msg: Message): void {
  w.bytesLatin1(msg.httpVersion);
  w.raw(k.http_version);
  headers(w, msg.headers);
  w.raw(k.headers);
  if (msg.rawContent === null) w.nullValue();
  else w.bytes(msg.rawContent);
  w.raw(k.content);
  if (msg.trailers === null) w.nullValue();
  else headers(w, msg.trailers);
  w.raw(k.trailers);
  w.float(msg.timestampStart);
  w.raw(k.timestamp_start);
  optFloat(w, msg.timestampEnd);
  w.raw(k.timestamp_end);
}

function request(w: ReverseWriter, r: Request): void {
  const m = w.begin('dict');
  messageCommon(w, r);
  w.text(r.host);
  w.raw(k.host);
  w.int(r.port);
  w.raw(k.port);
  w.bytesLatin1(r.method);
  w.raw(k.method);
  w.bytesLatin1(r.scheme);
  w.raw(k.scheme);
  w.bytesLatin1(r.authority);
  w.raw(k.authority);
  w.bytesLatin1(r.path);
  w.raw(k.path);
  w.end(m);
}

function response(w: ReverseWriter, r: Response): void {
  const m = w.begin('dict');
  messageCommon(w, r);
  w.int(r.statusCode);
  w.raw(k.status_code);
  w.bytesLatin1(r.reason);
  w.raw(k.reason);
  w.end(m);
}

function websocket(w: ReverseWriter, ws: WebSocketData): void {
  const m = w.begin('dict');
  const l = w.begin('list');
  for (let i = ws.messageCount - 1; i >= 0; i--) {
    const msg = ws.messageAt(i)!;
    const t = w.begin('list');
    w.bool(msg.injected);
    w.bool(msg.dropped);
    w.float(msg.timestamp);
    w.bytes(msg.content);
    w.bool(msg.fromClient);
    w.int(msg.type);
    w.end(t);
  }
  w.end(l);
  w.raw(k.messages);
  if (ws.closedByClient === null) w.nullValue();
  else w.bool(ws.closedByClient);
  w.raw(k.closed_by_client);
  if (ws.closeCode === null) w.nullValue();
  else w.int(ws.closeCode);
  w.raw(k.close_code);
  optText(w, ws.closeReason);
  w.raw(k.close_reason);
  optFloat(w, ws.timestampEnd);
  w.raw(k.timestamp_end);
  w.end(m);
}

/**
 * Write an HTTP, TCP or UDP flow without a backup. Returns false (having written nothing) for
 * anything else, which the caller then writes from `getState()`.
 */
export function writeFlowFast(w: ReverseWriter, flow: AnyFlow): boolean {
  const isHttp = flow instanceof HTTPFlow;
  if ((!isHttp && !(flow instanceof TCPFlow)) || flow.hasBackup) return false;
  const m = w.begin('dict');
  w.int(FLOW_FORMAT_VERSION);
  w.raw(k.version);
  w.text(flow.type);
  w.raw(k.type);
  w.text(flow.id);
  w.raw(k.id);
  if (flow.error === null) w.nullValue();
  else {
    const e = w.begin('dict');
    w.text(flow.error.msg);
    w.raw(k.msg);
    w.float(flow.error.timestamp);
    w.raw(k.timestamp);
    w.end(e);
  }
  w.raw(k.error);
  client(w, flow.clientConn);
  w.raw(k.client_conn);
  server(w, flow.serverConn);
  w.raw(k.server_conn);
  w.bool(flow.intercepted);
  w.raw(k.intercepted);
  optText(w, flow.isReplay);
  w.raw(k.is_replay);
  w.text(flow.marked);
  w.raw(k.marked);
  w.value(flow.metadata);
  w.raw(k.metadata);
  w.text(flow.comment);
  w.raw(k.comment);
  w.float(flow.timestampCreated);
  w.raw(k.timestamp_created);
  w.nullValue();
  w.raw(k.backup);
  if (isHttp) {
    request(w, flow.request);
    w.raw(k.request);
    if (flow.response === null) w.nullValue();
    else response(w, flow.response);
    w.raw(k.response);
    if (flow.websocket === null) w.nullValue();
    else websocket(w, flow.websocket);
    w.raw(k.websocket);
  } else {
    const l = w.begin('list');
    const msgs = flow.messages;
    for (let i = msgs.length - 1; i >= 0; i--) {
      const t = w.begin('list');
      w.float(msgs[i]!.timestamp);
      w.bytes(msgs[i]!.content);
      w.bool(msgs[i]!.fromClient);
      w.end(t);
    }
    w.end(l);
    w.raw(k.messages);
  }
  w.end(m);
  return true;
}
