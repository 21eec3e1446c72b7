/**
 * The CA and the `certs` files are loaded when their options are set (as mitmproxy's tlsconfig
 * does): a file that is missing or unusable is an option error. The tool refuses to start, and
 * a later `set` is refused with the old value kept, instead of every TLS connection failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { runCliToEnd } from '../helpers/cli.js';
import { httpsOrigin, proxyCaFile } from './modes-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-certs-option-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const missing = join(dir, 'missing.pem');

/** A certificate file without a key, for a key that is not the CA's. */
const foreignNoKey = join(dir, 'foreign-nokey.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'foreign.key'), '-out', foreignNoKey, '-days', '3', '-subj', '/CN=custom.test'], { stdio: 'ignore' });

for (const [what, file, message] of [
  ['a missing certs file', missing, `Certificate file does not exist: ${missing}`],
  ['a certs file without a key, for a key other than the CA key', foreignNoKey, `Invalid certificate format for ${foreignNoKey}: Unable to find private key`],
] as const) {
  test(`dump refuses to start with ${what}: the message and exit status 1`, async () => {
    const r = await runCliToEnd(['dump', '-p', '0', '--listen-host', '127.0.0.1', '--set', `confdir=${testConfdir()}`, '--certs', file], { timeoutMs: 20_000 });
    assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(message), r.stderr);
    assert.doesNotMatch(r.stdout, /listening at/);
  });
}

test('set certs to a missing file while running: refused with the message, the old value and the CA kept', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('still fine'));
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  await assert.rejects(proxy.master.commands.call('set', 'certs', missing), (e: Error) => e.message.includes(`Certificate file does not exist: ${missing}`));
  assert.deepEqual(proxy.master.options.get('certs'), []);
  const r = await curl(['--cacert', await proxyCaFile(), '-x', proxy.url, `${origin.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'still fine');
  assert.ok(!proxy.logs.some((e) => e.level === 'error'), JSON.stringify(proxy.logs.filter((e) => e.level === 'error')));

  // A usable file set the same way takes effect at once.
  const ca = readFileSync(join(testConfdir(), 'mitmproxy-ca.pem'), 'utf8');
  const own = join(dir, 'own.pem');
  writeFileSync(own, ca);
  await proxy.master.commands.call('set', 'certs', `own.test=${own}`);
  assert.deepEqual(proxy.master.options.get('certs'), [`own.test=${own}`]);
});
