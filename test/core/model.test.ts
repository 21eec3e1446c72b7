import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { inspect } from 'node:util';
import { Opcode, WebSocketMessage } from '../../src/websocket.js';
import { readFileSync } from 'node:fs';
import { Headers } from '../../src/headers.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { Client, Server } from '../../src/connection.js';
import { ContentEncodingError, ZSTD_ENCODE_SUPPORTED, decode, encode } from '../../src/encoding.js';
import { FlowError } from '../../src/flow.js';
import { DNSFlow, DNSMessage, DNSQuestion, DNSResourceRecord, DnsClass, DnsRcode, DnsType } from '../../src/index.js';
import { Master } from '../../src/master.js';
import type { Addon } from '../../src/hooks.js';

test('Headers keep case, order and duplicates; lookups ignore case', () => {
  const h = Headers.fromRaw(['Content-Type', 'text/plain', 'X-Dup', 'a', 'set-cookie', 'x=1', 'x-dup', 'b']);
  assert.equal(h.get('content-type'), 'text/plain');
  assert.equal(h.get('X-DUP'), 'a, b', 'repeated fields joined with ", "');
  assert.deepEqual(h.getAll('x-dup'), ['a', 'b']);
  h.set('x-dup', 'c');
  assert.deepEqual(h.toRaw(), ['Content-Type', 'text/plain', 'X-Dup', 'c', 'set-cookie', 'x=1'], 'set replaces the first in place and drops the rest');
  h.add('X-New', '1');
  h.set('new-header', 'appended');
  assert.deepEqual(h.keys(), ['Content-Type', 'X-Dup', 'set-cookie', 'X-New', 'new-header']);
  assert.ok(h.delete('SET-COOKIE'));
  assert.equal(h.has('set-cookie'), false);
  h.set('x-text', 'héllo');
  assert.equal(h.fields.at(-1)![1], 'h\xc3\xa9llo', 'text is stored as UTF-8 bytes');
  assert.equal(h.get('x-text'), 'héllo');
  h.fields.push(['x-latin', 'caf\xe9']);
  assert.equal(h.get('x-latin'), 'caf\xe9', 'bytes that are not UTF-8 read as latin1');
  h.setAll('x-multi', ['1', '2']);
  assert.deepEqual(h.getAll('x-multi'), ['1', '2']);
  assert.equal(h.copy().equals(h), true);
});

test('Request: url, pretty url and host, query, cookies and urlencoded forms', () => {
  const r = Request.make('post', 'http://example.com:8080/path?a=1&b=two%20words&a=3', 'x', { Host: 'example.com:8080', Cookie: 'k=v; other=2' });
  assert.equal(r.method, 'POST');
  assert.equal(r.url, 'http://example.com:8080/path?a=1&b=two%20words&a=3');
  assert.deepEqual(r.query.getAll('a'), ['1', '3']);
  assert.equal(r.query.get('b'), 'two words');
  r.query.set('b', 'new value');
  assert.equal(r.path, '/path?a=1&b=new+value&a=3', 'changing the query rewrites the path');
  assert.deepEqual(r.cookies.fields, [['k', 'v'], ['other', '2']]);
  r.cookies.delete('other');
  assert.equal(r.headers.get('cookie'), 'k=v');
  r.url = 'https://other.example/x';
  assert.equal(r.scheme, 'https');
  assert.equal(r.host, 'other.example');
  assert.equal(r.port, 443);
  assert.equal(r.headers.get('host'), 'other.example', 'the url setter keeps the Host header in step');
  r.headers.set('host', 'shown.example');
  assert.equal(r.prettyHost, 'shown.example');
  assert.equal(r.prettyUrl, 'https://shown.example/x');
  r.urlencodedForm = [['q', 'a b'], ['n', '1']];
  assert.equal(r.text, 'q=a+b&n=1');
  assert.equal(r.headers.get('content-type'), 'application/x-www-form-urlencoded');
  assert.equal(r.headers.get('content-length'), '9');
  assert.deepEqual(r.urlencodedForm.fields, [['q', 'a b'], ['n', '1']]);
  r.anticache();
  r.anticomp();
  assert.equal(r.headers.get('accept-encoding'), 'identity');
  const connect = new Request({ host: 'example.com', port: 443, method: 'CONNECT', authority: 'example.com:443', path: '' });
  assert.equal(connect.url, 'example.com:443');
  assert.equal(connect.firstLineFormat, 'authority');
});

