/**
 * Connections that end badly must still end: whatever a client or server does (leave in the
 * middle of a response, of a handshake, while an addon hook runs), its connection handler
 * finishes, `client_disconnected` fires, and nothing it held (flows, upstream sockets) is kept.
 * A handler that never finishes is a leak that grows with every such connection on a long run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import dnsPromises from 'node:dns/promises';
import { syncBuiltinESMExports } from 'node:module';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { httpServer, rawServer } from '../helpers/servers.js';
import { connectTunnel, proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { httpsOrigin, waitFor } from './modes-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts client connections opened and fully closed (the last hook of a connection handler). */
function connectionCounter() {
  const counts = { connected: 0, disconnected: 0 };
  return {
    counts,
    addon: {
      name: 'connection-counter',
      client_connected() {
        counts.connected++;
      },
      client_disconnected() {
        counts.disconnected++;
      },
    },
  };
}

/** Connect to the proxy and send `data`; resolves with the socket once the proxy answered something. */
async function sendAndAwaitAnswer(port: number, data: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  s.write(data);
  await once(s, 'data');
  return s;
}

test('a client that leaves in the middle of a streamed response still ends its connection', async (t) => {
  // A response body that never ends, faster than the client reads.
  const up = await httpServer(t, (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 0x78)), 1);
    res.on('close', () => clearInterval(timer));
  });
  const counter = connectionCounter();
  const proxy = await testProxy(t, { addons: [counter.addon], options: { stream_large_bodies: '1k' } });
  const clients = 5;
  for (let i = 0; i < clients; i++) {
    const s = await sendAndAwaitAnswer(proxy.port, `GET ${up.url}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    t.after(() => s.destroy());
    // Stop reading (the proxy's writes back up), then go away.
    s.pause();
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
  }
  await waitFor(() => counter.counts.disconnected === clients, 15_000, `${clients} client_disconnected (got ${counter.counts.disconnected})`);
  assert.equal(counter.counts.connected, clients);
});

test('a client that leaves during its TLS handshake, while a hook is still deciding about it, ends its connection', async (t) => {
  const target = await httpsOrigin(t, (_req, res) => res.end('ok'));
  const counter = connectionCounter();
  const failed: string[] = [];
  // tls_clienthello takes a while (as making a certificate or an addon's own lookup may): the
  // client has gone before the proxy starts its side of the handshake.
  const slowHook = {
    name: 'slow-clienthello',
    async tls_clienthello() {
      await sleep(300);
    },
    tls_failed_client(d: { conn: { error: string | null } }) {
      failed.push(d.conn.error ?? '');
    },
  };
  const proxy = await testProxy(t, { addons: [counter.addon, slowHook], options: { ssl_insecure: true } });
  const clients = 3;
  for (let i = 0; i < clients; i++) {
    const tunnel = await connectTunnel(proxy.port, `localhost:${target.port}`);
    const tlsClient = tls.connect({ socket: tunnel, servername: 'localhost', rejectUnauthorized: false });
    tlsClient.on('error', () => undefined);
    await sleep(50);
    tlsClient.destroy();
    tunnel.destroy();
  }
  await waitFor(() => counter.counts.disconnected === clients, 15_000, `${clients} client_disconnected (got ${counter.counts.disconnected})`);
  assert.equal(failed.length, clients);
  assert.match(failed[0]!, /The client disconnected during the handshake/);
  // Nothing is left connected to the target (the proxy connected to it before the client's handshake).
  await waitFor(() => proxyToTargetSockets(target.port) === 0, 15_000, 'the connections to the target to close');
});

/** Sockets of this process connected to `port` (the proxy's side of its server connections). */
function proxyToTargetSockets(port: number): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => h instanceof net.Socket && h.remotePort === port && !h.destroyed).length;
}

test('an HTTP/2 client that leaves while a hook runs, before its session starts, ends its connection', async (t) => {
  const target = await httpsOrigin(t, (_req, res) => res.end('ok'));
  const counter = connectionCounter();
  // Hooks that take a while, between the client's first bytes and the proxy's HTTP/2 session.
  const slowHooks = {
    name: 'slow-hooks',
    async next_layer() {
      await sleep(300);
    },
    async tls_established_client() {
      await sleep(300);
    },
  };
  const proxy = await testProxy(t, { addons: [counter.addon, slowHooks], options: { ssl_insecure: true } });
  // h2c with prior knowledge, the client gone before next_layer has decided.
  const h2c = net.connect(proxy.port, '127.0.0.1');
  h2c.on('error', () => undefined);
  await once(h2c, 'connect');
  h2c.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  await sleep(50);
  h2c.destroy();
  // HTTP/2 over TLS in a tunnel, the client gone right after its handshake.
  const tunnel = await connectTunnel(proxy.port, `localhost:${target.port}`);
  const tlsClient = tls.connect({ socket: tunnel, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2'] });
  tlsClient.on('error', () => undefined);
  await once(tlsClient, 'secureConnect');
  assert.equal(tlsClient.alpnProtocol, 'h2');
  tlsClient.destroy();
  tunnel.destroy();
  await waitFor(() => counter.counts.disconnected === 2, 15_000, `2 client_disconnected (got ${counter.counts.disconnected})`);
  await waitFor(() => proxyToTargetSockets(target.port) === 0, 15_000, 'the connection to the target to close');
});

test('a server that closes while the tls_established_server hook runs fails the request instead of hanging it', async (t) => {
  const target = await httpsOrigin(t, (_req, res) => res.end('never sent'));
  // It completes the handshake and hangs up at once.
  target.server.prependListener('secureConnection', (s: tls.TLSSocket) => s.destroy());
  const counter = connectionCounter();
  const slowHook = {
    name: 'slow-established-server',
    async tls_established_server() {
      await sleep(300);
    },
  };
  const proxy = await testProxy(t, { addons: [counter.addon, slowHook], options: { ssl_insecure: true } });
  const answer = await new Promise<string>((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => s.write(`GET https://localhost:${target.port}/ HTTP/1.1\r\nHost: localhost:${target.port}\r\n\r\n`));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    const giveUp = setTimeout(() => s.destroy(), 15_000);
    s.on('close', () => {
      clearTimeout(giveUp);
      resolve(got);
    });
  });
  assert.match(answer, /^HTTP\/1\.1 502 /);
  await waitFor(() => counter.counts.disconnected === 1, 15_000, 'client_disconnected');
});

