import 'reflect-metadata';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  CertStore,
  asteriskForms,
  caFromPem,
  certStoreConfigFromOptions,
  certStoreNeedsReload,
  issueLeaf,
  parseCertificate,
  type CertEntry,
} from '../../src/certs/index.js';
import { OID, certificatePem, encodeName, randomSerial, signCertificate, spkiOf } from '../../src/certs/x509.js';
import * as der from '../../src/certs/der.js';
import { OptManager, OptionsError } from '../../src/optmanager.js';
import { declareCoreOptions } from '../../src/options.js';
import { HAS_OPENSSL, openssl, tempDir } from './helpers.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DAY = 24 * 60 * 60 * 1000;

function leafOf(entry: CertEntry) {
  return new x509.X509Certificate(entry.certPem);
}

/** A certificate signed by `issuerKey` (self-signed when no issuer is given), for custom-cert fixtures. */
async function makeCert(opts: {
  cn: string;
  sans?: string[];
  key: KeyObject;
  issuerKey?: KeyObject;
  issuerName?: string;
  ca?: boolean;
}): Promise<string> {
  const extensions = [];
  if (opts.ca) extensions.push({ oid: OID.basicConstraints, critical: true, value: der.sequence(der.boolean(true)) });
  if (opts.sans?.length) {
    extensions.push({ oid: OID.subjectAltName, critical: false, value: der.sequence(...opts.sans.map((s) => der.implicitPrimitive(2, Buffer.from(s)))) });
  }
  const certDer = await signCertificate(
    {
      serial: randomSerial(),
      issuerDer: encodeName([[OID.commonName, opts.issuerName ?? opts.cn]]),
      subjectDer: encodeName([[OID.commonName, opts.cn]]),
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
      spkiDer: spkiOf(opts.key),
      extensions,
    },
    opts.issuerKey ?? opts.key,
  );
  return certificatePem(certDer);
}

function keyPem(k: KeyObject, type: 'pkcs1' | 'pkcs8' = 'pkcs8'): string {
  return k.export({ type, format: 'pem' }) as string;
}

