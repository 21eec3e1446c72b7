import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { connectTunnel, proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { rawServer } from '../helpers/servers.js';
import { runCli } from '../helpers/cli.js';
import type { ClientHelloData, HTTPFlow, TCPFlow, TlsData } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-tls-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A CA and a server certificate signed by it (SANs localhost, 127.0.0.1 and alt.example), made with openssl. */
function makeUpstreamPki(): { caPem: string; key: Buffer; cert: Buffer; caFile: string } {
  const q = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'upca.key'), '-out', join(dir, 'upca.pem'), '-days', '3', '-subj', '/CN=Upstream Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'srv.key'), '-out', join(dir, 'srv.csr'), '-subj', '/CN=localhost/O=Upstream Org']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:alt.example\n');
  q(['x509', '-req', '-in', join(dir, 'srv.csr'), '-CA', join(dir, 'upca.pem'), '-CAkey', join(dir, 'upca.key'), '-CAcreateserial', '-out', join(dir, 'srv.pem'), '-days', '3', '-extfile', join(dir, 'ext.cnf')]);
  return { caPem: readFileSync(join(dir, 'upca.pem'), 'utf8'), key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')), caFile: join(dir, 'upca.pem') };
}
const pki = makeUpstreamPki();

async function httpsUpstream(t: TestContext) {
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => res.end(`secure ${req.url}`));
  const sockets = new Set<Duplex>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

const caFile = () => join(testConfdir(), 'mitmproxy-ca-cert.pem');

test('upstream verification: 502 naming the error by default, success with ssl_insecure or the upstream CA trusted', async (t) => {
  const port = await httpsUpstream(t);
  const failed: TlsData[] = [];
  const strict = await testProxy(t, { addons: [{ name: 'spy', tls_failed_server: (d: TlsData) => void failed.push(d) }] });
  const r = await curl(['--cacert', caFile(), '-x', strict.url, `https://localhost:${port}/a`]);
  assert.equal(r.status, 502);
  assert.match(r.stdout, /Certificate verify failed: (unable to get local issuer certificate|self-signed)/);
  assert.equal(failed.length, 1, 'tls_failed_server fired');

  const insecure = await testProxy(t, { options: { ssl_insecure: true } });
  const ok = await curl(['--cacert', caFile(), '-x', insecure.url, `https://localhost:${port}/b`]);
  assert.equal(ok.status, 200, ok.stderr);
  assert.equal(ok.stdout, 'secure /b');

  const trusted = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile } });
  const ok2 = await curl(['--cacert', caFile(), '-x', trusted.url, `https://localhost:${port}/c`]);
  assert.equal(ok2.status, 200, ok2.stderr);
  const wrongName = await curl(['--cacert', caFile(), '-x', trusted.url, '--resolve', `nothere.example:${port}:127.0.0.1`, `https://127.0.0.1:${port}/d`, '-H', 'Host: nothere.example']);
  assert.equal(wrongName.status, 200, 'an IP in the SANs verifies');
});

test('the leaf certificate: issued by our CA, names from the SNI, IP and the upstream certificate (upstream_cert), mitmproxy extensions', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const socket = await tlsThroughProxy(proxy.port, `127.0.0.1:${port}`, { ca: proxyCa(testConfdir()), servername: 'localhost' });
  t.after(() => socket.destroy());
  const leaf = socket.getPeerX509Certificate()!;
  const ca = new X509Certificate(proxyCa(testConfdir()));
  assert.ok(leaf.checkIssued(ca), 'issued by our CA');
  assert.ok(leaf.verify(ca.publicKey));
  assert.equal(leaf.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), ca.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), "the leaf carries the CA's own key, as mitmproxy's");
  const sans = leaf.subjectAltName ?? '';
  for (const name of ['DNS:localhost', 'DNS:alt.example', 'IP Address:127.0.0.1']) assert.ok(sans.includes(name), `${name} in ${sans}`);
  assert.match(leaf.subject, /CN=localhost/);
  assert.match(leaf.subject, /O=Upstream Org/, "the upstream certificate's organization is copied");
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  assert.ok(Math.abs(Date.now() - 2 * 86400e3 - notBefore) < 3600e3, 'valid from two days ago');
  assert.ok(Math.abs(notAfter - notBefore - 199 * 86400e3) < 3600e3, 'valid for 199 days');
  const text = spawnSync('openssl', ['x509', '-noout', '-text'], { input: leaf.toString(), encoding: 'utf8' }).stdout;
  assert.match(text, /X509v3 Extended Key Usage: *\n *TLS Web Server Authentication/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.doesNotMatch(text, /X509v3 Basic Constraints|X509v3 Subject Key Identifier/);

  // Without upstream_cert only the SNI (and the server address) name the leaf.
  const plain = await testProxy(t, { options: { ssl_insecure: true, upstream_cert: false } });
  const s2 = await tlsThroughProxy(plain.port, `127.0.0.1:${port}`, { ca: proxyCa(testConfdir()), servername: 'localhost' });
  t.after(() => s2.destroy());
  const sans2 = s2.getPeerX509Certificate()!.subjectAltName ?? '';
  assert.ok(!sans2.includes('alt.example'), sans2);
  assert.ok(sans2.includes('DNS:localhost'));
});

