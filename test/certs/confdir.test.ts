import 'reflect-metadata';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, unlinkSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { webcrypto, X509Certificate, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  CertStore,
  DEFAULT_DHPARAM_PEM,
  caFileText,
  confdirPaths,
  generateCa,
  loadOrCreateCa,
  parseCertificate,
} from '../../src/certs/index.js';
import { OptionsError } from '../../src/optmanager.js';
import { children, readDerExact } from '../../src/certs/der.js';
import { HAS_OPENSSL, openssl, tempDir } from './helpers.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DAY = 24 * 60 * 60 * 1000;
const HAS_MITMDUMP = spawnSync('mitmdump', ['--version'], { stdio: 'ignore' }).status === 0;

describe('a new confdir', () => {
  const dir = join(tempDir({ after }), 'nested', 'conf');
  let paths: ReturnType<typeof confdirPaths>;
  let createdAt: number;

  before(async () => {
    createdAt = Date.now();
    const loaded = await loadOrCreateCa({ confdir: dir });
    assert.equal(loaded.created, true);
    paths = loaded.paths;
  });

  it('holds the six mitmproxy files with private ones at mode 0600', () => {
    const umask = process.umask();
    const expected: Array<[string, number]> = [
      ['mitmproxy-ca.pem', 0o600],
      ['mitmproxy-ca.p12', 0o600],
      ['mitmproxy-ca-cert.pem', 0o644 & ~umask],
      ['mitmproxy-ca-cert.cer', 0o644 & ~umask],
      ['mitmproxy-ca-cert.p12', 0o644 & ~umask],
      ['mitmproxy-dhparam.pem', 0o644 & ~umask],
    ];
    for (const [name, mode] of expected) {
      const st = statSync(join(dir, name));
      assert.equal(st.mode & 0o777, mode, `${name} mode ${(st.mode & 0o777).toString(8)}`);
    }
    // No temporary files are left behind.
    assert.deepEqual(readdirSync(dir).sort(), expected.map(([n]) => n).sort());
  });

  it('writes the key as traditional PEM followed by the certificate; .pem and .cer are the same bytes', () => {
    const ca = readFileSync(paths.caPem, 'utf8');
    assert.match(ca, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.equal(ca.match(/BEGIN CERTIFICATE/g)?.length, 1);
    const certPem = readFileSync(paths.caCertPem, 'utf8');
    assert.ok(ca.endsWith(certPem), 'the certificate in mitmproxy-ca.pem is mitmproxy-ca-cert.pem');
    assert.deepEqual(readFileSync(paths.caCertCer), readFileSync(paths.caCertPem));
    assert.ok(certPem.split('\n').every((l) => l.length <= 64));
  });

  it("has mitmproxy's CA fields (checked with @peculiar/x509)", async () => {
    const cert = new x509.X509Certificate(readFileSync(paths.caCertPem, 'utf8'));
    assert.equal(cert.subject, 'CN=mitmproxy, O=mitmproxy');
    assert.equal(cert.issuer, 'CN=mitmproxy, O=mitmproxy');
    const serial = BigInt('0x' + cert.serialNumber);
    assert.ok(serial > 0n && serial < 1n << 159n, `serial ${serial} is a positive 159-bit number`);
    assert.ok(Math.abs(cert.notBefore.getTime() - (createdAt - 2 * DAY)) < 60_000, 'notBefore is now - 2 days');
    assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 3650 * DAY);
    const sigAlg = cert.signatureAlgorithm as unknown as { name: string; hash: { name: string } };
    assert.equal(sigAlg.name, 'RSASSA-PKCS1-v1_5');
    assert.equal(sigAlg.hash.name, 'SHA-256');
    const pub = createPublicKey(readFileSync(paths.caCertPem, 'utf8'));
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(pub.asymmetricKeyDetails?.publicExponent, 65537n);

    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    assert.equal(bc.ca, true);
    assert.equal(bc.critical, true);
    assert.equal(bc.pathLength, undefined);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    assert.deepEqual([...eku.usages], ['1.3.6.1.5.5.7.3.1']);
    assert.equal(eku.critical, false);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    assert.equal(ku.critical, true);
    assert.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    const expectedSki = await x509.SubjectKeyIdentifierExtension.create(await cert.publicKey.export());
    assert.equal(ski.keyId, expectedSki.keyId);
    assert.equal(cert.extensions.length, 4);
    assert.ok(await cert.verify({ signatureOnly: true }), 'self-signature verifies');
  });

  it('encodes the names as UTF8String, one attribute per RDN, CN first', () => {
    const c = parseCertificate(new X509Certificate(readFileSync(paths.caCertPem)).raw);
    const rdns = children(readDerExact(c.subjectDer));
    assert.equal(rdns.length, 2);
    const values = rdns.map((rdn) => children(children(rdn)[0]!)[1]!);
    assert.deepEqual(values.map((v) => v.tag), [0x0c, 0x0c]);
    assert.deepEqual(c.subject, [['CN', 'mitmproxy'], ['O', 'mitmproxy']]);
  });

  it('writes PKCS#12 files openssl reads without a password', { skip: !HAS_OPENSSL }, () => {
    const full = openssl(['pkcs12', '-info', '-nodes', '-passin', 'pass:', '-in', paths.caP12]);
    assert.equal(full.status, 0, full.out);
    assert.match(full.out, /MAC: sha256, Iteration 2048/);
    assert.match(full.out, /friendlyName: mitmproxy/);
    assert.match(full.out, /Key bag/);
    assert.match(full.out, /BEGIN PRIVATE KEY/);
    const certOnly = openssl(['pkcs12', '-info', '-nodes', '-passin', 'pass:', '-in', paths.caCertP12]);
    assert.equal(certOnly.status, 0, certOnly.out);
    assert.match(certOnly.out, /friendlyName: mitmproxy/);
    assert.doesNotMatch(certOnly.out, /PRIVATE KEY/);
    assert.doesNotMatch(certOnly.out, /localKeyID/);
    // The certificate inside is the CA certificate.
    const inside = certOnly.out.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0];
    assert.equal(inside, readFileSync(paths.caCertPem, 'utf8'));
  });

  it("writes mitmproxy's 4096-bit DH parameters byte for byte", { skip: !HAS_OPENSSL }, () => {
    assert.equal(readFileSync(paths.dhparam, 'utf8'), DEFAULT_DHPARAM_PEM);
    assert.ok(DEFAULT_DHPARAM_PEM.startsWith('\n-----BEGIN DH PARAMETERS-----\nMIICCAKCAgEAyT6L'));
    const r = openssl(['dhparam', '-in', paths.dhparam, '-noout', '-text']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /\(4096 bit\)/);
    assert.match(r.out, /G:\s+2 \(0x2\)/);
  });

  it('loads the same CA again without rewriting anything', async () => {
    const before = statSync(paths.caPem).mtimeMs;
    const first = parseCertificate(new X509Certificate(readFileSync(paths.caCertPem)).raw);
    const again = await loadOrCreateCa({ confdir: dir });
    assert.equal(again.created, false);
    assert.equal(again.ca.cert.serial, first.serial);
    assert.equal(statSync(paths.caPem).mtimeMs, before);
  });

  it('recreates missing public files from the CA, never the key files', async () => {
    const certPem = readFileSync(paths.caCertPem);
    unlinkSync(paths.caCertPem);
    unlinkSync(paths.dhparam);
    unlinkSync(paths.caCertP12);
    unlinkSync(paths.caP12);
    await loadOrCreateCa({ confdir: dir });
    assert.deepEqual(readFileSync(paths.caCertPem), certPem);
    assert.equal(readFileSync(paths.dhparam, 'utf8'), DEFAULT_DHPARAM_PEM);
    assert.ok(existsSync(paths.caCertP12));
    assert.equal(existsSync(paths.caP12), false);
  });
});

