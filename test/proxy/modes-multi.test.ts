/**
 * Several modes at once (one listener per mode, each with its startup line) and address clashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startProxy } from '../../src/index.js';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { logRecorder, recorder } from './modes-helpers.js';

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
    startProxy({ options: { confdir: testConfdir(), mode: [`regular@${port}`, `socks5@${port}`] } }),
    (e: Error) => e.message.includes(`Cannot spawn multiple servers on the same address: regular@${port} and socks5@${port} both use 127.0.0.1:${port}`),
  );
});
