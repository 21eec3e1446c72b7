/**
 * socks5 mode: the RFC 1928/1929 handshake (table tests and fast-check properties of the pure
 * parsers), then real clients (curl --socks5 / --socks5-hostname, http and https, with and
 * without proxyauth) and every failure path over real sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer, rawServer } from '../helpers/servers.js';
import {
  Socks5Reply,
  parseConnectRequest,
  parseGreeting,
  parseUserPass,
  replyBytes,
  replyForConnectError,
  type ParseResult,
} from '../../src/proxy/socks5.js';
import { RawClient, httpsOrigin, proxyCaFile, recorder, waitFor } from './modes-helpers.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const OK_REPLY = hex('05 00 00 01 00000000 0000');

// ---------------------------------------------------------------------------------------------
// Parsers

test('parseGreeting: methods, incomplete input and a wrong version', () => {
  const cases: Array<[string, Buffer, ParseResult<number[]>]> = [
    ['empty', hex(''), { kind: 'incomplete' }],
    ['version only', hex('05'), { kind: 'incomplete' }],
    ['methods missing', hex('05 02 00'), { kind: 'incomplete' }],
    ['no auth', hex('05 01 00'), { kind: 'ok', value: [0], length: 3 }],
    ['two methods, extra bytes left', hex('05 02 00 02 05 01'), { kind: 'ok', value: [0, 2], length: 4 }],
    ['zero methods', hex('05 00'), { kind: 'ok', value: [], length: 2 }],
    ['SOCKS4', hex('04 01 00 50'), { kind: 'error', message: 'Invalid SOCKS version. Expected 0x05, got 0x4', reply: null }],
    [
      'HTTP',
      Buffer.from('GET / HTTP/1.1'),
      { kind: 'error', message: 'Probably not a SOCKS request but a regular HTTP request. Invalid SOCKS version. Expected 0x05, got 0x47', reply: null },
    ],
    ['lower-case text', Buffer.from('abcd'), { kind: 'error', message: 'Invalid SOCKS version. Expected 0x05, got 0x61', reply: null }],
  ];
  for (const [name, input, expected] of cases) assert.deepEqual(parseGreeting(input), expected, name);
});

test('parseUserPass: RFC 1929 fields, UTF-8, incomplete input, wrong subnegotiation version', () => {
  const enc = (u: string, p: string) => Buffer.concat([Buffer.from([1, Buffer.byteLength(u)]), Buffer.from(u), Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)]);
  assert.deepEqual(parseUserPass(enc('user', 'password')), { kind: 'ok', value: { username: 'user', password: 'password' }, length: 15 });
  assert.deepEqual(parseUserPass(enc('', '')), { kind: 'ok', value: { username: '', password: '' }, length: 3 });
  assert.deepEqual(parseUserPass(enc('jürgen', 'pässwörd')), { kind: 'ok', value: { username: 'jürgen', password: 'pässwörd' }, length: 3 + 7 + 10 });
  const full = enc('user', 'password');
  for (let i = 0; i < full.length; i++) assert.deepEqual(parseUserPass(full.subarray(0, i)), { kind: 'incomplete' }, `prefix ${i}`);
  const bad = parseUserPass(hex('05 01 00'));
  assert.equal(bad.kind, 'error');
  assert.match((bad as { message: string }).message, /subnegotiation version/);
});

test('parseConnectRequest: address types, commands and reply codes', () => {
  const cases: Array<[string, Buffer, ParseResult<unknown>]> = [
    ['IPv4', hex('05 01 00 01 7f000001 1234'), { kind: 'ok', value: { host: '127.0.0.1', port: 0x1234, addressType: 1 }, length: 10 }],
    ['IPv6 loopback', hex('05 01 00 04 00000000000000000000000000000001 0050'), { kind: 'ok', value: { host: '::1', port: 80, addressType: 4 }, length: 22 }],
    ['IPv6', hex('05 01 00 04 20010db8000000000000000000000001 01bb'), { kind: 'ok', value: { host: '2001:db8::1', port: 443, addressType: 4 }, length: 22 }],
    // As inet_ntop writes it (mitmproxy's SOCKS5 layer uses it): the IPv4 part dotted, not ::ffff:7f00:1.
    ['IPv4-mapped IPv6', hex('05 01 00 04 00000000000000000000ffff7f000001 0050'), { kind: 'ok', value: { host: '::ffff:127.0.0.1', port: 80, addressType: 4 }, length: 22 }],
    ['domain', Buffer.concat([hex('05 01 00 03 0b'), Buffer.from('example.com'), hex('01bb')]), { kind: 'ok', value: { host: 'example.com', port: 443, addressType: 3 }, length: 18 }],
    ['IP literal as a name', Buffer.concat([hex('05 01 00 03 03'), Buffer.from('::1'), hex('0050')]), { kind: 'ok', value: { host: '::1', port: 80, addressType: 3 }, length: 10 }],
    ['BIND', hex('05 02 00 01 7f000001 1234'), { kind: 'error', message: 'Unsupported SOCKS5 request: command BIND (only CONNECT is supported)', reply: 7 }],
    ['UDP ASSOCIATE', hex('05 03 00 01 00000000 0000'), { kind: 'error', message: 'Unsupported SOCKS5 request: command UDP ASSOCIATE (only CONNECT is supported)', reply: 7 }],
    ['unknown command', hex('05 09 00 01'), { kind: 'error', message: 'Unsupported SOCKS5 request: command 0x09 (only CONNECT is supported)', reply: 7 }],
    ['wrong version', hex('04 01 00 01'), { kind: 'error', message: "Unsupported SOCKS5 request: b'\\x04\\x01\\x00\\x01'", reply: 7 }],
    ['unknown address type', hex('05 01 00 ff 0000'), { kind: 'error', message: 'Unknown address type: 255', reply: 8 }],
    ['empty domain', hex('05 01 00 03 00 0050'), { kind: 'error', message: 'Invalid domain name in SOCKS5 request: ""', reply: 4 }],
    ['domain with a NUL', Buffer.concat([hex('05 01 00 03 05'), Buffer.from('a\0b.c'), hex('0050')]), { kind: 'error', message: 'Invalid domain name in SOCKS5 request: "a\\\\x00b.c"', reply: 4 }],
    ['domain with a space', Buffer.concat([hex('05 01 00 03 03'), Buffer.from('a b'), hex('0050')]), { kind: 'error', message: 'Invalid domain name in SOCKS5 request: "a b"', reply: 4 }],
  ];
  for (const [name, input, expected] of cases) {
    assert.deepEqual(parseConnectRequest(input), expected, name);
    if (expected.kind === 'ok') {
      for (let i = 0; i < input.length; i++) assert.equal(parseConnectRequest(input.subarray(0, i)).kind, 'incomplete', `${name}: prefix ${i}`);
    }
  }
});

test('reply codes for connect failures follow RFC 1928', () => {
  assert.deepEqual(replyBytes(Socks5Reply.HOST_UNREACHABLE), hex('05 04 00 01 00000000 0000'));
  assert.equal(replyForConnectError('Connection refused (127.0.0.1:1)'), Socks5Reply.CONNECTION_REFUSED);
  assert.equal(replyForConnectError('Network is unreachable'), Socks5Reply.NETWORK_UNREACHABLE);
  assert.equal(replyForConnectError('Name or service not known (x.invalid)'), Socks5Reply.HOST_UNREACHABLE);
  assert.equal(replyForConnectError('Connection killed: Request destination unknown. Unable to figure out where this request should be forwarded to.'), Socks5Reply.NOT_ALLOWED);
});

/** A valid CONNECT request for a generated target. */
const connectRequest = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 65535 })).map(([ip, port]) => Buffer.concat([hex('05 01 00 01'), Buffer.from(ip), Buffer.from([port >> 8, port & 255])])),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 65535 })).map(([ip, port]) => Buffer.concat([hex('05 01 00 04'), Buffer.from(ip), Buffer.from([port >> 8, port & 255])])),
  fc
    .tuple(fc.array(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 65535 }))
    .map(([labels, port]) => {
      const name = Buffer.from(labels.join('.'));
      return Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), name, Buffer.from([port >> 8, port & 255])]);
    }),
);

