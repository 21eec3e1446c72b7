/**
 * A connection with a fixed destination (a reverse proxy's target, a CONNECT or SOCKS5 tunnel's
 * target) sends every request there: an absolute-form request line naming another server must
 * not make the proxy connect to it (mitmproxy's transparent HTTP mode). The flow names the fixed
 * destination; the request line's authority is kept as the client sent it, as mitmproxy does.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { testProxy } from '../helpers/proxy.js';
import { closedPort, echoServer, type TestServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { RawClient, recorder } from './modes-helpers.js';

/** Two servers: the fixed destination and another one that nothing may reach. */
async function twoServers(t: TestContext): Promise<{ target: TestServer; other: TestServer }> {
  return { target: await echoServer(t), other: await echoServer(t) };
}

function absoluteRequest(other: TestServer): string {
  return `GET http://127.0.0.1:${other.port}/secret HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\nConnection: close\r\n\r\n`;
}

/** Read the whole response (the request asked to close) and return the echo server's JSON. */
async function echoed(c: RawClient): Promise<{ url: string; rawHeaders: string[] }> {
  const resp = (await c.read(1 << 20, 10000)).toString();
  assert.match(resp, /^HTTP\/1\.1 200 /, resp);
  return JSON.parse(resp.slice(resp.indexOf('\r\n\r\n') + 4)) as { url: string; rawHeaders: string[] };
}

function hostHeader(e: { rawHeaders: string[] }): string | undefined {
  return e.rawHeaders[e.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1];
}

test('reverse mode: an absolute-form request goes to the reverse target, never to the host it names', async (t) => {
  const { target, other } = await twoServers(t);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${target.port}`] }, addons: [rec.addon] });
  const c = await RawClient.connect(proxy.port, t);
  c.write(absoluteRequest(other));
  const e = await echoed(c);
  assert.equal(other.connections, 0, 'the other server was not contacted');
  assert.equal(hostHeader(e), `127.0.0.1:${target.port}`, 'Host rewritten to the target');
  const f = rec.flows[0]!;
  assert.deepEqual([f.request.scheme, f.request.host, f.request.port, f.request.path], ['http', '127.0.0.1', target.port, '/secret']);
  assert.equal(f.request.authority, `127.0.0.1:${other.port}`);
});

test('CONNECT tunnel: an absolute-form request inside goes to the tunnel target', async (t) => {
  const { target, other } = await twoServers(t);
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${target.port}`);
  t.after(() => s.destroy());
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise((r) => s.on('close', r));
  s.write(absoluteRequest(other));
  await closed;
  const resp = Buffer.concat(chunks).toString();
  assert.match(resp, /^HTTP\/1\.1 200 /, resp);
  assert.equal(other.connections, 0, 'the other server was not contacted');
  assert.equal(target.connections, 1);
  const f = rec.flows.find((x) => x.request.method === 'GET')!;
  assert.deepEqual([f.request.host, f.request.port], ['127.0.0.1', target.port]);
});

test('SOCKS5 tunnel: an absolute-form request inside goes to the SOCKS target', async (t) => {
  const { target, other } = await twoServers(t);
  const proxy = await testProxy(t, { options: { mode: ['socks5'] } });
  const c = await RawClient.connect(proxy.port, t);
  c.write(Buffer.from([5, 1, 0]));
  assert.deepEqual(await c.read(2), Buffer.from([5, 0]));
  c.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, target.port >> 8, target.port & 255]));
  assert.equal((await c.read(10))[1], 0);
  c.write(absoluteRequest(other));
  await echoed(c);
  assert.equal(other.connections, 0, 'the other server was not contacted');
});

test('a refused CONNECT leaves no destination behind: later requests on the connection go where they say', async (t) => {
  const target = await echoServer(t);
  const proxy = await testProxy(t, {});
  const c = await RawClient.connect(proxy.port, t);
  const dead = await closedPort();
  c.write(`CONNECT 127.0.0.1:${dead} HTTP/1.1\r\nHost: 127.0.0.1:${dead}\r\n\r\n`);
  // The 502 answer: its head, then as many bytes as its content-length says.
  let head = '';
  while (!head.endsWith('\r\n\r\n')) head += (await c.read(1)).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 502 /, head);
  await c.read(Number(/content-length: (\d+)/i.exec(head)![1]));
  c.write(absoluteRequest(target));
  const e = await echoed(c);
  assert.equal(e.url, '/secret');
  assert.equal(target.connections, 1, 'the request reached the server it named, not the refused tunnel target');
});
