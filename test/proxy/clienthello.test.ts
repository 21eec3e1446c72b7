import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import {
  ClientHelloError,
  MAX_CLIENT_HELLO_LENGTH,
  looksLikeTlsClientHello,
  parseClientHello,
  type ParsedClientHello,
} from '../../src/proxy/clienthello.js';

// ---------------------------------------------------------------------------------------------
// Building hellos for table tests

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vec8 = (b: Buffer) => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);

function ext(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(body)]);
}
function sniExt(...names: Array<[type: number, name: string]>): Buffer {
  return ext(0, vec16(Buffer.concat(names.map(([t, n]) => Buffer.concat([Buffer.from([t]), vec16(Buffer.from(n, 'latin1'))])))));
}
function alpnExt(...protos: string[]): Buffer {
  return ext(16, vec16(Buffer.concat(protos.map((p) => vec8(Buffer.from(p, 'latin1'))))));
}
function versionsExt(...versions: number[]): Buffer {
  return ext(0x2b, vec8(Buffer.concat(versions.map(u16))));
}

/** A ClientHello handshake message (4-byte header + body). `extensions: null` leaves the block out. */
function helloMessage(opts: { extensions?: Buffer[] | null; ciphers?: number[]; sessionId?: Buffer; version?: number } = {}): Buffer {
  const body = Buffer.concat([
    u16(opts.version ?? 0x0303),
    Buffer.alloc(32, 0xab),
    vec8(opts.sessionId ?? Buffer.alloc(0)),
    vec16(Buffer.concat((opts.ciphers ?? [0x1301, 0xc02f]).map(u16))),
    vec8(Buffer.from([0])),
    ...(opts.extensions === null ? [] : [vec16(Buffer.concat(opts.extensions ?? []))]),
  ]);
  return Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

/** Wrap a handshake message in TLS records of at most `fragment` bytes each. */
function records(message: Buffer, fragment = 16384, recordVersion = 0x0301): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += fragment) {
    const part = message.subarray(i, i + fragment);
    out.push(Buffer.concat([Buffer.from([0x16]), u16(recordVersion), u16(part.length), part]));
  }
  return Buffer.concat(out);
}

function parsed(data: Buffer): ParsedClientHello {
  const r = parseClientHello(data);
  assert.notEqual(r, 'incomplete');
  return r as ParsedClientHello;
}

