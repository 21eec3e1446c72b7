import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync, gzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harEntry, harEntryToFlow, harPieces, harToBytes, harToFlows, harToJson, headersSize, isoformatUtc, makeHar, parseHarTimestamp, writeHarFile } from '../../src/io/har.js';
import { parseUrlencoded } from '../../src/util/urlencoded.js';
import { isMostlyBin, decodeUtf8Surrogateescape, encodeUtf8Surrogateescape } from '../../src/io/text.js';
import { pyJsonDumps } from '../../src/io/pyjson.js';
import { PyFloat } from '../../src/io/tnetstring.js';
import { HTTPFlow, Request, Response, Headers } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import { WebSocketData, WebSocketMessage } from '../../src/websocket.js';

function flow(req: Request, resp: Response | null = null): HTTPFlow {
  const f = new HTTPFlow(undefined, undefined, false, req);
  f.response = resp;
  return f;
}

test('headersSize is the length of Python repr(Headers) (spec example: 61)', () => {
  assert.equal(headersSize(new Headers([['user-agent', 'curl/7.86.0'], ['accept', '*/*']])), 61);
  assert.equal(headersSize(new Headers()), 'Headers[]'.length);
  // a quote switches the repr to double quotes; escapes count
  assert.equal(headersSize(new Headers([["x", "it's"]])), "Headers[(b'x', b\"it's\")]".length);
  const h = new Headers();
  h.fields.push(['x', '\t\xff']);
  assert.equal(headersSize(h), "Headers[(b'x', b'\\t\\xff')]".length);
});

test('startedDateTime is Python isoformat in UTC', () => {
  assert.equal(isoformatUtc(1700000000), '2023-11-14T22:13:20+00:00');
  assert.equal(isoformatUtc(1795793585.30427), '2026-11-27T15:33:05.304270+00:00');
  assert.equal(isoformatUtc(0), '1970-01-01T00:00:00+00:00');
  assert.equal(isoformatUtc(1.9999996), '1970-01-01T00:00:02+00:00');
});

test('HAR timestamps parse like datetime.fromisoformat(...).timestamp()', () => {
  assert.equal(parseHarTimestamp('2023-07-25T10:42:01.726810+00:00'), 1690281721.72681);
  assert.equal(parseHarTimestamp('2023-07-25T10:42:01.726Z'), 1690281721.726);
  assert.equal(parseHarTimestamp('2023-07-25T12:42:01+02:00'), 1690281721);
  // The basic form (Python 3.11+), but not a mix of the two.
  assert.equal(parseHarTimestamp('20231114T221320Z'), 1700000000);
  assert.throws(() => parseHarTimestamp('2023-1114T22:13:20Z'), /Invalid isoformat string/);
  assert.throws(() => parseHarTimestamp('yesterday'), /Invalid isoformat/);
});

test('query strings decode as parse_qsl(keep_blank_values=True)', () => {
  assert.deepEqual(parseUrlencoded('q=a%20b&lang=en&lang=de&empty=&flag&x=1+2&&bad=%zz&u=%E2%9C%93&inv=%FF'), [
    ['q', 'a b'],
    ['lang', 'en'],
    ['lang', 'de'],
    ['empty', ''],
    ['flag', ''],
    ['x', '1 2'],
    ['bad', '%zz'],
    ['u', '✓'],
    ['inv', '\udcff'],
  ]);
});

test('mostly-binary heuristic', () => {
  assert.equal(isMostlyBin(Buffer.alloc(0)), false);
  assert.equal(isMostlyBin(Buffer.from('hello')), false);
  assert.equal(isMostlyBin(Buffer.from(Array.from({ length: 256 }, (_, i) => i))), false, '0x00-0xff counts as text');
  assert.equal(isMostlyBin(Buffer.from([0, 1, 2, 3, 4, 5, 200, 201])), true);
  assert.equal(isMostlyBin(Buffer.from('äöüäöüäöü'.repeat(20))), false, 'UTF-8 text');
  assert.equal(isMostlyBin(gzipSync(Buffer.from('x'.repeat(1000)))), true);
});