test('query and urlencoded form decode as parse_qsl(errors="surrogateescape"); the query ends at "#"', () => {
  const r = Request.make('GET', 'http://example.com/p');
  r.path = '/p?a=%ff&b=%C3%A9&c=caf\xc3\xa9&d#x=1';
  assert.deepEqual(r.query.fields, [['a', '\udcff'], ['b', 'é'], ['c', 'café'], ['d', '']]);
  // Editing keeps the fragment and writes surrogate escapes back as their bytes.
  r.query.set('e', 'x y\udcfe');
  assert.equal(r.path, '/p?a=%FF&b=%C3%A9&c=caf%C3%A9&d=&e=x+y%FE#x=1');
  const form = Request.make('POST', 'http://example.com/', Buffer.from('a=%ff&b=caf\xe9', 'latin1'), { 'content-type': 'application/x-www-form-urlencoded' });
  // The body is read as text first (latin-1 without a charset), then unquoted.
  assert.deepEqual(form.urlencodedForm.fields, [['a', '\udcff'], ['b', 'café']]);
  form.headers.set('content-type', 'application/x-www-form-urlencoded; charset=utf-8');
  form.content = Buffer.from('b=caf\xc3\xa9', 'latin1');
  assert.deepEqual(form.urlencodedForm.fields, [['b', 'café']]);
});

test('Response.make, reasons and Set-Cookie parsing', () => {
  const r = Response.make(404, 'not here', { 'Set-Cookie': ['a=1; Path=/', 'b=2; HttpOnly'] as unknown as string });
  assert.equal(r.reason, 'Not Found');
  assert.equal(r.headers.get('content-length'), '8');
  assert.deepEqual(r.cookies.get('a'), ['1', [['Path', '/']]]);
  assert.deepEqual(r.cookies.get('b'), ['2', [['HttpOnly', '']]]);
  assert.equal(Response.make(204).rawContent!.length, 0);
});

test('content decodes lazily by Content-Encoding and re-encodes on write; a broken body is reported, not thrown into the proxy', () => {
  const plain = Buffer.from('hello, hello, hello');
  for (const enc of ['gzip', 'deflate', 'br']) {
    const r = Response.make(200);
    r.headers.set('content-encoding', enc);
    r.rawContent = encode(plain, enc);
    assert.deepEqual(r.content, plain, `${enc} decodes`);
    r.text = 'changed';
    assert.deepEqual(decode(r.rawContent!, enc), Buffer.from('changed'), `${enc} re-encodes`);
    assert.equal(r.headers.get('content-length'), String(r.rawContent!.length));
  }
  // deflate without the zlib wrapper, as some servers send it
  assert.deepEqual(decode(zlib.deflateRawSync(plain), 'deflate'), plain);
  // stacked codings are undone last-first
  assert.deepEqual(decode(zlib.brotliCompressSync(zlib.gzipSync(plain)), 'gzip, br'), plain);
  const broken = Response.make(200);
  broken.headers.set('content-encoding', 'gzip');
  broken.rawContent = Buffer.from('not gzip at all');
  assert.throws(() => broken.content, ContentEncodingError);
  assert.deepEqual(broken.getContent(false), Buffer.from('not gzip at all'), 'non-strict reads give the raw bytes');
  assert.equal(broken.getText(false), 'not gzip at all');
  const r = Response.make(200, 'x');
  r.encode('gzip');
  assert.equal(r.headers.get('content-encoding'), 'gzip');
  r.decode();
  assert.equal(r.headers.get('content-encoding'), undefined);
  assert.equal(r.text, 'x');
});

test('zstd: decoding works on every Node; encoding where node:zlib has it (Node >= 22.15), else a clear error', () => {
  const plain = Buffer.from('zstandard body '.repeat(20));
  // A zstd frame made by the reference implementation (zstd -19 of the text above), so decoding is tested on Node 20 too.
  const z = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
  if (ZSTD_ENCODE_SUPPORTED) {
    const frame = encode(plain, 'zstd');
    assert.deepEqual(decode(frame, 'zstd'), plain);
    assert.deepEqual(decode(z.zstdCompressSync!(plain), 'zstd'), plain);
  } else {
    assert.throws(() => encode(plain, 'zstd'), /zstd compression needs Node 22\.15 or newer/);
  }
  // A tiny known frame: "abc" (zstd 1.5, no checksum): decodes everywhere through fzstd or zlib.
  const known = Buffer.from('28b52ffd2003190000616263', 'hex');
  assert.deepEqual(decode(known, 'zstd'), Buffer.from('abc'));
});