test('a client that leaves while its server connection is being made stops the connect (resolver, upstream proxy, TLS handshake that never answer)', async (t) => {
  // A resolver that never answers for one name (as a dead DNS server, whose lookups the system
  // gives up on only after a long time).
  const original = dnsPromises.lookup;
  const stuck = dnsPromises.lookup as unknown as (host: string, opts: unknown) => Promise<unknown>;
  (dnsPromises as { lookup: unknown }).lookup = (host: string, opts: unknown) => (host === 'unanswered.test' ? new Promise(() => undefined) : stuck(host, opts));
  syncBuiltinESMExports();
  t.after(() => {
    (dnsPromises as { lookup: unknown }).lookup = original;
    syncBuiltinESMExports();
  });
  // A server (and an upstream proxy) that accepts connections and never says a word.
  const silent = await rawServer(t, () => undefined);
  const counter = connectionCounter();
  const cancelled: string[] = [];
  const recorder = {
    name: 'connect-errors',
    server_connect_error(d: { server: { error: string | null } }) {
      cancelled.push(d.server.error ?? '');
    },
  };
  const proxy = await testProxy(t, { addons: [counter.addon, recorder], options: { mode: ['regular', `upstream:http://127.0.0.1:${silent.port}`] } });
  const [regular, upstream] = proxy.listeners.map((l) => l.port) as [number, number];

  // 1. The lookup never ends.
  const a = net.connect(regular, '127.0.0.1', () => a.write('GET http://unanswered.test/ HTTP/1.1\r\nHost: unanswered.test\r\n\r\n'));
  // 2. The upstream proxy never answers the CONNECT for an https:// request.
  const b = net.connect(upstream, '127.0.0.1', () => b.write('GET https://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n'));
  // 3. The target of a tunnel never answers the TLS handshake the proxy starts before the client's.
  const tunnel = await connectTunnel(regular, `localhost:${silent.port}`);
  const c = tls.connect({ socket: tunnel, servername: 'localhost', rejectUnauthorized: false });
  for (const s of [a, b, c, tunnel]) s.on('error', () => undefined);
  t.after(() => {
    for (const s of [a, b, c, tunnel]) s.destroy();
  });
  await waitFor(() => silent.received.length === 2, 10_000, 'the proxy to connect to the silent server (as upstream proxy and as tunnel target)');
  await sleep(200);
  for (const s of [a, b, c, tunnel]) s.destroy();
  // Nothing waits for tcp_timeout (10 minutes here) or the 60 s handshake limit.
  await waitFor(() => counter.counts.disconnected === 3, 10_000, `3 client_disconnected (got ${counter.counts.disconnected})`);
  await waitFor(() => proxyToTargetSockets(silent.port) === 0, 10_000, 'the connections to the silent server to close');
  assert.ok(cancelled.includes('connection cancelled'), JSON.stringify(cancelled));
  // The handshake given up on is no server failure: an info line, not a warning.
  const handshakeLines = proxy.logs.filter((e) => e.message.includes('Server TLS handshake'));
  assert.ok(handshakeLines.length > 0, 'the cancelled handshake is logged');
  for (const e of handshakeLines) assert.match(`${e.level} ${e.message}`, /^info Server TLS handshake cancelled: the client disconnected\./);
});