function expectError(data: Buffer, code: ClientHelloError['code'], message?: RegExp): void {
  assert.throws(
    () => parseClientHello(data),
    (e: unknown) => {
      assert.ok(e instanceof ClientHelloError, `expected ClientHelloError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Capturing real hellos

/** Start a raw TCP server that records what the first client sends until a whole hello arrived. */
async function captureHello(client: (port: number) => { stop(): void }): Promise<Buffer> {
  const server = net.createServer();
  const sockets = new Set<net.Socket>();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  let handle: { stop(): void } | undefined;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello within 20 s')), 20_000);
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('error', () => undefined);
        let buf = Buffer.alloc(0);
        s.on('data', (chunk) => {
          buf = Buffer.concat([buf, chunk]);
          try {
            if (parseClientHello(buf) !== 'incomplete') {
              clearTimeout(timer);
              resolve(buf);
            }
          } catch (e) {
            clearTimeout(timer);
            reject(e);
          }
        });
      });
      handle = client(port);
    });
  } finally {
    handle?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function nodeClient(opts: tls.ConnectionOptions) {
  return (port: number) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    socket.on('error', () => undefined);
    return { stop: () => socket.destroy() };
  };
}

function processClient(cmd: string, args: (port: number) => string[]) {
  return (port: number) => {
    const child = spawn(cmd, args(port), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => undefined);
    return { stop: () => child.kill() };
  };
}

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const HAS_CURL = has('curl');
const HAS_OPENSSL = has('openssl', 'version');

describe('real ClientHellos', () => {
  const captured = new Map<string, Buffer>();

  it("node's tls client with SNI and ALPN", async () => {
    const raw = await captureHello(nodeClient({ servername: 'example.com', ALPNProtocols: ['h2', 'http/1.1'] }));
    captured.set('node', raw);
    const h = parsed(raw);
    assert.equal(h.sni, 'example.com');
    assert.deepEqual(h.alpnProtocols, ['h2', 'http/1.1']);
    assert.ok(h.supportedVersions.includes(0x0304), 'offers TLS 1.3');
    assert.ok(h.cipherSuites.includes(0x1301), 'offers TLS_AES_128_GCM_SHA256');
    assert.deepEqual(h.raw, raw);
    assert.equal(h.legacyVersion, 0x0303);
    assert.ok(h.extensions.some(([t]) => t === 0x0a), 'supported_groups is listed');
    const sniBody = h.extensions.find(([t]) => t === 0)![1];
    assert.equal(sniBody.subarray(5).toString(), 'example.com');
  });

  it("node's tls client connecting to an IP sends no SNI", async () => {
    const raw = await captureHello(nodeClient({}));
    captured.set('node-nosni', raw);
    const h = parsed(raw);
    assert.equal(h.sni, null);
    assert.deepEqual(h.alpnProtocols, []);
    assert.equal(h.extensions.some(([t]) => t === 0), false);
  });

  it('curl', { skip: !HAS_CURL }, async () => {
    const raw = await captureHello((port) => {
      const child = execFile('curl', ['-sk', '--max-time', '20', '--resolve', `curl.example:${port}:127.0.0.1`, `https://curl.example:${port}/`], () => undefined);
      return { stop: () => child.kill() };
    });
    captured.set('curl', raw);
    const h = parsed(raw);
    assert.equal(h.sni, 'curl.example');
    assert.ok(h.alpnProtocols.includes('http/1.1'), `ALPN ${h.alpnProtocols.join(',')}`);
  });

  it('openssl s_client with custom ALPN, and without SNI, and TLS 1.2 only', { skip: !HAS_OPENSSL }, async () => {
    const withAlpn = parsed(await captureHello(processClient('openssl', (p) => ['s_client', '-connect', `127.0.0.1:${p}`, '-servername', 'ossl.example', '-alpn', 'foo,bar/1'])));
    assert.equal(withAlpn.sni, 'ossl.example');
    assert.deepEqual(withAlpn.alpnProtocols, ['foo', 'bar/1']);

    const noSni = await captureHello(processClient('openssl', (p) => ['s_client', '-connect', `127.0.0.1:${p}`, '-noservername']));
    captured.set('openssl-nosni', noSni);
    assert.equal(parsed(noSni).sni, null);

    const tls12 = parsed(await captureHello(processClient('openssl', (p) => ['s_client', '-connect', `127.0.0.1:${p}`, '-servername', 'old.example', '-tls1_2'])));
    assert.deepEqual(tls12.supportedVersions, [0x0303], 'no supported_versions extension: the legacy version');
    assert.equal(tls12.sni, 'old.example');
  });

  it('every real hello parses the same when fragmented into small records', () => {
    assert.ok(captured.size >= 2);
    for (const [name, raw] of captured) {
      const whole = parsed(raw);
      for (const size of [1, 7, 100]) {
        const fragmented = records(whole.message, size, 0x0301);
        const again = parsed(fragmented);
        assert.equal(again.sni, whole.sni, name);
        assert.deepEqual(again.alpnProtocols, whole.alpnProtocols, name);
        assert.deepEqual(again.cipherSuites, whole.cipherSuites, name);
        assert.deepEqual(again.extensions, whole.extensions, name);
        assert.deepEqual(again.raw, fragmented, name);
      }
    }
  });

  it('every proper prefix of a real hello is incomplete, never an error', () => {
    for (const [name, raw] of captured) {
      const fragmented = records(parsed(raw).message, 50);
      for (const data of [raw, fragmented]) {
        for (let n = 0; n < data.length; n++) assert.equal(parseClientHello(data.subarray(0, n)), 'incomplete', `${name} prefix ${n}`);
      }
    }
  });

  it('random mutations of real hellos only ever raise ClientHelloError', () => {
    const samples = [...captured.values()];
    fc.assert(
      fc.property(fc.nat({ max: samples.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (which, edits) => {
        const copy = Buffer.from(samples[which]!);
        for (const [pos, value] of edits) copy[pos % copy.length] = value;
        try {
          parseClientHello(copy);
        } catch (e) {
          if (!(e instanceof ClientHelloError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseClientHello tables', () => {
  it('reads SNI, ALPN, versions, ciphers and the raw extensions in order', () => {
    const exts = [sniExt([0, 'Host.Example']), alpnExt('h2', 'http/1.1'), versionsExt(0x0a0a, 0x0304, 0x0303), ext(0xff01, Buffer.from([0]))];
    const msg = helloMessage({ extensions: exts, ciphers: [0x0a0a, 0x1301, 0x009c], sessionId: Buffer.alloc(32, 1) });
    const h = parsed(records(msg));
    assert.equal(h.sni, 'Host.Example');
    assert.deepEqual(h.alpnProtocols, ['h2', 'http/1.1']);
    assert.deepEqual(h.supportedVersions, [0x0a0a, 0x0304, 0x0303]);
    assert.deepEqual(h.cipherSuites, [0x0a0a, 0x1301, 0x009c]);
    assert.deepEqual(h.extensions.map(([t]) => t), [0, 16, 0x2b, 0xff01]);
    assert.deepEqual(h.extensions[3]![1], Buffer.from([0]));
    assert.deepEqual(h.sessionId, Buffer.alloc(32, 1));
    assert.deepEqual(h.random, Buffer.alloc(32, 0xab));
    assert.deepEqual(h.compressionMethods, [0]);
    assert.deepEqual(h.message, msg);
  });

  const sniCases: Array<[string, Buffer, string | null]> = [
    ['plain name', sniExt([0, 'example.com']), 'example.com'],
    ['trailing dot', sniExt([0, 'example.com.']), 'example.com.'],
    ['underscore', sniExt([0, 'my_host.example']), 'my_host.example'],
    ['IPv4 literal', sniExt([0, '10.1.2.3']), '10.1.2.3'],
    ['two names', sniExt([0, 'a.example'], [0, 'b.example']), null],
    ['name type 1', sniExt([1, 'a.example']), null],
    ['empty list', ext(0, vec16(Buffer.alloc(0))), null],
    ['NUL inside', sniExt([0, 'evil.com\u0000.good.com']), null],
    ['space', sniExt([0, 'a b.example']), null],
    ['non-ASCII bytes', sniExt([0, 'b\u00fccher.de']), null],
    ['64-character label', sniExt([0, 'a'.repeat(64) + '.example']), null],
    ['empty label', sniExt([0, 'a..example']), null],
  ];
  for (const [name, sni, expected] of sniCases) {
    it(`SNI: ${name}`, () => assert.equal(parsed(records(helloMessage({ extensions: [sni] }))).sni, expected));
  }

  it('a hello without an extensions block has no SNI and its legacy version', () => {
    const h = parsed(records(helloMessage({ extensions: null, version: 0x0301 })));
    assert.equal(h.sni, null);
    assert.deepEqual(h.extensions, []);
    assert.deepEqual(h.supportedVersions, [0x0301]);
  });

  it('ignores bytes after the records that carry the hello, and other messages in the last record', () => {
    const msg = helloMessage({ extensions: [sniExt([0, 'x.example'])] });
    const extraInRecord = Buffer.concat([msg, Buffer.from([0x0b, 0, 0, 0])]);
    const data = Buffer.concat([records(extraInRecord), Buffer.from('\x14\x03\x03\x00\x01\x01')]);
    const h = parsed(data);
    assert.equal(h.sni, 'x.example');
    assert.equal(h.raw.length, 5 + extraInRecord.length);
    assert.deepEqual(h.message, msg);
  });

  it('accepts SSLv3 and TLS 1.0-1.2 record versions', () => {
    for (const v of [0x0300, 0x0301, 0x0302, 0x0303]) assert.equal(parsed(records(helloMessage(), 16384, v)).sni, null);
  });

  it('does not keep a reference to the input buffer', () => {
    const data = records(helloMessage({ extensions: [sniExt([0, 'copy.example'])] }));
    const h = parsed(data);
    data.fill(0);
    assert.equal(h.raw[0], 0x16);
    assert.equal(h.extensions[0]![1].subarray(5).toString(), 'copy.example');
  });
});

describe('parseClientHello errors', () => {
  const hello = helloMessage({ extensions: [sniExt([0, 'x.example'])] });
  const cases: Array<[string, Buffer, ClientHelloError['code'], RegExp?]> = [
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'not-tls', /Expected a TLS handshake record, got 47 45 54/],
    ['SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 'not-tls'],
    ['one wrong byte', Buffer.from([0x17]), 'not-tls'],
    ['TLS application data record', Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]), 'not-tls'],
    ['record version 3.4', Buffer.from([0x16, 0x03, 0x04, 0x00, 0x05]), 'not-tls'],
    ['SSLv2 hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), 'not-tls'],
    ['empty record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), 'malformed', /Empty TLS record/],
    ['oversized record', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), 'too-large', /16385 bytes/],
    ['ServerHello', records(Buffer.from([0x02, 0, 0, 2, 3, 3])), 'not-client-hello', /handshake type 2/],
    [
      'oversized hello, detected from its header alone',
      Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x10, 0x00, 0x00]),
      'too-large',
      new RegExp(`limit of ${MAX_CLIENT_HELLO_LENGTH} bytes`),
    ],
    ['non-handshake record in the middle', Buffer.concat([records(hello.subarray(0, 10)), Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])]), 'not-tls', /another TLS handshake record/],
    ['session id over 32 bytes', records(helloMessage({ sessionId: Buffer.alloc(33) })), 'malformed', /session id of 33/],
    ['odd cipher suites length', records(Buffer.from([1, 0, 0, 38, 3, 3, ...Buffer.alloc(32), 0, 0, 1, 0xaa])), 'malformed'],
    ['extension longer than the block', records(helloMessage({ extensions: [Buffer.from([0, 0x10, 0, 9, 0, 1])] })), 'malformed', /truncated extension data/],
    ['bad ALPN list', records(helloMessage({ extensions: [ext(16, Buffer.from([0, 5, 2, 0x68, 0x32]))] })), 'malformed', /ALPN/],
    ['bad supported_versions', records(helloMessage({ extensions: [ext(0x2b, Buffer.from([3, 3, 4, 3]))] })), 'malformed', /supported_versions/],
    ['bad server name list', records(helloMessage({ extensions: [ext(0, Buffer.from([0, 9, 0, 0, 1, 0x61]))] })), 'malformed', /server name list/],
    ['bytes after the extensions', records(Buffer.concat([hello.subarray(0, 1), Buffer.from([0, (hello.length - 3) >> 8, (hello.length - 3) & 0xff]), hello.subarray(4), Buffer.from([0])])), 'malformed', /bytes after the extensions/],
  ];
  for (const [name, data, code, message] of cases) it(name, () => expectError(data, code, message));

  it('waits for more bytes while the input could still become a hello', () => {
    for (const data of [Buffer.alloc(0), Buffer.from([0x16]), Buffer.from([0x16, 0x03]), Buffer.from([0x16, 0x03, 0x01, 0x02]), records(hello).subarray(0, 20)]) {
      assert.equal(parseClientHello(data), 'incomplete');
    }
  });

  it('random bytes never throw anything but ClientHelloError', () => {
    const check = (bytes: Uint8Array) => {
      try {
        const r = parseClientHello(bytes);
        assert.ok(r === 'incomplete' || typeof r.sni === 'string' || r.sni === null);
      } catch (e) {
        if (!(e instanceof ClientHelloError)) throw e;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), { numRuns: 5000 });
    // Random bytes behind a valid record and handshake header reach the body parser.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (body) => {
        const msg = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
        check(records(msg, 1 + (body.length % 97)));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('looksLikeTlsClientHello', () => {
  const cases: Array<[number[], boolean]> = [
    [[0x16, 0x03, 0x01], true],
    [[0x16, 0x03, 0x03, 0x00, 0x10], true],
    [[0x16, 0x03, 0x00], true],
    [[0x16, 0x03], false], // mitmproxy: fewer than 3 bytes is not TLS
    [[0x16, 0x03, 0x04], false],
    [[0x16, 0x02, 0x01], false],
    [[0x47, 0x45, 0x54], false],
    [[0x05, 0x01, 0x00], false], // SOCKS5
    [[], false],
  ];
  for (const [bytes, expected] of cases) {
    it(Buffer.from(bytes).toString('hex') || '(empty)', () => assert.equal(looksLikeTlsClientHello(Buffer.from(bytes)), expected));
  }
});

