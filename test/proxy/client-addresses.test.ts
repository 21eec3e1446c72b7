/**
 * With the default listen_host ("", every interface) the listener is one dual-stack socket, and
 * node reports IPv4 clients as "::ffff:127.0.0.1". Like mitmproxy, flows, hooks, log lines and
 * the certificate for a client without SNI use the plain IPv4 address. The proxies here listen on
 * "" but are only ever connected to on 127.0.0.1.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { Client } from '../../src/connection.js';
import type { UDPFlow } from '../../src/tcp.js';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { httpServer } from '../helpers/servers.js';
import { flowRecorder } from '../helpers/recorder.js';
import { proxyCa } from '../helpers/tunnel.js';
import { proxyCaFile, waitFor } from './modes-helpers.js';

test('an IPv4 client of a listener on all interfaces is named by its IPv4 address in flows, hooks and log lines', async (t) => {
  const target = await httpServer(t, (_req, res) => res.end('hi'));
  const rec = flowRecorder();
  const connected: Client[] = [];
  const proxy = await testProxy(t, { options: { listen_host: '' }, addons: [rec.addon, { name: 'spy', client_connected: (c: Client) => void connected.push(c) }] });
  const r = await curl(['-x', `http://127.0.0.1:${proxy.port}`, `${target.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  const flow = rec.flows[0]!;
  assert.equal(flow.clientConn.peername?.[0], '127.0.0.1');
  assert.deepEqual(flow.clientConn.sockname, ['127.0.0.1', proxy.port]);
  assert.equal(connected[0]!.peername?.[0], '127.0.0.1');
  const connect = proxy.logs.find((e) => e.message === 'client connect');
  assert.match(connect?.client ?? '', /^127\.0\.0\.1:\d+$/);
});

test('TLS to a listener on all interfaces without SNI: the certificate names 127.0.0.1, so curl can use the proxy over HTTPS', async (t) => {
  const target = await httpServer(t, (_req, res) => res.end('through a secure proxy'));
  const proxy = await testProxy(t, { options: { listen_host: '' } });
  const raw = net.connect(proxy.port, '127.0.0.1');
  t.after(() => raw.destroy());
  const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const c = tls.connect({ socket: raw, ca: proxyCa(testConfdir()), checkServerIdentity: () => undefined }, () => resolve(c));
    c.on('error', reject);
  });
  t.after(() => s.destroy());
  const leaf = s.getPeerX509Certificate()!;
  assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1');
  assert.match(leaf.subject, /CN=127\.0\.0\.1/);
  s.destroy();

  const r = await curl(['--proxy-cacert', await proxyCaFile(), '-x', `https://127.0.0.1:${proxy.port}`, `${target.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'through a secure proxy');
});

/** A UDP server on 127.0.0.1 echoing every datagram back. */
async function udpEcho(t: TestContext): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  t.after(() => socket.close());
  return socket.address().port;
}

test('UDP on all interfaces: the client is named by its IPv4 address, and replies still reach it', async (t) => {
  const echoPort = await udpEcho(t);
  const flows: UDPFlow[] = [];
  const proxy = await testProxy(t, { options: { listen_host: '', mode: [`reverse:udp://127.0.0.1:${echoPort}@0`] }, addons: [{ name: 'spy', udp_start: (f: UDPFlow) => void flows.push(f) }] });
  const client = dgram.createSocket('udp4');
  const received: string[] = [];
  client.on('message', (m) => received.push(m.toString()));
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  t.after(() => client.close());
  client.send('ping', proxy.listeners[0]!.port, '127.0.0.1');
  await waitFor(() => received.length === 1, 10000, 'the echo');
  assert.deepEqual(received, ['ping']);
  assert.deepEqual(flows[0]!.clientConn.peername, ['127.0.0.1', client.address().port]);
});

/** Whether this machine can use 127.0.0.2 as a source address (Linux routes all of 127/8 to loopback). */
async function secondLoopbackUsable(): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(0, '127.0.0.2', () => s.close(() => resolve(true)));
  });
}

test('connect_addr: upstream connections are made from that local address', async (t) => {
  if (!(await secondLoopbackUsable())) return t.skip('127.0.0.2 is not usable here');
  const seen: Array<string | undefined> = [];
  const target = await httpServer(t, (req, res) => {
    seen.push(req.socket.remoteAddress);
    res.end('hi');
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { options: { connect_addr: '127.0.0.2' }, addons: [rec.addon] });
  const r = await curl(['-x', proxy.url, `${target.url}/from`]);
  assert.equal(r.status, 200, r.stderr);
  assert.deepEqual(seen, ['127.0.0.2']);
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  assert.equal(rec.flows[0]!.serverConn.sockname?.[0], '127.0.0.2');
  // Unset, the system picks the source address again.
  await proxy.master.options.update({ connect_addr: null });
  assert.equal((await curl(['-x', proxy.url, `${target.url}/default`])).status, 200);
  assert.equal(seen[1], '127.0.0.1');
});
