/**
 * Several modes at once (one listener per mode, each with its startup line) and address clashes.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { ProxyServer } from '../../src/addons/proxyserver.js';
import { serversJson } from '../../src/tools/web/state.js';
import { startProxy } from '../../src/index.js';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { logRecorder, recorder } from './modes-helpers.js';

/** A port on 127.0.0.1 that another server holds until the test ends. */
async function portInUse(t: TestContext): Promise<number> {
  const busy = net.createServer();
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  t.after(() => busy.close());
  return (busy.address() as net.AddressInfo).port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });
}

test('regular, socks5, reverse and upstream at once: one listener each, a startup line each, each serving its mode', async (t) => {
  const up = await echoServer(t);
  const peer = await testProxy(t);
  const log = logRecorder();
  const rec = recorder();
  const modes = ['regular@0', 'socks5@0', `reverse:http://127.0.0.1:${up.port}@0`, `upstream:http://127.0.0.1:${peer.port}@0`];
  const proxy = await testProxy(t, { options: { mode: modes }, addons: [log.addon, rec.addon] });
  assert.deepEqual(
    proxy.listeners.map((l) => l.mode),
    modes,
  );
  const ports = proxy.listeners.map((l) => l.port);
  assert.equal(new Set(ports).size, 4, 'four distinct ports');
  const [regular, socks, reverse, upstream] = ports as [number, number, number, number];
  const startup = log.logs.filter((l) => l.message.includes(' listening at ')).map((l) => l.message);
  assert.deepEqual(startup, [
    `HTTP(S) proxy listening at 127.0.0.1:${regular}.`,
    `SOCKS v5 proxy listening at 127.0.0.1:${socks}.`,
    `reverse proxy to http://127.0.0.1:${up.port} listening at 127.0.0.1:${reverse}.`,
    `HTTP(S) proxy (upstream mode) listening at 127.0.0.1:${upstream}.`,
  ]);

  const target = `http://127.0.0.1:${up.port}`;
  assert.equal((await curl(['-x', `http://127.0.0.1:${regular}`, `${target}/regular`])).status, 200);
  assert.equal((await curl(['--socks5-hostname', `127.0.0.1:${socks}`, `${target}/socks`])).status, 200);
  assert.equal((await curl([`http://127.0.0.1:${reverse}/reverse`])).status, 200);
  assert.equal((await curl(['-x', `http://127.0.0.1:${upstream}`, `${target}/upstream`])).status, 200);
  assert.deepEqual(
    rec.flows.map((f) => [f.clientConn.proxyMode, f.request.path]),
    modes.map((m, i) => [m, `/${['regular', 'socks', 'reverse', 'upstream'][i]}`]),
  );
  assert.deepEqual(rec.flows[3]!.serverConn.via, ['http', ['127.0.0.1', peer.port]]);
  // A SOCKS handshake on the HTTP port is not HTTP: it is refused there, not served as SOCKS.
  const wrongPort = await curl(['--socks5-hostname', `127.0.0.1:${regular}`, `${target}/x`]);
  assert.notEqual(wrongPort.code, 0);
});

test('two modes on the same address are refused; the port 0 exception lets tests run several', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as net.AddressInfo).port;
  await new Promise<void>((r) => busy.close(() => r()));
  await assert.rejects(
    startProxy({ log: 'none', options: { confdir: testConfdir(), mode: [`regular@${port}`, `socks5@${port}`] } }),
    (e: Error) => e.message.includes(`Cannot spawn multiple servers on the same address: 127.0.0.1:${port}`),
  );
});