test('TLS hooks fire in order with their data; connection objects get the TLS fields', async (t) => {
  const port = await httpsUpstream(t);
  const events: string[] = [];
  let hello: ClientHelloData | null = null;
  const flows: HTTPFlow[] = [];
  const spy = {
    name: 'spy',
    tls_clienthello: (d: ClientHelloData) => {
      hello = d;
      events.push('tls_clienthello');
    },
    tls_start_server: () => void events.push('tls_start_server'),
    tls_established_server: () => void events.push('tls_established_server'),
    tls_start_client: () => void events.push('tls_start_client'),
    tls_established_client: () => void events.push('tls_established_client'),
    http_connect: () => void events.push('http_connect'),
    http_connected: () => void events.push('http_connected'),
    response: (f: HTTPFlow) => void flows.push(f),
  };
  const proxy = await testProxy(t, { addons: [spy], options: { ssl_insecure: true } });
  const r = await curl(['--cacert', caFile(), '-x', proxy.url, '--http1.1', `https://localhost:${port}/hooks`]);
  assert.equal(r.status, 200);
  assert.deepEqual(events, ['http_connect', 'http_connected', 'tls_clienthello', 'tls_start_server', 'tls_established_server', 'tls_start_client', 'tls_established_client']);
  const h = hello as unknown as ClientHelloData;
  assert.equal(h.clientHello.sni, 'localhost');
  assert.deepEqual(h.clientHello.alpnProtocols, ['http/1.1']);
  const f = flows[0]!;
  assert.equal(f.clientConn.tls, true);
  assert.equal(f.clientConn.sni, 'localhost');
  assert.match(f.clientConn.tlsVersion ?? '', /^TLSv1\.[23]$/);
  assert.ok(f.clientConn.cipher);
  assert.equal(f.clientConn.alpn, 'http/1.1');
  assert.ok(f.clientConn.timestampTlsSetup);
  assert.ok(f.clientConn.mitmcert?.includes('BEGIN CERTIFICATE'));
  assert.equal(f.serverConn.tls, true);
  assert.equal(f.serverConn.sni, 'localhost');
  assert.equal(f.serverConn.certificateList.length, 1);
  assert.match(new X509Certificate(f.serverConn.certificateList[0]!).subject, /O=Upstream Org/);
  assert.equal(f.request.scheme, 'https');
});

test('ignore_hosts: the connection is passed through and the client sees the upstream certificate', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, { options: { ignore_hosts: ['^localhost:'] } });
  const socket = await tlsThroughProxy(proxy.port, `localhost:${port}`, { ca: pki.caPem, servername: 'localhost' });
  t.after(() => socket.destroy());
  assert.match(socket.getPeerX509Certificate()!.issuer, /CN=Upstream Test CA/);
  const intercepted = await tlsThroughProxy(proxy.port, `127.0.0.1:${port}`, { ca: proxyCa(testConfdir()), servername: 'not-ignored.example' });
  t.after(() => intercepted.destroy());
  assert.match(intercepted.getPeerX509Certificate()!.issuer, /CN=mitmproxy/);
});

test('an addon can ignore a connection in tls_clienthello (pass-through)', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, {
    addons: [{ name: 'ignorer', tls_clienthello: (d: ClientHelloData) => void (d.ignoreConnection = d.clientHello.sni === 'localhost') }],
  });
  const socket = await tlsThroughProxy(proxy.port, `127.0.0.1:${port}`, { ca: pki.caPem, servername: 'localhost' });
  t.after(() => socket.destroy());
  assert.match(socket.getPeerX509Certificate()!.issuer, /CN=Upstream Test CA/);
});

test('raw TCP through CONNECT is recorded as a TCP flow, both directions', async (t) => {
  const up = await rawServer(t, (s) => {
    s.write('220 hello from a server that speaks first\r\n');
    s.on('data', (d) => s.write(`echo: ${d}`));
  });
  const tcp: TCPFlow[] = [];
  const ends: string[] = [];
  const proxy = await testProxy(t, {
    addons: [{ name: 'spy', tcp_start: (f: TCPFlow) => void tcp.push(f), tcp_end: () => void ends.push('end'), tcp_message: (f: TCPFlow) => void ends.push(`msg ${f.messages.at(-1)!.fromClient}`) }],
  });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
  const received: string[] = [];
  s.on('data', (d) => received.push(d.toString()));
  await sleep(300);
  s.write('PING\r\n');
  await sleep(300);
  s.end();
  for (let i = 0; i < 50 && !ends.includes('end'); i++) await sleep(20);
  assert.equal(received.join(''), '220 hello from a server that speaks first\r\necho: PING\r\n');
  assert.equal(tcp.length, 1);
  const msgs = tcp[0]!.messages.map((m) => [m.fromClient, m.content.toString()]);
  assert.deepEqual(msgs, [
    [false, '220 hello from a server that speaks first\r\n'],
    [true, 'PING\r\n'],
    [false, 'echo: PING\r\n'],
  ]);
  assert.ok(ends.includes('end'));
});

test('a tunnel whose client speaks first without a line end is TCP, not a half-read HTTP request', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', (d) => s.write(`echo: ${d}`)));
  const tcp: TCPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'spy', tcp_start: (f: TCPFlow) => void tcp.push(f) }] });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => s.destroy());
  const received: string[] = [];
  s.on('data', (d) => received.push(d.toString()));
  s.write('hello tcp');
  for (let i = 0; i < 250 && received.length === 0; i++) await sleep(20);
  assert.equal(received.join(''), 'echo: hello tcp');
  assert.equal(tcp.length, 1);
  assert.deepEqual(tcp[0]!.messages.map((m) => m.content.toString()), ['hello tcp', 'echo: hello tcp']);
});