describe('generated leaf certificates', () => {
  const dir = tempDir({ after });
  let store: CertStore;
  let ca: x509.X509Certificate;

  before(async () => {
    store = await CertStore.open({ confdir: dir });
    ca = new x509.X509Certificate(store.caCertPem);
  });

  it("carry mitmproxy's fields", async () => {
    const t0 = Date.now();
    const entry = await store.getCert({ commonName: 'example.com', sans: ['example.com', 'www.example.com'] });
    const leaf = leafOf(entry);
    assert.equal(entry.custom, false);
    assert.equal(entry.keyPem, store.caKeyPem, 'the CA key is the leaf key');
    assert.deepEqual([...entry.chainPem], [store.caCertPem]);
    assert.equal(leaf.subject, 'CN=example.com');
    assert.equal(leaf.issuer, ca.subject);
    assert.ok(Buffer.from(leaf.publicKey.rawData).equals(Buffer.from(ca.publicKey.rawData)), 'leaf public key is the CA public key');
    const serial = BigInt('0x' + leaf.serialNumber);
    assert.ok(serial > 0n && serial < 1n << 159n);
    assert.ok(Math.abs(leaf.notBefore.getTime() - (t0 - 2 * DAY)) < 60_000);
    assert.equal(leaf.notAfter.getTime() - leaf.notBefore.getTime(), 199 * DAY);
    const sigAlg = leaf.signatureAlgorithm as unknown as { name: string; hash: { name: string } };
    assert.deepEqual([sigAlg.name, sigAlg.hash.name], ['RSASSA-PKCS1-v1_5', 'SHA-256']);
    assert.deepEqual(
      Array.from(leaf.extensions, (e) => [e.type, e.critical]),
      [
        ['2.5.29.37', false],
        ['2.5.29.17', false],
        ['2.5.29.35', false],
      ],
      'EKU, SAN, AKI in that order; no BasicConstraints, KeyUsage or SKI',
    );
    assert.deepEqual([...leaf.getExtension(x509.ExtendedKeyUsageExtension)!.usages], ['1.3.6.1.5.5.7.3.1']);
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)!;
    assert.equal(aki.keyId, ca.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    assert.deepEqual(san.names.toJSON(), [
      { type: 'dns', value: 'example.com' },
      { type: 'dns', value: 'www.example.com' },
    ]);
    assert.ok(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }));
    const nodeLeaf = new X509Certificate(entry.certPem);
    assert.ok(nodeLeaf.checkIssued(new X509Certificate(store.caCertPem)));
  });

  it('add O only when given, and the CRL distribution point only when asked', async () => {
    const plain = leafOf(await store.getCert({ commonName: 'plain.test', sans: ['plain.test'] }));
    assert.equal(plain.subject, 'CN=plain.test');
    assert.equal(plain.getExtension('2.5.29.31'), null);
    const url = `http://crl.upstream.test${store.crlPath()}`;
    const rich = leafOf(await store.getCert({ commonName: 'rich.test', sans: ['rich.test'], organization: 'Upstream Org', crlUrl: url }));
    assert.equal(rich.subject, 'CN=rich.test, O=Upstream Org');
    const parsed = parseCertificate(Buffer.from(rich.rawData));
    assert.deepEqual(parsed.crlDistributionPoints, [url]);
    assert.equal(rich.extensions.at(-1)!.type, '2.5.29.31');
  });

  it('leave out CNs of 64 characters or more and then mark the SAN critical', async () => {
    const long = 'a'.repeat(60) + '.com'; // 64 characters
    const ok = 'a'.repeat(59) + '.com'; // 63 characters
    const withoutCn = leafOf(await store.getCert({ commonName: long, sans: [long] }));
    assert.equal(withoutCn.subject, '');
    assert.equal(withoutCn.getExtension(x509.SubjectAlternativeNameExtension)!.critical, true);
    const withCn = leafOf(await store.getCert({ commonName: ok, sans: [ok] }));
    assert.equal(withCn.subject, `CN=${ok}`);
    assert.equal(withCn.getExtension(x509.SubjectAlternativeNameExtension)!.critical, false);
    const noName = leafOf(await store.getCert({ sans: ['nocn.test'] }));
    assert.equal(noName.subject, '');
    assert.equal(noName.getExtension(x509.SubjectAlternativeNameExtension)!.critical, true);
  });

  it('IDNA-encode DNS names, write IP SANs, and drop names that are neither', async () => {
    const entry = await store.getCert({
      commonName: 'bücher.de',
      sans: ['bücher.de', '10.0.0.1', '::1', '[2001:db8::1]', 'bad\u0000name.test', 'sp ace.test', 'a\u3002b.test'],
    });
    const leaf = leafOf(entry);
    assert.equal(leaf.subject, 'CN=xn--bcher-kva.de');
    assert.deepEqual(parseCertificate(Buffer.from(leaf.rawData)).subjectAltNames, [
      { type: 'dns', value: 'xn--bcher-kva.de' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: '::1' },
      { type: 'ip', value: '2001:db8::1' },
      { type: 'dns', value: 'a.b.test' },
    ]);
    assert.match(new X509Certificate(entry.certPem).subjectAltName!, /IP Address:10\.0\.0\.1/);
  });

  it('take the AKI from the CA SKI verbatim, or compute it when the CA has none', async () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const name = encodeName([[OID.commonName, 'odd ca']]);
    const build = async (extensions: Array<{ oid: string; critical: boolean; value: Buffer }>) => {
      const certDer = await signCertificate(
        { serial: 1n, issuerDer: name, subjectDer: name, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), spkiDer: spkiOf(key), extensions },
        key,
      );
      return caFromPem(keyPem(key, 'pkcs1') + certificatePem(certDer), null, 'test');
    };
    const customSki = Buffer.from('00112233445566778899aabbccddeeff', 'hex'); // e.g. a truncated SHA-256 SKI
    const withSki = await build([{ oid: OID.subjectKeyIdentifier, critical: false, value: der.octetString(customSki) }]);
    const leaf1 = await issueLeaf(withSki, { commonName: 'x.test', sans: [{ type: 'dns', value: 'x.test' }], organization: null, crlUrl: null });
    const aki1 = new x509.X509Certificate(leaf1).getExtension(x509.AuthorityKeyIdentifierExtension)!;
    assert.equal(aki1.keyId, customSki.toString('hex'));

    const noSki = await build([]);
    const leaf2 = await issueLeaf(noSki, { commonName: 'x.test', sans: [{ type: 'dns', value: 'x.test' }], organization: null, crlUrl: null });
    const aki2 = new x509.X509Certificate(leaf2).getExtension(x509.AuthorityKeyIdentifierExtension)!;
    const expected = createHash('sha1').update(parseCertificate(noSki.cert.der).publicKeyBits).digest('hex');
    assert.equal(aki2.keyId, expected);
  });

  it('are checked by openssl as valid leaves for their names', { skip: !HAS_OPENSSL }, async (t) => {
    const d = tempDir(t);
    const entry = await store.getCert({ commonName: 'verify.test', sans: ['verify.test', '127.0.0.1'] });
    writeFileSync(join(d, 'leaf.pem'), entry.certPem);
    writeFileSync(join(d, 'ca.pem'), store.caCertPem);
    for (const check of [['-verify_hostname', 'verify.test'], ['-verify_ip', '127.0.0.1']]) {
      const r = openssl(['verify', '-x509_strict', '-purpose', 'sslserver', ...check, '-CAfile', join(d, 'ca.pem'), join(d, 'leaf.pem')]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /leaf\.pem: OK/);
    }
    const wrong = openssl(['verify', '-verify_hostname', 'other.test', '-CAfile', join(d, 'ca.pem'), join(d, 'leaf.pem')]);
    assert.notEqual(wrong.status, 0);
  });
});

