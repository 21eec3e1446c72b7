/**
 * DNS mode (`--mode dns`) and reverse proxies to DNS servers: real queries from node's resolver
 * (UDP) and raw DNS over TCP, a scripted upstream name server on 127.0.0.1, the DnsResolver
 * addon's answers (hosts file, name servers), forwarding, hook answers and broken input.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns';
import net from 'node:net';
import { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord, ipToRdata } from '../../src/dns.js';
import { parseServer } from '../../src/addons/dns-resolver.js';
import { packServiceBinding, parseServiceBinding } from '../../src/addons/strip-dns-https-records.js';
import { testProxy } from '../helpers/proxy.js';
import { logRecorder, waitFor } from './modes-helpers.js';

const A = 1;
const TXT = 16;
const NXDOMAIN = 3;
const HTTPS = 65;

/** An HTTPS record (RFC 9460): priority 1, target ".", alpn h3,h2, port 443, an ECH config. */
const svcParam = (key: number, value: Buffer) => Buffer.concat([Buffer.from([key >> 8, key & 255, value.length >> 8, value.length & 255]), value]);
const HTTPS_HEAD = Buffer.from([0, 1, 0]);
const ALPN_H3_H2 = svcParam(1, Buffer.from('\x02h3\x02h2', 'latin1'));
const PORT_443 = svcParam(3, Buffer.from([1, 187]));
const ECH = svcParam(5, Buffer.from([0xab, 0xcd, 0xef]));
const HTTPS_RDATA = Buffer.concat([HTTPS_HEAD, ALPN_H3_H2, PORT_443, ECH]);

/** A name server on 127.0.0.1 (UDP and TCP on one port): example.test has an A and a TXT record, other names do not exist. */
async function upstreamDns(t: TestContext) {
  const queries: Array<{ name: string; type: number; transport: string }> = [];
  const answer = (query: Buffer, transport: string): Buffer => {
    const q = DNSMessage.unpack(query);
    const question = q.questions[0]!;
    queries.push({ name: question.name, type: question.type, transport });
    if (question.name !== 'example.test') return q.fail(NXDOMAIN).pack();
    if (question.type === A) return q.succeed([new DNSResourceRecord(question.name, A, 1, 300, ipToRdata('192.0.2.7'))]).pack();
    if (question.type === TXT) return q.succeed([new DNSResourceRecord(question.name, TXT, 1, 300, Buffer.from('\x05hello'))]).pack();
    if (question.type === HTTPS) return q.succeed([new DNSResourceRecord(question.name, HTTPS, 1, 300, HTTPS_RDATA)]).pack();
    return q.succeed([]).pack();
  };
  const sockets = new Set<net.Socket>();
  const serve = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => s.write(framed(answer(d.subarray(2, 2 + d.readUInt16BE(0)), 'tcp'))));
  };
  // UDP picks a free port and TCP takes the same one; if that TCP port is taken, try another.
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    const tcp = net.createServer(serve);
    const close = () =>
      new Promise<void>((resolve) => {
        udp.close();
        for (const s of sockets) s.destroy();
        if (tcp.listening) tcp.close(() => resolve());
        else resolve();
      });
    udp.on('message', (msg, rinfo) => udp.send(answer(msg, 'udp'), rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    const port = udp.address().port;
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) {
      t.after(close);
      return { port, queries };
    }
    await close();
    if (attempt === 10) throw new Error('no port free for both UDP and TCP');
  }
}

function framed(m: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(m.length);
  return Buffer.concat([len, m]);
}

/** node's own stub resolver, asking the proxy (UDP, one try). */
/** DNS over TCP: one length-prefixed query on a connection of its own, and the first answer. */
function queryOverTcp(t: TestContext, port: number, query: Buffer): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(framed(query));
  return new Promise<Buffer>((ok, fail) => {
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) ok(got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    socket.on('error', fail);
  });
}