test('surrogateescape round trip', () => {
  const raw = Buffer.from([0x61, 0xff, 0xe2, 0x9c, 0x93, 0xe2, 0x9c, 0x41, 0xed, 0xa0, 0x80]);
  const s = decodeUtf8Surrogateescape(raw);
  assert.equal(s, 'a\udcff✓\udce2\udc9cA\udced\udca0\udc80');
  assert.deepEqual(encodeUtf8Surrogateescape(s), raw);
});

test('Python json.dumps formatting: indent, escapes, floats, empty containers', () => {
  assert.equal(pyJsonDumps({ a: [], b: {}, c: new PyFloat(-1), d: 0, e: 'é\u0000"\\\n\udcff\u{1f600}', f: [1, 1.5] }, 4),
    '{\n    "a": [],\n    "b": {},\n    "c": -1.0,\n    "d": 0,\n    "e": "\\u00e9\\u0000\\"\\\\\\n\\udcff\\ud83d\\ude00",\n    "f": [\n        1,\n        1.5\n    ]\n}');
});

test('HAR entry: request fields, cookies, query, postData, timings', () => {
  const req = Request.make('POST', 'http://example.com/search?q=a%20b&lang=en&lang=de', 'a=1&b=two+words', [
    ['Content-Type', 'application/x-www-form-urlencoded'],
    ['Cookie', 'sid=1; theme="dark"'],
  ]);
  req.timestampStart = 1700000000;
  req.timestampEnd = 1700000000.25;
  const resp = Response.make(200, 'hi', [
    ['Set-Cookie', 'a=b; Path=/x; HttpOnly'],
    ['Set-Cookie', 'c=d; domain=example.com; Secure; SameSite=Lax, e=f'],
    ['Location', '/next'],
  ]);
  resp.timestampStart = 1700000000.5;
  resp.timestampEnd = 1700000001;
  const f = flow(req, resp);
  f.serverConn.peername = ['93.184.216.34', 80];
  f.serverConn.timestampStart = 1699999999.5;
  f.serverConn.timestampTcpSetup = 1699999999.75;
  const e = harEntry(f, new Set()) as Record<string, any>;
  assert.equal(e['startedDateTime'], '2023-11-14T22:13:20+00:00');
  assert.equal(e['serverIPAddress'], '93.184.216.34');
  assert.deepEqual(e['request'].cookies, [
    { name: 'sid', value: '1' },
    { name: 'theme', value: 'dark' },
  ]);
  assert.deepEqual(e['request'].queryString, [
    { name: 'q', value: 'a b' },
    { name: 'lang', value: 'en' },
    { name: 'lang', value: 'de' },
  ]);
  assert.deepEqual(e['request'].postData, {
    mimeType: 'application/x-www-form-urlencoded',
    text: 'a=1&b=two+words',
    params: [
      { name: 'a', value: '1' },
      { name: 'b', value: 'two words' },
    ],
  });
  assert.deepEqual(e['response'].cookies, [
    { name: 'a', value: 'b', path: '/x', domain: '', httpOnly: true, secure: false },
    { name: 'c', value: 'd', path: '/', domain: 'example.com', httpOnly: false, secure: true, sameSite: 'Lax' },
    { name: 'e', value: 'f', path: '/', domain: '', httpOnly: false, secure: false },
  ]);
  assert.equal(e['response'].redirectURL, '/next');
  const t = e['timings'];
  assert.equal(t.connect.value, 250);
  assert.equal(t.ssl.value, -1);
  assert.equal(t.send.value, 250);
  assert.equal(t.wait.value, 250);
  assert.equal(t.receive.value, 500);
  assert.equal(e['time'].value, 1250);
});

test('HAR entry: a server connection counts "connect" only once; no-response and CONNECT entries', () => {
  const seen = new Set<string>();
  const a = flow(Request.make('GET', 'http://example.com/a'));
  a.serverConn.timestampStart = 1;
  a.serverConn.timestampTcpSetup = 1.5;
  const b = flow(Request.make('GET', 'http://example.com/b'), null, );
  b.serverConn = a.serverConn;
  b.error = { msg: 'boom', timestamp: 2 } as never;
  assert.equal((harEntry(a, seen)['timings'] as any).connect.value, 500);
  const eb = harEntry(b, seen) as Record<string, any>;
  assert.equal(eb['timings'].connect.value, -1);
  assert.deepEqual(eb['response'], {
    status: 0, statusText: '', httpVersion: '', headers: [], cookies: [], content: {}, redirectURL: '', headersSize: -1, bodySize: -1, _transferSize: 0, _error: 'boom',
  });
  const c = flow(new Request({ host: 'example.com', port: 443, method: 'CONNECT', authority: 'example.com:443', path: '' }));
  assert.equal((harEntry(c, new Set())['request'] as any).url, 'https://example.com:443/');
});