describe('loading a confdir', () => {
  it('expands ~ in confdir', async (t) => {
    const home = tempDir(t);
    const old = process.env.HOME;
    process.env.HOME = home;
    t.after(() => {
      process.env.HOME = old;
    });
    const { paths } = await loadOrCreateCa({ confdir: '~/.mitmproxy', keySize: 1024 });
    assert.equal(paths.caPem, join(home, '.mitmproxy', 'mitmproxy-ca.pem'));
    assert.ok(existsSync(paths.caPem));
  });

  it('uses key_size for a new CA and rejects sizes that cannot make one', async (t) => {
    const dir = tempDir(t);
    const { ca } = await loadOrCreateCa({ confdir: join(dir, 'a'), keySize: 1024 });
    assert.equal(ca.key.asymmetricKeyDetails?.modulusLength, 1024);
    await assert.rejects(loadOrCreateCa({ confdir: join(dir, 'b'), keySize: 512 }), (e: unknown) => {
      assert.ok(e instanceof OptionsError);
      assert.match(e.message, /key_size 512/);
      return true;
    });
    assert.equal(existsSync(join(dir, 'b', 'mitmproxy-ca.pem')), false);
  });

  it('shares one creation between concurrent callers', async (t) => {
    const dir = tempDir(t);
    const results = await Promise.all([1, 2, 3].map(() => loadOrCreateCa({ confdir: dir, keySize: 1024 })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.ca.cert.serial)).size, 1);
  });

  it('warns about a key file other users can read, and still loads it', { skip: process.platform === 'win32' }, async (t) => {
    const dir = tempDir(t);
    const { paths } = await loadOrCreateCa({ confdir: dir, keySize: 1024 });
    chmodSync(paths.caPem, 0o644);
    const warnings: string[] = [];
    const loaded = await loadOrCreateCa({ confdir: dir, onWarning: (m) => warnings.push(m) });
    assert.equal(loaded.created, false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /can be read by other users \(mode 644\)/);
  });

  it('warns when the CA has expired', async (t) => {
    const dir = tempDir(t);
    const { key, certDer } = await generateCa({ keySize: 1024, now: new Date(Date.now() - 4000 * DAY) });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), caFileText(key, certDer), { mode: 0o600 });
    const warnings: string[] = [];
    const store = await CertStore.open({ confdir: dir }, { onWarning: (m) => warnings.push(m) });
    assert.ok(store.caCert.notAfter.getTime() < Date.now());
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /certificate authority has expired/);
    assert.match(warnings[0]!, new RegExp(`delete all CA-related files in ${dir}`));
  });

  it('refuses a CA file whose key does not belong to its certificate', async (t) => {
    const dir = tempDir(t);
    const a = await generateCa({ keySize: 1024 });
    const b = await generateCa({ keySize: 1024 });
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), caFileText(a.key, b.certDer), { mode: 0o600 });
    await assert.rejects(CertStore.open({ confdir: dir }), /does not belong to the first certificate/);
  });

  it('refuses a CA file without a key', async (t) => {
    const dir = tempDir(t);
    const a = await generateCa({ keySize: 1024 });
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), caFileText(a.key, a.certDer).replace(/-----BEGIN RSA[\s\S]*?END RSA PRIVATE KEY-----\n/, ''));
    await assert.rejects(CertStore.open({ confdir: dir }), (e: unknown) => e instanceof OptionsError && /no private key found/.test(e.message));
  });
});

