/**
 * Slowloris: a client that sends a request head or a handshake a byte at a time keeps every
 * idle timer happy. Each message must complete within min(60 s, tcp_timeout / 2) of its first byte;
 * tcp_timeout is 4 s here (a 2 s limit) so the tests take seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { httpsOrigin } from './modes-helpers.js';
import { curl } from '../helpers/clients.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { rawServer } from '../helpers/servers.js';

/** Send `data` one byte every 300 ms (repeating it) until the proxy closes; what it answered and how long it took. */
async function dribble(t: TestContext, socket: net.Socket, data: Buffer): Promise<{ answer: string; seconds: number }> {
  t.after(() => socket.destroy());
  const started = Date.now();
  let answer = '';
  socket.on('data', (d) => (answer += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close');
  let i = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write(data.subarray(i % data.length, (i % data.length) + 1));
    i++;
  }, 300);
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise((r) => (giveUp = setTimeout(r, 20_000)))]);
  clearTimeout(giveUp);
  clearInterval(timer);
  return { answer, seconds: (Date.now() - started) / 1000 };
}

async function slowProxy(t: TestContext) {
  return testProxy(t, { options: { tcp_timeout: 4 } });
}

function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  return once(s, 'connect').then(() => s);
}

test('a request head sent a byte at a time gets 408 once its time is up', async (t) => {
  const proxy = await slowProxy(t);
  const r = await dribble(t, await connect(proxy.port), Buffer.from('GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(1000)));
  assert.match(r.answer, /^HTTP\/1\.1 408 Request Time-out\r\n/);
  assert.ok(r.seconds < 10, `${r.seconds} s`);
  assert.ok(proxy.logs.some((e) => /client sent an incomplete request head \(incomplete message for more than 2 s\)/.test(e.message)));
});

test('a request head that never ends (one endless header) gets 431 at 64 KiB, says so in the event log, and the proxy serves on', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')));
  const proxy = await slowProxy(t);
  const s = await connect(proxy.port);
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  let answer = '';
  s.on('data', (d) => (answer += d.toString('latin1')));
  s.write(`GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: x\r\nX-Endless: `);
  const filler = Buffer.alloc(4096, 'a');
  for (let sent = 0; sent < 1024 * 1024 && !answer && !s.destroyed; sent += filler.length) {
    if (!s.write(filler)) await Promise.race([once(s, 'drain'), once(s, 'close')]);
  }
  for (let i = 0; i < 100 && !answer; i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(answer, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.ok(proxy.logs.some((e) => e.message === 'client sent a request head of more than 65536 bytes'), JSON.stringify(proxy.logs.map((e) => e.message)));
  const r = await curl(['-x', proxy.url, `http://127.0.0.1:${up.port}/`]);
  assert.equal(r.stdout, 'ok');
});

test('a ClientHello or a SOCKS5 greeting sent a byte at a time is dropped once its time is up', async (t) => {
  const up = await rawServer(t, () => undefined);
  const proxy = await slowProxy(t);
  // A TLS record header promising a long ClientHello, then the body a byte at a time.
  const tunnel = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
  const hello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(600, 1)]);
  const r = await dribble(t, tunnel, hello);
  assert.ok(r.seconds < 10, `${r.seconds} s`);
  assert.ok(proxy.logs.some((e) => /incomplete ClientHello \(incomplete message for more than 2 s\)/.test(e.message)), JSON.stringify(proxy.logs.map((e) => e.message)));

  const socks = await testProxy(t, { options: { tcp_timeout: 4, mode: ['socks5@0'] } });
  // A greeting announcing 255 methods, which then arrive a byte at a time.
  const s = await dribble(t, await connect(socks.port), Buffer.concat([Buffer.from([0x05, 0xff]), Buffer.alloc(255, 1)]));
  assert.ok(s.seconds < 10, `${s.seconds} s`);
  assert.ok(socks.logs.some((e) => /did not complete its SOCKS5 handshake/.test(e.message)));
});

test('a server that never answers the TLS handshake is a 502 after the same limit, not a hang', async (t) => {
  const silent = net.createServer((s) => s.on('error', () => undefined));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const held = new Set<net.Socket>();
  silent.on('connection', (s) => held.add(s));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const proxy = await testProxy(t, { options: { tcp_timeout: 4, ssl_insecure: true } });
  const started = Date.now();
  const r = await curl(['-k', '-x', proxy.url, `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`], { timeoutMs: 20_000 });
  assert.ok(Date.now() - started < 10_000);
  assert.equal(r.status, 502, r.stderr);
  assert.match(r.stdout, /did not complete the TLS handshake within 2 s/);
});

test('time the proxy spends on a flow does not count against the next pipelined request head', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')));
  // The first request is held in its request hook for 3 s, longer than the 2 s limit.
  const proxy = await testProxy(t, { options: { tcp_timeout: 4 }, addons: [{ name: 'slow', request: (f: { request: { path: string } }) => (f.request.path === '/first' ? new Promise((r) => setTimeout(r, 3000)) : undefined) }] });
  const s = await connect(proxy.port);
  t.after(() => s.destroy());
  let answer = '';
  s.on('data', (d) => (answer += d.toString('latin1')));
  const target = `http://127.0.0.1:${up.port}`;
  s.write(`GET ${target}/first HTTP/1.1\r\nHost: x\r\n\r\nGET ${target}/second HTTP/1.1\r\nHo`);
  await new Promise((r) => setTimeout(r, 3500));
  s.write('st: x\r\n\r\n');
  for (let i = 0; i < 100 && (answer.match(/200 OK/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((answer.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2, answer);
  assert.doesNotMatch(answer, /408/);
});

test('tcp_timeout 0 (no idle timeout) leaves handshakes their 60 s', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('fine'));
  const proxy = await testProxy(t, { options: { tcp_timeout: 0, ssl_insecure: true } });
  const r = await curl(['--cacert', `${testConfdir()}/mitmproxy-ca-cert.pem`, '-x', proxy.url, `${origin.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'fine');
});
