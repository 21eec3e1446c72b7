/**
 * HTTP/2 at the edges of the spec, as strict peers (nghttp2's tools, hyper-h2) see the proxy:
 * header blocks larger than one frame, and peers that break the protocol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { PREFACE, frame, goawayCode, literal, parseFrames } from '../helpers/h2-frames.js';
import { selfSignedCert } from './websocket-helpers.js';
import { tlsH2Server, waitFor } from './modes-helpers.js';

const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_FLOW_CONTROL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** A raw connection to the proxy port, for frames no client library would send; `received()` is all it got so far. */
async function rawClient(t: TestContext, port: number): Promise<{ client: net.Socket; received: () => Buffer }> {
  const client = net.connect(port, '127.0.0.1');
  t.after(() => client.destroy());
  let received = Buffer.alloc(0);
  client.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  client.on('error', () => undefined);
  await once(client, 'connect');
  return { client, received: () => received };
}

/** A reverse proxy to https://127.0.0.1:`port` recording finished flows, and an h2 client session to it. */
async function reverseH2(t: TestContext, port: number) {
  const flows: HTTPFlow[] = [];
  const record = (f: HTTPFlow) => void flows.push(f);
  const proxy = await testProxy(t, { addons: [{ name: 'record', response: record, error: record }], options: { mode: [`reverse:https://127.0.0.1:${port}`], ssl_insecure: true } });
  const session = http2.connect(`https://127.0.0.1:${proxy.port}`, { rejectUnauthorized: false });
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return { proxy, session, flows };
}

test('a response header block larger than node\'s 64 KiB default for sending (CONTINUATION frames) reaches the client whole', async (t) => {
  // ~120 KB of fields that HPACK cannot shrink much: well over one frame and over 64 KiB encoded,
  // within what an HTTP/2 peer may send in one header block.
  const big: http2.OutgoingHttpHeaders = {};
  for (let i = 0; i < 120; i++) big[`x-big-${i}`] = randomBytes(750).toString('base64');
  const server = await tlsH2Server(
    t,
    (_req, res) => {
      res.stream.respond({ ':status': 200, ...big });
      res.stream.end('ok');
    },
    { maxSendHeaderBlockLength: 1 << 20 },
  );
  const port = (server.address() as AddressInfo).port;
  const { session, flows } = await reverseH2(t, port);
  const result = await new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = session.request({ ':path': '/big' });
    let headers: http2.IncomingHttpHeaders = {};
    let body = '';
    req.on('response', (h) => (headers = h));
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => resolve({ headers, body }));
    req.on('error', reject);
  });
  assert.equal(result.headers[':status'], 200);
  assert.equal(result.body, 'ok');
  for (let i = 0; i < 120; i++) assert.equal(result.headers[`x-big-${i}`], big[`x-big-${i}`]);
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.error, null);
});

test('a client breaking HTTP/2 on its connection gets GOAWAY PROTOCOL_ERROR with the reason, an event-log line, and its flows fail with it', async (t) => {
  // A server that never answers: the client's first request is still in flight when it errs.
  const upstream = await httpServer(t, () => undefined);
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'errors', error: (f: HTTPFlow) => void errors.push(f) }] });
  const { client, received } = await rawClient(t, proxy.port);
  const request = Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'http'), literal(':authority', `127.0.0.1:${upstream.port}`), literal(':path', '/held')]);
  // h2c with prior knowledge, a request on stream 1, then HEADERS on stream 2: even stream ids are the server's.
  client.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 5, 1, request)]));
  await waitFor(() => proxy.logs.some((e) => e.message.startsWith('server connect')), 10000, 'the request to reach its server');
  client.write(frame(1, 5, 2, request));
  await waitFor(() => goawayCode(parseFrames(received())) !== undefined, 10000, 'a GOAWAY');
  const goaway = parseFrames(received()).find((f) => f.type === 7)!;
  // nghttp2's code and reason, not node's INTERNAL_ERROR for a session it destroyed.
  assert.equal(goaway.payload.readUInt32BE(4), NGHTTP2_PROTOCOL_ERROR);
  assert.match(goaway.payload.subarray(8).toString(), /HEADERS/);
  await waitFor(() => errors.length === 1, 10000, 'the error hook');
  assert.equal(errors[0]!.error!.msg, 'HTTP/2 protocol error: Protocol error');
  const line = proxy.logs.find((e) => e.message === 'HTTP/2 protocol error: Protocol error');
  assert.ok(line, 'an event-log line for the protocol error');
  assert.equal(line.level, 'info');
});

test('a client flooding the proxy with CONTINUATION frames gets GOAWAY ENHANCE_YOUR_CALM and a protocol-error line', async (t) => {
  const proxy = await testProxy(t);
  const { client, received } = await rawClient(t, proxy.port);
  const head = Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'http'), literal(':authority', 'example.com'), literal(':path', '/')]);
  // A header block that never ends: HEADERS without END_HEADERS, then empty CONTINUATIONs (CVE-2024-27316 style).
  const continuations = Array.from({ length: 50 }, () => frame(9, 0, 1, Buffer.alloc(0)));
  client.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0, 1, head), ...continuations]));
  await waitFor(() => goawayCode(parseFrames(received())) !== undefined, 10000, 'a GOAWAY');
  assert.equal(goawayCode(parseFrames(received())), NGHTTP2_ENHANCE_YOUR_CALM);
  assert.ok(proxy.logs.some((e) => e.level === 'info' && e.message.startsWith('HTTP/2 protocol error: ')));
});

test('a server breaking HTTP/2 on its connection gets GOAWAY with the right code, and the flow fails with a protocol error', async (t) => {
  // An h2 server (TLS, ALPN h2) that, once asked, overflows the connection's flow-control window.
  const goaways: number[] = [];
  const server = tls.createServer({ ...(await selfSignedCert()), ALPNProtocols: ['h2'] }, (socket) => {
    socket.on('error', () => undefined);
    let data = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (data.length < PREFACE.length) return;
      const frames = parseFrames(data.subarray(PREFACE.length));
      const code = goawayCode(frames);
      if (code !== undefined && goaways.length === 0) goaways.push(code);
      if (frames.some((f) => f.type === 1) && !socket.writableEnded && goaways.length === 0) {
        const max = Buffer.alloc(4);
        max.writeUInt32BE(0x7fffffff);
        socket.write(Buffer.concat([frame(4, 0, 0, Buffer.alloc(0)), frame(4, 1, 0, Buffer.alloc(0)), frame(8, 0, 0, max), frame(8, 0, 0, max)]));
      }
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (s: tls.TLSSocket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const { proxy, session, flows } = await reverseH2(t, (server.address() as AddressInfo).port);
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    let code = 0;
    req.on('response', (h) => (code = Number(h[':status'])));
    req.on('end', () => resolve(code));
    req.on('error', reject);
    req.resume();
  });
  assert.equal(status, 502);
  await waitFor(() => goaways.length === 1, 10000, 'the GOAWAY to the server');
  assert.equal(goaways[0], NGHTTP2_FLOW_CONTROL_ERROR);
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.error!.msg, 'HTTP/2 protocol error: Flow control error');
  assert.ok(proxy.logs.some((e) => e.level === 'info' && e.message.endsWith(': HTTP/2 protocol error: Flow control error')));
});
