/**
 * reverse:udp:// mode: datagrams relayed to a UDP server on 127.0.0.1 as one UDP flow per client,
 * with udp_message changes and drops, inject.udp, udp_end at shutdown and udp_error for a target
 * that refuses.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { UDPFlow } from '../../src/tcp.js';
import { testProxy } from '../helpers/proxy.js';
import { waitFor } from './modes-helpers.js';

/** A UDP port on 127.0.0.1 that is free now (bound and released). */
async function freeUdpPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  probe.close();
  return port;
}

/** A UDP server on 127.0.0.1 answering every datagram with "echo:" and the datagram. */
async function udpEcho(t: TestContext) {
  const received: string[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    received.push(msg.toString());
    socket.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  t.after(() => socket.close());
  return { port: socket.address().port, received };
}

/** A client socket on 127.0.0.1 that collects what it receives. */
async function udpClient(t: TestContext) {
  const received: string[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg) => received.push(msg.toString()));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  t.after(() => socket.close());
  return { socket, received, send: (port: number, text: string) => socket.send(text, port, '127.0.0.1') };
}

test('reverse:udp relays datagrams both ways as one UDP flow per client; udp_message can change and drop them; inject.udp sends', async (t) => {
  const echo = await udpEcho(t);
  const hooks: string[] = [];
  let live: UDPFlow | null = null;
  const ended: UDPFlow[] = [];
  const addon = {
    name: 'udpwatch',
    client_connected(c: { transportProtocol: string }) {
      hooks.push(`client_connected ${c.transportProtocol}`);
    },
    udp_start(f: UDPFlow) {
      hooks.push('udp_start');
      live = f;
    },
    udp_message(f: UDPFlow) {
      const m = f.messages[f.messages.length - 1]!;
      if (m.fromClient && m.content.toString() === 'shout') m.content = Buffer.from('SHOUT');
      if (m.fromClient && m.content.toString() === 'drop me') m.content = Buffer.alloc(0);
    },
    udp_end(f: UDPFlow) {
      hooks.push('udp_end');
      ended.push(f);
    },
    client_disconnected() {
      hooks.push('client_disconnected');
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:udp://127.0.0.1:${echo.port}@0`] }, addons: [addon] });
  const port = proxy.listeners[0]!.port;
  const client = await udpClient(t);
  client.send(port, 'one');
  await waitFor(() => client.received.length === 1, 10000, 'the first echo');
  client.send(port, 'drop me');
  client.send(port, 'shout');
  await waitFor(() => client.received.length === 2, 10000, 'the second echo');
  assert.deepEqual(client.received, ['echo:one', 'echo:SHOUT']);
  assert.deepEqual(echo.received, ['one', 'SHOUT']);

  await proxy.master.commands.call('inject.udp', live!, true, Buffer.from('injected'));
  await waitFor(() => client.received.length === 3, 10000, 'the injected datagram');
  assert.equal(client.received[2], 'injected');

  await proxy.close();
  assert.deepEqual(hooks, ['client_connected udp', 'udp_start', 'udp_end', 'client_disconnected']);
  const flow = ended[0]!;
  assert.deepEqual(
    flow.messages.map((m) => [m.fromClient, m.content.toString()]),
    [
      [true, 'one'],
      [false, 'echo:one'],
      [true, ''],
      [true, 'SHOUT'],
      [false, 'echo:SHOUT'],
      [false, 'injected'],
    ],
  );
  assert.deepEqual(flow.serverConn.address, ['127.0.0.1', echo.port]);
  assert.equal(flow.serverConn.transportProtocol, 'udp');
  assert.equal(flow.live, false);
  assert.equal(flow.type, 'udp');
});

test('inject.udp from udp_start itself goes out once the flow has started, after the datagram that opened it', async (t) => {
  const echo = await udpEcho(t);
  const warnings: string[] = [];
  const proxy = await testProxy(t, {
    options: { mode: [`reverse:udp://127.0.0.1:${echo.port}@0`] },
    addons: [
      {
        name: 'greeter',
        async udp_start(f: UDPFlow) {
          await proxy.master.commands.call('inject.udp', f, false, Buffer.from('hello from udp_start'));
        },
        add_log: (e: { level: string; message: string }) => void (e.level === 'warn' && warnings.push(e.message)),
      },
    ],
  });
  const client = await udpClient(t);
  client.send(proxy.listeners[0]!.port, 'first');
  await waitFor(() => echo.received.length === 2, 10000, 'both datagrams at the server');
  assert.deepEqual(echo.received, ['first', 'hello from udp_start']);
  assert.deepEqual(warnings, []);
});

test('reverse:udp to a port nobody listens on ends the flow with udp_error', async (t) => {
  const deadPort = await freeUdpPort();
  const errors: UDPFlow[] = [];
  const proxy = await testProxy(t, {
    options: { mode: [`reverse:udp://127.0.0.1:${deadPort}@0`] },
    addons: [{ name: 'errors', udp_error: (f: UDPFlow) => void errors.push(f) }],
  });
  const client = await udpClient(t);
  client.send(proxy.listeners[0]!.port, 'anyone there?');
  await waitFor(() => errors.length === 1, 10000, 'udp_error');
  assert.equal(errors[0]!.error!.msg, `127.0.0.1:${deadPort}: connection refused`);
  assert.deepEqual(
    errors[0]!.messages.map((m) => m.content.toString()),
    ['anyone there?'],
  );
  // A new datagram from the same client starts a new flow (and fails the same way).
  client.send(proxy.listeners[0]!.port, 'again');
  await waitFor(() => errors.length === 2, 10000, 'the second udp_error');
});

test('reverse:udp to a host name that does not resolve ends the flow with udp_error instead of holding it, and sends nothing', async (t) => {
  const errors: UDPFlow[] = [];
  const proxy = await testProxy(t, {
    options: { mode: ['reverse:udp://no-such-host.invalid:9@0'] },
    addons: [{ name: 'errors', udp_error: (f: UDPFlow) => void errors.push(f) }],
  });
  const client = await udpClient(t);
  client.send(proxy.listeners[0]!.port, 'hello?');
  await waitFor(() => errors.length === 1, 10000, 'udp_error');
  assert.match(errors[0]!.error!.msg, /^no-such-host\.invalid:9: .*(ENOTFOUND|EAI_AGAIN)/);
  assert.equal(errors[0]!.serverConn.peername, null, 'never connected');
  // The datagram is not sent on the socket whose connect failed (that threw, logged as an unexpected error).
  assert.deepEqual(proxy.logs.filter((l) => l.level === 'error').map((l) => l.message), []);
});

test('reverse:udp pointing at its own port fails the one flow instead of relaying each datagram back to itself through a new socket', async (t) => {
  // A port free now, for the relay to listen on and to name as its target.
  const port = await freeUdpPort();
  const errors: UDPFlow[] = [];
  let starts = 0;
  const proxy = await testProxy(t, {
    options: { mode: [`reverse:udp://127.0.0.1:${port}@127.0.0.1:${port}`] },
    addons: [{ name: 'errors', udp_start: () => void starts++, udp_error: (f: UDPFlow) => void errors.push(f) }],
  });
  assert.equal(proxy.listeners[0]!.port, port);
  const client = await udpClient(t);
  client.send(port, 'loop?');
  await waitFor(() => errors.length === 1, 10000, 'udp_error');
  assert.match(errors[0]!.error!.msg, /127\.0\.0\.1:\d+ is one of this proxy's own listeners/);
  client.send(port, 'again');
  // Before, one datagram became a new client, flow and socket per hop: thousands within a second.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(starts, 1);
  assert.equal(errors.length, 1);
  assert.ok(proxy.logs.some((l) => l.level === 'warn' && l.message.includes("own listeners")));
});

test('stopping a TCP listener leaves the self-loop refusal of a UDP relay on the same port number', async (t) => {
  const port = await freeUdpPort();
  const relay = `reverse:udp://127.0.0.1:${port}@127.0.0.1:${port}`;
  const errors: UDPFlow[] = [];
  const proxy = await testProxy(t, {
    options: { mode: [relay, `regular@127.0.0.1:${port}`] },
    addons: [{ name: 'errors', udp_error: (f: UDPFlow) => void errors.push(f) }],
  });
  assert.equal(proxy.listeners.length, 2);
  // The regular proxy stops; the relay keeps running on its UDP port of the same number.
  await proxy.master.options.update({ mode: [relay] });
  assert.equal(proxy.listeners.length, 1);
  const client = await udpClient(t);
  client.send(port, 'loop?');
  await waitFor(() => errors.length === 1, 10000, 'udp_error');
  assert.match(errors[0]!.error!.msg, /is one of this proxy's own listeners/);
});