test('fuzz: the parsers never throw, and what they consume fits the input', () => {
  const parsers = [parseGreeting, parseUserPass, parseConnectRequest] as Array<(b: Uint8Array) => ParseResult<unknown>>;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      for (const parse of parsers) {
        const r = parse(bytes);
        if (r.kind === 'ok') assert.ok(r.length > 0 && r.length <= bytes.length);
        if (r.kind === 'error') assert.ok(r.message.length > 0 && !/[\r\n\0]/.test(r.message), 'error messages are one clean line');
      }
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: a valid request parses the same however it is split, and trailing bytes are left alone', () => {
  fc.assert(
    fc.property(connectRequest, fc.uint8Array({ maxLength: 20 }), fc.nat(), (req, tail, cut) => {
      const full = parseConnectRequest(Buffer.concat([req, tail]));
      assert.equal(full.kind, 'ok');
      assert.equal((full as { length: number }).length, req.length);
      const at = cut % req.length;
      assert.equal(parseConnectRequest(req.subarray(0, at)).kind, 'incomplete');
    }),
    { numRuns: 2000 },
  );
});

// ---------------------------------------------------------------------------------------------
// Real clients

test('curl --socks5-hostname and --socks5 reach an HTTP server; the flows name the SOCKS target', async (t) => {
  const up = await echoServer(t);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['socks5'] }, addons: [rec.addon] });
  assert.equal(proxy.listeners[0]!.mode, 'socks5');

  const viaName = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, `http://localhost:${up.port}/named?x=1`]);
  assert.equal(viaName.status, 200, viaName.stderr);
  assert.equal(JSON.parse(viaName.stdout).url, '/named?x=1');
  const viaIp = await curl(['--socks5', `127.0.0.1:${proxy.port}`, `http://127.0.0.1:${up.port}/ip`]);
  assert.equal(viaIp.status, 200, viaIp.stderr);

  assert.equal(rec.flows.length, 2);
  const [named, ip] = rec.flows;
  assert.deepEqual(named!.serverConn.address, ['localhost', up.port], 'the domain name is kept, resolved by the proxy');
  assert.equal(named!.request.host, 'localhost');
  assert.equal(named!.request.path, '/named?x=1');
  assert.equal(named!.clientConn.proxyMode, 'socks5');
  assert.deepEqual(ip!.serverConn.address, ['127.0.0.1', up.port]);
  assert.equal(ip!.response!.statusCode, 200);
});

