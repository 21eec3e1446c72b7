/**
 * A "secure web proxy": the client speaks TLS to the proxy itself (Chromium's
 * `--proxy-server=https://...`, curl's `-x https://...`), then sends proxy requests over it. What
 * a CONNECT tunnel carries is decided inside the tunnel: plain HTTP there goes to the server in
 * plain HTTP, as in mitmproxy, whose request scheme comes from the server side of the tunnel.
 * Chromium tunnels every WebSocket through its proxy, so a ws:// page opens exactly this.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { proxyCa } from '../helpers/tunnel.js';
import { httpServer } from '../helpers/servers.js';
import { flowRecorder } from '../helpers/recorder.js';
import { httpsOrigin } from './modes-helpers.js';
import { nextMessage, wsServer } from './websocket-helpers.js';

/** TLS to the proxy itself, as a browser configured with an https:// proxy opens it. */
async function tlsToProxy(t: TestContext, proxyPort: number): Promise<tls.TLSSocket> {
  const s = tls.connect({ port: proxyPort, host: '127.0.0.1', servername: 'localhost', ca: proxyCa(testConfdir()), ALPNProtocols: ['http/1.1'] });
  t.after(() => s.destroy());
  await once(s, 'secureConnect');
  return s;
}

/** Send a CONNECT on `socket` and wait for the proxy's 200 (nothing else is read). */
async function connectOver(socket: tls.TLSSocket, target: string): Promise<void> {
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Connection: keep-alive\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  assert.match(head, /^HTTP\/1\.1 200 /);
}

/** Read a whole response from `socket` until it closes. */
function readToEnd(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
  });
}

test('plain HTTP in a CONNECT tunnel over TLS to the proxy goes to the server in plain HTTP and is recorded as http', async (t) => {
  const target = await httpServer(t, (req, res) => res.end(`plain ${req.url}`));
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const s = await tlsToProxy(t, proxy.port);
  await connectOver(s, `127.0.0.1:${target.port}`);
  s.write(`GET /inside HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nConnection: close\r\n\r\n`);
  const reply = await readToEnd(s);
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /plain \/inside$/);
  const f = rec.flows.find((x) => x.request.path === '/inside')!;
  assert.equal(f.request.scheme, 'http');
  assert.equal(f.request.port, target.port);
  assert.equal(f.serverConn.tls, false);
});

test('a ws:// WebSocket through an https:// proxy (Chromium tunnels it with CONNECT) opens and echoes', async (t) => {
  const server = await wsServer();
  t.after(() => server.close());
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const s = await tlsToProxy(t, proxy.port);
  await connectOver(s, `127.0.0.1:${server.port}`);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/chat`, { createConnection: () => s as unknown as net.Socket });
  t.after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  ws.send('hello');
  const [data] = await nextMessage(ws);
  assert.equal(data.toString(), 'hello');
  ws.close();
  await once(ws, 'close');
  const f = rec.flows.find((x) => x.request.path === '/chat')!;
  assert.equal(f.request.scheme, 'http');
  assert.equal(f.response?.statusCode, 101);
});

test('TLS inside the tunnel over TLS to the proxy is still intercepted and recorded as https', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`secure ${req.url}`));
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const outer = await tlsToProxy(t, proxy.port);
  await connectOver(outer, `127.0.0.1:${origin.port}`);
  const inner = tls.connect({ socket: outer as unknown as net.Socket, servername: 'localhost', ca: proxyCa(testConfdir()), ALPNProtocols: ['http/1.1'] });
  t.after(() => inner.destroy());
  await once(inner, 'secureConnect');
  inner.write(`GET /nested HTTP/1.1\r\nHost: localhost:${origin.port}\r\nConnection: close\r\n\r\n`);
  const reply = await readToEnd(inner);
  assert.match(reply, /secure \/nested$/);
  const f = rec.flows.find((x) => x.request.path === '/nested')!;
  assert.equal(f.request.scheme, 'https');
});