describe('the leaf cache', () => {
  const dir = tempDir({ after });
  let store: CertStore;
  before(async () => {
    store = await CertStore.open({ confdir: dir, keySize: 1024 });
  });

  it('returns the same entry for the same names (after IDNA and case normalisation)', async () => {
    const a = await store.getCert({ commonName: 'Cache.Example', sans: ['Cache.Example'] });
    const b = await store.getCert({ commonName: 'cache.example', sans: ['cache.example'] });
    assert.equal(a, b);
    const c = await store.getCert({ commonName: 'cache.example', sans: ['cache.example', 'other.example'] });
    assert.notEqual(a, c, '(cn, sans) is the key');
  });

  it('signs once for concurrent requests of the same names', async () => {
    const before = store.generatedCount;
    const entries = await Promise.all(Array.from({ length: 20 }, () => store.getCert({ commonName: 'flight.test', sans: ['flight.test'] })));
    assert.equal(new Set(entries).size, 1);
    assert.equal(store.generatedCount, before + 1);
  });

  it('keeps at most 100 generated entries and evicts the oldest first (a hit does not refresh)', async () => {
    const fresh = await CertStore.open({ confdir: dir });
    const req = (i: number) => ({ commonName: `n${i}.test`, sans: [`n${i}.test`] });
    const first: CertEntry[] = [];
    for (let i = 0; i < 100; i++) first.push(await fresh.getCert(req(i)));
    assert.equal(fresh.generatedCount, 100);
    assert.equal(await fresh.getCert(req(0)), first[0], 'a hit');
    await fresh.getCert(req(100));
    assert.equal(fresh.generatedCount, 100);
    assert.notEqual(await fresh.getCert(req(0)), first[0], 'n0 was the oldest and got evicted despite the hit');
    assert.equal(fresh.generatedCount, 100);
    assert.notEqual(await fresh.getCert(req(1)), first[1], 'n1 was evicted by re-adding n0');
    assert.equal(await fresh.getCert(req(50)), first[50]);
  });

  it('lets the event loop turn while leaves are signed', async () => {
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    for (let i = 0; i < 30; i++) await store.getCert({ commonName: `loop${i}.test`, sans: [`loop${i}.test`] });
    running = false;
    // Synchronous signing would resolve every getCert in a microtask: no turn at all in between.
    assert.ok(turns >= 30, `only ${turns} event loop turns during 30 issuances`);
  });

  it('lists asterisk forms most specific first', () => {
    assert.deepEqual(asteriskForms('www.example.com'), ['www.example.com', '*.example.com', '*.com']);
    assert.deepEqual(asteriskForms('localhost'), ['localhost']);
  });
});