test('the Host header cannot redirect a SOCKS tunnel: the request goes to the SOCKS target', async (t) => {
  const up = await echoServer(t);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['socks5'] }, addons: [rec.addon] });
  const r = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, '-H', 'Host: elsewhere.invalid', `http://127.0.0.1:${up.port}/h`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(rec.flows[0]!.request.host, '127.0.0.1');
  assert.equal(rec.flows[0]!.request.port, up.port);
});

test('curl --socks5-hostname to an HTTPS server: TLS is intercepted with a leaf for the SNI, upstream verified', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`secure ${req.url}`));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: ['socks5'], ssl_verify_upstream_trusted_ca: origin.caFile }, addons: [rec.addon] });
  const r = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, '--cacert', await proxyCaFile(), `${origin.url}/tls`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'secure /tls');
  const f = rec.flows[0]!;
  assert.equal(f.request.scheme, 'https');
  assert.equal(f.clientConn.tls, true);
  assert.equal(f.clientConn.sni, 'localhost');
  assert.equal(f.serverConn.tls, true);
  assert.deepEqual(origin.servernames, ['localhost']);

  // Without trusting the origin's CA the upstream certificate is refused and the client told why.
  const strict = await testProxy(t, { options: { mode: ['socks5'] } });
  const bad = await curl(['--socks5-hostname', `127.0.0.1:${strict.port}`, '--cacert', await proxyCaFile(), `${origin.url}/tls`]);
  assert.equal(bad.status, 502);
  assert.match(bad.stdout, /Certificate verify failed/);
});