describe('a CA made by openssl in the mitmproxy layout', { skip: !HAS_OPENSSL }, () => {
  /** An openssl CA: key (optionally encrypted) + cert (+ extra certs) in mitmproxy-ca.pem. */
  function opensslCa(dir: string, opts: { encrypt?: 'traditional' | 'pkcs8'; extraCert?: boolean } = {}): void {
    mkdirSync(dir, { recursive: true });
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    let r = openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=Test CA/O=Example', '-addext', 'basicConstraints=critical,CA:TRUE']);
    assert.equal(r.status, 0, r.out);
    let keyText = readFileSync(key, 'utf8');
    if (opts.encrypt === 'traditional') {
      r = openssl(['rsa', '-in', key, '-aes256', '-traditional', '-passout', 'pass:s3cret', '-out', key + '.enc']);
      assert.equal(r.status, 0, r.out);
      keyText = readFileSync(key + '.enc', 'utf8');
      assert.match(keyText, /Proc-Type: 4,ENCRYPTED/);
    } else if (opts.encrypt === 'pkcs8') {
      r = openssl(['pkcs8', '-topk8', '-in', key, '-v2', 'aes256', '-passout', 'pass:s3cret', '-out', key + '.enc']);
      assert.equal(r.status, 0, r.out);
      keyText = readFileSync(key + '.enc', 'utf8');
      assert.match(keyText, /BEGIN ENCRYPTED PRIVATE KEY/);
    }
    let text = keyText + readFileSync(cert, 'utf8');
    if (opts.extraCert) {
      r = openssl(['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(dir, 'k2.pem'), '-out', join(dir, 'c2.pem'), '-days', '30', '-subj', '/CN=Extra']);
      assert.equal(r.status, 0, r.out);
      text += readFileSync(join(dir, 'c2.pem'), 'utf8');
    }
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), text, { mode: 0o600 });
    unlinkSync(key);
  }

  it('loads an unencrypted CA as is and creates the missing public files', async (t) => {
    const dir = tempDir(t);
    opensslCa(dir);
    const store = await CertStore.open({ confdir: dir });
    assert.equal(store.caCert.commonName, 'Test CA');
    assert.equal(store.caCert.organization, 'Example');
    assert.equal(store.caChainPem.length, 1);
    assert.equal(readFileSync(join(dir, 'mitmproxy-ca-cert.pem'), 'utf8'), store.caCertPem);
    const entry = await store.getCert({ commonName: 'example.org', sans: ['example.org'] });
    const leaf = new X509Certificate(entry.certPem);
    assert.ok(leaf.checkIssued(new X509Certificate(store.caCertPem)));
    assert.ok(leaf.verify(new X509Certificate(store.caCertPem).publicKey));
  });

  for (const encrypt of ['traditional', 'pkcs8'] as const) {
    it(`loads a ${encrypt} encrypted key with cert_passphrase and explains a missing or wrong one`, async (t) => {
      const dir = tempDir(t);
      opensslCa(dir, { encrypt });
      await assert.rejects(CertStore.open({ confdir: dir }), (e: unknown) => e instanceof OptionsError && /encrypted; set cert_passphrase/.test(e.message));
      await assert.rejects(CertStore.open({ confdir: dir, certPassphrase: 'nope' }), (e: unknown) => e instanceof OptionsError && /wrong cert_passphrase/.test(e.message));
      const store = await CertStore.open({ confdir: dir, certPassphrase: 's3cret' });
      assert.equal(store.caCert.commonName, 'Test CA');
      // The in-memory key is decrypted for node's TLS; the file stays encrypted and no key .p12 is written.
      assert.match(store.caKeyPem, /^-----BEGIN PRIVATE KEY-----/);
      assert.match(readFileSync(join(dir, 'mitmproxy-ca.pem'), 'utf8'), /ENCRYPTED/);
      assert.equal(existsSync(join(dir, 'mitmproxy-ca.p12')), false);
    });
  }

  it('loads an EC CA and signs leaves with ECDSA', async (t) => {
    const dir = tempDir(t);
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    const r = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=EC CA']);
    assert.equal(r.status, 0, r.out);
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), readFileSync(key, 'utf8') + readFileSync(cert, 'utf8'), { mode: 0o600 });
    const store = await CertStore.open({ confdir: dir });
    const entry = await store.getCert({ commonName: 'ec.test', sans: ['ec.test'] });
    const leaf = new x509.X509Certificate(entry.certPem);
    assert.equal((leaf.signatureAlgorithm as unknown as { name: string }).name, 'ECDSA');
    assert.ok(new X509Certificate(entry.certPem).verify(new X509Certificate(store.caCertPem).publicKey));
    assert.ok(await new x509.X509Crl(store.crlDer).verify({ publicKey: new x509.X509Certificate(store.caCertPem).publicKey }));
  });

  it('refuses a CA key type it cannot sign with, with a clear reason', async (t) => {
    const dir = tempDir(t);
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    const r = openssl(['req', '-x509', '-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:1024', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=PSS CA']);
    assert.equal(r.status, 0, r.out);
    writeFileSync(join(dir, 'mitmproxy-ca.pem'), readFileSync(key, 'utf8') + readFileSync(cert, 'utf8'), { mode: 0o600 });
    await assert.rejects(CertStore.open({ confdir: dir }), (e: unknown) => e instanceof OptionsError && /Unsupported CA key type: rsa-pss/.test(e.message));
  });

  it('serves the extra certificates of the CA file as the chain', async (t) => {
    const dir = tempDir(t);
    opensslCa(dir, { extraCert: true });
    const store = await CertStore.open({ confdir: dir });
    assert.equal(store.caChainPem.length, 2);
    assert.equal(store.caChainPem[0], store.caCertPem);
    assert.match(new X509Certificate(store.caChainPem[1]!).subject, /CN=Extra/);
    const entry = await store.getCert({ commonName: 'a.test', sans: ['a.test'] });
    assert.deepEqual([...entry.chainPem], [...store.caChainPem]);
  });
});

