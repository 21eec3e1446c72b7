/**
 * HTTP/2 clients that give up or break the rules, and answers HTTP/2 cannot carry: each flow
 * ends with an `error` hook and a clear reply, and nothing waits on a server for a client that left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import type { HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { PREFACE, frame, literal } from '../helpers/h2-frames.js';

/** An HTTP/1 server answering each path with the raw bytes `answers` gives (or holding it). */
async function rawHttpServer(t: TestContext, answers: Record<string, string | null>) {
  const held = new Set<net.Socket>();
  let closedHeld = 0;
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let head = '';
    s.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1]!;
      head = '';
      const answer = answers[path];
      if (answer === null || answer === undefined) {
        held.add(s);
        s.once('close', () => closedHeld++);
      } else s.write(answer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, held, closedHeld: () => closedHeld };
}

async function proxyWithErrors(t: TestContext) {
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'errors', error: (f: HTTPFlow) => void errors.push(f) }] });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return { proxy, session, errors };
}

function get(session: http2.ClientHttp2Session, authority: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':authority': authority, ':scheme': 'http' });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await sleep(20);
  assert.ok(check(), `timed out waiting for ${what}`);
}

test('a client that resets its stream makes the proxy drop the server connection it was waiting on', async (t) => {
  const up = await rawHttpServer(t, { '/held': null });
  const { session, errors } = await proxyWithErrors(t);
  const req = session.request({ ':path': '/held', ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http' });
  req.on('error', () => undefined);
  await until(() => up.held.size === 1, 'the request to reach the server');
  req.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => up.closedHeld() === 1, 'the server connection to close');
  await until(() => errors.length === 1, 'the error hook');
  // mitmproxy's words for an HTTP/2 client's reset ("Client disconnected." is HTTP/1's).
  assert.equal(errors[0]!.error!.msg, 'stream reset by client (CANCEL)');
  assert.equal(errors[0]!.live, false);
});

test('statuses HTTP/2 cannot carry become a 502 with an error hook; a 204 loses its content-length', async (t) => {
  const up = await rawHttpServer(t, {
    '/101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n',
    '/600': 'HTTP/1.1 600 Weird\r\nContent-Length: 2\r\n\r\nok',
    '/204': 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
  });
  const { session, errors } = await proxyWithErrors(t);
  const authority = `127.0.0.1:${up.port}`;
  for (const code of ['101', '600']) {
    const r = await get(session, authority, `/${code}`);
    assert.equal(r.status, 502, code);
    assert.match(r.body, new RegExp(`Cannot send status code ${code} over HTTP/2\\.`));
  }
  assert.deepEqual(
    errors.map((f) => f.error!.msg),
    ['Cannot send status code 101 over HTTP/2.', 'Cannot send status code 600 over HTTP/2.'],
  );
  const noContent = await get(session, authority, '/204');
  assert.equal(noContent.status, 204);
});

test('a status HTTP/2 cannot carry that an addon set, its flow killed in the error hook: no 502, the stream is dropped', async (t) => {
  const up = await rawHttpServer(t, { '/ok': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' });
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'weird-status',
        response: (f: HTTPFlow) => void (f.response!.statusCode = 600),
        error: (f: HTTPFlow) => void (errors.push(f), f.kill()),
      },
    ],
  });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const outcome = await get(session, `127.0.0.1:${up.port}`, '/ok').then(
    (r) => `status ${r.status}`,
    (e: Error) => `error ${e.message}`,
  );
  assert.notEqual(outcome, 'status 502');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.error!.msg, 'Connection killed.');
});

test('a client whose connection closes under an open stream (no reset): the flow fails as mitmproxy words it, "peer closed connection"', async (t) => {
  const up = await rawHttpServer(t, { '/held': null });
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'errors', error: (f: HTTPFlow) => void errors.push(f) }] });
  // Raw frames: node's own client would reset its streams (CANCEL) before it closes.
  const client = net.connect(proxy.port, '127.0.0.1');
  t.after(() => client.destroy());
  client.on('error', () => undefined);
  await once(client, 'connect');
  const request = Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'http'), literal(':authority', `127.0.0.1:${up.port}`), literal(':path', '/held')]);
  client.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 5, 1, request)]));
  await until(() => up.held.size === 1, 'the request to reach the server');
  client.destroy();
  await until(() => errors.length === 1, 'the error hook');
  assert.equal(errors[0]!.error!.msg, 'peer closed connection');
  await until(() => up.closedHeld() === 1, 'the server connection to close');
});

test('a request body that contradicts its content-length fails the flow with an error hook, not an internal error', async (t) => {
  const up = await rawHttpServer(t, {});
  const { proxy, session, errors } = await proxyWithErrors(t);
  const req = session.request({ ':method': 'POST', ':path': '/upload', ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http', 'content-length': '3' });
  req.on('error', () => undefined);
  req.end('this is far more than three bytes');
  await until(() => errors.length === 1, 'the error hook');
  // node resets the stream, and may end the session, which can close the stream first.
  assert.match(errors[0]!.error!.msg, /^(HTTP\/2 protocol error in the client's stream|peer closed connection)/);
  assert.equal(up.held.size, 0, 'nothing reached the server');
  assert.ok(!proxy.logs.some((e) => e.level === 'error'), JSON.stringify(proxy.logs.filter((e) => e.level === 'error').map((e) => e.message)));
});

test('an upload refused with 413 is answered, then its stream is ended so the client is not left blocked', async (t) => {
  const up = await rawHttpServer(t, {});
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, { options: { body_size_limit: '1m' }, addons: [{ name: 'errors', error: (f: HTTPFlow) => void errors.push(f) }] });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const req = session.request({ ':method': 'POST', ':path': '/up', ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http' });
  req.on('error', () => undefined);
  let status = 0;
  let body = '';
  req.on('response', (h) => (status = Number(h[':status'])));
  req.on('data', (d: Buffer) => (body += d));
  const chunk = Buffer.alloc(64 * 1024, 1);
  // Write 20 MiB (far more than the limit and the flow-control windows), as fast as allowed.
  void (async () => {
    for (let i = 0; i < 320 && !req.destroyed; i++) if (!req.write(chunk)) await once(req, 'drain').catch(() => undefined);
  })();
  await once(req, 'close', { signal: AbortSignal.timeout(20_000) });
  assert.equal(status, 413);
  assert.match(body, /Request body exceeds mitmproxy&#x27;s body_size_limit\./);
  assert.equal(errors.length, 1);
});