test('proxyauth: user/password is required, checked through socks5_auth, and wrong credentials are refused', async (t) => {
  const up = await echoServer(t);
  const rec = recorder();
  const seen: Array<[string, string]> = [];
  const proxy = await testProxy(t, {
    options: { mode: ['socks5'], proxyauth: 'user:secret' },
    addons: [rec.addon, { name: 'watch', socks5_auth: (d: { username: string; password: string }) => void seen.push([d.username, d.password]) }],
  });
  const good = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, '--proxy-user', 'user:secret', `http://127.0.0.1:${up.port}/a`]);
  assert.equal(good.status, 200, good.stderr);
  assert.deepEqual(rec.flows[0]!.metadata['proxyauth'], ['user', 'secret'], 'the tunnel is authenticated for its requests');

  const wrong = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, '--proxy-user', 'user:nope', `http://127.0.0.1:${up.port}/b`]);
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.status, 0);
  assert.match(wrong.stderr, /authentication failed|User was rejected/i);
  assert.deepEqual(seen, [
    ['user', 'secret'],
    ['user', 'nope'],
  ]);
  await waitFor(() => proxy.logs.some((l) => l.message === 'authentication failed'), 5000, 'auth failure log');

  // A client offering no authentication gets "no acceptable methods".
  const c = await RawClient.connect(proxy.port, t);
  c.write(hex('05 01 00'));
  assert.deepEqual(await c.read(2), hex('05 ff'));
  assert.equal(await c.closed(), true);
  await waitFor(() => proxy.logs.some((l) => l.message === 'Client does not support SOCKS5 with user/password authentication.'), 5000, 'method log');
  assert.equal(up.connections, 1, 'refused clients never reach the server');
});

test('handshake byte by byte, optimistic data after the request, and the eager connection before the reply', async (t) => {
  const events: string[] = [];
  const greeting = await rawServer(t, (s) => {
    events.push('server accepted');
    s.write('220 hello\r\n');
    s.on('data', (d) => s.write(`echo:${d}`));
  });
  const proxy = await testProxy(t, {
    options: { mode: ['socks5'] },
    addons: [{ name: 'order', server_connected: () => void events.push('server_connected') }],
  });
  const c = await RawClient.connect(proxy.port, t);
  for (const b of hex('05 01 00')) c.write(Buffer.from([b]));
  assert.deepEqual(await c.read(2), hex('05 00'));
  const req = Buffer.concat([hex('05 01 00 01 7f000001'), Buffer.from([greeting.port >> 8, greeting.port & 255])]);
  for (const b of req) c.write(Buffer.from([b]));
  assert.deepEqual(await c.read(10), OK_REPLY);
  assert.deepEqual(events, ['server accepted', 'server_connected'], 'connected before the success reply');
  assert.equal((await c.read(11)).toString(), '220 hello\r\n', 'a server greeting arrives without the client speaking (raw TCP)');
  c.write('ping');
  assert.equal((await c.read(9)).toString(), 'echo:ping');
});