test('odd clients: no SNI (IP target), h2 offered, a handshake aborted, a client that distrusts our CA — no crash, clear log lines', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  // No SNI: the leaf names the IP we were asked to connect to.
  const raw = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  const noSni = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: raw, ca: proxyCa(testConfdir()), ALPNProtocols: ['h2', 'http/1.1'] }, () => resolve(s));
    s.on('error', reject);
  });
  t.after(() => noSni.destroy());
  assert.ok((noSni.getPeerX509Certificate()!.subjectAltName ?? '').includes('IP Address:127.0.0.1'));
  assert.ok(['h2', 'http/1.1'].includes(String(noSni.alpnProtocol)), 'an ALPN protocol both sides speak');

  // A client that sends half a ClientHello and leaves.
  const aborted = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  aborted.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
  await sleep(100);
  aborted.destroy();

  // A client that does not trust our CA (it only trusts the upstream's, as pinning does).
  const distrust = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  await new Promise<void>((resolve) => {
    const s = tls.connect({ socket: distrust, ca: pki.caPem, servername: 'localhost' });
    s.on('error', () => resolve());
    s.on('secureConnect', () => resolve());
  });
  // node's client just hangs up (TLS 1.3): mitmproxy's hint for a disconnect during the handshake.
  for (let i = 0; i < 50 && !proxy.logs.some((e) => /may indicate that the client does not trust/.test(e.message)); i++) await sleep(20);
  assert.ok(
    proxy.logs.some((e) => /Client TLS handshake failed\. The client disconnected during the handshake\. If this happens consistently for localhost, this may indicate that the client does not trust the proxy's certificate\./.test(e.message)),
    JSON.stringify(proxy.logs.map((e) => e.message)),
  );
  // curl (OpenSSL) sends an "unknown ca" alert: the log says so.
  const pinned = await curl(['--cacert', pki.caFile, '-x', proxy.url, `https://localhost:${port}/pinned`]);
  assert.notEqual(pinned.code, 0);
  for (let i = 0; i < 50 && !proxy.logs.some((e) => /The client does not trust the proxy's certificate for localhost \(.*unknown ca/.test(e.message)); i++) await sleep(20);
  assert.ok(proxy.logs.some((e) => /Client TLS handshake failed\. The client does not trust the proxy's certificate for localhost \(.*unknown ca/.test(e.message)), JSON.stringify(proxy.logs.map((e) => e.message)));
  const ok = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/still`]);
  assert.equal(ok.status, 200);
});

test('mitm.it through the proxy serves the CA in each form, byte-equal to the confdir files; not without the proxy', async (t) => {
  const proxy = await testProxy(t);
  const page = await curl(['-x', proxy.url, 'http://mitm.it/']);
  assert.equal(page.status, 200);
  assert.match(page.stdout, /Install mitmproxy's Certificate Authority/);
  for (const [path, file, type] of [
    ['/cert/pem', 'mitmproxy-ca-cert.pem', 'application/x-x509-ca-cert'],
    ['/cert/cer', 'mitmproxy-ca-cert.cer', 'application/x-x509-ca-cert'],
    ['/cert/p12', 'mitmproxy-ca-cert.p12', 'application/x-pkcs12'],
  ] as const) {
    const out = join(dir, `download-${file}`);
    const r = await curl(['-x', proxy.url, '-D', join(dir, 'headers.txt'), '-o', out, `http://mitm.it${path}`]);
    assert.equal(r.status, 200);
    assert.deepEqual(readFileSync(out), readFileSync(join(testConfdir(), file)), `${path} equals ${file}`);
    const headers = readFileSync(join(dir, 'headers.txt'), 'utf8');
    assert.match(headers, new RegExp(`content-type: ${type.replace('/', '\\/')}`, 'i'));
    assert.match(headers, new RegExp(`attachment; filename="?${file.replace(/\./g, '\\.')}`, 'i'));
  }
  const direct = await curl(['--noproxy', '*', '--resolve', 'mitm.it:80:127.0.0.1', `http://mitm.it:${proxy.port}/`]);
  assert.notEqual(direct.status, 200, 'the onboarding app only answers through the proxy');
});

test('a CA created by the installed mitmproxy (or by openssl in its layout) is loaded and used', async (t) => {
  const confdir = join(dir, 'foreign-ca');
  const hasMitmdump = spawnSync('mitmdump', ['--version'], { stdio: 'ignore' }).status === 0;
  if (hasMitmdump) {
    spawnSync('mitmdump', ['-n', '-q', '--set', `confdir=${confdir}`, '-r', '/dev/null'], { timeout: 60_000 });
  } else {
    execFileSync('mkdir', ['-p', confdir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(confdir, 'k.pem'), '-out', join(confdir, 'c.pem'), '-days', '30', '-subj', '/CN=mitmproxy/O=mitmproxy', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
    writeFileSync(join(confdir, 'mitmproxy-ca.pem'), readFileSync(join(confdir, 'k.pem'), 'utf8') + readFileSync(join(confdir, 'c.pem'), 'utf8'));
    writeFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), readFileSync(join(confdir, 'c.pem')));
  }
  assert.ok(existsSync(join(confdir, 'mitmproxy-ca.pem')));
  const before = readFileSync(join(confdir, 'mitmproxy-ca.pem'), 'utf8');
  const port = await httpsUpstream(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--ssl-insecure', '--set', `confdir=${confdir}`]);
  const r = await curl(['--cacert', join(confdir, 'mitmproxy-ca-cert.pem'), '-x', `http://127.0.0.1:${tool.port}`, `https://localhost:${port}/foreign`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(readFileSync(join(confdir, 'mitmproxy-ca.pem'), 'utf8'), before, 'the existing CA is used as is');
});

test('MITMPROXY_SSLKEYLOGFILE (else SSLKEYLOGFILE) receives the TLS secrets in NSS key log format', async (t) => {
  const port = await httpsUpstream(t);
  const keylog = join(dir, 'keys.log');
  // MITMPROXY_SSLKEYLOGFILE wins over SSLKEYLOGFILE (which a browser may be writing), as in mitmproxy.
  const browsers = join(dir, 'browser-keys.log');
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--ssl-insecure', '--set', `confdir=${testConfdir()}`], {
    env: { SSLKEYLOGFILE: browsers, MITMPROXY_SSLKEYLOGFILE: keylog },
  });
  const r = await curl(['--cacert', caFile(), '-x', `http://127.0.0.1:${tool.port}`, `https://localhost:${port}/k`]);
  assert.equal(r.status, 200);
  for (let i = 0; i < 50 && !existsSync(keylog); i++) await sleep(20);
  const lines = readFileSync(keylog, 'utf8').trim().split('\n');
  assert.ok(lines.length >= 4, 'secrets of the client and the server connection');
  assert.ok(lines.every((l) => /^(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET|CLIENT_RANDOM) [0-9a-f]{64} [0-9a-f]+$/.test(l)), lines[0]);
  assert.equal(existsSync(browsers), false);
});

test('upstream TLS sessions are resumed for the same server name only, and the certificate is still known', async (t) => {
  const resumed: boolean[] = [];
  const servernames: Array<string | false> = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    resumed.push((req.socket as tls.TLSSocket).isSessionReused());
    servernames.push((req.socket as tls.TLSSocket & { servername: string | false }).servername);
    res.setHeader('Connection', 'close');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const certs: number[] = [];
  const snis: Array<string | null> = [];
  const proxy = await testProxy(t, {
    options: { ssl_insecure: true },
    addons: [{ name: 'spy', tls_established_server: (d: TlsData) => void (certs.push(d.conn.certificateList.length), snis.push(d.conn.sni)) }],
  });
  for (let i = 0; i < 3; i++) {
    const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/s${i}`]);
    assert.equal(r.status, 200);
  }
  const other = await curl(['--cacert', caFile(), '-x', proxy.url, `https://127.0.0.1:${port}/ip`]);
  assert.equal(other.status, 200);
  // As mitmproxy, the server connection's sni is the address when the client sent none (an IP
  // here), though an IP is never sent as a server name.
  assert.deepEqual(snis, ['localhost', 'localhost', 'localhost', '127.0.0.1']);
  assert.deepEqual(servernames, ['localhost', 'localhost', 'localhost', false]);
  assert.deepEqual(resumed, [false, true, true, false], 'resumed for the same name, never across names');
  assert.deepEqual(certs, [1, 1, 1, 1], 'the upstream certificate is known on resumed connections too');
});

test('upstream TLS sessions are resumed with ssl_verify_upstream_trusted_ca set too', async (t) => {
  const resumed: boolean[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    resumed.push((req.socket as tls.TLSSocket).isSessionReused());
    res.setHeader('Connection', 'close');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile } });
  for (let i = 0; i < 3; i++) {
    const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/s${i}`]);
    assert.equal(r.status, 200, r.stdout);
  }
  assert.deepEqual(resumed, [false, true, true]);
});

/** An HTTPS server (the test PKI's localhost certificate) that counts the TLS connections made to it. */
async function countingHttpsServer(t: TestContext, handler: http.RequestListener): Promise<{ port: number; connections: number[] }> {
  const connections: number[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, handler);
  server.on('secureConnection', () => connections.push(Date.now()));
  const sockets = new Set<Duplex>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return { port: (server.address() as net.AddressInfo).port, connections };
}

test('a new tunnel from the same client reuses the TLS connection its previous tunnel left idle (one handshake, not two)', async (t) => {
  const { port, connections } = await countingHttpsServer(t, (req, res) => res.end('ok'));
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  for (let i = 0; i < 5; i++) {
    // curl opens a new CONNECT tunnel and a new TLS session with the proxy every time.
    const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/fresh${i}`]);
    assert.equal(r.status, 200, r.stderr);
    await sleep(50);
  }
  assert.equal(connections.length, 1, 'one upstream TLS connection served five client tunnels');
});