test('flows: intercept/resume, kill, backup/revert/modified, copy, state round trip', async () => {
  const f = new HTTPFlow(new Client({ peername: ['127.0.0.1', 1234], timestampStart: 1 }), new Server({ address: ['example.com', 80] }), true, Request.make('GET', 'http://example.com/'));
  f.response = Response.make(200, 'ok');
  f.intercept();
  let resumed = false;
  const waiting = f.waitForResume().then(() => (resumed = true));
  await Promise.resolve();
  assert.equal(resumed, false);
  f.resume();
  await waiting;
  assert.equal(resumed, true);

  assert.equal(f.modified(), false);
  f.backup();
  f.request.path = '/changed';
  f.marked = ':default:';
  assert.equal(f.modified(), true);
  f.revert();
  assert.equal(f.request.path, '/');
  assert.equal(f.marked, '');
  assert.equal(f.modified(), false);

  const c = f.copy();
  assert.notEqual(c.id, f.id);
  assert.equal(c.live, false);
  assert.equal(c.request.url, f.request.url);
  const state = f.getState();
  const back = HTTPFlow.fromState(state);
  assert.deepEqual(back.getState(), state, 'state round trip is exact');
  assert.deepEqual(Object.keys(state), ['version', 'type', 'id', 'error', 'client_conn', 'server_conn', 'intercepted', 'is_replay', 'marked', 'metadata', 'comment', 'timestamp_created', 'backup', 'request', 'response', 'websocket']);

  let killedCallback = false;
  f.onKill(() => (killedCallback = true));
  assert.equal(f.killable, true);
  f.kill();
  assert.equal(f.error!.msg, FlowError.KILLED_MESSAGE);
  assert.equal(f.live, false);
  assert.equal(killedCallback, true);
  assert.equal(f.killable, false);
});

test("connections print as mitmproxy's str() does: IPv6 in brackets, the ALPN or TLS state, the server's local port", () => {
  const client = new Client({ peername: ['::1', 5555], sockname: ['::1', 8080], timestampStart: 1 });
  assert.equal(String(client), 'Client([::1]:5555, state=open)');
  client.alpn = 'h2';
  client.timestampTlsSetup = 2;
  client.timestampEnd = 3;
  assert.equal(String(client), 'Client([::1]:5555, state=closed, alpn=h2)');
  const server = new Server({ address: ['2001:db8::1', 443] });
  assert.equal(String(server), 'Server([2001:db8::1]:443, state=closed)');
  server.timestampStart = 1;
  server.sockname = ['::1', 50712];
  server.alpn = '';
  server.timestampTlsSetup = 2;
  assert.equal(String(server), 'Server([2001:db8::1]:443, state=open, tls, src_port=50712)');
  assert.equal(String(new Server()), 'Server(<no address>, state=closed)');
});

test('nested addons are dispatched after their parent, depth first, and registered by name', async () => {
  const calls: string[] = [];
  const child2: Addon = { name: 'child2', running: () => void calls.push('child2') };
  const child1: Addon = { name: 'child1', running: () => void calls.push('child1'), addons: [child2] };
  const parent: Addon = { name: 'parent', running: () => void calls.push('parent'), addons: [child1] };
  const last: Addon = { name: 'last', running: () => void calls.push('last') };
  const m = new Master();
  await m.addons.add(parent, last);
  await m.run();
  assert.deepEqual(calls, ['parent', 'child1', 'child2', 'last']);
  assert.equal(m.addons.get('child2'), child2);
  await assert.rejects(m.addons.add({ name: 'child1' }), /An addon called 'child1' already exists/);
  await m.shutdown();
});

test('decoding refuses compression bombs: more than 100 times the encoded size beyond 64 MiB', () => {
  // 80 MiB of zeros gzip to ~80 KiB; gzipped twice they are a few hundred bytes.
  const zeros = Buffer.alloc(80 * 1024 * 1024);
  const once = zlib.gzipSync(zeros, { level: 1 });
  const twice = zlib.gzipSync(once);
  for (const [body, coding] of [[once, 'gzip'], [twice, 'gzip, gzip'], [zlib.brotliCompressSync(zeros, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }), 'br']] as const) {
    assert.throws(
      () => decode(body, coding),
      (e: Error) => e instanceof ContentEncodingError && /would be larger than 67108864 bytes, 100 times its encoded size \(a compression bomb\?\)/.test(e.message),
      coding,
    );
  }
  // zstd too, also where node:zlib has no zstd and fzstd decodes (Node 20). The fixture is 200 MiB
  // of zeros made with `head -c 209715200 /dev/zero | zstd -19`.
  const zstdBomb = readFileSync(new URL('../fixtures/zeros-200MiB.zst', import.meta.url));
  const started = Date.now();
  assert.throws(() => decode(zstdBomb, 'zstd'), /would be larger than 67108864 bytes/);
  assert.ok(Date.now() - started < 5000, 'stopped early, not after decoding 200 MiB');
  // Ordinary content decodes as before.
  const text = Buffer.from('{"id": 12345, "name": "a record"},\n'.repeat(100_000));
  assert.deepEqual(decode(zlib.gzipSync(text), 'gzip'), text);
  const resp = new Response({ statusCode: 200, headers: [['content-encoding', 'gzip']], content: once });
  assert.throws(() => resp.content, ContentEncodingError);
});

