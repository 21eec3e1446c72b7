/** Operator details beyond the §9 table: bytes vs text, decoding, header blocks, metadata, case rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parse, parseWithOptions, matchFilter, MATCH_ALL } from '../../src/flowfilter/index.js';
import { Request, Response, HTTPFlow } from '../../src/http.js';
import { DNSMessage, DNSQuestion, DNSResourceRecord } from '../../src/dns.js';
import type { AnyFlow } from '../../src/flows.js';
import { quoteArgument } from '../../src/flowfilter/lexer.js';
import { Opcode, WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import { D, R, S, T, W, X } from './flows.js';

const m = (text: string, flow: AnyFlow): boolean => parse(text).match(flow);

test('header blocks: CRLF line ends, `$` only before \\n, `^` per line, exact ": " separator', () => {
  const r = R();
  assert.equal(m('~h "^header: qvalue$"', r), false);
  assert.equal(m('~h "^header: qvalue\\\\r$"', r), true);
  assert.equal(m('~h "^content-length"', r), true);
  assert.equal(m('~h "header:qvalue"', r), false);
  assert.equal(m('~h HEADER', r), true, 'case-insensitive by default');
  // Repeated fields stay separate lines, in order.
  r.request.headers.add('header', 'second');
  assert.equal(m('~hq "qvalue\\\\r\\\\nContent-Length: 7\\\\r\\\\nheader: second"', r), true);
});

test('~t looks at every Content-Type field of the request, then the response', () => {
  const f = S();
  f.request.headers.add('Content-Type', 'text/plain');
  f.request.headers.add('CONTENT-TYPE', 'application/json');
  f.response!.headers.add('content-type', 'image/webp');
  assert.equal(m('~tq json', f), true);
  assert.equal(m('~t webp', f), true, 'falls back to the response');
  assert.equal(m('~ts json', f), false);
  assert.equal(m('~tq ^application', f), true, 'each value is matched on its own');
});

test('~a is a case-sensitive search of the response Content-Type', () => {
  const f = S();
  f.response!.headers.add('content-type', 'x-image/png');
  assert.equal(m('~a', f), true);
  f.response!.headers.set('content-type', 'application/fontobject');
  assert.equal(m('~a', f), true);
  f.response!.headers.set('content-type', 'Image/png');
  assert.equal(m('~a', f), false);
  f.request.headers.set('content-type', 'image/png');
  assert.equal(m('~a', f), false, 'the request content type is ignored');
});

test('bodies: decoded when possible, raw when decoding fails, never for a body that was not kept', () => {
  const bogus = R();
  bogus.request.headers.set('content-encoding', 'gzip');
  assert.equal(m('~b content', bogus), true);
  const streamed = S();
  streamed.response!.rawContent = null;
  assert.equal(m('~bs .', streamed), false);
  assert.equal(m('~bs ""', streamed), false, 'a missing body never matches, not even the empty regex');
  const deflated = S();
  deflated.response!.encode('deflate');
  assert.equal(m('~bs ^message$', deflated), true);
});

test('bodies are bytes: `.` is one byte, \\xff is the byte 0xFF, case folding is ASCII only', () => {
  const f = S();
  f.response!.content = 'я';
  assert.equal(m('~bs "^..$"', f), true);
  assert.equal(m('~bs "^.$"', f), false);
  f.response!.content = Buffer.from([0x41, 0xff]);
  assert.equal(m('~bs "\\\\xff"', f), true);
  assert.equal(m('~bs "a\\\\xff"', f), true);
  f.response!.content = Buffer.from('É', 'latin1');
  assert.equal(m('~bs "\\\\xe9"', f), false, 'latin-1 letters are not case-folded in byte patterns');
  f.response!.content = 'line1\nline2';
  assert.equal(m('~bs "1.line"', f), true, 'DOTALL');
  assert.equal(m('~bs "^line2"', f), false, 'no MULTILINE for bodies');
});

test('URLs and domains are text: Unicode case folding', () => {
  const f = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/путь'));
  assert.equal(m('~u ПУТЬ', f), true);
  assert.equal(m('~u "/\\\\w+$"', f), true, '\\w is Unicode for text operators');
  const idn = new HTTPFlow(undefined, undefined, false, new Request({ host: 'bücher.de', port: 443, scheme: 'https', path: '/' }));
  assert.equal(m('~d BÜCHER', idn), true);
  assert.equal(m('~u "https://bücher.de/$"', idn), true);
});

test('~u reads a byte path as UTF-8, like mitmproxy\'s text URL', () => {
  const f = R();
  f.request.path = Buffer.from('/путь?q=я', 'utf8').toString('latin1');
  assert.equal(m('~u "/ПУТЬ\\\\?q=я$"', f), true);
  assert.equal(m('~u "^http://address:22/.{4}\\\\?"', f), true, 'one character per letter, not per byte');
});

test('~u: an IPv6 host without brackets and undecodable path bytes as surrogate escapes, as Python\'s pretty_url', () => {
  const f = new HTTPFlow(undefined, undefined, false, new Request({ host: '::1', port: 22, method: 'GET', scheme: 'http', authority: '', path: '/\xff%20x' }));
  assert.equal(m('~u "^http://::1:22/"', f), true);
  assert.equal(m('~u "\\\\udcff"', f), true);
  assert.equal(m('~u "\\\\xff"', f), false);
});

test('~u uses the Host header; ~d checks both the target host and the Host header', () => {
  const f = R();
  f.request.headers.add('Host', 'example.org:8080');
  assert.equal(m('~u "^http://example.org:8080/path$"', f), true);
  assert.equal(m('~d "^example.org$"', f), true, 'the port is not part of pretty_host');
  assert.equal(m('~d "^address$"', f), true);
  const connect = new HTTPFlow(undefined, undefined, false, new Request({ host: 'example.com', port: 443, method: 'CONNECT', authority: 'example.com:443', path: '' }));
  assert.equal(m('~u "^example.com:443$"', connect), true);
  // A Host header that is not a valid host[:port] is pretty_host whole, as in mitmproxy.
  for (const [header, filter] of [
    ['example.org:', '~d "^example.org:$"'],
    ['example.org:99999', '~d 99999'],
    ['::1', '~d "^::1$"'],
    ['evil..com:8080', '~d 8080'],
  ]) {
    const g = R();
    g.request.headers.set('Host', header!);
    assert.equal(g.request.prettyHost, header);
    assert.equal(m(filter!, g), true, filter);
  }
  const idn = R();
  idn.request.headers.set('Host', 'bücher.example:81');
  assert.equal(idn.request.prettyHost, 'bücher.example', 'an international name is a valid host');
});

test('~src and ~dst: IPv6 without brackets, false without an address', () => {
  const f = R();
  f.clientConn.peername = ['::1', 5555];
  assert.equal(m('~src "^::1:5555$"', f), true);
  f.clientConn.peername = null;
  assert.equal(m('~src .', f), false);
  f.serverConn.address = null;
  assert.equal(m('~dst ""', f), false);
});

test('~meta searches "key: value" lines with Python str() of each value', () => {
  const f = R();
  f.metadata = { a: 1, b: 'two', c: { k: 'v', n: null, t: true }, d: [1.5, 'x'], e: Buffer.from("q'\n") };
  const text = ["a: 1", "b: two", "c: {'k': 'v', 'n': None, 't': True}", "d: [1.5, 'x']", 'e: b"q\'\\n"'];
  for (const line of text) {
    const regex = `^${line.replace(/[\\[\]{}().*+?^$|]/g, (c) => `\\${c}`)}$`;
    assert.equal(parseWithOptions(`~meta ${quoteArgument(regex)}`, { ignoreCase: false }).match(f), true, line);
  }
  assert.equal(m('~meta "^b: two$"', f), true, 'MULTILINE');
  assert.equal(m('~meta x', X()), false, 'no metadata');
});

test('~marker and ~comment', () => {
  const f = R();
  assert.equal(m('~marker .', f), false);
  assert.equal(m('~marker ""', f), true, 'the empty regex matches the empty marker');
  f.marked = ':star:';
  assert.equal(m('~marker ^:star:$', f), true);
  f.comment = 'one\ntwo';
  assert.equal(m('~comment ^two$', f), true, 'MULTILINE');
  // Characters beyond the BMP in a character class (each is one character, as in Python).
  f.comment = 'nice 😀';
  assert.equal(m('~comment "[😀]"', f), true);
  assert.equal(m('~comment "^[^😀]+$"', f), false);
  assert.equal(m('~comment "[😀-🙏]"', f), true);
  assert.equal(m('~comment "[\\😀]"', f), true, 'an escaped emoji is the emoji');
  assert.equal(m('~comment "\\😀"', f), true);
  f.marked = '🔴';
  assert.equal(m('~marker "^[🔴🟢]$"', f), true);
});

test('~q / ~s for DNS and the DNS text form', () => {
  const f = D();
  assert.equal(m('~q', f), true);
  const resp = new DNSMessage();
  resp.query = false;
  resp.questions = [new DNSQuestion('example.com', 5)];
  resp.answers = [new DNSResourceRecord('example.com', 5, 1, 60, Buffer.from([3, 0x77, 0x77, 0x77, 0]))];
  f.response = resp;
  assert.equal(m('~s', f), true);
  assert.equal(m('~bs "example.com\\\\r\\\\nwww"', f), true);
  assert.equal(m('~d example', f), false);
});

test('~b, ~bq and ~bs search WebSocket messages by direction, also as the relay records them (no message objects)', () => {
  for (const recorded of [false, true]) {
    const f = W();
    f.websocket = new WebSocketData();
    if (recorded) {
      f.websocket.recordReadOnly(Opcode.TEXT, true, Buffer.from('from the client'), 1);
      f.websocket.recordReadOnly(Opcode.TEXT, false, Buffer.from('from the server'), 2);
    } else {
      f.websocket.messages = [new WebSocketMessage(Opcode.TEXT, true, 'from the client'), new WebSocketMessage(Opcode.TEXT, false, 'from the server')];
    }
    const label = recorded ? 'recorded' : 'objects';
    assert.equal(m('~bq "the client"', f), true, label);
    assert.equal(m('~bq "the server"', f), false, label);
    assert.equal(m('~bs "the server"', f), true, label);
    assert.equal(m('~bs "the client"', f), false, label);
    assert.equal(m('~b server', f), true, label);
  }
});

test('~websocket needs websocket data, not just a 101 response', () => {
  const f = S();
  f.response!.statusCode = 101;
  assert.equal(m('~websocket', f), false);
  assert.equal(m('~websocket', W()), true);
  assert.equal(m('~b "hello binary"', W()), true);
  assert.equal(m('~h upgrade', W()), true, 'the handshake headers');
});

test('~e matches killed flows', () => {
  const f = R();
  f.live = true;
  f.kill();
  assert.equal(m('~e', f), true);
});

test('matchFilter: strings are parsed, a missing filter matches everything', () => {
  assert.equal(matchFilter(null, T()), true);
  assert.equal(matchFilter(undefined, T()), true);
  assert.equal(matchFilter('~tcp', T()), true);
  assert.equal(matchFilter('~http', T()), false);
  assert.equal(MATCH_ALL.match(X()), true);
  assert.equal(String(MATCH_ALL), 'all flows');
});

test('case-sensitive mode (MITMPROXY_CASE_SENSITIVE_FILTERS=1 reads once at startup)', () => {
  const cs = { ignoreCase: false };
  assert.equal(parseWithOptions('~m get', cs).match(R()), false);
  assert.equal(parseWithOptions('~m GET', cs).match(R()), true);
  assert.equal(parseWithOptions('~m "(?i)get"', cs).match(R()), true);
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/flowfilter/index.ts').then((f) => console.log(f.CASE_SENSITIVE_FILTERS, String(f.parse('~u x'))))"],
    { env: { ...process.env, MITMPROXY_CASE_SENSITIVE_FILTERS: '1' }, encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname },
  );
  assert.equal(out.trim(), 'true url matches /x/');
});

test('match never throws, whatever the flow holds', () => {
  const everyOperator = parse(
    '~a | ~e | ~http | ~marked | ~replay | ~replayq | ~replays | ~q | ~s | ~tcp | ~udp | ~dns | ~websocket | ~b x | ~bq x | ~bs x | ~t x | ~tq x | ~ts x | ~d x | ~dst x | ~h x | ~hq x | ~hs x | ~m x | ~src x | ~u x | ~meta x | ~marker x | ~comment x | ~c 1',
  );
  const broken = R() as unknown as Record<string, unknown>;
  broken.request = null;
  broken.clientConn = null;
  broken.metadata = { self: null };
  (broken.metadata as Record<string, unknown>).self = broken.metadata;
  assert.equal(typeof everyOperator.match(broken as unknown as AnyFlow), 'boolean');
  assert.equal(everyOperator.match({} as AnyFlow), false);
  const cyclic = R();
  const loop: Record<string, unknown> = {};
  loop.me = loop;
  cyclic.metadata = { loop } as unknown as typeof cyclic.metadata;
  assert.equal(m("~meta \"'me': \\\\{\\\\.\\\\.\\\\.\\\\}\"", cyclic), true, 'a cycle prints as {...} like Python');
});

test('the response object is what ~s looks at, not its status', () => {
  const f = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://x/'));
  f.response = new Response({ statusCode: 204, content: null });
  assert.equal(m('~s', f), true);
  assert.equal(m('~c 204', f), true);
});

test('pretty_host and pretty_url agree in the model, in cut and in ~u for a Host header that is not a valid host', async () => {
  const { prettyHost, prettyUrl } = await import('../../src/io/export.js');
  for (const header of ['evil..com:8080', 'ex ample:81', 'a:b:c', 'host_ü/x:81']) {
    const f = R();
    f.request.headers.set('Host', header);
    assert.equal(f.request.prettyHost, header);
    assert.equal(prettyHost(f.request), header, `cut: ${header}`);
    assert.equal(f.request.prettyUrl, `http://${header}/path`);
    assert.equal(prettyUrl(f.request), `http://${header}/path`, `export: ${header}`);
  }
});
