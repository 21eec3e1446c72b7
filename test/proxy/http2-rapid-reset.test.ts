/**
 * HTTP/2 rapid reset (CVE-2023-44487 style): a client opening streams and resetting them at once
 * must not make the proxy dial the server for each. At most a few connections are opened at a
 * time per client connection, and a stream reset while its connection waits or is being opened
 * drops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { testProxy } from '../helpers/proxy.js';
import { PREFACE, frame, literal } from '../helpers/h2-frames.js';
import { resetCounter } from '../../src/proxy/http2-reset-guard.js';
import { echoServer } from '../helpers/servers.js';



test('streams reset at once do not each make a server connection, and the proxy keeps serving', async (t) => {
  // A server that accepts connections and never answers: every dial stays open until the proxy drops it.
  let accepted = 0;
  const held = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    accepted++;
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const authority = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const up = await echoServer(t);
  const proxy = await testProxy(t);

  const c = net.connect(proxy.port, '127.0.0.1');
  c.on('error', () => undefined);
  t.after(() => c.destroy());
  await once(c, 'connect');
  let received = Buffer.alloc(0);
  c.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  const closed = once(c, 'close');
  const block = Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'http'), literal(':authority', authority), literal(':path', '/')]);
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(8); // CANCEL
  const frames: Buffer[] = [PREFACE, frame(4, 0, 0, Buffer.alloc(0))];
  const STREAMS = 1000;
  for (let i = 0; i < STREAMS; i++) {
    const id = 2 * i + 1;
    frames.push(frame(1, 5, id, block), frame(3, 0, id, rst));
  }
  c.write(Buffer.concat(frames));
  await Promise.race([closed, sleep(10_000)]);
  assert.equal(c.destroyed, true, 'the proxy closed the connection');
  // GOAWAY: 8 bytes of payload (last stream id, error code), type 7, no flags, stream 0.
  const goaway = received.indexOf(Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0]));
  assert.ok(goaway >= 0, 'a GOAWAY frame came');
  assert.equal(received.readUInt32BE(goaway + 9 + 4), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.ok(proxy.logs.some((e) => /reset more than \d+ streams in a burst \(rapid reset\)/.test(e.message)));
  await sleep(500);
  assert.equal(accepted, 0, 'no server connection was opened for a stream reset at once');
  // Others are served meanwhile.
  const other = http2.connect(proxy.url);
  other.on('error', () => undefined);
  t.after(() => other.destroy());
  const status = await new Promise<number>((resolve, reject) => {
    const req = other.request({ ':path': '/ok', ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
  });
  assert.equal(status, 200);
});

test("streams the proxy ends itself (an addon killing flows, as an ad blocker does) do not spend the client's reset budget", async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { addons: [{ name: 'adblock', request: (f: { request: { path: string }; kill(): void }) => void (f.request.path.startsWith('/ad') && f.kill()) }] });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const get = (path: string) =>
    new Promise<number | string>((resolve) => {
      const req = session.request({ ':path': path, ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.resume();
    });
  const killed = await Promise.all(Array.from({ length: 240 }, (_, i) => get(`/ad${i}`)));
  assert.ok(killed.every((r) => r === 'ERR_HTTP2_STREAM_ERROR'), JSON.stringify([...new Set(killed)]));
  assert.equal(await get('/page'), 200, 'the connection still serves');
  assert.ok(!proxy.logs.some((e) => /rapid reset/.test(e.message)));
});

test('the reset budget: a burst, then refilled at its rate', () => {
  let now = 0;
  const count = resetCounter({ burst: 3, perSecond: 2 }, () => now);
  assert.deepEqual([count(), count(), count(), count()], [true, true, true, false]);
  now += 500; // one more reset's worth
  assert.deepEqual([count(), count()], [true, false]);
  now += 60_000; // refilled to the burst, not beyond
  assert.deepEqual([count(), count(), count(), count()], [true, true, true, false]);
});
