/**
 * Transparent mode: the original destination read from the kernel's conntrack table (parser and
 * lookup on fixture tables), the startup check, and, where the machine allows it (root, iptables,
 * the conntrack /proc table), real clients redirected into the proxy by an iptables REDIRECT rule.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { startProxy } from '../../src/index.js';
import { canonicalPeerIp } from '../../src/certs/ip.js';
import {
  CONNTRACK_TABLE,
  OriginalDestinationError,
  checkConntrackReadable,
  conntrackTableReads,
  lookupOriginalDestination,
  originalDestinationIn,
} from '../../src/proxy/original-destination.js';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { closedPort, echoServer, rawServer } from '../helpers/servers.js';
import { tempDir } from '../helpers/tempdir.js';
import { httpsOrigin, logRecorder, recorder, waitFor } from './modes-helpers.js';
import { selfSignedCert } from './websocket-helpers.js';

// Lines as the kernel writes them: a REDIRECTed IPv4 connection, the same with [UNREPLIED] between
// the tuples, an IPv6 one (full-form addresses), a UDP entry and an unrelated TCP connection.
const REDIRECTED =
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=93.184.216.34 sport=51234 dport=443 src=10.0.0.1 dst=10.0.0.2 sport=8080 dport=51234 [ASSURED] mark=0 zone=0 use=2';
const UNREPLIED =
  'ipv4     2 tcp      6 119 SYN_RECV src=10.0.0.2 dst=93.184.216.34 sport=40000 dport=80 [UNREPLIED] src=10.0.0.1 dst=10.0.0.2 sport=8080 dport=40000 mark=0 zone=0 use=2';
const IPV6 =
  'ipv6     10 tcp      6 431999 ESTABLISHED src=2001:0db8:0000:0000:0000:0000:0000:0002 dst=2001:0db8:0000:0000:0000:0000:0000:00aa sport=50000 dport=80 ' +
  'src=0000:0000:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0002 sport=8080 dport=50000 [ASSURED] mark=0 zone=0 use=2';
const UDP = 'ipv4     2 udp      17 29 src=10.0.0.2 dst=10.0.0.53 sport=5353 dport=53 src=10.0.0.1 dst=10.0.0.2 sport=8080 dport=5353 mark=0 zone=0 use=2';
const OTHER =
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.3 dst=1.1.1.1 sport=51234 dport=443 src=1.1.1.1 dst=10.0.0.3 sport=443 dport=51234 [ASSURED] mark=0 zone=0 use=2';

test('canonicalPeerIp: one spelling for the kernel\'s full IPv6 form, Node\'s short form and IPv4-mapped peers', () => {
  assert.equal(canonicalPeerIp('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  assert.equal(canonicalPeerIp('2001:0DB8:0000:0000:0000:0000:0000:00aa'), '2001:db8::aa');
  assert.equal(canonicalPeerIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalPeerIp('127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalPeerIp('not-an-address:x'), 'not-an-address:x');
});

test('originalDestinationIn: the entry whose reply tuple is our socket gives the address the client dialled', () => {
  assert.deepEqual(originalDestinationIn(REDIRECTED, ['10.0.0.2', 51234], ['10.0.0.1', 8080]), ['93.184.216.34', 443]);
  assert.deepEqual(originalDestinationIn(UNREPLIED, ['10.0.0.2', 40000], ['10.0.0.1', 8080]), ['93.184.216.34', 80]);
  // A dual-stack listener sees the IPv4 client as ::ffff:10.0.0.2.
  assert.deepEqual(originalDestinationIn(REDIRECTED, ['::ffff:10.0.0.2', 51234], ['::ffff:10.0.0.1', 8080]), ['93.184.216.34', 443]);
  assert.deepEqual(originalDestinationIn(IPV6, ['2001:db8::2', 50000], ['::1', 8080]), ['2001:db8::aa', 80]);
  // Not this connection: another client port, another proxy port, the original tuple instead of the reply one.
  assert.equal(originalDestinationIn(REDIRECTED, ['10.0.0.2', 51235], ['10.0.0.1', 8080]), null);
  assert.equal(originalDestinationIn(REDIRECTED, ['10.0.0.2', 51234], ['10.0.0.1', 8081]), null);
  assert.equal(originalDestinationIn(REDIRECTED, ['10.0.0.2', 51234], ['93.184.216.34', 443]), null);
  assert.equal(originalDestinationIn(OTHER, ['10.0.0.2', 51234], ['10.0.0.1', 8080]), null);
  // UDP entries and anything that is not an entry are ignored.
  assert.equal(originalDestinationIn(UDP, ['10.0.0.2', 5353], ['10.0.0.1', 8080]), null);
  assert.equal(originalDestinationIn('', ['10.0.0.2', 51234], ['10.0.0.1', 8080]), null);
  assert.equal(originalDestinationIn('ipv4 2 tcp 6 1 CLOSE src=10.0.0.2', ['10.0.0.2', 51234], ['10.0.0.1', 8080]), null);
});

test('lookupOriginalDestination: reads a table up to the match; no entry and a connection to the proxy itself are errors', async (t) => {
  const dir = tempDir(t, 'conntrack-');
  const table = join(dir, 'nf_conntrack');
  const direct =
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.9 dst=10.0.0.1 sport=41000 dport=8080 src=10.0.0.1 dst=10.0.0.9 sport=8080 dport=41000 [ASSURED] mark=0 zone=0 use=2';
  writeFileSync(table, [UDP, OTHER, IPV6, REDIRECTED, direct, ''].join('\n'));
  assert.deepEqual(await lookupOriginalDestination(['10.0.0.2', 51234], ['10.0.0.1', 8080], table), ['93.184.216.34', 443]);
  assert.deepEqual(await lookupOriginalDestination(['2001:db8::2', 50000], ['::1', 8080], table), ['2001:db8::aa', 80]);
  await assert.rejects(lookupOriginalDestination(['10.0.0.2', 1], ['10.0.0.1', 8080], table), (e: Error) => {
    assert.ok(e instanceof OriginalDestinationError);
    assert.equal(e.message, `no connection tracking entry for 10.0.0.2:1 -> 10.0.0.1:8080 in ${table}`);
    return true;
  });
  await assert.rejects(
    lookupOriginalDestination(['10.0.0.9', 41000], ['10.0.0.1', 8080], table),
    /the connection from 10\.0\.0\.9:41000 was made to the proxy itself, not redirected to it/,
  );
  await assert.rejects(lookupOriginalDestination(['10.0.0.2', 51234], ['10.0.0.1', 8080], join(dir, 'missing')), (e: Error) => {
    assert.ok(e instanceof OriginalDestinationError);
    assert.match(e.message, /^cannot read .*missing: ENOENT/);
    return true;
  });
});

test('lookupOriginalDestination: an entry split across read chunks, ports that only look alike, and a last line without a newline', async (t) => {
  const dir = tempDir(t, 'conntrack-');
  const table = join(dir, 'nf_conntrack');
  // Put our entry across the first 64 KiB read boundary, after lines whose ports contain ours as
  // a prefix ("sport=8080 dport=512340") or sit in the original tuple.
  const lookalike = REDIRECTED.replace('dport=51234 [ASSURED]', 'dport=512340 [ASSURED]');
  const originalSide = 'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.7 sport=8080 dport=51234 src=10.0.0.7 dst=10.0.0.1 sport=80 dport=8080 mark=0';
  const head = [lookalike, originalSide, ''].join('\n');
  const filler = 'x'.repeat(99) + '\n';
  let before = head;
  while (before.length + filler.length < 65536 - 40) before += filler;
  const text = before + REDIRECTED + '\n' + OTHER;
  assert.ok(before.length < 65536 && before.length + REDIRECTED.length > 65536, 'the entry straddles the boundary');
  writeFileSync(table, text);
  assert.deepEqual(await lookupOriginalDestination(['10.0.0.2', 51234], ['10.0.0.1', 8080], table), ['93.184.216.34', 443]);
  // The table's last line without a newline is read too.
  writeFileSync(table, [OTHER, REDIRECTED].join('\n'));
  assert.deepEqual(await lookupOriginalDestination(['10.0.0.2', 51234], ['10.0.0.1', 8080], table), ['93.184.216.34', 443]);
});

test('lookupOriginalDestination: lookups made while the table is being read share the next read', async (t) => {
  const dir = tempDir(t, 'conntrack-');
  const table = join(dir, 'nf_conntrack');
  const entry = (i: number) =>
    `ipv4     2 tcp      6 431999 ESTABLISHED src=10.1.0.${i} dst=198.51.100.${i} sport=${40000 + i} dport=443 src=10.0.0.1 dst=10.1.0.${i} sport=8080 dport=${40000 + i} [ASSURED] mark=0 zone=0 use=2`;
  writeFileSync(table, [UDP, ...Array.from({ length: 20 }, (_, i) => entry(i)), OTHER, ''].join('\n'));
  const before = conntrackTableReads(table);
  // Twenty connections with entries and one without, all looked up at once.
  const lookups = Array.from({ length: 20 }, (_, i) => lookupOriginalDestination([`10.1.0.${i}`, 40000 + i], ['10.0.0.1', 8080], table));
  const missing = lookupOriginalDestination(['10.1.0.99', 40099], ['10.0.0.1', 8080], table);
  assert.deepEqual(
    await Promise.all(lookups),
    Array.from({ length: 20 }, (_, i) => [`198.51.100.${i}`, 443]),
  );
  await assert.rejects(missing, /no connection tracking entry for 10\.1\.0\.99:40099/);
  // The first lookup started a read; the twenty others arrived during it and shared one more.
  assert.equal(conntrackTableReads(table) - before, 2);
});

test('checkConntrackReadable: a missing table fails with the reason and the alternatives', async (t) => {
  const dir = tempDir(t, 'conntrack-');
  await assert.rejects(checkConntrackReadable(join(dir, 'nf_conntrack')), (e: Error) => {
    assert.match(e.message, /^Transparent mode needs the kernel's connection tracking table/);
    assert.match(e.message, /does not exist \(the kernel has no nf_conntrack \/proc interface/);
    assert.match(e.message, /--mode regular, --mode socks5 or --mode reverse:URL/);
    return true;
  });
  writeFileSync(join(dir, 'nf_conntrack'), '');
  await checkConntrackReadable(join(dir, 'nf_conntrack'));
});

function conntrackReadable(): boolean {
  try {
    accessSync(CONNTRACK_TABLE, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

test('a transparent listener starts where the conntrack table is readable and is refused with the reason where it is not', async (t) => {
  if (conntrackReadable()) {
    const log = logRecorder();
    const proxy = await testProxy(t, { options: { mode: ['transparent@0'] }, addons: [log.addon] });
    assert.equal(proxy.listeners.length, 1);
    assert.ok(log.logs.some((l) => l.message === `Transparent Proxy listening at 127.0.0.1:${proxy.listeners[0]!.port}.`));
  } else {
    await assert.rejects(startProxy({ log: 'none', options: { confdir: testConfdir(), mode: ['transparent@0'] } }), /Transparent mode needs the kernel's connection tracking table/);
  }
});

// ---------------------------------------------------------------------------------------------
// Real redirection: an iptables REDIRECT rule sends connections that uid 65534 (nobody) makes
// to one local port into the proxy; the proxy (this process, root) connects out unredirected.

const NOBODY = 65534;

function iptablesUsable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!conntrackReadable()) return `${CONNTRACK_TABLE} is not readable`;
  // Add and remove the kind of rule the tests use (a container may list the nat table but refuse changes).
  const probe = natRule(1, 2);
  try {
    execFileSync('iptables', probe('-A'), { stdio: 'ignore' });
    execFileSync('iptables', probe('-D'), { stdio: 'ignore' });
  } catch {
    return 'iptables cannot add a nat REDIRECT rule here';
  }
  return null;
}

/** iptables arguments that add (-A) or delete (-D) the rule redirecting nobody's connections to 127.0.0.1:`fromPort` into `toPort`. */
function natRule(fromPort: number, toPort: number): (action: '-A' | '-D') => string[] {
  return (action) => [
    '-w', '5', '-t', 'nat', action, 'OUTPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(fromPort),
    '-m', 'owner', '--uid-owner', String(NOBODY), '-j', 'REDIRECT', '--to-ports', String(toPort),
  ];
}