function resolverFor(port: number): Resolver {
  const r = new Resolver({ timeout: 5000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

function resolve(r: Resolver, method: 'resolve4' | 'resolveTxt', name: string): Promise<unknown> {
  return new Promise((ok, fail) => {
    const done = (err: NodeJS.ErrnoException | null, value: unknown) => (err ? fail(err) : ok(value));
    if (method === 'resolve4') r.resolve4(name, { ttl: true }, done);
    else r.resolveTxt(name, done);
  });
}

/** Finished DNS flows (answered or failed) and the hooks seen. */
function dnsRecorder() {
  const flows: DNSFlow[] = [];
  const hooks: string[] = [];
  return {
    flows,
    hooks,
    addon: {
      name: 'dnsrecorder',
      dns_request(f: DNSFlow) {
        hooks.push(`dns_request ${f.request.questions[0]?.name ?? ''}`);
      },
      dns_response(f: DNSFlow) {
        hooks.push(`dns_response ${f.request.questions[0]?.name}`);
        flows.push(f);
      },
      dns_error(f: DNSFlow) {
        hooks.push(`dns_error ${f.error?.msg}`);
        flows.push(f);
      },
    },
  };
}

test('parseServer: name server entries with and without ports', () => {
  assert.deepEqual(parseServer('8.8.8.8'), ['8.8.8.8', 53]);
  assert.deepEqual(parseServer('127.0.0.1:5353'), ['127.0.0.1', 5353]);
  assert.deepEqual(parseServer('::1'), ['::1', 53]);
  assert.deepEqual(parseServer('[::1]:5353'), ['::1', 5353]);
  assert.deepEqual(parseServer('[2001:db8::1]'), ['2001:db8::1', 53]);
});

test('DNSMessage.succeed and fail answer a query as mitmproxy does', () => {
  const q = new DNSMessage();
  q.id = 4242;
  q.recursionDesired = true;
  q.questions = [{ name: 'example.test', type: A, class_: 1 } as never];
  const ok = q.succeed([new DNSResourceRecord('example.test', A, 1, DNSResourceRecord.DEFAULT_TTL, ipToRdata('192.0.2.1'))]);
  assert.equal(ok.id, 4242);
  assert.equal(ok.query, false);
  assert.equal(ok.recursionDesired, true);
  assert.equal(ok.recursionAvailable, true);
  assert.equal(ok.responseCode, 0);
  assert.equal(ok.answers[0]!.ttl, 60);
  const bad = q.fail(NXDOMAIN);
  assert.equal(bad.responseCode, NXDOMAIN);
  assert.equal(bad.recursionAvailable, false);
  assert.deepEqual(bad.answers, []);
  assert.throws(() => q.fail(0), /must be an error code/);
});

test('dns mode: address queries are answered by the resolver, other queries are forwarded to the first name server', async (t) => {
  const upstream = await upstreamDns(t);
  const log = logRecorder();
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: ['dns@0'], dns_name_servers: [`127.0.0.1:${upstream.port}`] }, addons: [log.addon, rec.addon] });
  const port = proxy.listeners[0]!.port;
  assert.ok(log.logs.some((l) => l.message === `DNS server listening at 127.0.0.1:${port}.`));
  const r = resolverFor(port);

  // A: resolved by the proxy (from the name server), with the proxy's own TTL.
  assert.deepEqual(await resolve(r, 'resolve4', 'example.test'), [{ address: '192.0.2.7', ttl: 60 }]);
  // A for a name in the hosts file: the hosts file answers, the name server is not asked.
  assert.deepEqual(await resolve(r, 'resolve4', 'localhost'), [{ address: '127.0.0.1', ttl: 60 }]);
  // A for a name that does not exist: NXDOMAIN.
  await assert.rejects(resolve(r, 'resolve4', 'missing.test'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
  // TXT: forwarded to the name server, its answer relayed unchanged.
  assert.deepEqual(await resolve(r, 'resolveTxt', 'example.test'), [['hello']]);

  await waitFor(() => rec.flows.length === 4, 10000, 'four DNS flows');
  assert.deepEqual(
    upstream.queries.map((q) => `${q.name} ${q.type}`),
    ['example.test 1', 'missing.test 1', 'example.test 16'],
  );
  const [a, hosts, missing, txt] = rec.flows;
  assert.equal(a!.response!.answers[0]!.dataText(), '192.0.2.7');
  assert.equal(a!.serverConn.address, null, 'resolved by the proxy, no server connection');
  assert.equal(hosts!.response!.answers[0]!.dataText(), '127.0.0.1');
  assert.equal(missing!.response!.responseCode, NXDOMAIN);
  assert.deepEqual(txt!.serverConn.address, ['127.0.0.1', upstream.port]);
  assert.equal(txt!.response!.answers[0]!.ttl, 300, "the server's own answer");
  assert.equal(txt!.clientConn.proxyMode, 'dns@0');
  assert.equal(txt!.live, false);
});

test('dns mode resolves a query with one address question only, as mitmproxy: one with two questions goes to the name server', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: ['dns@0'], dns_name_servers: [`127.0.0.1:${upstream.port}`] }, addons: [rec.addon] });
  const query = new DNSMessage();
  query.id = 4711;
  query.questions = [new DNSQuestion('example.test', A), new DNSQuestion('localhost', A)];
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const reply = new Promise<Buffer>((ok) => client.once('message', (m) => ok(m)));
  client.send(query.pack(), proxy.listeners[0]!.port, '127.0.0.1');
  const answer = DNSMessage.unpack(await reply);
  assert.deepEqual(upstream.queries.map((q) => q.name), ['example.test'], 'forwarded');
  assert.deepEqual(answer.answers.map((a) => [a.dataText(), a.ttl]), [['192.0.2.7', 300]], "the name server's answer, not the proxy's");
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  assert.deepEqual(rec.flows[0]!.serverConn.address, ['127.0.0.1', upstream.port]);
});

