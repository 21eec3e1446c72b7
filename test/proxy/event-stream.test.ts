/**
 * Server-sent events (text/event-stream) reach the client as the server sends them, and the flow
 * still records them (mitmproxy buffers them until the stream ends, its issue 4469). An addon can
 * ask for buffering; a client that leaves a live feed leaves the events so far in its flow.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { tlsH2Server, waitFor } from './modes-helpers.js';
import type { HTTPFlow } from '../../src/index.js';

/**
 * An event source that sends one event, then the next only when `next()` is called, and ends
 * after `count` events. The second event can only be asked for once the client has the first,
 * so a proxy that held the stream back would stall the test.
 */
async function eventSource(t: TestContext, count: number, opts: { tls?: boolean } = {}) {
  let release: () => void = () => undefined;
  // (What the handler uses of an HTTP/1 or an HTTP/2 compatibility response.)
  const handler = (_req: unknown, res: { writeHead(status: number, headers: Record<string, string>): unknown; write(chunk: string): unknown; end(): unknown }) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
    let sent = 0;
    const send = () => {
      res.write(`id: ${++sent}\ndata: event ${sent}\n\n`);
      if (sent === count) res.end();
      else release = send;
    };
    send();
  };
  if (!opts.tls) return { port: (await httpServer(t, handler)).port, next: () => release() };
  // Over TLS the source speaks HTTP/2 (and HTTP/1.1), so both hops of the proxy can be HTTP/2.
  const server = await tlsH2Server(t, handler, { allowHTTP1: true });
  return { port: (server.address() as AddressInfo).port, next: () => release() };
}

/** A GET through the proxy (absolute form) whose response body is read as it comes. */
function getThrough(proxyPort: number, url: string) {
  const received: string[] = [];
  let response: http.IncomingMessage | null = null;
  const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'GET', path: url, headers: { Host: new URL(url).host } });
  const done = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      response = res;
      res.setEncoding('utf8');
      res.on('data', (d: string) => received.push(d));
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.end();
  return { received, done, text: () => received.join(''), response: () => response, abort: () => req.destroy() };
}

/** Flows at `response` and at `error`, with the body each had then. */
function recorder() {
  const seen: Array<{ hook: string; flow: HTTPFlow; body: string }> = [];
  const record = (hook: string) => (f: HTTPFlow) => void seen.push({ hook, flow: f, body: f.response?.rawContent?.toString('utf8') ?? '' });
  return { seen, addon: { name: 'sse-recorder', response: record('response'), error: record('error') } };
}

test('an event stream reaches the client event by event, and the flow records all of it', async (t) => {
  const source = await eventSource(t, 3);
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const client = getThrough(proxy.port, `http://127.0.0.1:${source.port}/events`);
  await waitFor(() => client.text().includes('data: event 1\n\n'), 10_000, 'the first event before the stream ends');
  assert.equal(rec.seen.length, 0, 'the flow is still open');
  source.next();
  await waitFor(() => client.text().includes('data: event 2\n\n'), 10_000, 'the second event');
  source.next();
  await client.done;
  const all = 'id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n';
  assert.equal(client.text(), all);
  await waitFor(() => rec.seen.length === 1, 10_000, 'the response hook');
  assert.equal(rec.seen[0]!.hook, 'response');
  assert.equal(rec.seen[0]!.body, all, 'the response hook sees every event');
  assert.equal(rec.seen[0]!.flow.response!.text, all);
});

test('an addon that sets stream = false in responseheaders gets the event stream buffered, as mitmproxy does', async (t) => {
  const source = await eventSource(t, 2);
  const rec = recorder();
  const buffer = {
    name: 'buffer-events',
    responseheaders(f: HTTPFlow) {
      f.response!.stream = false;
    },
    response(f: HTTPFlow) {
      f.response!.text = f.response!.text!.toUpperCase();
    },
  };
  const proxy = await testProxy(t, { addons: [buffer, rec.addon] });
  const client = getThrough(proxy.port, `http://127.0.0.1:${source.port}/events`);
  // Nothing may arrive while the proxy holds the stream (a streaming proxy delivers the first event in milliseconds).
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(client.response(), null, 'no response head yet');
  source.next();
  await client.done;
  assert.equal(client.text(), 'ID: 1\nDATA: EVENT 1\n\nID: 2\nDATA: EVENT 2\n\n', 'the response hook could change the whole body');
});

test('a client that leaves a live event stream: the events so far stay in the failed flow', async (t) => {
  const source = await eventSource(t, 1000);
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const client = getThrough(proxy.port, `http://127.0.0.1:${source.port}/live`);
  client.done.catch(() => undefined);
  await waitFor(() => client.text().includes('data: event 1\n\n'), 10_000, 'the first event');
  source.next();
  await waitFor(() => client.text().includes('data: event 2\n\n'), 10_000, 'the second event');
  client.abort();
  // The server's next event finds the client gone.
  source.next();
  await waitFor(() => rec.seen.length === 1, 10_000, 'the error hook');
  assert.equal(rec.seen[0]!.hook, 'error');
  assert.match(rec.seen[0]!.body, /^id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\n/);
  assert.equal(rec.seen[0]!.flow.error?.msg, 'Client disconnected.');
});