describe('interoperability with the installed mitmproxy', { skip: !HAS_MITMDUMP }, () => {
  it('loads a confdir created by mitmdump as is', async (t) => {
    const dir = tempDir(t);
    const r = spawnSync('mitmdump', ['-n', '-q', '--set', `confdir=${dir}`, '-r', '/dev/null'], { timeout: 60_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const caText = readFileSync(join(dir, 'mitmproxy-ca.pem'), 'utf8');
    const store = await CertStore.open({ confdir: dir });
    assert.equal(readFileSync(join(dir, 'mitmproxy-ca.pem'), 'utf8'), caText, 'the CA was not replaced');
    assert.equal(store.caCertPem, readFileSync(join(dir, 'mitmproxy-ca-cert.pem'), 'utf8'));
    const entry = await store.getCert({ commonName: 'example.com', sans: ['example.com'] });
    assert.ok(new X509Certificate(entry.certPem).verify(new X509Certificate(store.caCertPem).publicKey));
  });

  it('creates a confdir mitmdump loads as is', async (t) => {
    const dir = tempDir(t);
    await loadOrCreateCa({ confdir: dir });
    const before = readFileSync(join(dir, 'mitmproxy-ca.pem'));
    const r = spawnSync('mitmdump', ['-n', '-q', '--set', `confdir=${dir}`, '-r', '/dev/null'], { timeout: 60_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(join(dir, 'mitmproxy-ca.pem')), before);
    // mitmproxy's python side reads our PKCS#12 files too.
    const py = spawnSync(
      'python3',
      ['-c', 'import sys;from cryptography.hazmat.primitives.serialization import pkcs12;d=pkcs12.load_pkcs12(open(sys.argv[1],"rb").read(),None);print(d.key is not None, d.cert.friendly_name.decode())', join(dir, 'mitmproxy-ca.p12')],
      { encoding: 'utf8' },
    );
    if (py.status === 0) assert.equal(py.stdout.trim(), 'True mitmproxy');
  });
});
