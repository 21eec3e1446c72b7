/**
 * End to end: a real TLS server presenting the store's certificates (as the proxy's TLS layer
 * will), real clients verifying them against the CA with hostname checks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertStore, chooseCertNames, type CertEntry } from '../../src/certs/index.js';
import { tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const HAS_CURL = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;

function contextFor(entry: CertEntry, store: CertStore): tls.SecureContext {
  return tls.createSecureContext({ key: entry.keyPem, cert: [entry.certPem, ...entry.chainPem].join(''), dhparam: store.dhparamPem });
}

describe('serving generated leaves over TLS', () => {
  const dir = tempDir({ after });
  let store: CertStore;
  let server: tls.Server;
  let port: number;
  const sockets = new Set<import('node:net').Socket>();

  before(async () => {
    store = await CertStore.open({ confdir: dir });
    // Without SNI, node uses the server's own key/cert: the leaf for the local address, as mitmproxy picks.
    const noSni = await store.getCert(chooseCertNames({ upstreamCert: false, clientSocknameHost: '127.0.0.1' }));
    server = tls.createServer({
      SNICallback: (servername, cb) => {
        store
          .getCert(chooseCertNames({ upstreamCert: false, sni: servername }))
          .then((e) => cb(null, contextFor(e, store)), (err: Error) => cb(err));
      },
      key: noSni.keyPem,
      cert: [noSni.certPem, ...noSni.chainPem].join(''),
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('secureConnection', (s) => {
      s.on('error', () => undefined);
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function connect(servername: string | undefined): Promise<{ authorized: boolean; error: Error | undefined; san: string | undefined }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: store.caCertPem, rejectUnauthorized: false }, () => {
        const peer = socket.getPeerCertificate();
        const error = tls.checkServerIdentity(servername ?? '127.0.0.1', peer) ?? (socket.authorized ? undefined : new Error(String(socket.authorizationError)));
        resolve({ authorized: socket.authorized, error, san: peer.subjectaltname });
        socket.destroy();
      });
      socket.on('error', reject);
    });
  }

  it('each SNI gets a leaf for exactly that name that verifies against the CA', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `host${i}.example.test`);
    const results = await Promise.all(names.map((n) => connect(n)));
    results.forEach((r, i) => {
      assert.equal(r.authorized, true, names[i]);
      assert.equal(r.error, undefined, names[i]);
      assert.equal(r.san, `DNS:${names[i]}`);
    });
    assert.equal(store.generatedCount >= 30, true);
  });

  it('a client without SNI gets the local address as an IP SAN', async () => {
    const r = await connect(undefined);
    assert.equal(r.authorized, true);
    assert.equal(r.error, undefined);
    assert.equal(r.san, 'IP Address:127.0.0.1');
  });

  it('curl accepts the leaf with the CA file and hostname checks', { skip: !HAS_CURL }, async (t) => {
    const d = tempDir(t);
    writeFileSync(join(d, 'ca.pem'), store.caCertPem);
    // Async: the TLS server lives in this process, so the client must not block the event loop.
    const { stdout } = await execFileAsync(
      'curl',
      ['-sS', '--max-time', '20', '--cacert', join(d, 'ca.pem'), '--resolve', `curl.example.test:${port}:127.0.0.1`, `https://curl.example.test:${port}/`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(stdout, 'ok');
  });
});