/** Redirect nobody's TCP connections to 127.0.0.1:`fromPort` into 127.0.0.1:`toPort` for the rest of the test. */
function redirect(t: TestContext, fromPort: number, toPort: number): void {
  const rule = natRule(fromPort, toPort);
  execFileSync('iptables', rule('-A'));
  t.after(() => execFileSync('iptables', rule('-D')));
}

/** curl run as nobody, so the REDIRECT rule applies to it. */
function curlAsNobody(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code) || 1 : 0, stdout, stderr });
    });
  });
}

const skipRedirect = iptablesUsable();

test('redirected HTTP and HTTPS connections are intercepted and go to the address the client dialled', { skip: skipRedirect ?? false }, async (t) => {
  const plain = await echoServer(t);
  const secure = await httpsOrigin(t, (req, res) => res.end(`secure ${req.url}`));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['transparent@0'], ssl_insecure: true }, addons: [rec.addon] });
  const port = proxy.listeners[0]!.port;
  redirect(t, plain.port, port);
  redirect(t, secure.port, port);

  const r1 = await curlAsNobody([`http://127.0.0.1:${plain.port}/plain?x=1`, '-H', 'Host: example.com']);
  assert.equal(r1.code, 0, r1.stderr);
  const echoed = JSON.parse(r1.stdout) as { url: string; rawHeaders: string[] };
  assert.equal(echoed.url, '/plain?x=1');
  assert.deepEqual(echoed.rawHeaders.slice(0, 2), ['Host', 'example.com']);
  const r2 = await curlAsNobody(['-k', `https://127.0.0.1:${secure.port}/tls`]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout, 'secure /tls');

  // A destination nobody listens on: the client is disconnected (no 502 page in transparent mode).
  const dead = await closedPort();
  redirect(t, dead, port);
  const r3 = await curlAsNobody([`http://127.0.0.1:${dead}/`]);
  assert.notEqual(r3.code, 0);
  assert.equal(r3.stdout, '');

  await waitFor(() => rec.flows.length === 2, 10000, 'two flows');
  const [f1, f2] = rec.flows;
  // The destination is the one dialled, whatever the Host header says (mitmproxy's transparent HTTP).
  assert.deepEqual(f1!.serverConn.address, ['127.0.0.1', plain.port]);
  assert.equal(f1!.request.url, `http://127.0.0.1:${plain.port}/plain?x=1`);
  assert.equal(f1!.request.headers.get('host'), 'example.com');
  assert.equal(f1!.clientConn.proxyMode, 'transparent@0');
  assert.deepEqual(f2!.serverConn.address, ['127.0.0.1', secure.port]);
  assert.equal(f2!.request.url, `https://127.0.0.1:${secure.port}/tls`);
  assert.equal(f2!.clientConn.tls, true);
  assert.equal(f2!.response?.statusCode, 200);
});

