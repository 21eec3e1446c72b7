/**
 * ignore_hosts, allow_hosts and tcp_hosts as mitmproxy's NextLayer applies them: which names of
 * a connection each one matches (tcp_hosts the bare host or the client's SNI; ignore_hosts and
 * allow_hosts "host:port" names), and in which order the decisions are made.
 */
import net from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TCPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer, rawServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { httpsOrigin, recorder, waitFor } from './modes-helpers.js';

/** Through a CONNECT tunnel: send bytes, read the echo, close; resolves once the proxy saw the client go. */
async function echoThroughTunnel(proxy: { port: number; logs: { message: string }[] }, port: number, data: Buffer): Promise<Buffer> {
  const s = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.write(data);
  await waitFor(() => Buffer.concat(got).length >= data.length, 10000, 'the echo');
  s.end();
  await waitFor(() => proxy.logs.some((l) => l.message === 'client disconnect'), 10000, 'client disconnect');
  return Buffer.concat(got);
}

test('tcp_hosts matches the bare host, not host:port', async (t) => {
  const up = await echoServer(t);
  const tcpFlows: TCPFlow[] = [];
  const spy = { name: 'spy', tcp_start: (f: TCPFlow) => void tcpFlows.push(f) };
  const bare = await testProxy(t, { options: { tcp_hosts: ['^127\\.0\\.0\\.1$'] }, addons: [spy] });
  // curl -p: a CONNECT tunnel even for plain http, so the bytes inside are the tunnel's.
  const r = await curl(['-p', '-x', bare.url, `http://127.0.0.1:${up.port}/raw`]);
  assert.equal(r.status, 200, r.stderr);
  await waitFor(() => tcpFlows.length === 1, 5000, 'a TCP flow');

  const rec = recorder();
  const withPort = await testProxy(t, { options: { tcp_hosts: [`^127\\.0\\.0\\.1:${up.port}$`] }, addons: [rec.addon] });
  const h = await curl(['-p', '-x', withPort.url, `http://127.0.0.1:${up.port}/http`]);
  assert.equal(h.status, 200, h.stderr);
  assert.equal(rec.tcp.length, 0, 'a host:port pattern names no host');
  assert.equal(rec.flows.filter((f) => f.request.path === '/http').length, 1, 'an HTTP flow');
});

test('ignore_hosts: the Host header of plaintext HTTP in a tunnel is matched; the request passes unrecorded', async (t) => {
  const up = await echoServer(t);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { ignore_hosts: ['^ignored\\.example:'] }, addons: [rec.addon] });
  const r = await curl(['-p', '-x', proxy.url, '-H', 'Host: ignored.example', `http://127.0.0.1:${up.port}/passed`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(JSON.parse(r.stdout).url, '/passed');
  assert.deepEqual(rec.flows.filter((f) => f.request.method !== 'CONNECT'), [], 'no HTTP flow');
  assert.equal(rec.tcp.length, 0, 'no TCP flow');

  const other = await curl(['-p', '-x', proxy.url, '-H', 'Host: kept.example', `http://127.0.0.1:${up.port}/kept`]);
  assert.equal(other.status, 200, other.stderr);
  assert.equal(rec.flows.filter((f) => f.request.path === '/kept').length, 1, 'another Host header is intercepted');
});

test('ignore_hosts comes before raw TCP: ignored non-HTTP bytes are relayed unrecorded; show_ignored_hosts records them', async (t) => {
  const echo = await rawServer(t, (s) => s.on('data', (d) => s.write(d)));
  const data = Buffer.from([0, 1, 2, 3, 0x62, 0x69, 0x6e]);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { ignore_hosts: ['^127\\.0\\.0\\.1:'] }, addons: [rec.addon] });
  assert.deepEqual(await echoThroughTunnel(proxy, echo.port, data), data);
  assert.equal(rec.tcp.length, 0, 'an ignored connection is no TCP flow');

  const shown = recorder();
  const show = await testProxy(t, { options: { ignore_hosts: ['^127\\.0\\.0\\.1:'], show_ignored_hosts: true }, addons: [shown.addon] });
  assert.deepEqual(await echoThroughTunnel(show, echo.port, data), data);
  await waitFor(() => shown.tcp.length === 1, 5000, 'a TCP flow');
  assert.deepEqual(Buffer.concat(shown.tcp[0]!.messages.filter((m) => m.fromClient).map((m) => m.content)), data);
});

test('show_ignored_hosts: an ignored TLS connection is passed through and recorded as a TCP flow', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('origin'));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { ignore_hosts: ['^localhost:'], show_ignored_hosts: true }, addons: [rec.addon] });
  const r = await curl(['-x', proxy.url, '--cacert', origin.caFile, `${origin.url}/tls`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'origin', 'the origin certificate reached the client: not intercepted');
  await waitFor(() => rec.tcp.length === 1, 5000, 'a TCP flow');
  assert.equal(rec.flows.filter((f) => f.request.method !== 'CONNECT').length, 0);
  assert.equal(rec.tcp[0]!.messages[0]!.content[0], 0x16, 'the encrypted bytes, starting with the ClientHello');
});

test('show_ignored_hosts records an ignored connection but relays it as it came: reverse:tls does not wrap it in TLS', async (t) => {
  const echo = await rawServer(t, (s) => s.on('data', (d) => s.write(d)));
  const shown = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:tls://127.0.0.1:${echo.port}`], ignore_hosts: ['^127\\.0\\.0\\.1:'], show_ignored_hosts: true }, addons: [shown.addon] });
  const s = net.connect(proxy.port, '127.0.0.1');
  t.after(() => s.destroy());
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  s.write('plain bytes\n');
  await waitFor(() => Buffer.concat(got).toString() === 'plain bytes\n', 10000, 'the echo of the bytes as sent');
  s.end();
  await waitFor(() => shown.tcp.length === 1, 10000, 'a TCP flow');
  assert.equal(shown.tcp[0]!.messages[0]!.content.toString(), 'plain bytes\n');
});
