import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePkcs12 } from '../../src/certs/index.js';
import { pkcs12Kdf } from '../../src/certs/pkcs12.js';
import { children, readDerExact, decodeInteger } from '../../src/certs/der.js';
import { OID, encodeName, signCertificate, spkiOf, certificatePem } from '../../src/certs/x509.js';
import { HAS_OPENSSL, openssl, tempDir } from './helpers.js';

/** The MAC parts of a PFX: (authSafe content, digest, salt, iterations). */
function macParts(pfx: Buffer) {
  const [, authSafe, macData] = children(readDerExact(pfx));
  const content = children(children(authSafe!)[1]!)[0]!.content;
  const [digestInfo, salt, iterations] = children(macData!);
  return { content, mac: children(digestInfo!)[1]!.content, salt: salt!.content, iterations: Number(decodeInteger(iterations!)) };
}

describe('PKCS#12', () => {
  it("derives the same MAC key as openssl's PKCS#12 KDF (known answer from an openssl file)", { skip: !HAS_OPENSSL }, (t) => {
    const d = tempDir(t);
    let r = openssl(['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'), '-days', '1', '-subj', '/CN=kat']);
    assert.equal(r.status, 0, r.out);
    r = openssl(['pkcs12', '-export', '-in', join(d, 'c.pem'), '-inkey', join(d, 'k.pem'), '-passout', 'pass:hunter2', '-macalg', 'sha256', '-out', join(d, 'x.p12')]);
    assert.equal(r.status, 0, r.out);
    const { content, mac, salt, iterations } = macParts(readFileSync(join(d, 'x.p12')));
    // PKCS#12 passwords are BMPStrings with a two-byte terminator.
    const password = Buffer.concat([Buffer.from('hunter2', 'utf16le').swap16(), Buffer.alloc(2)]);
    const key = pkcs12Kdf(password, salt, 3, iterations, 32);
    assert.deepEqual(createHmac('sha256', key).update(content).digest(), mac);
    // And a wrong password does not match, so the check above can fail.
    const wrong = pkcs12Kdf(Buffer.alloc(2), salt, 3, iterations, 32);
    assert.notDeepEqual(createHmac('sha256', wrong).update(content).digest(), mac);
  });

  it('writes a MAC over the content with no password, 8-byte salt and 2048 iterations', async () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const name = encodeName([[OID.commonName, 'p12']]);
    const certDer = await signCertificate(
      { serial: 1n, issuerDer: name, subjectDer: name, notBefore: new Date(), notAfter: new Date(Date.now() + 1e9), spkiDer: spkiOf(key), extensions: [] },
      key,
    );
    const pfx = writePkcs12({ certDer, key, friendlyName: 'mitmproxy' });
    const { content, mac, salt, iterations } = macParts(pfx);
    assert.equal(salt.length, 8);
    assert.equal(iterations, 2048);
    assert.deepEqual(createHmac('sha256', pkcs12Kdf(Buffer.alloc(0), salt, 3, 2048, 32)).update(content).digest(), mac);
    assert.equal(decodeInteger(children(readDerExact(pfx))[0]!), 3n);
  });

  it('is read by openssl: certificate, key, friendly name and localKeyID', { skip: !HAS_OPENSSL }, async (t) => {
    const d = tempDir(t);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const name = encodeName([[OID.commonName, 'Ünïcode CA']]);
    const certDer = await signCertificate(
      { serial: 99n, issuerDer: name, subjectDer: name, notBefore: new Date(), notAfter: new Date(Date.now() + 1e9), spkiDer: spkiOf(key), extensions: [] },
      key,
    );
    writeFileSync(join(d, 'full.p12'), writePkcs12({ certDer, key, friendlyName: 'my ca' }));
    const r = openssl(['pkcs12', '-info', '-nodes', '-passin', 'pass:', '-in', join(d, 'full.p12')]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /friendlyName: my ca/);
    assert.match(r.out, /localKeyID: ([0-9A-F]{2} ){20}/);
    assert.ok(r.out.includes(certificatePem(certDer)));
    const keyOut = r.out.match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/)![0];
    assert.equal(keyOut, key.export({ type: 'pkcs8', format: 'pem' }));
  });
});