test('dns mode with dns_use_hosts_file off forwards address queries too', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const proxy = await testProxy(t, {
    options: { mode: ['dns@0'], dns_name_servers: [`127.0.0.1:${upstream.port}`], dns_use_hosts_file: false },
    addons: [rec.addon],
  });
  assert.deepEqual(await resolve(resolverFor(proxy.listeners[0]!.port), 'resolve4', 'example.test'), [{ address: '192.0.2.7', ttl: 300 }]);
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  assert.deepEqual(rec.flows[0]!.serverConn.address, ['127.0.0.1', upstream.port]);
});

test('reverse:dns:// forwards every query to its target, over UDP and over TCP', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${upstream.port}@0`] }, addons: [rec.addon] });
  const port = proxy.listeners[0]!.port;
  assert.deepEqual(await resolve(resolverFor(port), 'resolve4', 'example.test'), [{ address: '192.0.2.7', ttl: 300 }]);

  // DNS over TCP: a length-prefixed query on a TCP connection to the same port.
  const query = new DNSMessage();
  query.id = 777;
  query.recursionDesired = true;
  query.questions = DNSMessage.unpack(resolveQueryBytes('example.test', TXT)).questions;
  const reply = await queryOverTcp(t, port, query.pack());
  const m = DNSMessage.unpack(reply);
  assert.equal(m.id, 777);
  assert.equal(m.answers[0]!.dataText(), 'hello');
  await waitFor(() => rec.flows.length === 2, 10000, 'two flows');
  assert.deepEqual(
    upstream.queries.map((q) => q.transport),
    ['udp', 'tcp'],
  );
  assert.equal(rec.flows[1]!.clientConn.transportProtocol, 'tcp');
});

/** The wire bytes of a one-question query. */
function resolveQueryBytes(name: string, type: number): Buffer {
  const m = new DNSMessage();
  m.id = 1;
  m.questions = [{ name, type, class_: 1 } as never];
  return m.pack();
}

test('a dns_request hook can answer (nothing is forwarded); broken datagrams become dns_error flows', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const answering = {
    name: 'answering',
    dns_request(f: DNSFlow) {
      if (f.request.questions[0]?.name === 'blocked.test') f.response = f.request.fail(NXDOMAIN);
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${upstream.port}@0`] }, addons: [answering, rec.addon] });
  const port = proxy.listeners[0]!.port;
  await assert.rejects(resolve(resolverFor(port), 'resolve4', 'blocked.test'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
  assert.deepEqual(upstream.queries, []);

  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  client.send(Buffer.from('not dns'), port, '127.0.0.1');
  await waitFor(() => rec.hooks.some((h) => h.startsWith('dns_error')), 10000, 'the dns_error hook');
  assert.ok(rec.hooks.includes('dns_error Invalid DNS message: DNS message too short'), rec.hooks.join('\n'));
  // The proxy goes on serving.
  assert.deepEqual(await resolve(resolverFor(port), 'resolve4', 'example.test'), [{ address: '192.0.2.7', ttl: 300 }]);
});

