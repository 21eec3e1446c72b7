/**
 * A client speaking HTTP/2 with prior knowledge (h2c) to its server through the proxy (a CONNECT
 * tunnel; a gRPC call in reverse mode) gets h2c on to that server: an h2c-only server (insecure
 * gRPC) answers nothing else. h2c sent to the proxy itself says nothing about the server, nor
 * does a plain request in reverse mode: HTTP/1.1 there.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { h2cServer } from './modes-helpers.js';

/** An h2c-only server answering with the version it was spoken to in; its port. */
async function h2cOnlyServer(t: TestContext): Promise<number> {
  const server = await h2cServer(t, (req, res) => res.end(`h2c ${req.httpVersion} ${req.url}`));
  return (server.address() as AddressInfo).port;
}

/** A request without a body for `path` on an h2c session (GET unless `headers` say otherwise); its status and body. */
function request(session: http2.ClientHttp2Session, path: string, authority: string, headers: http2.OutgoingHttpHeaders = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':authority': authority, ...headers });
    stream.end();
    let status = '';
    let body = '';
    stream.on('response', (h) => (status = String(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => resolve(`${status} ${body}`));
    stream.on('error', reject);
  });
}

function h2cSession(t: TestContext, url: string, socket?: net.Socket): http2.ClientHttp2Session {
  const session = http2.connect(url, socket ? { createConnection: () => socket } : {});
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return session;
}

test('h2c through a CONNECT tunnel reaches an h2c-only server in HTTP/2, two requests on one connection', async (t) => {
  const port = await h2cOnlyServer(t);
  const flows: HTTPFlow[] = [];
  // Lazy: node's server sends its SETTINGS before the client's preface, and a server that speaks
  // first on an eager connection makes the tunnel a TCP relay (nginx waits for the client).
  const proxy = await testProxy(t, {
    options: { connection_strategy: 'lazy' },
    addons: [{ name: 'rec', response: (f: HTTPFlow) => void flows.push(f) }],
  });
  const socket = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  t.after(() => socket.destroy());
  const session = h2cSession(t, `http://127.0.0.1:${port}`, socket);
  assert.equal(await request(session, '/one', `127.0.0.1:${port}`), '200 h2c 2.0 /one');
  assert.equal(await request(session, '/two', `127.0.0.1:${port}`), '200 h2c 2.0 /two');
  assert.deepEqual(
    flows.map((f) => [f.request.httpVersion, f.response?.httpVersion]),
    [
      ['HTTP/2.0', 'HTTP/2.0'],
      ['HTTP/2.0', 'HTTP/2.0'],
    ],
  );
  assert.equal(proxy.logs.filter((l) => l.message.startsWith('server connect')).length, 1, 'one connection to the server');
});

test('a gRPC call in h2c to a reverse proxy in front of an h2c-only server (insecure gRPC behind the proxy)', async (t) => {
  const port = await h2cOnlyServer(t);
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${port}`] } });
  const session = h2cSession(t, `http://127.0.0.1:${proxy.port}`);
  const grpc = { ':method': 'POST', 'content-type': 'application/grpc+proto' };
  assert.equal(await request(session, '/svc.Echo/Say', `127.0.0.1:${proxy.port}`, grpc), '200 h2c 2.0 /svc.Echo/Say');
});

test('other h2c requests to a reverse proxy reach an HTTP/1-only server in HTTP/1.1, as before', async (t) => {
  const server = await httpServer(t, (req, res) => res.end(`http/${req.httpVersion}`));
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${server.port}`] } });
  const session = h2cSession(t, `http://127.0.0.1:${proxy.port}`);
  assert.equal(await request(session, '/', `127.0.0.1:${proxy.port}`), '200 http/1.1');
});

test('h2c sent to the proxy itself (regular mode) still reaches an HTTP/1-only server in HTTP/1.1', async (t) => {
  const server = await httpServer(t, (req, res) => res.end(`http/${req.httpVersion}`));
  const proxy = await testProxy(t);
  const session = h2cSession(t, `http://127.0.0.1:${proxy.port}`);
  assert.equal(await request(session, '/', `127.0.0.1:${server.port}`), '200 http/1.1');
});