describe('custom certificates (the certs option)', () => {
  const dir = tempDir({ after });
  const files = join(dir, 'files');
  mkdirSync(files, { recursive: true });
  let caKey: KeyObject;
  let caConfdir: string;

  before(async () => {
    caConfdir = join(dir, 'conf');
    const s = await CertStore.open({ confdir: caConfdir, keySize: 1024 });
    caKey = s.caKey;
  });

  const open = (certs: string[], extra: { certPassphrase?: string; onWarning?: (m: string) => void } = {}) =>
    CertStore.open({ confdir: caConfdir, certs, certPassphrase: extra.certPassphrase }, { onWarning: extra.onWarning });

  it('serves a cert with its own key and intermediates under its CN, SANs and the given domain', async () => {
    const interKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const leafKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const inter = await makeCert({ cn: 'Intermediate', key: interKey, ca: true });
    const leaf = await makeCert({ cn: 'custom.test', sans: ['alt.test'], key: leafKey, issuerKey: interKey, issuerName: 'Intermediate' });
    const path = join(files, 'own-key.pem');
    writeFileSync(path, leaf + keyPem(leafKey, 'pkcs1') + inter);
    const store = await open([`*.example.org=${path}`]);
    for (const names of [
      { commonName: 'custom.test', sans: ['custom.test'] },
      { commonName: 'x.test', sans: ['alt.test'] },
      { commonName: 'www.example.org', sans: ['www.example.org'] },
      { commonName: 'deep.www.example.org', sans: [] },
    ]) {
      const e = await store.getCert(names);
      assert.equal(e.custom, true, JSON.stringify(names));
      assert.equal(e.certPem, leaf);
      assert.deepEqual([...e.chainPem], [inter]);
      assert.equal(e.keyPem, keyPem(leafKey));
    }
    const other = await store.getCert({ commonName: 'example.org', sans: ['example.org'] });
    assert.equal(other.custom, false, '*.example.org does not match example.org itself');
  });

  it('uses the CA key when the file has none and the cert is for it; "*" matches every host', async () => {
    const leaf = await makeCert({ cn: 'ca-key.test', key: caKey });
    const path = join(files, 'ca-key.pem');
    writeFileSync(path, leaf);
    const store = await open([path]);
    const e = await store.getCert({ commonName: 'anything.test', sans: ['anything.test', '10.1.1.1'] });
    assert.equal(e.custom, true);
    assert.equal(e.certPem, leaf);
    assert.equal(e.keyPem, store.caKeyPem);
    assert.deepEqual([...e.chainPem], []);
    assert.equal(store.generatedCount, 0);
  });

  it('decrypts a key with cert_passphrase', async () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const leaf = await makeCert({ cn: 'enc.test', key: k });
    const path = join(files, 'enc.pem');
    writeFileSync(path, leaf + (k.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string));
    await assert.rejects(open([`enc.test=${path}`]), (e: unknown) => e instanceof OptionsError && /cert_passphrase/.test(e.message));
    const store = await open([`enc.test=${path}`], { certPassphrase: 'pw' });
    assert.equal((await store.getCert({ commonName: 'enc.test', sans: [] })).keyPem, keyPem(k));
  });

  it('reports bad files as OptionsError', async () => {
    const missing = join(files, 'missing.pem');
    await assert.rejects(open([missing]), (e: unknown) => e instanceof OptionsError && e.message === `Certificate file does not exist: ${missing}`);

    const other = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const k = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const mismatched = join(files, 'mismatch.pem');
    writeFileSync(mismatched, (await makeCert({ cn: 'm.test', key: k })) + keyPem(other));
    await assert.rejects(open([mismatched]), (e: unknown) => e instanceof OptionsError && /Invalid certificate format .*do not match/.test(e.message));

    const keyless = join(files, 'keyless.pem');
    writeFileSync(keyless, await makeCert({ cn: 'k.test', key: k }));
    await assert.rejects(open([keyless]), (e: unknown) => e instanceof OptionsError && /Unable to find private key/.test(e.message));

    const garbage = join(files, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    await assert.rejects(open([garbage]), (e: unknown) => e instanceof OptionsError && /no PEM certificate found/.test(e.message));

    const broken = join(files, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(open([broken]), (e: unknown) => e instanceof OptionsError && /malformed certificate/.test(e.message));
  });

  it('only warns about a CA certificate', async () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const path = join(files, 'ca-as-leaf.pem');
    writeFileSync(path, (await makeCert({ cn: 'Some CA', key: k, ca: true })) + keyPem(k));
    const warnings: string[] = [];
    const store = await open([`ca.test=${path}`], { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /is a certificate authority and not a leaf certificate/);
    assert.equal((await store.getCert({ commonName: 'ca.test', sans: [] })).custom, true);
  });
});

describe('reloading', () => {
  const dir = tempDir({ after });

  it('rebuilds on confdir changes, keeps the old state when the new config is invalid', async () => {
    const store = await CertStore.open({ confdir: join(dir, 'a'), keySize: 1024 });
    const oldCa = store.caCertPem;
    await store.getCert({ commonName: 'r.test', sans: ['r.test'] });
    assert.equal(store.generatedCount, 1);
    await assert.rejects(store.reload({ confdir: join(dir, 'b'), keySize: 1024, certs: [join(dir, 'nope.pem')] }), OptionsError);
    assert.equal(store.caCertPem, oldCa);
    assert.equal(store.generatedCount, 1);
    await store.reload({ confdir: join(dir, 'b'), keySize: 1024 });
    assert.notEqual(store.caCertPem, oldCa);
    assert.equal(store.generatedCount, 0);
    const leaf = new X509Certificate((await store.getCert({ commonName: 'r.test', sans: ['r.test'] })).certPem);
    assert.ok(leaf.checkIssued(new X509Certificate(store.caCertPem)));
  });

  it('knows which options need a reload and reads them from the option manager', async () => {
    assert.equal(certStoreNeedsReload(new Set(['confdir'])), true);
    assert.equal(certStoreNeedsReload(new Set(['certs', 'http2'])), true);
    assert.equal(certStoreNeedsReload(new Set(['key_size'])), true);
    assert.equal(certStoreNeedsReload(new Set(['cert_passphrase'])), true);
    assert.equal(certStoreNeedsReload(new Set(['http2', 'onboarding'])), false);
    const o = new OptManager();
    declareCoreOptions(o);
    await o.update({ confdir: '/x/y', certs: ['a=b'], key_size: 4096, cert_passphrase: 'p' });
    assert.deepEqual(certStoreConfigFromOptions(o), { confdir: '/x/y', keySize: 4096, certPassphrase: 'p', certs: ['a=b'] });
  });
});

describe('the CRL', () => {
  const dir = tempDir({ after });

  it('is an empty CRL signed by the CA at /mitmproxy-<serial>.crl', async () => {
    const t0 = Date.now();
    const store = await CertStore.open({ confdir: dir, keySize: 1024 });
    assert.equal(store.crlPath(), `/mitmproxy-${BigInt('0x' + new X509Certificate(store.caCertPem).serialNumber).toString(10)}.crl`);
    const crl = new x509.X509Crl(store.crlDer);
    assert.equal(crl.issuer, 'CN=mitmproxy, O=mitmproxy');
    assert.equal(crl.entries.length, 0);
    assert.ok(Math.abs(crl.thisUpdate.getTime() - (t0 - 2 * DAY)) < 60_000);
    assert.equal(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime(), 7 * DAY);
    const number = crl.extensions.find((e) => e.type === '2.5.29.20')!;
    assert.equal(number.critical, false);
    assert.equal(der.decodeInteger(der.readDerExact(Buffer.from(number.value))), 1000n);
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(store.caCertPem).publicKey }));
  });

  it('passes openssl crl -verify', { skip: !HAS_OPENSSL }, async (t) => {
    const store = await CertStore.open({ confdir: dir });
    const d = tempDir(t);
    writeFileSync(join(d, 'crl.der'), store.crlDer);
    writeFileSync(join(d, 'ca.pem'), store.caCertPem);
    const r = openssl(['crl', '-inform', 'DER', '-in', join(d, 'crl.der'), '-CAfile', join(d, 'ca.pem'), '-noout', '-text']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /verify OK/);
    assert.match(r.out, /No Revoked Certificates/);
    assert.match(r.out, /X509v3 CRL Number: \n\s+1000/);
  });
});
