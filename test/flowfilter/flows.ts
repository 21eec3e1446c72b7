/** The test flows of spec/filters.md §9, built with the model classes. */
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { Client, Server } from '../../src/connection.js';
import { Flow, FlowError, type FlowType } from '../../src/flow.js';
import { TCPFlow, TCPMessage, UDPFlow, UDPMessage } from '../../src/tcp.js';
import { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord, ipToRdata } from '../../src/dns.js';
import { Opcode, WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import type { AnyFlow } from '../../src/flows.js';
import { testRequestFields, testResponseFields } from '../helpers/tflow.js';

function client(): Client {
  return new Client({ peername: ['127.0.0.1', 22], timestampStart: 1 });
}

function server(): Server {
  const s = new Server({ address: ['address', 22] });
  s.peername = ['192.168.0.1', 22];
  return s;
}

/** R: `GET http://address:22/path`, headers `header: qvalue`, `content-length: 7`, body `content`, no response. */
export function R(): HTTPFlow {
  return new HTTPFlow(client(), server(), false, new Request(testRequestFields()));
}

/** S: R with a `200 OK` response, headers `header-response: svalue`, `content-length: 7`, body `message`. */
export function S(): HTTPFlow {
  const f = R();
  f.response = new Response(testResponseFields());
  return f;
}

/** E: R with an error. */
export function E(): HTTPFlow {
  const f = R();
  f.error = new FlowError('error');
  return f;
}

/** W: a WebSocket flow on `GET http://example.com/ws` with a 101 response and three messages. */
export function W(): HTTPFlow {
  const f = new HTTPFlow(client(), new Server({ address: ['example.com', 80] }), false, Request.make('GET', 'http://example.com/ws'));
  f.response = Response.make(101, '', [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
  ]);
  f.websocket = new WebSocketData();
  f.websocket.messages = [
    new WebSocketMessage(Opcode.BINARY, true, Buffer.from('hello binary')),
    new WebSocketMessage(Opcode.TEXT, true, 'hello text'),
    new WebSocketMessage(Opcode.TEXT, false, "it's me"),
  ];
  return f;
}

/** T: a TCP flow, client `hello`, server `it's me`. */
export function T(): TCPFlow {
  const f = new TCPFlow(client(), server());
  f.messages = [new TCPMessage(true, Buffer.from('hello')), new TCPMessage(false, Buffer.from("it's me"))];
  return f;
}

/** U: T as a UDP flow. */
export function U(): UDPFlow {
  const f = new UDPFlow(client(), server());
  f.messages = [new UDPMessage(true, Buffer.from('hello')), new UDPMessage(false, Buffer.from("it's me"))];
  return f;
}

/** D: a DNS query for `dns.google` type A. */
export function D(): DNSFlow {
  const q = new DNSMessage();
  q.id = 42;
  q.recursionDesired = true;
  q.questions = [new DNSQuestion('dns.google', 1, 1)];
  return new DNSFlow(client(), new Server({ address: ['8.8.8.8', 53] }), false, q);
}

/** Dr: D with a response of A records 8.8.8.8 and 8.8.4.4. */
export function Dr(): DNSFlow {
  const f = D();
  const r = new DNSMessage();
  r.id = 42;
  r.query = false;
  r.questions = [new DNSQuestion('dns.google', 1, 1)];
  r.answers = [new DNSResourceRecord('dns.google', 1, 1, 32, ipToRdata('8.8.8.8')), new DNSResourceRecord('dns.google', 1, 1, 32, ipToRdata('8.8.4.4'))];
  f.response = r;
  return f;
}

/** A flow of no known type (mitmproxy's dummy flow in its tests). */
class DummyFlow extends Flow {
  readonly type = 'dummy' as unknown as FlowType;
  get timestampStart(): number {
    return this.timestampCreated;
  }
}

/** X: a dummy flow with client 127.0.0.1:22 and server address:22. */
export function X(): AnyFlow {
  return new DummyFlow(client(), server()) as unknown as AnyFlow;
}
