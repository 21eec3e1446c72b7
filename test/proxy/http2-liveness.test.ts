/**
 * Dead HTTP/2 client connections do not linger: after a connection-level protocol error nghttp2
 * stops reading and Node 20 never notices the client leaving, so an idle connection is asked for
 * a PING and closed when it does not answer. A healthy idle client answers and keeps its connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { http2Liveness, clearSessionTimer } from '../../src/proxy/http2-liveness.js';
import { testProxy } from '../helpers/proxy.js';
import { PREFACE, frame } from '../helpers/h2-frames.js';
import { echoServer } from '../helpers/servers.js';


/** Check sooner than in production, for the tests in this file. */
function quickChecks(t: { after(fn: () => void): void }): void {
  const saved = { ...http2Liveness };
  Object.assign(http2Liveness, { idleMs: 300, pingTimeoutMs: 1000 });
  t.after(() => Object.assign(http2Liveness, saved));
}

async function waitForLog(logs: Array<{ message: string }>, pattern: RegExp, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (logs.some((e) => pattern.test(e.message))) return true;
  return false;
}

test('a client whose session broke down (bad HPACK: GOAWAY, then it leaves) has its connection closed, not kept for tcp_timeout', async (t) => {
  quickChecks(t);
  const proxy = await testProxy(t);
  const c = net.connect(proxy.port, '127.0.0.1');
  c.on('error', () => undefined);
  await once(c, 'connect');
  let got = Buffer.alloc(0);
  c.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  // A HEADERS frame whose HPACK block is an integer that never ends.
  c.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]))]));
  for (let i = 0; i < 100 && !got.includes(Buffer.from([7])); i++) await sleep(20);
  c.destroy();
  assert.ok(await waitForLog(proxy.logs, /^client disconnect$/), `the connection is closed: ${JSON.stringify(proxy.logs.map((e) => e.message))}`);
  // Node 24 ends such a session itself; on Node 20 the unanswered PING does, and says so.
  assert.ok(proxy.logs.some((e) => /did not answer a PING|HTTP\/2 session error/.test(e.message)), 'the event log says why');
});

test('a healthy idle HTTP/2 client answers the PING and keeps its connection', async (t) => {
  quickChecks(t);
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': path, ':authority': `127.0.0.1:${up.port}`, ':scheme': 'http' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
  assert.equal(await get('/first'), 200);
  // Idle for several checks.
  await sleep(2500);
  assert.equal(session.destroyed, false);
  assert.equal(await get('/second'), 200, 'the same connection still serves');
  assert.equal(proxy.logs.filter((e) => /did not answer a PING/.test(e.message)).length, 0);
});

test("a closed session's own idle timer is cleared, so it does not hold the connection for tcp_timeout", async (t) => {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => {
    s.setTimeout(600_000, () => undefined);
    sessions.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  await once(client, 'connect');
  while (sessions.length === 0) await sleep(10);
  const session = sessions[0]!;
  const closed = once(session, 'close');
  client.destroy();
  await closed;
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === 'timeout')!;
  const timer = (session as unknown as Record<symbol, { _destroyed: boolean; _idleTimeout: number }>)[key]!;
  assert.equal(timer._idleTimeout > 0 && !timer._destroyed, true, 'node leaves the timer armed (the bug this works around)');
  clearSessionTimer(session);
  assert.equal(timer._destroyed, true);
});
