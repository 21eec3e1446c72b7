import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { httpServer, tlsOrigin } from '../helpers/servers.js';
import { connectTunnel, proxyCa } from '../helpers/tunnel.js';
import { httpsOrigin, proxyCaFile } from './modes-helpers.js';
import { CertStore } from '../../src/certs/index.js';

/**
 * No ALPN protocol both sides speak is not an error: as mitmproxy (OpenSSL's "no overlapping
 * protocols"), the handshake with the client goes on without ALPN instead of ending with a
 * no_application_protocol alert.
 */

/** A TLS server that negotiates no ALPN at all and answers any HTTP/1.1 request with "no alpn". */
async function noAlpnOrigin(t: TestContext): Promise<number> {
  const store = await CertStore.open({ confdir: testConfdir() });
  const leaf = await store.getCert({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
  return tlsOrigin(t, { key: leaf.keyPem, cert: leaf.certPem }, 'no alpn');
}

/** TLS over `raw`, resolving with the socket or the handshake error's message. */
function handshake(raw: net.Socket, opts: tls.ConnectionOptions): Promise<tls.TLSSocket | string> {
  return new Promise((resolve) => {
    const s = tls.connect({ socket: raw, ...opts }, () => resolve(s));
    s.on('error', (e) => resolve(e.message));
  });
}

test('a server that negotiates no ALPN: the client (offering h2 and http/1.1) gets none either, and its request goes through', async (t) => {
  const port = await noAlpnOrigin(t);
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const r = await curl(['--cacert', await proxyCaFile(), '-x', proxy.url, `https://localhost:${port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200);
  assert.equal(r.stdout, 'no alpn');
  assert.ok(!proxy.logs.some((e) => /handshake failed/.test(e.message)), JSON.stringify(proxy.logs.map((e) => e.message)));
});

test('a client offering only a protocol the proxy does not know completes the handshake without ALPN', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('ok'));
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const raw = await connectTunnel(proxy.port, `127.0.0.1:${origin.port}`);
  t.after(() => raw.destroy());
  const s = await handshake(raw, { ca: proxyCa(testConfdir()), servername: 'localhost', ALPNProtocols: ['foo'] });
  assert.ok(typeof s !== 'string', `handshake failed: ${String(s)}`);
  t.after(() => s.destroy());
  assert.equal(s.alpnProtocol, false);
});

test('TLS to the proxy itself offering only h2: no ALPN, and the connection serves HTTP/1 proxy requests', async (t) => {
  const target = await httpServer(t, (_req, res) => res.end('plain'));
  const proxy = await testProxy(t);
  const raw = net.connect(proxy.port, '127.0.0.1');
  t.after(() => raw.destroy());
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  const s = await handshake(raw, { ca: proxyCa(testConfdir()), servername: 'localhost', ALPNProtocols: ['h2'] });
  assert.ok(typeof s !== 'string', `handshake failed: ${String(s)}`);
  t.after(() => s.destroy());
  assert.equal(s.alpnProtocol, false);
  s.write(`GET ${target.url}/ HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nConnection: close\r\n\r\n`);
  const reply = await new Promise<string>((resolve) => {
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
  });
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /plain$/);
});