test('requests for a name being looked up share its lookup: a slow resolver is not asked once per request', async (t) => {
  const up = await httpServer(t, (_req, res) => res.end('ok'));
  const original = dnsPromises.lookup;
  const real = original as unknown as (host: string, opts: unknown) => Promise<unknown>;
  let calls = 0;
  let answer: (v: unknown) => void = () => undefined;
  const slow = new Promise((resolve) => (answer = resolve));
  (dnsPromises as { lookup: unknown }).lookup = (host: string, opts: unknown) => {
    if (host !== 'slow-dns.test') return real(host, opts);
    calls++;
    return slow;
  };
  syncBuiltinESMExports();
  t.after(() => {
    (dnsPromises as { lookup: unknown }).lookup = original;
    syncBuiltinESMExports();
  });
  let connecting = 0;
  const proxy = await testProxy(t, {
    addons: [
      {
        server_connect() {
          connecting++;
        },
      },
    ],
  });
  const requests = 5;
  const answers = Array.from({ length: requests }, () =>
    new Promise<string>((resolve) => {
      const s = net.connect(proxy.port, '127.0.0.1', () => s.write(`GET http://slow-dns.test:${up.port}/ HTTP/1.1\r\nHost: slow-dns.test\r\nConnection: close\r\n\r\n`));
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    }),
  );
  await waitFor(() => connecting === requests, 10_000, `${requests} server connections to be under way`);
  answer([{ address: '127.0.0.1', family: 4 }]);
  for (const a of await Promise.all(answers)) assert.match(a, /^HTTP\/1\.1 200 /);
  assert.equal(calls, 1);
});

test('the end of a streamed response reaches a TLS client that asked to close: its last chunk is not cut off', async (t) => {
  // Chunked (no Content-Length), larger than stream_large_bodies, from a server that closes after it.
  const origin = await httpsOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.alloc(100_000, 0x61));
  });
  const proxy = await testProxy(t, { options: { stream_large_bodies: '1k', ssl_insecure: true } });
  for (let i = 0; i < 3; i++) {
    const s = await tlsThroughProxy(proxy.port, `127.0.0.1:${origin.port}`, { ca: proxyCa(testConfdir()), servername: 'localhost' });
    t.after(() => s.destroy());
    s.on('error', () => undefined);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await once(s, 'close');
    const received = Buffer.concat(chunks).toString('latin1');
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /transfer-encoding: chunked/i);
    // The terminating chunk is what tells the client the body is complete.
    assert.ok(received.endsWith('\r\n0\r\n\r\n'), `response ends with ${JSON.stringify(received.slice(-20))}`);
  }
});
