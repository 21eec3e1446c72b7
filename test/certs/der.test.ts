import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as der from '../../src/certs/der.js';
import { CertificateParseError, parseCertificate } from '../../src/certs/x509.js';
import { pemBlocks, toPem } from '../../src/certs/pem.js';

const hex = (b: Buffer) => b.toString('hex');

describe('DER writer', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['INTEGER 0', der.integer(0), '020100'],
    ['INTEGER 127', der.integer(127), '02017f'],
    ['INTEGER 128 gets a leading zero', der.integer(128), '02020080'],
    ['INTEGER 2048', der.integer(2048), '02020800'],
    ['INTEGER from bytes strips leading zeros', der.integer(Buffer.from([0, 0, 0x7f])), '02017f'],
    ['INTEGER from bytes with top bit', der.integer(Buffer.from([0xff])), '020200ff'],
    ['OID sha256WithRSAEncryption', der.oid('1.2.840.113549.1.1.11'), '06092a864886f70d01010b'],
    ['OID serverAuth', der.oid('1.3.6.1.5.5.7.3.1'), '06082b06010505070301'],
    ['OID 2.999.3', der.oid('2.999.3'), '0603883703'],
    ['BOOLEAN true', der.boolean(true), '0101ff'],
    ['NULL', der.nullValue(), '0500'],
    ['UTF8String', der.utf8String('mitmproxy'), '0c096d69746d70726f7879'],
    ['BMPString', der.bmpString('ab'), '1e0400610062'],
    ['BIT STRING with unused bits', der.bitString(Buffer.from([0x06]), 1), '03020106'],
    ['UTCTime', der.time(new Date(Date.UTC(2026, 10, 25, 16, 53, 43))), '170d3236313132353136353334335a'],
    ['GeneralizedTime from 2050', der.time(new Date(Date.UTC(2050, 0, 1, 0, 0, 0))), '180f32303530303130313030303030305a'],
    ['long length', der.octetString(Buffer.alloc(200)), '0481c8' + '00'.repeat(200)],
    ['longer length', der.octetString(Buffer.alloc(300)), '0482012c' + '00'.repeat(300)],
  ];
  for (const [name, got, expected] of cases) it(name, () => assert.equal(hex(got), expected));

  it('sorts SET OF elements by encoding', () => {
    assert.equal(hex(der.setOf(der.integer(2), der.integer(1))), '3106020101020102');
  });
});

describe('DER reader', () => {
  it('round-trips OIDs, integers, strings and times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 2 ** 31 }), { minLength: 1, maxLength: 8 }),
        fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }),
        fc.string(),
        fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(9999, 0, 1)), noInvalidDate: true }),
        (arcs, n, s, d) => {
          const dotted = ['1', '2', ...arcs.map(String)].join('.');
          const seq = der.readDerExact(der.sequence(der.oid(dotted), der.integer(n), der.utf8String(s), der.time(d)));
          const [o, i, str, t] = der.children(seq);
          assert.equal(der.decodeOid(o!), dotted);
          assert.equal(der.decodeInteger(i!), n);
          assert.equal(der.decodeString(str!), s);
          assert.equal(der.decodeTime(t!).getTime(), Math.floor(d.getTime() / 1000) * 1000);
        },
      ),
    );
  });

  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['truncated length', '30'],
    ['content past the end', '3005020101'],
    ['indefinite length', '3080'],
    ['length of more than 4 bytes', '3085ffffffffff'],
    ['multi-byte tag', '1f8101'],
  ];
  for (const [name, input] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => der.readDer(Buffer.from(input, 'hex')), der.DerError));
  }
  it('rejects trailing bytes when reading exactly one element', () => {
    assert.throws(() => der.readDerExact(Buffer.from('05000000', 'hex')), /trailing bytes/);
  });

  it('parseCertificate throws only CertificateParseError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseCertificate(bytes);
        } catch (e) {
          if (!(e instanceof CertificateParseError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parseCertificate throws only CertificateParseError on mutated certificate structures', () => {
    const base = der.sequence(
      der.sequence(der.explicit(0, der.integer(2)), der.integer(5), der.sequence(der.oid('1.2.3')), der.sequence(), der.sequence(der.time(new Date()), der.time(new Date())), der.sequence(), der.sequence(der.sequence(der.oid('1.2.3')), der.bitString(Buffer.from([1, 2])))),
      der.sequence(der.oid('1.2.3')),
      der.bitString(Buffer.from([0])),
    );
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), fc.nat({ max: 255 }), (pos, value) => {
        const copy = Buffer.from(base);
        copy[pos] = value;
        try {
          parseCertificate(copy);
        } catch (e) {
          if (!(e instanceof CertificateParseError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('PEM', () => {
  it('writes 64-character lines and reads blocks back with headers kept', () => {
    const pem = toPem('CERTIFICATE', Buffer.alloc(100, 7));
    assert.deepEqual(pem.split('\n').map((l) => l.length), [27, 64, 64, 8, 25, 0]);
    const text = 'junk\n' + pem + 'Bag Attributes\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n';
    const blocks = pemBlocks(text);
    assert.deepEqual(blocks.map((b) => b.label), ['CERTIFICATE', 'RSA PRIVATE KEY']);
    assert.deepEqual(blocks[0]!.der, Buffer.alloc(100, 7));
    assert.match(blocks[1]!.text, /Proc-Type: 4,ENCRYPTED/);
  });
});
