import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chooseCertNames, normalizeDnsName, toSubjectAltName, type CertNameInputs, type CertRequest } from '../../src/certs/index.js';
import { bytesToIp, canonicalIp, ipToBytes } from '../../src/certs/ip.js';
import { OID, certificatePem, encodeName, signCertificate, spkiOf } from '../../src/certs/x509.js';
import * as der from '../../src/certs/der.js';

describe('toSubjectAltName', () => {
  const cases: Array<[string, ReturnType<typeof toSubjectAltName>]> = [
    ['example.com', { type: 'dns', value: 'example.com' }],
    ['Example.COM', { type: 'dns', value: 'example.com' }],
    ['example.com.', { type: 'dns', value: 'example.com.' }],
    ['*.example.com', { type: 'dns', value: '*.example.com' }],
    ['foo_bar.example', { type: 'dns', value: 'foo_bar.example' }],
    ['bücher.de', { type: 'dns', value: 'xn--bcher-kva.de' }],
    ['a\u3002b.com', { type: 'dns', value: 'a.b.com' }], // ideographic full stop is a dot
    ['0x7f.1', { type: 'dns', value: '0x7f.1' }], // not reinterpreted as 127.0.0.1
    ['1.2.3.4', { type: 'ip', value: '1.2.3.4' }],
    ['::1', { type: 'ip', value: '::1' }],
    ['[2001:DB8:0:0:0:0:0:1]', { type: 'ip', value: '2001:db8::1' }],
    ['fe80::1%eth0', { type: 'ip', value: 'fe80::1' }],
    ['::ffff:1.2.3.4', { type: 'ip', value: '::ffff:1.2.3.4' }],
    ['::ffff:102:304', { type: 'ip', value: '::ffff:1.2.3.4' }],
    ['', null],
    ['a b.com', null],
    ['nul\u0000.com', null],
    ['a..b', null],
    ['x'.repeat(64) + '.com', null],
    ['evil.com/path', null],
    ['host:443', null],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(toSubjectAltName(input), expected));
  }

  it('normalizeDnsName rejects names over 253 characters', () => {
    const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
    assert.equal(normalizeDnsName(long), null);
  });
});

describe('IP helpers', () => {
  const cases: Array<[string, string]> = [
    ['10.0.0.1', '0a000001'],
    ['::', '00000000000000000000000000000000'],
    ['2001:db8::8:800:200c:417a', '20010db8000000000008080020 0c417a'.replace(' ', '')],
    ['1::', '00010000000000000000000000000000'],
    ['1:0:0:2:0:0:0:3', '00010000000000020000000000000003'],
  ];
  for (const [ip, hex] of cases) {
    it(`${ip} <-> ${hex}`, () => {
      assert.equal(ipToBytes(ip)!.toString('hex'), hex);
      assert.equal(canonicalIp(bytesToIp(Buffer.from(hex, 'hex')))!, canonicalIp(ip));
    });
  }
  it('compresses the longest zero run (RFC 5952)', () => {
    assert.equal(bytesToIp(Buffer.from('00010000000000020000000000000003', 'hex')), '1:0:0:2::3');
    assert.equal(bytesToIp(Buffer.from('00010000000100000000000000000001', 'hex')), '1:0:1::1');
    assert.equal(bytesToIp(Buffer.from('00010002000300040005000600000008', 'hex')), '1:2:3:4:5:6:0:8');
    // IPv4-mapped: the IPv4 part dotted (RFC 5952 §5); only ::ffff:0:0/96 is written so.
    assert.equal(bytesToIp(Buffer.from('00000000000000000000ffffc0000201', 'hex')), '::ffff:192.0.2.1');
    assert.equal(bytesToIp(Buffer.from('000000000000000000000000c0000201', 'hex')), '::c000:201');
    assert.equal(bytesToIp(Buffer.from('00000000000000000001ffffc0000201', 'hex')), '::1:ffff:c000:201');
  });
  it('returns null for non-IPs', () => {
    assert.equal(ipToBytes('example.com'), null);
    assert.equal(ipToBytes('256.1.1.1'), null);
  });
});