/**
 * A shell script run as nobody (so its connections are redirected too), with bash's /dev/tcp as
 * the TCP client: node itself may sit where nobody cannot run it (CI's Node 24 is in a private
 * temporary directory). Resolves with its stdout.
 */
function bashAsNobody(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code) || 1 : 0, stdout, stderr });
    });
  });
}

test('redirected HTTP/2 and a server-speaks-first TCP protocol are served too', { skip: skipRedirect ?? false }, async (t) => {
  const { key, cert } = await selfSignedCert();
  const h2server = http2.createSecureServer({ key, cert }, (req, res) => res.end(`h2 upstream ${req.url} ${req.httpVersion}`));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => h2server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => {
    for (const session of sessions) session.destroy();
    h2server.close(() => resolve());
  }));
  const secure = { port: (h2server.address() as net.AddressInfo).port };
  const banner = await rawServer(t, (socket) => {
    socket.write('220 ready\r\n');
    socket.on('data', (d: Buffer) => socket.end(`echo ${d.toString()}`));
  });
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['transparent@0'], ssl_insecure: true }, addons: [rec.addon] });
  const port = proxy.listeners[0]!.port;
  redirect(t, secure.port, port);
  redirect(t, banner.port, port);

  const h2 = await curlAsNobody(['-k', '--http2', `https://127.0.0.1:${secure.port}/over-h2`]);
  assert.equal(h2.code, 0, h2.stderr);
  assert.equal(h2.stdout, 'h2 upstream /over-h2 2.0');
  // Read the banner, then answer it, then read to the end (the server closes after its echo).
  const tcp = await bashAsNobody(
    `exec 3<>/dev/tcp/127.0.0.1/${banner.port}; IFS= read -r line <&3; printf 'HELO x' >&3; rest=$(cat <&3); printf '%s|%s' "$line" "$rest"`,
  );
  assert.equal(tcp.code, 0, tcp.stderr);
  assert.equal(tcp.stdout, '220 ready\r|echo HELO x');

  await waitFor(() => rec.flows.length === 1 && rec.tcp.length === 1, 10000, 'one HTTP and one TCP flow');
  assert.equal(rec.flows[0]!.request.httpVersion, 'HTTP/2.0');
  assert.deepEqual(rec.flows[0]!.serverConn.address, ['127.0.0.1', secure.port]);
  const flow = rec.tcp[0]!;
  assert.deepEqual(flow.serverConn.address, ['127.0.0.1', banner.port]);
  assert.deepEqual(
    flow.messages.map((m) => [m.fromClient, m.content.toString()]),
    [
      [false, '220 ready\r\n'],
      [true, 'HELO x'],
      [false, 'echo HELO x'],
    ],
  );
});

test('a connection made straight to the transparent port is closed with "Transparent mode failure", not looped', { skip: skipRedirect ?? false }, async (t) => {
  const log = logRecorder();
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['transparent@0'] }, addons: [log.addon, rec.addon] });
  const port = proxy.listeners[0]!.port;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  assert.equal(Buffer.concat(received).length, 0);
  await waitFor(() => log.logs.some((l) => l.message.startsWith('Transparent mode failure: ')), 10000, 'the failure log line');
  const line = log.logs.find((l) => l.message.startsWith('Transparent mode failure: '))!;
  // Depending on the kernel an unredirected loopback connection has no entry, or one that names
  // the proxy itself as its destination: either way it is refused, never relayed to ourselves.
  assert.match(line.message, /no connection tracking entry for 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+|was made to the proxy itself, not redirected to it/);
  assert.equal(line.level, 'warn');
  assert.equal(rec.flows.length, 0);
});