test('HAR export: binary bodies as base64, compression size, websocket messages, non-HTTP flows skipped', () => {
  const body = gzipSync(Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 0, 0, 0, 0]));
  const resp = new Response({ statusCode: 101, reason: 'Switching Protocols', headers: [['Content-Encoding', 'gzip']], content: body, timestampStart: 2, timestampEnd: 3 });
  const f = flow(Request.make('GET', 'http://example.com/ws'), resp);
  f.websocket = new WebSocketData();
  f.websocket.messages.push(new WebSocketMessage(1, true, 'hi', 5.5), new WebSocketMessage(2, false, Buffer.from([1, 2]), 6));
  let skipped = -1;
  const har = makeHar([f, new TCPFlow()], { onSkipped: (n) => (skipped = n) }) as any;
  assert.equal(skipped, 1);
  const e = har.log.entries[0];
  assert.equal(e.response.content.text, Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 0, 0, 0, 0]).toString('base64'));
  assert.equal(e.response.content.encoding, 'base64');
  assert.equal(e.response.content.compression, 12 - body.length);
  assert.equal(e._resourceType, 'websocket');
  assert.deepEqual(e._webSocketMessages.map((m: any) => [m.type, m.time.value, m.opcode, m.data]), [
    ['send', 5.5, 1, 'hi'],
    ['receive', 6, 2, 'AQI='],
  ]);
  const z = harToBytes([f], { compressed: true });
  assert.equal(inflateSync(z).toString(), harToBytes([f]).toString());
});

test('HAR export is written entry by entry, byte for byte the whole document as json.dumps writes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'har-pieces-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = flow(Request.make('GET', 'http://example.com/a\u00e9'), new Response({ statusCode: 200, reason: 'OK', headers: [['Content-Type', 'text/plain']], content: Buffer.from('caf\u00e9'), timestampStart: 2, timestampEnd: 3 }));
  const b = flow(Request.make('POST', 'https://example.org/b', 'x=1', { 'content-type': 'application/x-www-form-urlencoded' }));
  for (const flows of [[], [a], [a, new TCPFlow(), b]]) {
    let skipped = 0;
    const whole = pyJsonDumps(makeHar(flows), 4);
    const pieces = [...harPieces(flows, { onSkipped: (n) => (skipped = n) })];
    const httpCount = flows.filter((f) => f instanceof HTTPFlow).length;
    // The head, one piece per entry, the tail: no piece holds more than one entry.
    assert.equal(pieces.length, httpCount + 2);
    assert.equal(pieces.join(''), whole);
    assert.equal(harToJson(flows), whole);
    assert.equal(skipped, flows.length - httpCount);
    const path = join(dir, `${flows.length}.har`);
    assert.equal(await writeHarFile(path, flows), Buffer.byteLength(whole));
    assert.equal(readFileSync(path, 'utf8'), whole);
    const zpath = join(dir, `${flows.length}.zhar`);
    assert.equal(await writeHarFile(zpath, flows), statSync(zpath).size);
    assert.equal(inflateSync(readFileSync(zpath)).toString('utf8'), whole);
  }
});

for (const name of ['big.har', 'big.zhar']) {
  test(`writing a large ${name} lets the event loop go on between chunks, and writes the flows it was given`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'har-async-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // About 8 MB of HAR: several chunks, each one a turn of the event loop apart.
    const body = Buffer.alloc(64 * 1024, 0x61);
    const flows = Array.from({ length: 128 }, (_, i) =>
      flow(Request.make('GET', `http://example.com/${i}`), new Response({ statusCode: 200, reason: 'OK', headers: [['Content-Type', 'text/plain']], content: body, timestampStart: 2, timestampEnd: 3 })),
    );
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    t.after(() => clearInterval(ticker));
    const path = join(dir, name);
    const written = writeHarFile(path, flows);
    // Flows added after the call are not part of this export.
    flows.push(flow(Request.make('GET', 'http://example.com/late')));
    await written;
    clearInterval(ticker);
    assert.ok(turns >= 2, `timers ran ${turns} times while the file was written`);
    const text = name.endsWith('.zhar') ? inflateSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
    const entries = (JSON.parse(text) as { log: { entries: Array<{ request: { url: string } }> } }).log.entries;
    assert.equal(entries.length, 128);
    assert.ok(!entries.some((e) => e.request.url.endsWith('/late')));
  });
}