test('connection_strategy lazy: success is replied before connecting', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { mode: ['socks5'], connection_strategy: 'lazy' } });
  const c = await RawClient.connect(proxy.port, t);
  c.write(hex('05 01 00'));
  assert.deepEqual(await c.read(2), hex('05 00'));
  c.write(Buffer.concat([hex('05 01 00 01 7f000001'), Buffer.from([up.port >> 8, up.port & 255])]));
  assert.deepEqual(await c.read(10), OK_REPLY);
  assert.equal(up.connections, 0);
  c.write(`GET /lazy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const resp = (await c.read(1000, 5000)).toString();
  assert.match(resp, /^HTTP\/1\.1 200/);
  assert.equal(up.connections, 1);
});

test('failures: refused, unresolvable, BIND, UDP ASSOCIATE, bad address type, garbage and early close each get their answer and one log line', async (t) => {
  const refusedPort = await closedPort();
  const proxy = await testProxy(t, { options: { mode: ['socks5'] } });
  const handshake = async (request: Buffer): Promise<{ reply: Buffer; closed: boolean }> => {
    const c = await RawClient.connect(proxy.port, t);
    c.write(hex('05 01 00'));
    assert.deepEqual(await c.read(2), hex('05 00'));
    c.write(request);
    const reply = await c.read(10);
    return { reply, closed: await c.closed() };
  };
  const refused = await handshake(Buffer.concat([hex('05 01 00 01 7f000001'), Buffer.from([refusedPort >> 8, refusedPort & 255])]));
  assert.deepEqual(refused, { reply: replyBytes(Socks5Reply.CONNECTION_REFUSED), closed: true });
  assert.ok(proxy.logs.some((l) => l.message.startsWith(`SOCKS5 CONNECT to 127.0.0.1:${refusedPort} failed: Connection refused`)));

  const name = Buffer.from('no-such-host.invalid');
  const unresolvable = await handshake(Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), name, hex('0050')]));
  assert.deepEqual(unresolvable, { reply: replyBytes(Socks5Reply.HOST_UNREACHABLE), closed: true });

  assert.deepEqual(await handshake(hex('05 02 00 01 7f000001 0050')), { reply: replyBytes(Socks5Reply.COMMAND_NOT_SUPPORTED), closed: true });
  assert.deepEqual(await handshake(hex('05 03 00 01 00000000 0000')), { reply: replyBytes(Socks5Reply.COMMAND_NOT_SUPPORTED), closed: true });
  assert.deepEqual(await handshake(hex('05 01 00 07 7f000001 0050')), { reply: replyBytes(Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED), closed: true });
  await waitFor(() => proxy.logs.some((l) => l.message === 'Unknown address type: 7'), 5000, 'atyp log');
  assert.ok(proxy.logs.some((l) => l.message === 'Unsupported SOCKS5 request: command BIND (only CONNECT is supported)'));

  // An HTTP client on the SOCKS port: closed without a reply, with a hint in the log.
  const http = await RawClient.connect(proxy.port, t);
  http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await http.closed(), true);
  assert.equal((await http.read(1)).length, 0);
  await waitFor(() => proxy.logs.some((l) => l.message.startsWith('Probably not a SOCKS request but a regular HTTP request.')), 5000, 'http hint');

  const early = await RawClient.connect(proxy.port, t);
  early.write(hex('05 02 00'));
  early.socket.end();
  await waitFor(() => proxy.logs.some((l) => l.message === "Client closed connection before completing SOCKS5 handshake: b'\\x05\\x02\\x00'"), 5000, 'early close log');
});

test('fuzz over a live listener: random handshakes never crash the proxy, which keeps serving', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { mode: ['socks5'], connection_strategy: 'lazy' } });
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 64 }), connectRequest.map((r) => Buffer.concat([hex('05 01 00'), r]))), async (bytes) => {
      const c = await RawClient.connect(proxy.port, t);
      c.write(Buffer.from(bytes));
      c.socket.end();
      await c.closed(5000);
      c.socket.destroy();
    }),
    { numRuns: 60 },
  );
  const r = await curl(['--socks5-hostname', `127.0.0.1:${proxy.port}`, `http://127.0.0.1:${up.port}/still-alive`]);
  assert.equal(r.status, 200, r.stderr);
  assert.ok(!proxy.logs.some((l) => l.level === 'error'), proxy.logs.filter((l) => l.level === 'error').map((l) => l.message).join('\n'));
});