test('changing `mode` while running starts and stops only what changed; a mode that cannot bind fails alone', async (t) => {
  // An origin that holds /slow until told to answer: a request in flight across the change.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const slowArrived = new Promise<void>((r) => (arrived = r));
  const origin = http.createServer((req, res) => {
    if (req.url === '/slow') {
      arrived();
      void released.then(() => res.end('slow done'));
    } else res.end('ok');
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.after(() => {
    release();
    origin.closeAllConnections();
    origin.close();
  });
  const target = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`;
  const log = logRecorder();
  const proxy = await testProxy(t, { options: { mode: ['regular@0'] }, addons: [log.addon] });
  const ps = proxy.master.addons.get('proxyserver') as ProxyServer;
  const regular = proxy.port;
  const proxyUrl = `http://127.0.0.1:${regular}`;

  const inflight = curl(['-x', proxyUrl, `${target}/slow`]);
  await slowArrived;
  await proxy.master.options.update({ mode: ['regular@0', 'socks5@0'] });
  release();
  const slow = await inflight;
  assert.equal(slow.status, 200, 'the request in flight through the kept server completes');
  assert.equal(slow.stdout, 'slow done');
  const [kept, socks] = ps.listenAddresses();
  assert.deepEqual(kept, { mode: 'regular@0', host: '127.0.0.1', port: regular }, 'the unchanged server keeps its port');
  assert.equal((await curl(['--socks5-hostname', `127.0.0.1:${socks!.port}`, `${target}/socks`])).status, 200);

  // A port someone else holds: that server fails, with its own error; the others go on.
  const busyPort = await portInUse(t);
  await proxy.master.options.update({ mode: ['regular@0', `socks5@${busyPort}`] });
  const state = serversJson(proxy.master);
  assert.equal(state['regular@0']!.is_running, true);
  assert.equal(state['regular@0']!.last_exception, null);
  assert.deepEqual(state['regular@0']!.listen_addrs, [['127.0.0.1', regular]]);
  assert.equal(state[`socks5@${busyPort}`]!.is_running, false);
  assert.equal(state[`socks5@${busyPort}`]!.last_exception, `SOCKS v5 proxy failed to listen on 127.0.0.1:${busyPort} with address already in use`);
  assert.equal((await curl(['-x', proxyUrl, `${target}/still`])).status, 200, 'the regular proxy still serves');
  // The removed socks5@0 stopped listening, and said so.
  assert.ok(log.logs.some((l) => l.message === `SOCKS v5 proxy at 127.0.0.1:${socks!.port} stopped.`));
  assert.equal(await accepts(socks!.port), false, 'the removed server no longer accepts connections');
});

test('startProxy fails when any of its modes cannot start, and leaves nothing listening', async (t) => {
  const busyPort = await portInUse(t);
  const log = logRecorder();
  await assert.rejects(
    startProxy({ log: 'none', options: { confdir: testConfdir(), mode: ['regular@0', `socks5@${busyPort}`] }, addons: [log.addon] }),
    (e: Error) => e.message === `SOCKS v5 proxy failed to listen on 127.0.0.1:${busyPort} with address already in use`,
  );
  const started = log.logs.map((l) => /^HTTP\(S\) proxy listening at 127\.0\.0\.1:(\d+)\.$/.exec(l.message)?.[1]).find(Boolean);
  assert.ok(started, 'the regular proxy had started');
  assert.equal(await accepts(Number(started)), false, 'the regular proxy was stopped with the failed start');
});

test('a port in use: mitmproxy\'s message, with its hint when the port came from listen_port', async (t) => {
  const port = await portInUse(t);
  await assert.rejects(
    startProxy({ log: 'none', options: { confdir: testConfdir() }, listenPort: port }),
    (e: Error) => e.message === `HTTP(S) proxy failed to listen on 127.0.0.1:${port} with address already in use\nTry specifying a different port by using \`--mode regular@${port + 2}\`.`,
  );
});

test('removing a mode, and shutting down, do not wait for the clients still connected to it', async (t) => {
  const proxy = await testProxy(t, { options: { mode: ['regular@0', 'socks5@0'] } });
  const idle = net.connect(proxy.listeners[1]!.port, '127.0.0.1');
  idle.on('error', () => undefined);
  t.after(() => idle.destroy());
  await once(idle, 'connect');
  const within = <T>(p: Promise<T>, what: string) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} still pending after 5 s`)), 5000).unref())]);
  await within(proxy.master.options.update({ mode: ['regular@0'] }), 'the mode change');
  assert.deepEqual(proxy.listeners.map((l) => l.mode), ['regular@0']);
  await within(proxy.close(), 'the shutdown');
});

test('modes this version cannot serve fail at start with what they would need, and the others keep serving', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['wireguard@0', /^WireGuard server \(wireguard@0\) is not available in mitmproxy-ts: it needs a WireGuard endpoint and a user-space TCP\/IP stack\.$/],
    ['local@0', /^Local redirector \(local@0\) is not available in mitmproxy-ts: it needs an operating-system redirector/],
    ['tun@0', /^TUN interface \(tun@0\) is not available in mitmproxy-ts: it needs a TUN interface/],
    ['reverse:quic://127.0.0.1:4@0', /is not available in mitmproxy-ts: quic targets need QUIC or DTLS, which Node does not offer; udp:\/\/ and dns:\/\/ targets work\.$/],
  ];
  for (const [spec, why] of cases) {
    await assert.rejects(startProxy({ log: 'none', options: { confdir: testConfdir(), mode: [spec] } }), (e: Error) => why.test(e.message), spec);
  }
  // Asked for while running, the mode fails alone, with the same reason in its server state.
  const proxy = await testProxy(t, { options: { mode: ['regular@0'] } });
  await proxy.master.options.update({ mode: ['regular@0', 'wireguard@0'] });
  const state = serversJson(proxy.master);
  assert.equal(state['wireguard@0']!.is_running, false);
  assert.match(state['wireguard@0']!.last_exception ?? '', cases[0]![1]);
  assert.equal(state['regular@0']!.is_running, true);
});

test('listen and timeout options no listener can use are refused, and the running listener keeps serving', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  const before = proxy.port;
  for (const [values, message] of [
    [{ listen_port: 99999999 }, /listen_port: 99999999\. It must be between 0 and 65535/],
    [{ listen_port: -5 }, /listen_port/],
    [{ listen_host: '\u0000' }, /Invalid value for listen_host/],
    [{ tcp_timeout: -1 }, /tcp_timeout: -1/],
    // Longer than a node timer holds: it would fire after 1 ms and drop every connection.
    [{ tcp_timeout: 3_000_000 }, /tcp_timeout: 3000000/],
  ] as const) {
    await assert.rejects(proxy.master.options.updateUnchecked(values), message, JSON.stringify(values));
  }
  assert.equal(proxy.master.options.get('listen_port'), 0, 'the old value stays');
  assert.equal(proxy.master.options.get('tcp_timeout'), 600);
  assert.equal(proxy.port, before);
  assert.equal((await curl(['-x', proxy.url, `${up.url}/still`])).status, 200);
});