test('a WebSocketMessage kept in a slab shows its content in JSON and console output', () => {
  const m = WebSocketMessage.inSlab(Opcode.TEXT, true, Buffer.from('..hello..'), 2, 7, 1.5);
  assert.equal(m.text, 'hello');
  assert.equal(m.contentLength, 5);
  assert.deepEqual(JSON.parse(JSON.stringify(m)), { type: 1, fromClient: true, content: { type: 'Buffer', data: [...Buffer.from('hello')] }, timestamp: 1.5, dropped: false, injected: false });
  assert.match(inspect(m), /^WebSocketMessage \{[^]*content: <Buffer 68 65 6c 6c 6f>/);
});

test("DNS records and constants by name, as mitmproxy's ResourceRecord.A/AAAA/CNAME/PTR and dns.types; a message's single question", () => {
  const a = DNSResourceRecord.A('example.com', '192.0.2.1');
  assert.deepEqual([a.type, a.class_, a.ttl, a.dataText()], [DnsType.A, DnsClass.IN, DNSResourceRecord.DEFAULT_TTL, '192.0.2.1']);
  const aaaa = DNSResourceRecord.AAAA('example.com', '2001:db8::1', 300);
  assert.deepEqual([aaaa.type, aaaa.ttl, aaaa.data.length, aaaa.dataText()], [DnsType.AAAA, 300, 16, '2001:db8::1']);
  assert.equal(DNSResourceRecord.AAAA('example.com', '::ffff:192.0.2.1').dataText(), '::ffff:192.0.2.1', 'an IPv4-mapped answer shows its IPv4 part dotted, as dig does');
  assert.throws(() => DNSResourceRecord.A('x', '::1'), /not an IPv4 address: "::1"/);
  assert.throws(() => DNSResourceRecord.AAAA('x', '127.0.0.1'), /not an IPv6 address: "127.0.0.1"/);
  const cname = DNSResourceRecord.CNAME('www.example.com', 'example.com');
  assert.deepEqual([cname.name, cname.type, cname.dataText()], ['www.example.com', DnsType.CNAME, 'example.com']);
  const ptr = DNSResourceRecord.PTR('1.2.0.192.in-addr.arpa', 'host.example');
  assert.deepEqual([ptr.type, ptr.dataText()], [DnsType.PTR, 'host.example']);

  const query = new DNSMessage();
  const question = () => query.question;
  assert.equal(question(), undefined);
  query.questions = [new DNSQuestion('example.com', DnsType.AAAA)];
  assert.equal(question()?.name, 'example.com');
  const answer = DNSMessage.unpack(query.succeed([aaaa]).pack());
  assert.equal(answer.answers[0]!.dataText(), '2001:db8::1');
  assert.equal(DNSMessage.unpack(query.fail(DnsRcode.NXDOMAIN).pack()).responseCode, 3);
  query.questions.push(new DNSQuestion('example.org', DnsType.A));
  assert.equal(question(), undefined, 'no single question with two');
});

test("DNS record data as mitmproxy's ipv4_address, ipv6_address, domain_name and text, readable and settable; ResourceRecord.TXT", () => {
  const a = DNSResourceRecord.A('example.com', '192.0.2.1');
  assert.equal(a.ipv4Address, '192.0.2.1');
  a.ipv4Address = '198.51.100.7';
  assert.deepEqual([...a.data], [198, 51, 100, 7]);
  assert.throws(() => (a.ipv4Address = '::1'), /not an IPv4 address/);
  assert.throws(() => a.ipv6Address, /not an IPv6 address: 0xc6336407/);

  const aaaa = DNSResourceRecord.AAAA('example.com', '::1');
  aaaa.ipv6Address = '2001:db8::7';
  assert.equal(aaaa.ipv6Address, '2001:db8::7');
  assert.equal(aaaa.dataText(), '2001:db8::7');

  const cname = DNSResourceRecord.CNAME('www.example.com', 'example.com');
  assert.equal(cname.domainName, 'example.com');
  cname.domainName = 'cdn.example.net';
  assert.equal(cname.data.toString('latin1'), '\x03cdn\x07example\x03net\x00');

  // TXT data is length-prefixed character-strings (RFC 1035 §3.3.14) on the wire and in a message.
  const txt = DNSResourceRecord.TXT('example.com', 'v=spf1 -all');
  assert.equal(txt.type, DnsType.TXT);
  assert.equal(txt.data.toString('latin1'), '\x0bv=spf1 -all');
  assert.equal(txt.text, 'v=spf1 -all');
  const long = 'é'.repeat(200);
  txt.text = long;
  assert.deepEqual([txt.data[0], txt.data[256]], [255, 145], 'split into strings of at most 255 bytes');
  assert.equal(txt.text, long, 'a character split between two strings reads back whole');
  txt.text = '';
  assert.deepEqual([...txt.data], [0]);
  const query = new DNSMessage();
  query.questions = [new DNSQuestion('example.com', DnsType.TXT)];
  const parsed = DNSMessage.unpack(query.succeed([DNSResourceRecord.TXT('example.com', 'hello')]).pack());
  assert.equal(parsed.answers[0]!.text, 'hello');
});

test("DNS questions and messages print as mitmproxy's str(): a question as its name, a message one line per question and record", () => {
  const query = new DNSMessage();
  query.questions = [new DNSQuestion('example.com', DnsType.A)];
  assert.equal(String(query.questions[0]), 'example.com');
  const answer = query.succeed([DNSResourceRecord.A('example.com', '192.0.2.1'), DNSResourceRecord.CNAME('example.com', 'cdn.example.net')]);
  answer.additionals.push(DNSResourceRecord.TXT('example.com', 'hi'));
  assert.equal(String(answer), 'example.com\r\n192.0.2.1\r\ncdn.example.net\r\nhi');
  assert.equal(String(new DNSFlow(undefined, undefined, false, query)), '<DNSFlow example.com A>');
});

test('multipartForm: empty for other bodies and broken forms; a value holding the boundary is refused', () => {
  const r = Request.make('POST', 'http://example.com/', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(r.multipartForm.length, 0);
  r.headers.set('content-type', 'multipart/form-data; boundary=xyz');
  r.content = '--xyz\r\nContent-Disposition: form-data; name="a"\r\nno blank line';
  assert.equal(r.multipartForm.length, 0, 'a part without the blank line after its headers: no form, as mitmproxy');
  r.multipartForm = [['k', Buffer.from('v')]];
  assert.equal(r.headers.get('content-type'), 'multipart/form-data; boundary=xyz', 'an existing boundary is kept');
  assert.equal(r.text, '--xyz\r\nContent-Disposition: form-data; name="k"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nv\r\n--xyz--\r\n');
  assert.deepEqual(r.multipartForm.fields, [['k', Buffer.from('v')]]);
  assert.throws(() => r.multipartForm.set('k', Buffer.from('a\r\n--xyz\r\nb')), /contains the boundary delimiter --xyz/);
});

test('multipartForm: a quoted boundary is read and written unquoted; a form type without a boundary gets a new one', () => {
  const r = Request.make('POST', 'http://example.com/', '', { 'content-type': 'multipart/form-data; boundary="abc"' });
  r.content = '--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--abc--\r\n';
  assert.deepEqual(r.multipartForm.fields, [['a', Buffer.from('1')]], 'quotes are not part of the boundary (RFC 2046)');
  r.multipartForm.set('b', Buffer.from('2'));
  assert.equal(r.headers.get('content-type'), 'multipart/form-data; boundary="abc"');
  assert.match(r.text ?? '', /^--abc\r\n[^]*\r\n--abc--\r\n$/, 'the delimiters carry no quotes');
  assert.deepEqual(r.multipartForm.fields, [['a', Buffer.from('1')], ['b', Buffer.from('2')]]);

  const bare = Request.make('POST', 'http://example.com/', '', { 'content-type': 'multipart/form-data' });
  bare.multipartForm = [['k', 'v']];
  const boundary = /^multipart\/form-data; boundary=(-{20}[0-9a-f]{32})$/.exec(bare.headers.get('content-type') ?? '')?.[1];
  assert.ok(boundary, bare.headers.get('content-type') ?? '');
  assert.ok((bare.text ?? '').startsWith(`--${boundary}\r\n`), 'a body the new boundary delimits, not an empty one');
  assert.deepEqual(bare.multipartForm.fields, [['k', Buffer.from('v')]]);
});