test('HAR import follows mitmproxy: Content-Length set, reason from its table, versions mapped, body re-encoded then decoded', () => {
  const [f] = harToFlows({
    log: {
      entries: [
        {
          startedDateTime: '2023-07-25T10:42:01.726810+00:00',
          time: 500,
          serverIPAddress: '1.2.3.4',
          request: { method: 'POST', url: 'https://Example.com/x?y=1', httpVersion: 'http/2.0', headers: [{ name: 'Host', value: 'Example.com' }, ['X-Slack', 'pair']], postData: { text: 'a=ü' } },
          response: {
            status: 408,
            statusText: 'ignored',
            httpVersion: 'HTTP/2.0',
            headers: [{ name: 'Content-Type', value: 'text/plain; charset=utf-8' }, { name: 'Content-Encoding', value: 'gzip' }],
            content: { text: 'héllo' },
          },
        },
      ],
    },
  });
  assert.ok(f);
  assert.equal(f.request.method, 'POST');
  assert.equal(f.request.host, 'example.com');
  assert.equal(f.request.headers.get('host'), 'example.com', 'Host follows the URL');
  assert.equal(f.request.headers.get('x-slack'), 'pair');
  assert.equal(f.request.httpVersion, 'HTTP/2');
  assert.equal(f.request.content!.toString('latin1'), 'a=\xfc', 'latin-1 without a charset');
  assert.equal(f.request.headers.fields.at(-1)![0], 'content-length');
  assert.equal(f.request.headers.get('content-length'), '3');
  assert.equal(f.response!.statusCode, 408);
  assert.equal(f.response!.reason, 'Request Time-out');
  assert.equal(f.response!.httpVersion, 'HTTP/1.1', '"HTTP/2.0" (what mitmproxy writes) comes back as HTTP/1.1');
  assert.equal(f.response!.headers.get('content-encoding'), undefined);
  assert.equal(f.response!.text, 'héllo');
  assert.equal(f.response!.headers.get('content-length'), '6');
  assert.deepEqual(f.serverConn.address, ['1.2.3.4', 443]);
  assert.deepEqual(f.clientConn.peername, ['127.0.0.1', 0]);
  assert.equal(f.request.timestampStart, 1690281721.72681);
  assert.equal(f.response!.timestampEnd, 1690281721.72681 + 0.5);
});

test('HAR import: base64 bodies, empty response bodies get no Content-Length, bad entries throw', () => {
  const f = harEntryToFlow({
    startedDateTime: '2023-07-25T10:42:01Z',
    time: 0,
    request: { method: 'GET', url: 'http://example.com/', httpVersion: 'HTTP/1.1', headers: [] },
    response: { status: 299, httpVersion: 'HTTP/1.1', headers: [], content: { text: 'AAEC', encoding: 'base64' } },
  });
  assert.deepEqual(f.response!.content, Buffer.from([0, 1, 2]));
  assert.equal(f.response!.reason, '');
  assert.equal(f.request.headers.get('content-length'), '0');
  const g = harEntryToFlow({
    startedDateTime: '2023-07-25T10:42:01Z',
    time: 0,
    request: { method: 'GET', url: 'http://example.com/', httpVersion: 'HTTP/1.1', headers: [] },
    response: { status: 204, httpVersion: 'HTTP/1.1', headers: [], content: {} },
  });
  assert.equal(g.response!.headers.has('content-length'), false);
  assert.throws(() => harEntryToFlow({ startedDateTime: '2023-07-25T10:42:01Z' }), /has no "time"/);
});