test('a dns_request hook that replaces the request has the new one forwarded', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const rewriting = {
    name: 'rewriting',
    dns_request(f: DNSFlow) {
      if (f.request.question?.name !== 'alias.test') return;
      const replaced = DNSMessage.unpack(resolveQueryBytes('example.test', A));
      replaced.id = f.request.id;
      replaced.recursionDesired = f.request.recursionDesired;
      f.request = replaced;
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${upstream.port}@0`] }, addons: [rewriting, rec.addon] });
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const reply = new Promise<Buffer>((ok) => client.once('message', (m) => ok(m)));
  client.send(resolveQueryBytes('alias.test', A), proxy.listeners[0]!.port, '127.0.0.1');
  assert.equal(DNSMessage.unpack(await reply).answers[0]!.dataText(), '192.0.2.7');
  assert.deepEqual(upstream.queries.map((q) => q.name), ['example.test']);
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  assert.equal(rec.flows[0]!.response!.question!.name, 'example.test');
});

test('a dns_response hook that takes the response away drops the answer quietly, as mitmproxy sends only a response still there', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const dropping = {
    name: 'dropping',
    dns_response(f: DNSFlow) {
      if (f.request.question?.name === 'drop.test') f.response = null;
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${upstream.port}@0`] }, addons: [rec.addon, dropping] });
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const replies: DNSMessage[] = [];
  client.on('message', (m) => replies.push(DNSMessage.unpack(m)));
  client.send(resolveQueryBytes('drop.test', A), proxy.listeners[0]!.port, '127.0.0.1');
  await waitFor(() => rec.flows.length === 1, 10000, 'the dropped flow');
  client.send(resolveQueryBytes('example.test', A), proxy.listeners[0]!.port, '127.0.0.1');
  await waitFor(() => replies.length === 1, 10000, 'the next answer');
  assert.equal(replies[0]!.question!.name, 'example.test', 'only the second query was answered');
  assert.deepEqual(proxy.logs.filter((l) => l.level === 'error').map((l) => l.message), []);
});

