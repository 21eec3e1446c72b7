/**
 * A killed flow of any protocol still ends: TCP and UDP flows with their error hook, DNS flows
 * with dns_error and a SERVFAIL answer (as mitmproxy does), so addons that keep flows until they
 * end (the save addon among them) write them and let them go. WebSocket kills are covered in
 * websocket.test.ts.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import { Resolver } from 'node:dns';
import { DNSMessage, DNSQuestion, type DNSFlow } from '../../src/dns.js';
import type { TCPFlow, UDPFlow } from '../../src/tcp.js';
import { readFlows } from '../../src/io/flowreader.js';
import { testProxy } from '../helpers/proxy.js';
import { tempDir } from '../helpers/tempdir.js';
import { waitFor } from './modes-helpers.js';

/** A TCP server on 127.0.0.1 that echoes what it reads. */
async function tcpEcho(t: TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** Every hook a flow of `protocol` went through, as "hook flow-error". */
function hookRecorder(protocol: 'tcp' | 'udp' | 'dns') {
  const hooks: string[] = [];
  const seen = (name: string) => (f: TCPFlow | UDPFlow | DNSFlow) => void hooks.push(`${name} ${f.error?.msg ?? ''}`.trim());
  const names = protocol === 'dns' ? ['dns_request', 'dns_response', 'dns_error'] : [`${protocol}_start`, `${protocol}_end`, `${protocol}_error`];
  return { hooks, addon: Object.fromEntries([['name', `${protocol}-hooks`], ...names.map((n) => [n, seen(n)])]) };
}

test('a TCP flow killed mid-conversation or in tcp_start ends with tcp_error and is saved', async (t) => {
  const port = await tcpEcho(t);
  const file = join(tempDir(t, 'mitmts-kill-'), 'tcp.mitm');
  const rec = hookRecorder('tcp');
  let killAtStart = false;
  const killer = {
    name: 'killer',
    tcp_start(f: TCPFlow) {
      if (killAtStart) f.kill();
    },
    tcp_message(f: TCPFlow) {
      if (f.messages.at(-1)!.content.toString() === 'kill') f.kill();
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:tcp://127.0.0.1:${port}`], save_stream_file: file }, addons: [rec.addon, killer] });
  const talk = async (text: string): Promise<string> => {
    const client = net.connect(proxy.listeners[0]!.port, '127.0.0.1');
    t.after(() => client.destroy());
    client.on('error', () => undefined);
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString()));
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write(text);
    await new Promise<void>((r) => client.once('close', () => r()));
    return got;
  };
  assert.equal(await talk('kill'), '', 'the killed message is not relayed and the connection is dropped');
  await waitFor(() => rec.hooks.length === 2, 10000, 'the end of the killed flow');
  assert.deepEqual(rec.hooks, ['tcp_start', 'tcp_error Connection killed.']);

  killAtStart = true;
  assert.equal(await talk('hello'), '');
  await waitFor(() => rec.hooks.length === 4, 10000, 'the end of the flow killed at start');
  assert.deepEqual(rec.hooks.slice(2), ['tcp_start', 'tcp_error Connection killed.']);

  const saved = (await readFlows(file)) as TCPFlow[];
  assert.deepEqual(saved.map((f) => [f.type, f.error?.msg]), [['tcp', 'Connection killed.'], ['tcp', 'Connection killed.']]);
  assert.deepEqual(saved[0]!.messages.map((m) => m.content.toString()), ['kill']);
});

test('a UDP flow killed in udp_message ends at once with udp_error (not when the client goes quiet) and is saved', async (t) => {
  const echo = dgram.createSocket('udp4');
  echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  t.after(() => echo.close());
  const file = join(tempDir(t, 'mitmts-kill-'), 'udp.mitm');
  const rec = hookRecorder('udp');
  const killer = {
    name: 'killer',
    udp_message(f: UDPFlow) {
      if (f.messages.at(-1)!.content.toString() === 'kill') f.kill();
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:udp://127.0.0.1:${echo.address().port}@0`], save_stream_file: file }, addons: [rec.addon, killer] });
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  t.after(() => client.close());
  const answers: string[] = [];
  client.on('message', (m) => answers.push(m.toString()));
  const port = proxy.listeners[0]!.port;
  client.send('hello', port, '127.0.0.1');
  await waitFor(() => answers.length === 1, 10000, 'the echo');
  client.send('kill', port, '127.0.0.1');
  // The idle timeout is 20 s: ending within 10 s shows the kill ended the flow.
  await waitFor(() => rec.hooks.length === 2, 10000, 'udp_error right after the kill');
  assert.deepEqual(rec.hooks, ['udp_start', 'udp_error Connection killed.']);
  assert.deepEqual(answers, ['hello']);
  const saved = (await readFlows(file)) as UDPFlow[];
  assert.equal(saved.length, 1);
  assert.equal(saved[0]!.error?.msg, 'Connection killed.');
  assert.deepEqual(saved[0]!.messages.map((m) => m.content.toString()), ['hello', 'hello', 'kill']);
});

test('DNS: a query killed in dns_request, or one nobody can answer, gets dns_error and a SERVFAIL answer at once', async (t) => {
  const file = join(tempDir(t, 'mitmts-kill-'), 'dns.mitm');
  const rec = hookRecorder('dns');
  const killer = {
    name: 'killer',
    dns_request(f: DNSFlow) {
      if (f.request.questions[0]?.name === 'kill.test') f.kill();
    },
  };
  // A UDP port nobody listens on as the upstream name server: forwarded queries fail.
  const gone = dgram.createSocket('udp4');
  await new Promise<void>((r) => gone.bind(0, '127.0.0.1', () => r()));
  const deadPort = gone.address().port;
  await new Promise<void>((r) => gone.close(() => r()));
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${deadPort}@0`], save_stream_file: file }, addons: [rec.addon, killer] });
  // Resolver timeouts of 10 s: without the SERVFAIL answer these would fail with ETIMEOUT instead.
  const resolver = new Resolver({ timeout: 10000, tries: 1 });
  resolver.setServers([`127.0.0.1:${proxy.listeners[0]!.port}`]);
  const lookup = (name: string) => new Promise<string | undefined>((ok) => resolver.resolve4(name, (err) => ok(err?.code)));
  assert.equal(await lookup('kill.test'), 'ESERVFAIL');
  assert.equal(await lookup('dead.test'), 'ESERVFAIL');
  await waitFor(() => rec.hooks.length === 4, 10000, 'both dns_error hooks');
  assert.equal(rec.hooks[0], 'dns_request');
  assert.equal(rec.hooks[1], 'dns_error Connection killed.');
  assert.match(rec.hooks[3]!, /^dns_error DNS query to 127\.0\.0\.1:\d+ failed: /);
  const saved = (await readFlows(file)) as DNSFlow[];
  assert.deepEqual(saved.map((f) => f.request.questions[0]!.name), ['kill.test', 'dead.test']);
  assert.ok(saved.every((f) => f.error && !f.response), 'saved as failed flows');
  // The answer itself, read off the wire: the query's id and question, response code SERVFAIL.
  const raw = dgram.createSocket('udp4');
  t.after(() => raw.close());
  const answer = new Promise<Buffer>((ok) => raw.once('message', (m) => ok(m)));
  const query = new DNSMessage();
  query.id = 4242;
  query.recursionDesired = true;
  query.questions = [new DNSQuestion('kill.test', 1, 1)];
  raw.send(query.pack(), proxy.listeners[0]!.port, '127.0.0.1');
  const reply = DNSMessage.unpack(await answer);
  assert.equal(reply.id, 4242);
  assert.equal(reply.query, false);
  assert.equal(reply.responseCode, 2);
  assert.equal(reply.questions[0]!.name, 'kill.test');
});