test('an upstream connection that carried NTLM or Negotiate authentication is never kept for another client connection', async (t) => {
  const { port, connections } = await countingHttpsServer(t, (req, res) => {
    if (req.url === '/challenge') {
      res.writeHead(401, { 'WWW-Authenticate': 'NTLM' });
      res.end();
    } else res.end('ok');
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const fetchVia = async (path: string, extra: string[] = []) => {
    // A new CONNECT tunnel each time, from the same client address.
    const r = await curl(['--cacert', caFile(), '-x', proxy.url, ...extra, `https://localhost:${port}${path}`]);
    await sleep(50);
    return r.status;
  };
  assert.equal(await fetchVia('/challenge'), 401);
  assert.equal(await fetchVia('/next'), 200);
  assert.equal(connections.length, 2, 'the connection the server challenged with NTLM was not handed to the next tunnel');
  assert.equal(await fetchVia('/negotiate', ['-H', 'Authorization: Negotiate YIIB']), 200);
  assert.equal(await fetchVia('/after'), 200);
  assert.equal(connections.length, 3, 'nor the one a client authenticated on with Negotiate');
  assert.equal(await fetchVia('/plain'), 200);
  assert.equal(connections.length, 3, 'a connection without such authentication is kept as before');
});

test('kept upstream connections are never handed to another client address', async () => {
  const { IdleConnections } = await import('../../src/proxy/idle-connections.js');
  const idle = new IdleConnections();
  const fake = {
    closed: false,
    reusable: true,
    inUse: false,
    reader: { bufferedLength: 0 },
    target: { address: ['example.com', 443], tls: true, sni: 'example.com' },
    socket: { once: () => undefined },
    matches: () => true,
    close() {
      this.closed = true;
    },
  };
  assert.ok(idle.park('10.0.0.1', fake as never));
  assert.equal(idle.take('10.0.0.2', { address: ['example.com', 443], tls: true, sni: 'example.com' }), null);
  assert.equal(idle.take('10.0.0.1', { address: ['example.com', 443], tls: true, sni: 'example.com' }), fake);
  assert.ok(idle.park('10.0.0.1', fake as never));
  idle.clear();
  assert.equal(fake.closed, true);
  assert.equal(idle.size, 0);
});

test('TLS options: tls_version_client_min refuses older clients with the hint; invalid ciphers and curves are option errors', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_insecure: true, tls_version_client_min: 'TLS1_3' } });
  const old = await curl(['--cacert', caFile(), '--tlsv1.2', '--tls-max', '1.2', '-x', proxy.url, `https://localhost:${port}/`]);
  assert.notEqual(old.code, 0, 'a TLS 1.2-only client cannot connect');
  for (let i = 0; i < 50 && !proxy.logs.some((e) => /cannot agree on a TLS version/.test(e.message)); i++) await sleep(20);
  assert.ok(proxy.logs.some((e) => /Client TLS handshake failed\. Client and mitmproxy cannot agree on a TLS version to use\. You may need to adjust mitmproxy's tls_version_client_min option\./.test(e.message)));
  const modern = await curl(['--cacert', caFile(), '--tlsv1.3', '-x', proxy.url, `https://localhost:${port}/`]);
  assert.equal(modern.status, 200);
  await assert.rejects(proxy.master.options.update({ ciphers_client: 'NOT-A-CIPHER' }), /Invalid cipher list "NOT-A-CIPHER" for ciphers_client/);
  await assert.rejects(proxy.master.options.update({ tls_ecdh_curve_server: 'not-a-curve' }), /Invalid ECDH curve/);
  await assert.rejects(proxy.master.options.updateUnchecked({ tls_version_server_min: 'TLS9' }), /Valid choices: UNBOUNDED, SSL3, TLS1, TLS1_1, TLS1_2, TLS1_3/);
  await assert.rejects(proxy.master.options.update({ ssl_verify_upstream_trusted_ca: '/does/not/exist.pem' }), /Trusted CA file does not exist/);
});