test('a name server that does not answer ends the flow with dns_error', async (t) => {
  // A bound UDP port nobody answers on: queries to it get no reply, and ICMP says so at once on loopback.
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const deadPort = silent.address().port;
  silent.close();
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${deadPort}@0`] }, addons: [rec.addon] });
  await assert.rejects(resolve(resolverFor(proxy.listeners[0]!.port), 'resolve4', 'example.test'));
  await waitFor(() => rec.flows.length === 1, 10000, 'the failed flow');
  assert.match(rec.flows[0]!.error!.msg, new RegExp(`^DNS query to 127\\.0\\.0\\.1:${deadPort} failed: `));
});

test('a forwarded UDP query to a name server whose name does not resolve fails at once with the lookup error, not after the answer timeout', async (t) => {
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: ['reverse:dns://no-such-host.invalid:53@0'] }, addons: [rec.addon] });
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const reply = new Promise<Buffer>((ok) => client.once('message', (m) => ok(m)));
  client.send(resolveQueryBytes('example.test', A), proxy.listeners[0]!.port, '127.0.0.1');
  assert.equal(DNSMessage.unpack(await reply).responseCode, 2, 'SERVFAIL');
  await waitFor(() => rec.flows.length === 1, 10000, 'the failed flow');
  assert.equal(rec.flows[0]!.error!.msg, 'DNS query to no-such-host.invalid:53 failed: Name or service not known (no-such-host.invalid)');
  assert.deepEqual(proxy.logs.filter((l) => l.level === 'error').map((l) => l.message), [], 'nothing thrown on the way');
});

test('dns mode without dns_name_servers answers as the system resolves; a name without addresses of one family is NOERROR, not NXDOMAIN', async (t) => {
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: ['dns@0'] }, addons: [rec.addon] });
  const r = resolverFor(proxy.listeners[0]!.port);
  assert.deepEqual(await resolve(r, 'resolve4', 'localhost'), [{ address: '127.0.0.1', ttl: 60 }]);
  // Whether the hosts file gives localhost an IPv6 address depends on the machine; NXDOMAIN is wrong either way.
  const v6 = await new Promise<{ code?: string; addresses?: string[] }>((ok) => r.resolve6('localhost', (err, addresses) => ok(err ? { code: err.code } : { addresses })));
  if (v6.addresses) assert.deepEqual(v6.addresses, ['::1']);
  else assert.equal(v6.code, 'ENODATA');
  await waitFor(() => rec.flows.length === 2, 10000, 'two flows');
  assert.equal(rec.flows[1]!.response!.responseCode, 0);
});

/** Ask the proxy for example.test's HTTPS record over UDP; the record data it answers. */
async function httpsRecordVia(t: TestContext, port: number): Promise<Buffer> {
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const answer = new Promise<Buffer>((ok) => client.once('message', (m) => ok(m)));
  client.send(resolveQueryBytes('example.test', HTTPS), port, '127.0.0.1');
  const m = DNSMessage.unpack(await answer);
  assert.equal(m.answers.length, 1);
  return m.answers[0]!.data;
}

test('parseServiceBinding / packServiceBinding: HTTPS record data round-trips; malformed data is refused', () => {
  const sb = parseServiceBinding(HTTPS_RDATA)!;
  assert.deepEqual(sb.params.map((p) => p.key), [1, 3, 5]);
  assert.deepEqual(packServiceBinding(sb), HTTPS_RDATA);
  assert.equal(parseServiceBinding(Buffer.from([0, 1])), null);
  assert.equal(parseServiceBinding(Buffer.concat([HTTPS_HEAD, Buffer.from([0, 1, 0, 9, 2])])), null, 'parameter longer than the data');
  assert.equal(parseServiceBinding(Buffer.from([0, 1, 70, 0])), null, 'label over 63 bytes');
});

test('strip_ech (on by default) removes the ECH configuration from HTTPS records; http3 off also removes the h3 ALPNs', async (t) => {
  const upstream = await upstreamDns(t);
  const target = `reverse:dns://127.0.0.1:${upstream.port}@0`;
  const plain = await testProxy(t, { options: { mode: [target] } });
  assert.deepEqual(await httpsRecordVia(t, plain.listeners[0]!.port), Buffer.concat([HTTPS_HEAD, ALPN_H3_H2, PORT_443]));
  const noH3 = await testProxy(t, { options: { mode: [target], http3: false } });
  assert.deepEqual(await httpsRecordVia(t, noH3.listeners[0]!.port), Buffer.concat([HTTPS_HEAD, svcParam(1, Buffer.from('\x02h2', 'latin1')), PORT_443]));
  const untouched = await testProxy(t, { options: { mode: [target], strip_ech: false } });
  assert.deepEqual(await httpsRecordVia(t, untouched.listeners[0]!.port), HTTPS_RDATA);
});

