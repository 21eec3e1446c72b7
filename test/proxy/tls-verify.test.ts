import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { tlsOrigin } from '../helpers/servers.js';
import { proxyCaFile } from './modes-helpers.js';
import type { TlsData } from '../../src/index.js';

/**
 * Upstream certificate names are checked as mitmproxy has OpenSSL check them: subjectAltNames
 * only (never the CN), wildcards only as a whole leftmost label, IP targets against IP SANs.
 * Failures are worded and logged as mitmproxy's TLS layer does.
 */

const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-verify-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', '/CN=Verify Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=upstream.test']);
const caFile = join(dir, 'ca.pem');
const key = readFileSync(join(dir, 'leaf.key'));

/** A certificate for the shared key with subject CN=upstream.test and the given extension lines (none: no SAN at all). */
function leafCert(name: string, ext: string): Buffer {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '3', '-extfile', `${name}.ext`]);
  return readFileSync(join(dir, `${name}.pem`));
}

/** A TLS server on 127.0.0.1:0 presenting `cert` (and only it), answering any HTTP request with "ok". */
function origin(t: TestContext, cert: Buffer, opts: tls.TlsOptions = {}): Promise<number> {
  return tlsOrigin(t, { key, cert, ...opts }, 'ok');
}

async function fetchVia(t: TestContext, port: number, host: string) {
  const failures: string[] = [];
  const proxy = await testProxy(t, {
    options: { ssl_verify_upstream_trusted_ca: caFile },
    addons: [{ name: 'spy', tls_failed_server: (d: TlsData) => void failures.push(d.conn.error ?? '') }],
  });
  const target = host === '127.0.0.1' ? `https://127.0.0.1:${port}/` : `https://${host}/`;
  const connectTo = host === '127.0.0.1' ? [] : ['--connect-to', `${host}:443:127.0.0.1:${port}`];
  const r = await curl(['--cacert', await proxyCaFile(), '-x', proxy.url, ...connectTo, target]);
  return { ...r, failures, logs: proxy.logs };
}

const cases: Array<{ what: string; ext: string; host: string; error: string | null }> = [
  { what: 'a certificate naming the host only in its CN (no SAN) is refused', ext: 'basicConstraints=CA:FALSE\n', host: 'upstream.test', error: 'hostname mismatch' },
  { what: 'a partial wildcard (up*.wild.test) does not match', ext: 'subjectAltName=DNS:up*.wild.test\n', host: 'upstream.wild.test', error: 'hostname mismatch' },
  { what: 'a whole-label wildcard (*.wild.test) matches', ext: 'subjectAltName=DNS:*.wild.test\n', host: 'upstream.wild.test', error: null },
  { what: 'a wildcard matches one label only', ext: 'subjectAltName=DNS:*.wild.test\n', host: 'a.upstream.wild.test', error: 'hostname mismatch' },
  { what: 'a DNS SAN matches, whatever the CN says', ext: 'subjectAltName=DNS:other.test\n', host: 'other.test', error: null },
  { what: 'an IP target needs an IP SAN: a DNS name spelling the IP does not count', ext: 'subjectAltName=DNS:127.0.0.1\n', host: '127.0.0.1', error: 'IP address mismatch' },
  { what: 'an IP target matches its IP SAN', ext: 'subjectAltName=IP:127.0.0.1\n', host: '127.0.0.1', error: null },
];

for (const c of cases) {
  test(`upstream host name check: ${c.what}`, async (t) => {
    const port = await origin(t, leafCert(c.what.replace(/\W+/g, '-'), c.ext));
    const r = await fetchVia(t, port, c.host);
    if (c.error === null) {
      assert.equal(r.status, 200, `${r.stdout} ${r.stderr}`);
      assert.equal(r.stdout, 'ok');
      assert.deepEqual(r.failures, []);
    } else {
      // OpenSSL's words, as mitmproxy reports them, in the hook, the log and the 502 page.
      const message = `Certificate verify failed: ${c.error}`;
      assert.equal(r.status, 502, `${r.stdout} ${r.stderr}`);
      assert.deepEqual(r.failures, [message], 'tls_failed_server fired');
      assert.ok(r.logs.some((e) => e.level === 'warn' && e.message === `Server TLS handshake failed. ${message}`), JSON.stringify(r.logs.map((e) => e.message)));
      assert.ok(r.stdout.includes(message), r.stdout);
    }
  });
}

test('upstream TLS errors in mitmproxy\'s words: an unknown issuer, and no TLS version both sides accept', async (t) => {
  const port = await origin(t, leafCert('plain', 'subjectAltName=DNS:upstream.test\n'));
  const untrusted = await testProxy(t);
  const r = await curl(['--cacert', await proxyCaFile(), '-x', untrusted.url, '--connect-to', `upstream.test:443:127.0.0.1:${port}`, 'https://upstream.test/']);
  assert.equal(r.status, 502);
  assert.ok(r.stdout.includes('Certificate verify failed: unable to get local issuer certificate'), r.stdout);

  const tls12 = await origin(t, leafCert('tls12', 'subjectAltName=DNS:upstream.test\n'), { maxVersion: 'TLSv1.2' });
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: caFile, tls_version_server_min: 'TLS1_3' } });
  const v = await curl(['--cacert', await proxyCaFile(), '-x', proxy.url, '--connect-to', `upstream.test:443:127.0.0.1:${tls12}`, 'https://upstream.test/']);
  const message = "The remote server and mitmproxy cannot agree on a TLS version to use. You may need to adjust mitmproxy's tls_version_server_min option.";
  assert.equal(v.status, 502);
  assert.ok(v.stdout.includes(message.replace("'", '&#x27;')), v.stdout);
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === `Server TLS handshake failed. ${message}`), JSON.stringify(proxy.logs.map((e) => e.message)));
});