/** An HTTPS upstream that records the TLS version and cipher of each request's connection. */
async function recordingUpstream(t: TestContext, extra: tls.TlsOptions = {}) {
  const seen: Array<{ version: string | null; cipher: string }> = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert, ...extra }, (req, res) => {
    const s = req.socket as tls.TLSSocket;
    seen.push({ version: s.getProtocol(), cipher: s.getCipher().name });
    res.setHeader('Connection', 'close');
    res.end('ok');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

/** One request through a CONNECT tunnel with our own TLS client: what the client negotiated, and the response's status line. */
async function tlsRequest(proxyPort: number, port: number, opts: { key?: Buffer; cert?: Buffer } = {}) {
  const raw = await connectTunnel(proxyPort, `localhost:${port}`);
  const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const c = tls.connect({ socket: raw, ca: readFileSync(caFile(), 'utf8'), servername: 'localhost', ALPNProtocols: ['http/1.1'], ...opts }, () => resolve(c));
    c.on('error', reject);
  });
  const key = s.getEphemeralKeyInfo() as { name?: string } | null;
  const negotiated = { version: s.getProtocol(), cipher: s.getCipher().name, curve: key?.name ?? null };
  s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise<void>((r) => s.once('close', () => r()));
  return { ...negotiated, status: text.split('\r\n')[0] };
}

test('TLS options take effect: tls_version_*_max, ciphers_client/_server and tls_ecdh_curve_client/_server on their side of the proxy', async (t) => {
  const up = await recordingUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile } });
  const first = await tlsRequest(proxy.port, up.port);
  assert.equal(first.status, 'HTTP/1.1 200 OK');
  assert.equal(first.version, 'TLSv1.3');
  assert.equal(up.seen.at(-1)!.version, 'TLSv1.3');

  // The client side: at most TLS 1.2 with the one cipher allowed, and the curve asked for.
  await proxy.master.options.update({ tls_version_client_max: 'TLS1_2', ciphers_client: 'ECDHE-RSA-AES256-SHA384', tls_ecdh_curve_client: 'secp384r1' });
  const client = await tlsRequest(proxy.port, up.port);
  assert.deepEqual(client, { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-SHA384', curve: 'secp384r1', status: 'HTTP/1.1 200 OK' });
  assert.equal(up.seen.at(-1)!.version, 'TLSv1.3', 'the server side is not affected');

  // The server side likewise.
  await proxy.master.options.update({ tls_version_client_max: 'UNBOUNDED', ciphers_client: null, tls_ecdh_curve_client: null, tls_version_server_max: 'TLS1_2', ciphers_server: 'ECDHE-RSA-AES128-SHA256' });
  const server = await tlsRequest(proxy.port, up.port);
  assert.equal(server.status, 'HTTP/1.1 200 OK');
  assert.equal(server.version, 'TLSv1.3', 'the client side is not affected');
  assert.deepEqual(up.seen.at(-1), { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-SHA256' });

  // An upstream that only accepts one curve: the proxy must offer it (tls_ecdh_curve_server).
  const picky = await recordingUpstream(t, { ecdhCurve: 'secp521r1' });
  await proxy.master.options.update({ tls_version_server_max: 'UNBOUNDED', ciphers_server: null, tls_ecdh_curve_server: 'prime256v1' });
  const refused = await tlsRequest(proxy.port, picky.port);
  assert.match(refused.status, /^HTTP\/1\.1 502 /);
  await proxy.master.options.update({ tls_ecdh_curve_server: 'secp521r1' });
  const accepted = await tlsRequest(proxy.port, picky.port);
  assert.equal(accepted.status, 'HTTP/1.1 200 OK');
  assert.equal(picky.seen.length, 1);
});

test('request_client_cert: the client is asked for a certificate and the one it presents is recorded on the client connection', async (t) => {
  const up = await recordingUpstream(t);
  const flows: HTTPFlow[] = [];
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile }, addons: [{ response: (f: HTTPFlow) => void flows.push(f) }] });
  const clientCert = { key: pki.key, cert: pki.cert };
  assert.equal((await tlsRequest(proxy.port, up.port, clientCert)).status, 'HTTP/1.1 200 OK');
  assert.deepEqual(flows[0]!.clientConn.certificateList, [], 'not asked for by default');
  await proxy.master.options.update({ request_client_cert: true });
  assert.equal((await tlsRequest(proxy.port, up.port, clientCert)).status, 'HTTP/1.1 200 OK');
  const list = flows[1]!.clientConn.certificateList;
  assert.equal(list.length, 1);
  assert.equal(new X509Certificate(list[0]!).fingerprint256, new X509Certificate(pki.cert).fingerprint256);
  // A client without a certificate is still served.
  assert.equal((await tlsRequest(proxy.port, up.port)).status, 'HTTP/1.1 200 OK');
  assert.deepEqual(flows[2]!.clientConn.certificateList, []);
});