test('HAR import: response text is encoded with the charset the Content-Type names, single-byte ones included', () => {
  const entry = (contentType: string, text: string) => ({
    startedDateTime: '2023-07-25T10:42:01Z',
    time: 0,
    request: { method: 'GET', url: 'http://example.com/', httpVersion: 'HTTP/1.1', headers: [] },
    response: { status: 200, httpVersion: 'HTTP/1.1', headers: [{ name: 'Content-Type', value: contentType }], content: { text } },
  });
  const koi = harEntryToFlow(entry('text/plain; charset=koi8-r', 'Привет')).response!;
  assert.deepEqual(koi.content, Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]));
  assert.equal(koi.headers.get('content-type'), 'text/plain; charset=koi8-r');
  assert.equal(koi.text, 'Привет');
  const cp1252 = harEntryToFlow(entry('text/html; charset=windows-1252', '“€”')).response!;
  assert.deepEqual(cp1252.content, Buffer.from([0x93, 0x80, 0x94]));
});

test('HAR round trip: HTTP flows exported and imported keep method, URL, headers, status and bodies', async () => {
  const { readFlows } = await import('../../src/io/flowreader.js');
  const { join } = await import('node:path');
  const flows = (await readFlows(join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm'))).filter(
    (f): f is HTTPFlow => f instanceof HTTPFlow && f.response !== null,
  );
  const back = harToFlows(JSON.parse(harToBytes(flows).toString()));
  assert.equal(back.length, flows.length);
  const withoutLength = (h: Headers) => h.fields.filter(([n]) => !/^(content-length|content-encoding)$/i.test(n));
  back.forEach((g, i) => {
    const f = flows[i]!;
    assert.equal(g.request.method, f.request.method);
    assert.equal(g.request.url, f.request.prettyUrl);
    assert.deepEqual(withoutLength(g.request.headers), withoutLength(f.request.headers));
    assert.deepEqual(g.request.content, f.request.content);
    assert.equal(g.response!.statusCode, f.response!.statusCode);
    assert.deepEqual(withoutLength(g.response!.headers), withoutLength(f.response!.headers));
    assert.deepEqual(g.response!.content, f.response!.content, f.request.path);
    // HAR keeps microseconds
    assert.ok(Math.abs(g.request.timestampStart - f.request.timestampStart) < 1e-6);
  });
});

test('HAR statusText: the reason phrase is ISO-8859-1, as mitmproxy decodes it', () => {
  const resp = new Response({ statusCode: 200, reason: 'Gut\xe9', content: Buffer.from('x'), timestampStart: 2, timestampEnd: 3 });
  const e = harEntry(flow(Request.make('GET', 'http://example.com/'), resp), new Set()) as any;
  assert.equal(e.response.statusText, 'Guté');
});

test('HAR import and setting a URL keep its fragment in the path, as mitmproxy does', () => {
  const f = harEntryToFlow({
    startedDateTime: '2023-07-25T10:42:01Z',
    time: 0,
    request: { method: 'GET', url: 'https://example.com/p?q=1#frag', httpVersion: 'HTTP/1.1', headers: [] },
    response: { status: 200, httpVersion: 'HTTP/1.1', headers: [], content: {} },
  });
  assert.equal(f.request.path, '/p?q=1#frag');
  assert.deepEqual(f.request.pathComponents, ['p'], 'path components leave out the query and the fragment');
  f.request.url = 'http://example.org#top';
  assert.deepEqual([f.request.host, f.request.path], ['example.org', '/#top']);
  assert.equal(f.request.url, 'http://example.org/#top');
});

test('a HAR status that is no safe integer (1e300) is refused: such a flow was imported, then saved to a file that could not be read back (found by fuzzing)', () => {
  const entry = (status: number) => ({
    startedDateTime: '2024-01-01T00:00:00Z',
    time: 1,
    request: { method: 'GET', url: 'http://example.com/', httpVersion: 'HTTP/1.1', headers: [] },
    response: { status, httpVersion: 'HTTP/1.1', headers: [], content: { text: '' } },
  });
  assert.equal(harEntryToFlow(entry(204)).response!.statusCode, 204);
  assert.throws(() => harEntryToFlow(entry(1e300)), /response\.status must be an integer/);
  assert.throws(() => harEntryToFlow(entry(2 ** 53)), /response\.status must be an integer/);
});