describe('chooseCertNames', () => {
  let upstreamPem: string;
  let upstreamNoCn: string;

  before(async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const make = async (subject: Array<[string, string]>, sans: Buffer[], crl?: string) => {
      const extensions: Array<{ oid: string; critical: boolean; value: Buffer }> = [
        { oid: OID.subjectAltName, critical: false, value: der.sequence(...sans) },
      ];
      if (crl) {
        extensions.push({
          oid: OID.crlDistributionPoints,
          critical: false,
          value: der.sequence(der.sequence(der.implicitConstructed(0, der.implicitConstructed(0, der.implicitPrimitive(6, Buffer.from(crl)))))),
        });
      }
      const name = encodeName(subject);
      return certificatePem(
        await signCertificate(
          { serial: 7n, issuerDer: name, subjectDer: name, notBefore: new Date(), notAfter: new Date(Date.now() + 1e9), spkiDer: spkiOf(key), extensions },
          key,
        ),
      );
    };
    upstreamPem = await make(
      [
        [OID.commonName, 'upstream.example'],
        [OID.organizationName, 'Upstream Inc'],
      ],
      [der.implicitPrimitive(2, Buffer.from('www.upstream.example')), der.implicitPrimitive(2, Buffer.from('upstream.example')), der.implicitPrimitive(7, Buffer.from([10, 0, 0, 5]))],
      'http://crl.upstream.example:8080/some/path.crl?x=1',
    );
    upstreamNoCn = await make([], [der.implicitPrimitive(2, Buffer.from('only-san.example'))]);
  });

  const table = (): Array<[string, CertNameInputs, CertRequest]> => [
    [
      'SNI and server address',
      { upstreamCert: true, sni: 'example.com', serverAddressHost: '93.184.216.34' },
      { commonName: 'example.com', sans: ['example.com', '93.184.216.34'], organization: null, crlUrl: null },
    ],
    [
      'no SNI: the local address',
      { upstreamCert: true, sni: null, clientSocknameHost: '192.168.1.10', serverAddressHost: 'example.com' },
      { commonName: '192.168.1.10', sans: ['192.168.1.10', 'example.com'], organization: null, crlUrl: null },
    ],
    [
      'duplicates removed, first one wins',
      { upstreamCert: false, sni: 'Example.com', serverAddressHost: 'example.com' },
      { commonName: 'example.com', sans: ['example.com'], organization: null, crlUrl: null },
    ],
    [
      'upstream certificate first: CN, SANs, O, CRL on its scheme and host',
      { upstreamCert: true, upstreamCertificate: upstreamPem, sni: 'upstream.example', serverAddressHost: '10.0.0.5', crlPath: '/mitmproxy-123.crl' },
      {
        commonName: 'upstream.example',
        sans: ['upstream.example', 'www.upstream.example', '10.0.0.5'],
        organization: 'Upstream Inc',
        crlUrl: 'http://crl.upstream.example:8080/mitmproxy-123.crl',
      },
    ],
    [
      'upstream_cert off ignores the upstream certificate',
      { upstreamCert: false, upstreamCertificate: upstreamPem, sni: 'upstream.example' },
      { commonName: 'upstream.example', sans: ['upstream.example'], organization: null, crlUrl: null },
    ],
    [
      'upstream certificate without CN',
      { upstreamCert: true, upstreamCertificate: upstreamNoCn, sni: 'x.example' },
      { commonName: 'only-san.example', sans: ['only-san.example', 'x.example'], organization: null, crlUrl: null },
    ],
    [
      'unreadable upstream certificate contributes nothing',
      { upstreamCert: true, upstreamCertificate: 'garbage', sni: 'x.example' },
      { commonName: 'x.example', sans: ['x.example'], organization: null, crlUrl: null },
    ],
    [
      'invalid SNI is dropped',
      { upstreamCert: true, sni: 'bad name', serverAddressHost: 'good.example' },
      { commonName: 'good.example', sans: ['good.example'], organization: null, crlUrl: null },
    ],
    ['nothing known', { upstreamCert: true }, { commonName: null, sans: [], organization: null, crlUrl: null }],
  ];

  it('follows mitmproxy order for every case', () => {
    for (const [name, input, expected] of table()) assert.deepEqual(chooseCertNames(input), expected, name);
  });

  it('accepts the upstream certificate as DER too', () => {
    const derBytes = Buffer.from(upstreamPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    assert.equal(chooseCertNames({ upstreamCert: true, upstreamCertificate: derBytes }).organization, 'Upstream Inc');
  });
});