test('add_upstream_certs_to_client_chain: the upstream certificates follow ours in the chain the client receives', async (t) => {
  const up = await recordingUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile } });
  /** The subjects of the certificates the proxy sends, as openssl s_client lists them. */
  const chain = () =>
    new Promise<string[]>((resolve, reject) => {
      const child = execFile('openssl', ['s_client', '-proxy', `127.0.0.1:${proxy.port}`, '-connect', `localhost:${up.port}`, '-servername', 'localhost', '-showcerts'], { timeout: 30_000 }, (err, stdout) => {
        const subjects = [...stdout.matchAll(/^ *\d+ s:(.*)$/gm)].map((m) => m[1]!.trim());
        if (subjects.length === 0) reject(err ?? new Error(stdout));
        else resolve(subjects);
      });
      child.stdin!.end();
    });
  const plain = await chain();
  assert.equal(plain.length, 2, plain.join(' | '));
  assert.match(plain[0]!, /CN ?= ?localhost/);
  assert.match(plain[1]!, /CN ?= ?mitmproxy/);
  await proxy.master.options.update({ add_upstream_certs_to_client_chain: true });
  const extended = await chain();
  assert.deepEqual(extended.slice(0, 2), plain);
  assert.equal(extended.length, 3, extended.join(' | '));
  assert.match(extended[2]!, /CN ?= ?localhost, O ?= ?Upstream Org/);
  // It needs upstream_cert (mitmproxy's check).
  await assert.rejects(proxy.master.options.update({ upstream_cert: false }), /add_upstream_certs_to_client_chain requires the upstream_cert option to be enabled/);
});

test('an upstream chain with an intermediate: server_conn.certificate_list holds leaf and intermediate, also from a server that repeats its leaf', async (t) => {
  const q = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  writeFileSync(join(dir, 'inter-ext.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'inter.key'), '-out', join(dir, 'inter.csr'), '-subj', '/CN=Upstream Intermediate']);
  q(['x509', '-req', '-in', join(dir, 'inter.csr'), '-CA', join(dir, 'upca.pem'), '-CAkey', join(dir, 'upca.key'), '-CAcreateserial', '-out', join(dir, 'inter.pem'), '-days', '2', '-extfile', join(dir, 'inter-ext.cnf')]);
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'chained.key'), '-out', join(dir, 'chained.csr'), '-subj', '/CN=chained leaf']);
  q(['x509', '-req', '-in', join(dir, 'chained.csr'), '-CA', join(dir, 'inter.pem'), '-CAkey', join(dir, 'inter.key'), '-CAcreateserial', '-out', join(dir, 'chained.pem'), '-days', '2', '-extfile', join(dir, 'ext.cnf')]);
  const leafPem = readFileSync(join(dir, 'chained.pem'), 'utf8');
  const interPem = readFileSync(join(dir, 'inter.pem'), 'utf8');
  // A common misconfiguration: the leaf file concatenated with a "full chain" that starts with the leaf again.
  const server = https.createServer({ key: readFileSync(join(dir, 'chained.key')), cert: leafPem + leafPem + interPem }, (req, res) => res.end('chained'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const port = (server.address() as net.AddressInfo).port;
  const flows: HTTPFlow[] = [];
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile }, addons: [{ response: (f: HTTPFlow) => void flows.push(f) }] });
  const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/`]);
  assert.equal(r.status, 200, r.stdout);
  const subjects = flows[0]!.serverConn.certificateList.map((pem) => new X509Certificate(pem).subject);
  assert.deepEqual(subjects, ['CN=chained leaf', 'CN=Upstream Intermediate']);
});

test('ssl_verify_upstream_trusted_confdir trusts a directory of CA files', async (t) => {
  const port = await httpsUpstream(t);
  const cadir = join(dir, 'cadir');
  execFileSync('mkdir', ['-p', cadir]);
  writeFileSync(join(cadir, 'upstream-ca.pem'), pki.caPem);
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_confdir: cadir } });
  const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/trusted-dir`]);
  assert.equal(r.status, 200, r.stdout);
});