/**
 * An h2c server sends its SETTINGS the moment a connection opens (its connection preface), so
 * with the eager connection (the default) it is heard before a client that waits a little. That
 * is no server speaking first (SMTP): the client's h2c still makes HTTP/2 flows.
 */
async function h2cServerHeardFirst(t: TestContext): Promise<{ port: number; sessionOpened: Promise<unknown> }> {
  const server = await h2cServer(t, (req, res) => res.end(`h2c ${req.httpVersion} ${req.url}`));
  return { port: (server.address() as AddressInfo).port, sessionOpened: once(server, 'session') };
}

/** Time for the server's SETTINGS to reach the proxy before the client says anything. */
const settle = () => new Promise((r) => setTimeout(r, 300));

test('h2c through a CONNECT tunnel (eager connection) to a server whose SETTINGS came first: HTTP/2 flows, not a TCP relay', async (t) => {
  const { port, sessionOpened } = await h2cServerHeardFirst(t);
  const flows: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'rec', response: (f: HTTPFlow) => void flows.push(f) }] });
  const socket = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  t.after(() => socket.destroy());
  await sessionOpened;
  await settle();
  const session = h2cSession(t, `http://127.0.0.1:${port}`, socket);
  assert.equal(await request(session, '/one', `127.0.0.1:${port}`), '200 h2c 2.0 /one');
  assert.deepEqual(
    flows.map((f) => [f.request.httpVersion, f.response?.httpVersion]),
    [['HTTP/2.0', 'HTTP/2.0']],
  );
  assert.equal(proxy.logs.filter((l) => l.message.startsWith('server connect')).length, 1, 'one connection to the server: the eager one');
});

test('a gRPC call in h2c to a reverse proxy whose h2c server sent its SETTINGS first (eager connection) is served', async (t) => {
  const { port, sessionOpened } = await h2cServerHeardFirst(t);
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${port}`] } });
  const socket = net.connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  await sessionOpened;
  await settle();
  const session = h2cSession(t, `http://127.0.0.1:${proxy.port}`, socket);
  const grpc = { ':method': 'POST', 'content-type': 'application/grpc+proto' };
  assert.equal(await request(session, '/svc.Echo/Say', `127.0.0.1:${proxy.port}`, grpc), '200 h2c 2.0 /svc.Echo/Say');
  assert.deepEqual(
    proxy.logs.filter((l) => /Unexpected data|invalid request/.test(l.message)).map((l) => l.message),
    [],
  );
  assert.equal(proxy.logs.filter((l) => l.message.startsWith('server connect')).length, 1, 'one connection to the server: the eager one');
});

test('an h2c server that drops its connection in the middle of a streamed response: the client is told at once', async (t) => {
  // As a gRPC server past its max connection age and grace: the call is cut off.
  const server = await h2cServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc' });
    res.write('first');
    setTimeout(() => res.stream.session?.destroy(), 200);
  });
  const port = (server.address() as AddressInfo).port;
  const errors: string[] = [];
  const proxy = await testProxy(t, {
    options: { mode: [`reverse:http://127.0.0.1:${port}`], stream_large_bodies: '1' },
    addons: [{ name: 'rec', error: (f: HTTPFlow) => void errors.push(f.error?.msg ?? '') }],
  });
  const session = h2cSession(t, `http://127.0.0.1:${proxy.port}`);
  const stream = session.request({ ':method': 'POST', ':path': '/svc.Feed/Watch', 'content-type': 'application/grpc' });
  stream.on('error', () => undefined);
  stream.end('call');
  let received = '';
  stream.setEncoding('latin1');
  stream.on('data', (d: string) => (received += d));
  let timer: NodeJS.Timeout | undefined;
  t.after(() => clearTimeout(timer));
  const closed = await Promise.race([
    new Promise<string>((resolve) => stream.on('close', () => resolve('closed'))),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open after 10 s'), 10000))),
  ]);
  assert.equal(closed, 'closed');
  assert.equal(received, 'first');
  assert.notEqual(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'a reset, not a complete response');
  assert.equal(errors.length, 1);
});