test('over HTTP/2 (TLS interception) an event stream is streamed too', async (t) => {
  const source = await eventSource(t, 2, { tls: true });
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const socket = await tlsThroughProxy(proxy.port, `127.0.0.1:${source.port}`, { ca: proxyCa(testConfdir()), servername: 'localhost', alpn: ['h2'] });
  t.after(() => socket.destroy());
  assert.equal(socket.alpnProtocol, 'h2');
  const session = http2.connect(`https://127.0.0.1:${source.port}`, { createConnection: () => socket });
  t.after(() => session.destroy());
  const stream = session.request({ ':path': '/events', ':method': 'GET' });
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => (text += d));
  const ended = new Promise<void>((r) => stream.on('end', () => r()));
  await waitFor(() => text.includes('data: event 1\n\n'), 10_000, 'the first event over HTTP/2');
  source.next();
  await ended;
  assert.equal(text, 'id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\n');
  await waitFor(() => rec.seen.length === 1, 10_000, 'the response hook');
  assert.equal(rec.seen[0]!.flow.request.httpVersion, 'HTTP/2.0');
  assert.equal(rec.seen[0]!.flow.response!.httpVersion, 'HTTP/2.0', 'HTTP/2 on both hops');
  assert.equal(rec.seen[0]!.body, text);
});

/** An event of 1 MiB. */
const BIG = `data: ${'x'.repeat(1024 * 1024 - 8)}\n\n`;

test('an event stream past its record limit fires no more updates: its recorded body no longer changes', async (t) => {
  let more: (text: string) => void = () => undefined;
  let finish: () => void = () => undefined;
  const source = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    for (let i = 0; i < 3; i++) res.write(BIG);
    more = (text) => res.write(text);
    finish = () => res.end();
  });
  const updates: number[] = [];
  // A record limit of 2 MiB (body_size_limit, lower than the 32 MiB of its own): a recording that
  // large is refreshed every second, so late events would show within the wait below.
  const proxy = await testProxy(t, {
    options: { body_size_limit: '2m' },
    addons: [{ name: 'updates', update: (flows: HTTPFlow[]) => void (flows.length && updates.push(flows[0]!.response?.rawContent?.length ?? -1)) }],
  });
  let received = 0;
  const req = http.get({ host: '127.0.0.1', port: proxy.port, path: `http://127.0.0.1:${source.port}/feed`, headers: { Host: `127.0.0.1:${source.port}` } });
  const done = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      res.on('data', (d: Buffer) => (received += d.length));
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
  await waitFor(() => received >= 3 * BIG.length, 20000, 'the 3 MiB');
  await new Promise((r) => setTimeout(r, 1500));
  const before = updates.length;
  assert.ok(before > 0);
  for (let i = 0; i < 5; i++) {
    more(`data: late ${i}\n\n`);
    await new Promise((r) => setTimeout(r, 600));
  }
  assert.deepEqual(updates.slice(before), [], 'updates after the limit was reached');
  finish();
  await done;
});

test('a large live event stream is refreshed in its flow less often: each refresh copies the whole recording', async (t) => {
  let more: (text: string) => void = () => undefined;
  let finish: () => void = () => undefined;
  const source = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    // 8 MiB recorded: refreshed every 4 s rather than every 500 ms.
    for (let i = 0; i < 8; i++) res.write(BIG);
    more = (text) => res.write(text);
    finish = () => res.end();
  });
  const updates: number[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'updates', update: (flows: HTTPFlow[]) => void (flows.length && updates.push(flows[0]!.response?.rawContent?.length ?? -1)) }] });
  let received = 0;
  const req = http.get({ host: '127.0.0.1', port: proxy.port, path: `http://127.0.0.1:${source.port}/feed`, headers: { Host: `127.0.0.1:${source.port}` } });
  t.after(() => req.destroy());
  req.on('response', (res) => res.on('data', (d: Buffer) => (received += d.length)));
  req.on('error', () => undefined);
  await waitFor(() => received >= 8 * BIG.length && updates.some((n) => n >= 8 * BIG.length), 20000, 'the 8 MiB, shown in the flow');
  const before = updates.length;
  // An event every 100 ms for 2.5 s: at a 500 ms pace that is five refreshes of 8 MiB.
  for (let i = 0; i < 25; i++) {
    more(`data: tick ${i}\n\n`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(updates.length - before <= 1, `${updates.length - before} refreshes of the 8 MiB recording in 2.5 s`);
  finish();
  // The end of the stream still shows every event.
  await waitFor(() => updates.at(-1)! > 8 * BIG.length + 20 * 12, 10000, 'the final body');
});

test('body_size_limit, when lower, caps what is recorded of an event stream; the client still gets every event', async (t) => {
  const source = await eventSource(t, 3);
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { body_size_limit: '40' } });
  const client = getThrough(proxy.port, `http://127.0.0.1:${source.port}/events`);
  await waitFor(() => client.text().includes('data: event 1\n\n'), 10_000, 'the first event');
  source.next();
  await waitFor(() => client.text().includes('data: event 2\n\n'), 10_000, 'the second event');
  source.next();
  await client.done;
  // Each event is 22 bytes: the second would pass 40.
  assert.equal(client.text(), 'id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n');
  await waitFor(() => rec.seen.length === 1, 10_000, 'the response hook');
  assert.equal(rec.seen[0]!.body, 'id: 1\ndata: event 1\n\n');
  assert.ok(proxy.logs.some((e) => e.message === 'Recorded only the first 40b of the event stream from 127.0.0.1.'), proxy.logs.map((e) => e.message).join('\n'));
});