test('client_certs: the proxy presents a client certificate to servers that ask for one (mTLS)', async (t) => {
  // The upstream requires a client certificate signed by the upstream test CA.
  const q = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'client.key'), '-out', join(dir, 'client.csr'), '-subj', '/CN=proxy-client']);
  q(['x509', '-req', '-in', join(dir, 'client.csr'), '-CA', join(dir, 'upca.pem'), '-CAkey', join(dir, 'upca.key'), '-CAcreateserial', '-out', join(dir, 'client.crt'), '-days', '2']);
  writeFileSync(join(dir, 'client-bundle.pem'), readFileSync(join(dir, 'client.crt'), 'utf8') + readFileSync(join(dir, 'client.key'), 'utf8'));
  const seen: string[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push((req.socket as tls.TLSSocket).getPeerCertificate().subject.CN as string);
    // No keep-alive: each request below needs a new upstream handshake.
    res.setHeader('Connection', 'close');
    res.end('mutual');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const without = await testProxy(t, { options: { ssl_insecure: true } });
  const r1 = await curl(['--cacert', caFile(), '-x', without.url, `https://localhost:${port}/`]);
  assert.equal(r1.status, 502, 'refused without a client certificate');
  // Over TLS 1.3 the refusal is an alert after our side of the handshake is done: reported as
  // OpenSSL's reason, not node's error string with OpenSSL's source file and line.
  assert.match(r1.stdout, /<p>TLS Error: tlsv13 alert certificate required<\/p>/);
  const withCert = await testProxy(t, { options: { ssl_insecure: true, client_certs: join(dir, 'client-bundle.pem') } });
  const r2 = await curl(['--cacert', caFile(), '-x', withCert.url, `https://localhost:${port}/`]);
  assert.equal(r2.status, 200, r2.stdout);
  assert.deepEqual(seen, ['proxy-client']);

  // A replaced certificate file is used from the next connection on.
  q(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'client2.key'), '-out', join(dir, 'client2.csr'), '-subj', '/CN=proxy-client-renewed']);
  q(['x509', '-req', '-in', join(dir, 'client2.csr'), '-CA', join(dir, 'upca.pem'), '-CAkey', join(dir, 'upca.key'), '-CAcreateserial', '-out', join(dir, 'client2.crt'), '-days', '2']);
  writeFileSync(join(dir, 'client-bundle.pem'), readFileSync(join(dir, 'client2.crt'), 'utf8') + readFileSync(join(dir, 'client2.key'), 'utf8'));
  const later = new Date(Date.now() + 10_000);
  utimesSync(join(dir, 'client-bundle.pem'), later, later);
  const r3 = await curl(['--cacert', caFile(), '-x', withCert.url, `https://localhost:${port}/again`]);
  assert.equal(r3.status, 200, r3.stdout);
  assert.deepEqual(seen, ['proxy-client', 'proxy-client-renewed']);
});