test('DNS clients go through client_connected: a refused client gets no answers and makes no flows', async (t) => {
  const upstream = await upstreamDns(t);
  const rec = dnsRecorder();
  const events: string[] = [];
  let refuse = false;
  const gate = {
    name: 'gate',
    client_connected(c: { error: string | null; transportProtocol: string }) {
      events.push(`connected ${c.transportProtocol}`);
      if (refuse) c.error = 'refused by the test';
    },
    client_disconnected(c: { transportProtocol: string }) {
      events.push(`disconnected ${c.transportProtocol}`);
    },
  };
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${upstream.port}@0`] }, addons: [gate, rec.addon] });
  const port = proxy.listeners[0]!.port;
  assert.deepEqual(await resolve(resolverFor(port), 'resolve4', 'example.test'), [{ address: '192.0.2.7', ttl: 300 }]);
  await waitFor(() => rec.flows.length === 1, 10000, 'the flow');
  assert.deepEqual(events, ['connected udp']);

  refuse = true;
  const impatient = new Resolver({ timeout: 1000, tries: 1 });
  impatient.setServers([`127.0.0.1:${port}`]);
  await assert.rejects(resolve(impatient, 'resolve4', 'example.test'), (e: NodeJS.ErrnoException) => e.code === 'ETIMEOUT');
  assert.deepEqual(events, ['connected udp', 'connected udp', 'disconnected udp']);
  assert.equal(rec.flows.length, 1, 'no flow for the refused client');
  assert.equal(upstream.queries.length, 1);

  // Shutting down disconnects the UDP client that is still "connected".
  await proxy.close();
  assert.deepEqual(events, ['connected udp', 'connected udp', 'disconnected udp', 'disconnected udp']);
});

test('reverse:dns pointing at its own port answers SERVFAIL at once instead of forwarding each query back to itself', async (t) => {
  // A port free for both UDP and TCP now, for the server to listen on and to name as its target.
  let port = 0;
  for (let attempt = 1; port === 0; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const p = udp.address().port;
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(p, '127.0.0.1', () => r(true));
    });
    udp.close();
    if (ok) await new Promise((r) => tcp.close(r));
    if (ok) port = p;
    else assert.ok(attempt < 10, 'no port free for both UDP and TCP');
  }
  const rec = dnsRecorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:dns://127.0.0.1:${port}@127.0.0.1:${port}`] }, addons: [rec.addon] });
  assert.equal(proxy.listeners[0]!.port, port);
  const started = Date.now();
  await assert.rejects(resolve(resolverFor(port), 'resolve4', 'example.test'), (e: NodeJS.ErrnoException) => e.code === 'ESERVFAIL');
  assert.ok(Date.now() - started < 2000, 'answered at once');
  await waitFor(() => rec.flows.length >= 1, 10000, 'the failed flow');
  // Before, each hop was a new query: thousands of flows (and sockets) a second.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(rec.hooks, [
    'dns_request example.test',
    `dns_error DNS query to 127.0.0.1:${port} failed: 127.0.0.1:${port} is one of this proxy's own listeners; refusing to forward there, which would loop`,
  ]);

  // Over TCP the same.
  const query = DNSMessage.unpack(resolveQueryBytes('example.test', A));
  const reply = await queryOverTcp(t, port, query.pack());
  assert.equal(DNSMessage.unpack(reply).responseCode, 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(rec.hooks.filter((h) => h.startsWith('dns_request')).length, 2);
});

/** A query as raw bytes: id, RD set, `qd` questions after the header `rest`. */
function rawQuery(id: number, qd: number, rest: Buffer, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  return Buffer.concat([h, rest]);
}

/** Send one datagram from a socket of its own; the reply, or null after `ms`. */
async function datagram(t: TestContext, port: number, data: Buffer, ms = 3000): Promise<Buffer | null> {
  const s = dgram.createSocket('udp4');
  t.after(() => s.close());
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    s.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    s.send(data, port, '127.0.0.1');
  });
}

test('DNSMessage.unpack refuses names longer than 255 bytes, so compression pointers cannot blow a 64 KB message up to megabytes of names', () => {
  const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]);
  // 4 labels of 63 and the root: 257 bytes; 3 labels and one of 61: exactly 255.
  const tooLong = Buffer.concat([label, label, label, label, Buffer.from([0, 0, 1, 0, 1])]);
  assert.throws(() => DNSMessage.unpack(rawQuery(1, 1, tooLong)), /domain name longer than 255 bytes/);
  const longest = Buffer.concat([label, label, label, Buffer.from([61]), Buffer.alloc(61, 0x62), Buffer.from([0, 0, 1, 0, 1])]);
  assert.equal(DNSMessage.unpack(rawQuery(1, 1, longest)).questions[0]!.name.length, 253);
  // A chain of labels and pointers: each question a pointer to it (before: 800 names of 60 KB).
  const labels: Buffer[] = [];
  for (let i = 0; i < 900; i++) labels.push(label);
  const first = Buffer.concat([...labels, Buffer.from([0, 0, 1, 0, 1])]);
  const more: Buffer[] = [];
  for (let i = 0; i < 800; i++) more.push(Buffer.from([0xc0, 12, 0, 1, 0, 1]));
  const started = Date.now();
  assert.throws(() => DNSMessage.unpack(rawQuery(1, 801, Buffer.concat([first, ...more]))), /longer than 255/);
  assert.ok(Date.now() - started < 100);
});

