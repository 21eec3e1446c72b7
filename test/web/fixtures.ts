/**
 * Test flows shaped like mitmproxy's test fixtures (mitmproxy/test/tflow.py): the same hosts,
 * headers, bodies and timestamps, so API answers can be compared with mitmweb's tests.
 */
import { randomUUID } from 'node:crypto';
import { Client, Server } from '../../src/connection.js';
import { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord } from '../../src/dns.js';
import { FlowError } from '../../src/flow.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { TCPFlow, TCPMessage, UDPFlow, UDPMessage } from '../../src/tcp.js';
import { Opcode, WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import { testRequestFields, testResponseFields } from '../helpers/tflow.js';

export function tclientConn(): Client {
  const c = new Client({ peername: ['127.0.0.1', 22], sockname: ['', 0], timestampStart: 946681200 });
  c.id = randomUUID();
  c.timestampTlsSetup = 946681201;
  c.timestampEnd = 946681206;
  c.sni = 'address';
  c.cipher = 'cipher';
  c.alpn = 'http/1.1';
  c.tlsVersion = 'TLSv1.2';
  return c;
}

export function tserverConn(): Server {
  const s = new Server({ address: ['address', 22] });
  s.id = randomUUID();
  s.peername = ['192.168.0.1', 22];
  s.sockname = ['address', 22];
  s.timestampStart = 946681202;
  s.timestampTcpSetup = 946681203;
  s.timestampTlsSetup = 946681204;
  s.timestampEnd = 946681205;
  s.sni = 'address';
  s.tlsVersion = 'TLSv1.2';
  return s;
}

export function treq(): Request {
  return new Request({ ...testRequestFields(), timestampStart: 946681200, timestampEnd: 946681201 });
}

export function tresp(): Response {
  return new Response({ ...testResponseFields(), timestampStart: 946681202, timestampEnd: 946681203 });
}

export function twebsocket(): WebSocketData {
  const ws = new WebSocketData();
  ws.messages = [
    new WebSocketMessage(Opcode.BINARY, true, Buffer.from('hello binary'), 946681203),
    new WebSocketMessage(Opcode.TEXT, true, Buffer.from('hello text'), 946681204),
    new WebSocketMessage(Opcode.TEXT, false, Buffer.from("it's me"), 946681205),
  ];
  ws.closeReason = 'Close Reason';
  ws.closeCode = 1000;
  ws.closedByClient = false;
  ws.timestampEnd = 946681205;
  return ws;
}

/** mitmproxy's `tflow(resp=..., err=..., ws=...)`: a live HTTP flow. */
export function tflow(opts: { resp?: boolean; err?: boolean; ws?: boolean; live?: boolean } = {}): HTTPFlow {
  const req = treq();
  const f = new HTTPFlow(tclientConn(), tserverConn(), opts.live ?? true, req);
  f.timestampCreated = req.timestampStart;
  if (opts.resp) f.response = tresp();
  if (opts.err) f.error = new FlowError('error', 946681207);
  if (opts.ws) f.websocket = twebsocket();
  return f;
}

export function ttcpflow(opts: { err?: boolean; udp?: boolean } = {}): TCPFlow {
  const f = opts.udp ? new UDPFlow(tclientConn(), tserverConn(), true) : new TCPFlow(tclientConn(), tserverConn(), true);
  f.timestampCreated = 946681200;
  const M = opts.udp ? UDPMessage : TCPMessage;
  f.messages = [new M(true, Buffer.from('hello'), 946681204.2), new M(false, Buffer.from("it's me"), 946681204.5)];
  if (opts.err) f.error = new FlowError('error', 946681207);
  return f;
}

export function tdnsflow(opts: { resp?: boolean } = {}): DNSFlow {
  const req = new DNSMessage();
  req.id = 42;
  req.query = true;
  req.recursionDesired = true;
  req.questions = [new DNSQuestion('dns.google', 1, 1)];
  req.timestamp = 946681200;
  const f = new DNSFlow(tclientConn(), tserverConn(), true, req);
  f.timestampCreated = 946681200;
  if (opts.resp) {
    const resp = new DNSMessage();
    resp.id = 42;
    resp.query = false;
    resp.recursionDesired = true;
    resp.recursionAvailable = true;
    resp.questions = [new DNSQuestion('dns.google', 1, 1)];
    resp.answers = [new DNSResourceRecord('dns.google', 1, 1, 32, Buffer.from([8, 8, 8, 8])), new DNSResourceRecord('dns.google', 1, 1, 32, Buffer.from([8, 8, 4, 4]))];
    resp.timestamp = 946681201;
    f.response = resp;
  }
  return f;
}

/**
 * The data of mitmweb's test_app.py: flow "42" (a response; request body "foo\nbar"), flow "43"
 * (a WebSocket flow without bodies) and a flow with an error.
 */
export function appTestFlows(): HTTPFlow[] {
  const f = tflow({ resp: true });
  f.id = '42';
  f.request.content = Buffer.from('foo\nbar');
  const f2 = tflow({ ws: true, resp: true });
  f2.request.content = null;
  f2.response!.content = null;
  f2.id = '43';
  const f3 = tflow({ err: true });
  return [f, f2, f3];
}