test('an HTTP/2 server (TLS 1.3) that requires a client certificate we lack: the 502 names its alert', async (t) => {
  const server = http2.createSecureServer({ key: pki.key, cert: pki.cert, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => res.end('never'));
  server.on('sessionError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: pki.caFile } });
  const r = await curl(['--cacert', caFile(), '-x', proxy.url, `https://localhost:${port}/`]);
  assert.equal(r.status, 502);
  assert.match(r.stdout, /<p>TLS Error: tlsv13 alert certificate required<\/p>/);
});

test('the client connection counts as TLS in tls_clienthello, tls_start_client and tls_failed_client already', async (t) => {
  const port = await httpsUpstream(t);
  const seen: string[] = [];
  const spy = {
    name: 'spy',
    tls_clienthello: (d: ClientHelloData) => void seen.push(`tls_clienthello ${d.context.client.tls}`),
    tls_start_client: (d: TlsData) => void seen.push(`tls_start_client ${d.conn.tls}`),
    tls_failed_client: (d: TlsData) => void seen.push(`tls_failed_client ${d.conn.tls}`),
  };
  const proxy = await testProxy(t, { addons: [spy], options: { ssl_insecure: true } });
  // curl trusting only the upstream's CA refuses our certificate.
  const r = await curl(['--cacert', pki.caFile, '-x', proxy.url, `https://localhost:${port}/`]);
  assert.notEqual(r.code, 0);
  for (let i = 0; i < 100 && seen.length < 3; i++) await sleep(20);
  assert.deepEqual(seen, ['tls_clienthello true', 'tls_start_client true', 'tls_failed_client true']);
});

test('allow_hosts intercepts only matching hosts; tcp_hosts relays matching TLS connections as raw TCP after interception', async (t) => {
  const port = await httpsUpstream(t);
  const allow = await testProxy(t, { options: { allow_hosts: ['^allowed\\.example:'] } });
  const passed = await tlsThroughProxy(allow.port, `127.0.0.1:${port}`, { ca: pki.caPem, servername: 'localhost' });
  t.after(() => passed.destroy());
  assert.match(passed.getPeerX509Certificate()!.issuer, /CN=Upstream Test CA/, 'not in allow_hosts: passed through');

  const tcpFlows: TCPFlow[] = [];
  const tcp = await testProxy(t, { options: { ssl_insecure: true, tcp_hosts: ['^localhost$'] }, addons: [{ name: 'spy', tcp_start: (f: TCPFlow) => void tcpFlows.push(f) }] });
  const s = await tlsThroughProxy(tcp.port, `localhost:${port}`, { ca: proxyCa(testConfdir()), servername: 'localhost' });
  t.after(() => s.destroy());
  assert.match(s.getPeerX509Certificate()!.issuer, /CN=mitmproxy/, 'TLS is still intercepted');
  s.write(`GET /raw HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const reply = await new Promise<string>((resolve) => {
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
  });
  assert.match(reply, /secure \/raw/);
  assert.equal(tcpFlows.length, 1, 'recorded as a TCP flow, not an HTTP flow');
  assert.ok(tcpFlows[0]!.messages.some((m) => m.fromClient && m.content.toString().startsWith('GET /raw')));
});

test('the http2 option off: clients and servers are offered HTTP/1.1 only', async (t) => {
  const port = await httpsUpstream(t);
  const proxy = await testProxy(t, { options: { ssl_insecure: true, http2: false } });
  const s = await tlsThroughProxy(proxy.port, `localhost:${port}`, { ca: proxyCa(testConfdir()), servername: 'localhost', alpn: ['h2', 'http/1.1'] });
  t.after(() => s.destroy());
  assert.equal(s.alpnProtocol, 'http/1.1');
});

for (const readsOnly of [true, false]) {
  test(`raw TCP: a chunk ${readsOnly ? 'goes out before its tcp_message hook when every handler only reads' : 'waits for its tcp_message hook when a handler may change it'}`, async (t) => {
    const got: string[] = [];
    const up = await rawServer(t, (s) => s.on('data', (d) => got.push(d.toString())));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    t.after(() => release());
    let hooked = 0;
    const proxy = await testProxy(t, {
      addons: [
        {
          name: 'slow-observer',
          readsOnly: () => readsOnly,
          async tcp_message(f: TCPFlow) {
            if (!f.messages.at(-1)!.fromClient) return;
            hooked++;
            await released;
          },
        },
      ],
    });
    const s = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
    t.after(() => s.destroy());
    s.write('PING\r\n');
    for (let i = 0; i < 100 && hooked < 1; i++) await sleep(20);
    await sleep(300);
    assert.deepEqual(got, readsOnly ? ['PING\r\n'] : []);
    release();
    for (let i = 0; i < 100 && got.length < 1; i++) await sleep(20);
    assert.deepEqual(got, ['PING\r\n']);
  });
}

test('inject.tcp from tcp_start itself (as mitmproxy allows) goes out once the relay runs', async (t) => {
  const got: string[] = [];
  const up = await rawServer(t, (s) => s.on('data', (d) => got.push(d.toString())));
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'greeter',
        async tcp_start(f: TCPFlow) {
          await proxy.master.commands.call('inject.tcp', f, true, Buffer.from('hello client'));
          await proxy.master.commands.call('inject.tcp', f, false, Buffer.from('hello server'));
        },
      },
    ],
  });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => s.destroy());
  const received: string[] = [];
  s.on('data', (d) => received.push(d.toString()));
  s.write('\x01first');
  for (let i = 0; i < 250 && (received.length < 1 || got.join('').length < 18); i++) await sleep(20);
  assert.equal(received.join(''), 'hello client');
  // (The client's first bytes were read before tcp_start, to choose the layer: either order is fine.)
  assert.equal(got.join('').length, 18);
  assert.ok(got.join('').includes('hello server') && got.join('').includes('\x01first'), JSON.stringify(got));
  assert.ok(!proxy.logs.some((e) => e.message === 'Flow is not from a live connection.'));
});

test('inject.tcp sends a message to either side of a live TCP flow, recorded as from the other side and hooked; inject.udp and dead flows warn', async (t) => {
  const got: string[] = [];
  const up = await rawServer(t, (s) => s.on('data', (d) => got.push(d.toString())));
  const flows: TCPFlow[] = [];
  const hooked: string[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'spy',
        tcp_start: (f: TCPFlow) => void flows.push(f),
        tcp_message: (f: TCPFlow) => {
          const m = f.messages.at(-1)!;
          hooked.push(`${m.fromClient ? '->' : '<-'} ${m.content.toString()}`);
          if (m.content.toString() === 'change me') m.content = Buffer.from('changed');
        },
      },
    ],
  });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => s.destroy());
  const received: string[] = [];
  s.on('data', (d) => received.push(d.toString()));
  s.write('\x01hello');
  for (let i = 0; i < 100 && got.length < 1; i++) await sleep(20);
  assert.equal(flows.length, 1, 'a byte no protocol starts with makes the tunnel a TCP flow');
  const flow = flows[0]!;
  await proxy.master.commands.call('inject.tcp', flow, true, Buffer.from('to the client'));
  await proxy.master.commands.call('inject.tcp', flow, false, Buffer.from('change me'));
  for (let i = 0; i < 100 && (received.length < 1 || got.length < 2); i++) await sleep(20);
  assert.equal(received.join(''), 'to the client', JSON.stringify(proxy.logs.filter((e) => e.level !== 'debug').map((e) => e.message)));
  assert.deepEqual(got, ['\x01hello', 'changed'], 'an addon changed the injected message before it went out');
  assert.deepEqual(
    flow.messages.map((m) => [m.fromClient, m.content.toString()]),
    [
      [true, '\x01hello'],
      [false, 'to the client'],
      [true, 'changed'],
    ],
  );
  assert.deepEqual(hooked, ['-> \x01hello', '<- to the client', '-> change me']);

  await proxy.master.commands.call('inject.udp', flow, true, Buffer.from('x'));
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === 'Cannot inject UDP messages into non-UDP flows.'));
  s.end();
  for (let i = 0; i < 100 && flow.live; i++) await sleep(20);
  await proxy.master.commands.call('inject.tcp', flow, true, Buffer.from('too late'));
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === 'Flow is not from a live connection.'));
});
