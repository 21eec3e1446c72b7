/**
 * tcp_timeout does not run while a hook does: mitmproxy disarms its inactivity watchdog for every
 * hook, and an intercepted flow waits inside its hook. Here tcp_timeout is 1 s and the hooks hold
 * flows for 3 s; the connections must live through that and still time out once idle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { httpsOrigin, waitFor } from './modes-helpers.js';
import type { HTTPFlow } from '../../src/index.js';

const HOLD_MS = 3000;

test('HTTP/1: a flow intercepted for longer than tcp_timeout keeps its client, which still times out once idle', async (t) => {
  const up = await httpServer(t, (_req, res) => res.end('fine'));
  const proxy = await testProxy(t, {
    options: { tcp_timeout: 1 },
    addons: [{ request: (f: HTTPFlow) => {
      f.intercept();
      setTimeout(() => f.resume(), HOLD_MS);
    } }],
  });
  const s = net.connect(proxy.port, '127.0.0.1');
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  let answer = '';
  s.on('data', (d) => (answer += d.toString('latin1')));
  const closed = once(s, 'close');
  s.write(`GET ${up.url}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
  const started = Date.now();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfine$/, answer);
  // Closed by the idle timeout after the answer, not left open for good.
  assert.equal(s.destroyed, true);
  assert.ok(Date.now() - started < 9000);
  assert.ok(proxy.logs.some((e) => /^Closing connection due to inactivity: Client\(127\.0\.0\.1:\d+, state=open\)$/.test(e.message)), JSON.stringify(proxy.logs.map((e) => e.message)));
  assert.ok(!proxy.logs.some((e) => /Client disconnected/.test(e.message)), JSON.stringify(proxy.logs.map((e) => e.message)));
});

test('HTTP/2: a stream whose request hook takes longer than tcp_timeout is answered', async (t) => {
  const up = await httpServer(t, (_req, res) => res.end('fine'));
  const proxy = await testProxy(t, {
    options: { tcp_timeout: 1 },
    addons: [{ request: () => new Promise((r) => setTimeout(r, HOLD_MS)) }],
  });
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  t.after(() => session.destroy());
  session.on('error', () => undefined);
  const stream = session.request({ ':authority': `127.0.0.1:${up.port}`, ':path': '/' });
  stream.on('error', () => undefined);
  // What the stream got by the time it closed: an answer, or nothing when the connection was cut.
  const answer = await new Promise<string>((resolve) => {
    let status = '';
    let body = '';
    stream.on('response', (h: http2.IncomingHttpHeaders) => (status = String(h[':status'])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('close', () => resolve(`${status} ${body}`));
  });
  assert.equal(answer, '200 fine');
});

test('a streamed response held in responseheaders longer than tcp_timeout arrives whole (the server socket waits too)', async (t) => {
  const size = 4 * 1024 * 1024;
  const up = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-length': size });
    res.end(Buffer.alloc(size, 'z'));
  });
  const proxy = await testProxy(t, {
    options: { tcp_timeout: 1, stream_large_bodies: '1k' },
    addons: [{ responseheaders: () => new Promise((r) => setTimeout(r, HOLD_MS)) }],
  });
  const s = net.connect(proxy.port, '127.0.0.1');
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  let received = 0;
  s.on('data', (d) => (received += d.length));
  const closed = once(s, 'close');
  s.write(`GET ${up.url}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  // The head (at least 30 bytes) and every byte of the body.
  assert.ok(received > size + 30, `${received} bytes`);
});

test('a server connection a new tunnel takes over from the idle cache waits for that tunnel\'s hooks too', async (t) => {
  const size = 4 * 1024 * 1024;
  const origin = await httpsOrigin(t, (req, res) => {
    if (req.url !== '/big') return void res.end('small');
    res.writeHead(200, { 'content-length': size });
    res.end(Buffer.alloc(size, 'z'));
  });
  const proxy = await testProxy(t, {
    // tcp_timeout leaves the second tunnel seconds to take the parked connection over.
    options: { tcp_timeout: 3, stream_large_bodies: '1k', ssl_insecure: true },
    addons: [{ responseheaders: (f: HTTPFlow) => (f.request.path === '/big' ? new Promise<void>((r) => setTimeout(r, 7000)) : undefined) }],
  });
  const ca = proxyCa(testConfdir());
  // The first tunnel leaves its TLS connection to the origin in the idle cache when it closes.
  const first = await tlsThroughProxy(proxy.port, `localhost:${origin.port}`, { ca });
  t.after(() => first.destroy());
  first.write('GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n');
  let firstAnswer = '';
  for await (const chunk of first) {
    firstAnswer += (chunk as Buffer).toString('latin1');
    if (firstAnswer.endsWith('small')) break;
  }
  // Parked once that client connection is over.
  await waitFor(() => proxy.logs.some((e) => e.message === 'client disconnect'), 10_000, 'the first tunnel to end');
  // The next one, from the same address, is served over that connection, and its response is held.
  const second = await tlsThroughProxy(proxy.port, `localhost:${origin.port}`, { ca });
  t.after(() => second.destroy());
  second.on('error', () => undefined);
  let received = 0;
  // The head (at least 30 bytes) and every byte of the body, or the connection cut before.
  const whole = new Promise<void>((resolve) => {
    second.on('data', (d: Buffer) => (received += d.length) > size + 30 && resolve());
    second.once('close', () => resolve());
    setTimeout(resolve, 20_000).unref();
  });
  second.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await whole;
  assert.equal(origin.servernames.length, 1, 'the second tunnel used the first one\'s server connection');
  assert.ok(received > size + 30, `${received} bytes`);
});