test('a query that cannot be parsed is answered FORMERR at once (a response is not answered); a UDP answer too big for a datagram goes out truncated (TC)', async (t) => {
  const rec = dnsRecorder();
  const big = {
    name: 'big',
    dns_request(f: DNSFlow) {
      if (f.request.questions[0]?.name !== 'big.test') return;
      const records: DNSResourceRecord[] = [];
      for (let i = 0; i < 300; i++) records.push(new DNSResourceRecord('big.test', TXT, 1, 60, Buffer.concat([Buffer.from([255]), Buffer.alloc(255, 0x78)])));
      f.response = f.request.succeed(records);
    },
  };
  const proxy = await testProxy(t, { options: { mode: ['reverse:dns://127.0.0.1:9@0'] }, addons: [big, rec.addon] });
  const port = proxy.listeners[0]!.port;

  const loop = await datagram(t, port, rawQuery(0x1234, 1, Buffer.from([0xc0, 12, 0, 1, 0, 1])));
  assert.ok(loop, 'an answer to the broken query');
  assert.equal(loop.length, 12);
  assert.equal(loop.readUInt16BE(0), 0x1234);
  assert.equal(loop.readUInt16BE(2), 0x8101, 'QR, RD, FORMERR');
  assert.ok(rec.hooks.includes('dns_error Invalid DNS message: pointer loop'), rec.hooks.join('\n'));

  // A broken *response* (QR set) gets no answer: two servers must not answer each other forever.
  assert.equal(await datagram(t, port, rawQuery(0x4321, 1, Buffer.from([0xc0, 12, 0, 1, 0, 1]), 0x8100), 500), null);

  const bigQuery = DNSMessage.unpack(resolveQueryBytes('big.test', TXT));
  bigQuery.id = 99;
  const truncated = await datagram(t, port, bigQuery.pack());
  assert.ok(truncated, 'an answer to the big query');
  const m = DNSMessage.unpack(truncated);
  assert.equal(m.id, 99);
  assert.equal(m.truncation, true);
  assert.equal(m.answers.length, 0);
});

test('a label length byte of 64 or more (a reserved label type) is a malformed query, answered FORMERR; it was accepted and then could not be packed, so the client got nothing (found by fuzzing)', async (t) => {
  const label80 = Buffer.concat([Buffer.from([0x50]), Buffer.alloc(0x50, 0x61), Buffer.from([0, 0, 1, 0, 1])]);
  assert.throws(() => DNSMessage.unpack(rawQuery(7, 1, label80)), /unknown label type 0x40/);
  assert.throws(() => DNSMessage.unpack(rawQuery(7, 1, Buffer.concat([Buffer.from([0x80]), Buffer.alloc(0x80, 0x61), Buffer.from([0, 0, 1, 0, 1])]))), /unknown label type 0x80/);

  const rec = dnsRecorder();
  const log = logRecorder();
  const proxy = await testProxy(t, { options: { mode: ['reverse:dns://127.0.0.1:9@0'] }, addons: [rec.addon, log.addon] });
  const answer = await datagram(t, proxy.listeners[0]!.port, rawQuery(0x2345, 1, label80));
  assert.ok(answer, 'an answer to the malformed query');
  assert.equal(answer.readUInt16BE(0), 0x2345);
  assert.equal(answer.readUInt16BE(2), 0x8101, 'QR, RD, FORMERR');
  assert.ok(rec.hooks.includes('dns_error Invalid DNS message: unknown label type 0x40'), rec.hooks.join('\n'));
  assert.ok(!log.logs.some((e) => /unexpected error/.test(e.message)), log.logs.map((e) => e.message).join('\n'));
});
