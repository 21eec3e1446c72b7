/**
 * A request body that breaks off on the way: the server stops taking a streamed upload, or the
 * client gives up on it. Either way the flow ends with one `error` hook, the client gets a 502
 * when it is still there, and no "Unexpected error" (a bug report) is logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import type { HTTPFlow } from '../../src/index.js';
import { responseText } from '../helpers/clients.js';
import { testProxy } from '../helpers/proxy.js';
import { httpServer, rawServer, refusingUploadServer } from '../helpers/servers.js';
import { waitFor } from './modes-helpers.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function errorRecorder() {
  const errors: HTTPFlow[] = [];
  const started: HTTPFlow[] = [];
  return { errors, started, addon: { name: 'errors', requestheaders: (f: HTTPFlow) => void started.push(f), error: (f: HTTPFlow) => void errors.push(f) } };
}

function unexpected(logs: { message: string }[]): string[] {
  return logs.map((l) => l.message).filter((m) => m.includes('Unexpected error'));
}

test('a server that hangs up during a streamed upload: the client gets a 502, the flow one error', async (t) => {
  // It reads the request head, then closes without taking the body (an upload it refuses).
  const server = await rawServer(t, (s) => {
    let head = '';
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) s.destroy();
    });
  });
  const rec = errorRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { stream_large_bodies: '1k' } });
  const status = await new Promise<number | string>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/upload`, headers: { host: `127.0.0.1:${server.port}` } });
    t.after(() => req.destroy());
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', (e) => resolve(`client error: ${e.message}`));
    // Upload until the proxy answers (at most 64 MiB, so a broken proxy cannot make it endless).
    let sent = 0;
    const pump = () => {
      while (sent < 64 * 1024 * 1024 && !req.destroyed) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  assert.equal(status, 502);
  await waitFor(() => rec.errors.length > 0, 10000, 'the error hook');
  assert.equal(rec.errors.length, 1);
  assert.deepEqual(unexpected(proxy.logs), []);
});

for (const [streamed, how] of [[true, 'resets its stream'], [false, 'resets its stream'], [true, 'goes away'], [false, 'goes away']] as const) {
  test(`an HTTP/2 client that ${how} during a ${streamed ? 'streamed' : 'buffered'} upload: one error hook, no unexpected error`, async (t) => {
    // It never reads the body: a streaming proxy waits for it to drain.
    const server = await httpServer(t, (req) => void req.pause());
    const rec = errorRecorder();
    const proxy = await testProxy(t, { addons: [rec.addon], options: streamed ? { stream_large_bodies: '1k' } : {} });
    const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
    session.on('error', () => undefined);
    t.after(() => session.destroy());
    const stream = session.request({ ':method': 'POST', ':path': '/upload', ':authority': `127.0.0.1:${server.port}` });
    stream.on('error', () => undefined);
    // Upload as fast as the proxy takes it (it stops taking it once the server's buffers are full).
    const pump = () => {
      while (!stream.destroyed && stream.write(CHUNK));
      if (!stream.destroyed) stream.once('drain', pump);
    };
    pump();
    // Give up once the proxy reads the body (streamed: once it has started sending it on).
    if (streamed) await waitFor(() => proxy.logs.some((l) => l.message.startsWith('Streaming request')), 10000, 'the streamed request');
    else await waitFor(() => rec.started.length > 0, 10000, 'requestheaders');
    await new Promise((r) => setTimeout(r, 1500));
    if (how === 'goes away') session.destroy();
    else stream.close(http2.constants.NGHTTP2_CANCEL);
    await once(stream, 'close');
    await waitFor(() => rec.errors.length > 0, 10000, 'the error hook');
    // Any second hook (or the unexpected error) would come right after the first.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rec.errors.length, 1);
    // mitmproxy's words; node's client resets its open streams (CANCEL) as it goes away.
    assert.match(rec.errors[0]!.error?.msg ?? '', how === 'goes away' ? /^(stream reset by client \(CANCEL\)|peer closed connection)$/ : /^stream reset by client \(CANCEL\)$/);
    assert.deepEqual(unexpected(proxy.logs), []);
  });
}

test('an HTTP/2 client that goes away with two streamed uploads stuck on a server: one error hook for each flow', async (t) => {
  const server = await httpServer(t, (req) => void req.pause());
  const rec = errorRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { stream_large_bodies: '1k' } });
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  for (const path of ['/one', '/two']) {
    const stream = session.request({ ':method': 'POST', ':path': path, ':authority': `127.0.0.1:${server.port}` });
    stream.on('error', () => undefined);
    const pump = () => {
      while (!stream.destroyed && stream.write(CHUNK));
      if (!stream.destroyed) stream.once('drain', pump);
    };
    pump();
  }
  await waitFor(() => proxy.logs.filter((l) => l.message.startsWith('Streaming request')).length === 2, 10000, 'both streamed requests');
  await new Promise((r) => setTimeout(r, 1000));
  session.destroy();
  await waitFor(() => rec.errors.length >= 2, 10000, 'the error hooks');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(rec.errors.map((f) => f.request.path).sort(), ['/one', '/two']);
  assert.deepEqual(unexpected(proxy.logs), []);
});

test('a server that answers a buffered upload before reading it (a 413, connection kept open) is answered at once', async (t) => {
  // It reads the request head, answers, and reads nothing more: the body fills the socket buffers.
  const server = await refusingUploadServer(t);
  const proxy = await testProxy(t);
  const body = Buffer.alloc(32 * 1024 * 1024, 0x61);
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/upload`, headers: { host: `127.0.0.1:${server.port}` } });
    req.on('error', reject);
    responseText(req).then(resolve, reject);
    req.end(body);
  });
  assert.deepEqual(res, { status: 413, text: 'too big!' });
});
