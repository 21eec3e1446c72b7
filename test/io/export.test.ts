import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { curlCommand, httpieCommand, rawRequest, rawResponse, raw, exportToString, exportToBytes, shellQuote, prettyUrl, EXPORT_FORMATS, type ExportFormat } from '../../src/io/export.js';
import { HTTPFlow, Request, Response, Headers } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import { WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import { CommandError } from '../../src/command.js';

function req(init: ConstructorParameters<typeof Request>[0]): Request {
  return new Request({ timestampStart: 1, timestampEnd: 2, ...init });
}

function flow(r: Request, resp: Response | null = null): HTTPFlow {
  const f = new HTTPFlow(undefined, undefined, false, r);
  f.response = resp;
  return f;
}

const searchFlow = () =>
  flow(
    req({
      host: 'example.com',
      port: 443,
      scheme: 'https',
      path: '/search?q=a%20b&lang=en&lang=de',
      headers: new Headers([
        ['Host', 'example.com'],
        ['User-Agent', 'curl/8.5.0'],
        ['Accept-Encoding', 'gzip, br'],
        ['Cookie', 'sid=1; theme=dark'],
      ]),
      content: Buffer.alloc(0),
    }),
  );

const postFlow = () =>
  flow(
    req({
      host: 'api.example.com',
      port: 8080,
      method: 'POST',
      path: '/v1/items',
      headers: new Headers([
        ['Host', 'api.example.com:8080'],
        ['Content-Type', 'application/json'],
        ['Content-Length', '18'],
      ]),
      content: Buffer.from(`{"name": "it's"}`),
    }),
  );

const putFlow = () =>
  flow(req({ host: 'example.com', port: 80, method: 'PUT', path: '/notes', headers: new Headers([['Host', 'example.com'], ['Content-Type', 'text/plain']]), content: Buffer.from('line1\nline2\ttab') }));

const deleteFlow = () => flow(req({ host: 'example.com', port: 80, method: 'DELETE', path: '/items/7', headers: new Headers([['Host', 'example.com']]), content: Buffer.alloc(0) }));

const h2Flow = () =>
  flow(
    req({
      host: 'example.com',
      port: 443,
      scheme: 'https',
      authority: 'example.com',
      path: '/h2?x=1',
      httpVersion: 'HTTP/2.0',
      headers: new Headers([
        ['user-agent', 'curl/8.5.0'],
        ['accept', '*/*'],
      ]),
      content: Buffer.alloc(0),
    }),
  );

test('curl: spec §5.2 examples', () => {
  assert.equal(curlCommand(searchFlow()), `curl -H 'User-Agent: curl/8.5.0' --compressed -H 'Cookie: sid=1; theme=dark' 'https://example.com/search?q=a%20b&lang=en&lang=de'`);
  assert.equal(curlCommand(postFlow()), `curl -H 'Host: api.example.com:8080' -H 'Content-Type: application/json' -X POST http://api.example.com:8080/v1/items -d '{"name": "it'"'"'s"}'`);
  assert.equal(curlCommand(putFlow()), `curl -H 'Content-Type: text/plain' -X PUT http://example.com/notes -d "$(printf 'line1\\x0aline2\\x09tab')"`);
  assert.equal(curlCommand(deleteFlow()), `curl -H 'content-length: 0' -X DELETE http://example.com/items/7`);
  assert.equal(curlCommand(h2Flow()), `curl -H 'user-agent: curl/8.5.0' -H 'accept: */*' 'https://example.com/h2?x=1'`);
});

test('curl: --resolve with export_preserve_original_ip', () => {
  const f = searchFlow();
  f.serverConn.peername = ['93.184.216.34', 443];
  assert.match(curlCommand(f, { preserveOriginalIp: true }), /^curl --resolve 'example\.com:443:\[93\.184\.216\.34\]' -H/);
  assert.doesNotMatch(curlCommand(f), /--resolve/);
});

test('curl: a gzip body is exported decoded', () => {
  const r = req({ host: 'example.com', port: 80, method: 'POST', path: '/', headers: new Headers([['Host', 'example.com'], ['Content-Encoding', 'gzip']]), content: gzipSync(Buffer.from('hello')) });
  assert.equal(curlCommand(flow(r)), `curl -X POST http://example.com/ -d hello`);
});

test('httpie: spec §5.3 examples', () => {
  assert.equal(httpieCommand(searchFlow()), `http GET 'https://example.com/search?q=a%20b&lang=en&lang=de' 'User-Agent: curl/8.5.0' 'Accept-Encoding: gzip, br' 'Cookie: sid=1; theme=dark'`);
  assert.equal(httpieCommand(postFlow()), `http POST http://api.example.com:8080/v1/items 'Host: api.example.com:8080' 'Content-Type: application/json' <<< '{"name": "it'"'"'s"}'`);
  assert.equal(httpieCommand(deleteFlow()), 'http DELETE http://example.com/items/7');
});

test('shell quoting is safe: $(id), backticks and quotes arrive literally', (t) => {
  const evil = `$(id) \`id\` "dq" 'sq' ; rm -rf / \\ $HOME`;
  const r = req({ host: 'example.com', port: 80, method: 'POST', path: '/x', headers: new Headers([['X-Evil', evil]]), content: Buffer.from(evil) });
  const cmd = curlCommand(flow(r));
  assert.equal(shellQuote(evil), `'$(id) \`id\` "dq" '"'"'sq'"'"' ; rm -rf / \\ $HOME'`);
  const sh = spawnSync('/bin/sh', ['-c', `curl() { for a; do printf '[%s]\\n' "$a"; done; }; ${cmd}`], { encoding: 'utf8' });
  if (sh.error) return t.skip('no /bin/sh');
  assert.equal(sh.status, 0, sh.stderr);
  assert.equal(sh.stdout, ['-H', `X-Evil: ${evil}`, '-X', 'POST', 'http://example.com/x', '-d', evil].map((a) => `[${a}]\n`).join(''));
  // a body with control characters goes through printf and still arrives intact
  const r2 = req({ host: 'example.com', port: 80, method: 'POST', path: '/x', content: Buffer.from("a'\n$(id)\tb") });
  // mitmproxy's "$(printf ...)" form needs a printf that knows \x escapes, as bash's does.
  const sh2 = spawnSync('bash', ['-c', `curl() { for a; do printf '[%s]\\n' "$a"; done; }; ${curlCommand(flow(r2))}`], { encoding: 'utf8' });
  assert.ok(sh2.stdout.endsWith(`[-d]\n[a'\n$(id)\tb]\n`), sh2.stdout);
});

test('shlex.quote rules', () => {
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote('abc_@%+=:,./-09'), 'abc_@%+=:,./-09');
  assert.equal(shellQuote('a b'), "'a b'");
  assert.equal(shellQuote('ä'), "'ä'");
});

test('a body that is not text fails curl/httpie with mitmproxy\'s message', () => {
  const r = req({ host: 'example.com', port: 80, method: 'POST', path: '/', headers: new Headers([['Content-Type', 'application/json']]), content: Buffer.from([0xff, 0xfe, 0x00]) });
  // utf-16le BOM: decodes; make it invalid utf-8 without BOM instead
  r.rawContent = Buffer.from([0x80, 0x81]);
  assert.throws(() => curlCommand(flow(r)), (e: unknown) => e instanceof CommandError && e.message === 'Request content must be valid unicode');
  // latin-1 fallback: binary without a charset is exported as latin-1 text
  const b = req({ host: 'example.com', port: 80, method: 'POST', path: '/', content: Buffer.from([0xff]) });
  assert.equal(curlCommand(flow(b)), `curl -X POST http://example.com/ -d 'ÿ'`);
});

test('raw_request / raw_response / raw: spec §5.4-5.5 bytes', () => {
  assert.equal(rawRequest(searchFlow()).toString('latin1'), 'GET /search?q=a%20b&lang=en&lang=de HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept-Encoding: gzip, br\r\nCookie: sid=1; theme=dark\r\n\r\n');
  assert.equal(rawRequest(h2Flow()).toString('latin1'), 'GET https://example.com/h2?x=1 HTTP/2.0\r\nuser-agent: curl/8.5.0\r\naccept: */*\r\n\r\n');
  const body = 'compressed body '.repeat(4);
  const gz = new Response({ statusCode: 200, reason: 'OK', headers: new Headers([['Content-Type', 'text/plain'], ['Content-Encoding', 'gzip'], ['Content-Length', '99']]), content: gzipSync(Buffer.from(body)) });
  assert.equal(rawResponse(flow(searchFlow().request, gz)).toString('latin1'), `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n${body}`);
  const chunked = new Response({ statusCode: 200, reason: 'OK', headers: new Headers([['Transfer-Encoding', 'chunked']]), content: Buffer.from('abcdef') });
  assert.equal(rawResponse(flow(searchFlow().request, chunked)).toString('latin1'), 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n');
  const h2resp = new Response({ statusCode: 200, reason: '', httpVersion: 'HTTP/2.0', headers: new Headers(), content: Buffer.alloc(0) });
  assert.equal(rawResponse(flow(h2Flow().request, h2resp)).toString('latin1'), 'HTTP/2.0 200 \r\n\r\n');
  // CONNECT
  const c = req({ host: 'example.com', port: 443, method: 'CONNECT', authority: 'example.com:443', path: '', content: Buffer.alloc(0) });
  assert.equal(rawRequest(flow(c)).toString('latin1'), 'CONNECT example.com:443 HTTP/1.1\r\n\r\n');
  // trailers
  const tr = new Response({ statusCode: 200, reason: 'OK', headers: new Headers([['Transfer-Encoding', 'chunked']]), content: Buffer.from('x'), trailers: new Headers([['X-T', '1']]) });
  assert.equal(rawResponse(flow(searchFlow().request, tr)).toString('latin1'), 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n');
});

test('raw: both parts, WebSocket messages, and the missing-part errors', () => {
  const f = searchFlow();
  f.response = new Response({ statusCode: 101, reason: 'Switching Protocols', headers: new Headers([['Connection', 'Upgrade']]), content: Buffer.alloc(0) });
  f.websocket = new WebSocketData();
  f.websocket.messages.push(new WebSocketMessage(1, true, 'hi'), new WebSocketMessage(2, false, Buffer.from([1, 2])));
  assert.ok(raw(f).toString('latin1').endsWith('Connection: Upgrade\r\n\r\n\r\n\r\n[OUTGOING] hi\n[INCOMING] \x01\x02'));
  const noBody = searchFlow();
  noBody.request.rawContent = null;
  assert.throws(() => raw(noBody), /Can't export flow with no request or response\./);
  assert.throws(() => rawRequest(noBody), /Request content missing\./);
  assert.throws(() => rawResponse(searchFlow()), /Can't export flow with no response\./);
  assert.throws(() => curlCommand(new TCPFlow()), /Can't export flow with no request\./);
});

test('export (to str) shows undecodable bytes as \\xNN; export.file keeps the bytes', () => {
  const r = req({ host: 'example.com', port: 80, path: '/', headers: new Headers([['Host', 'example.com']]), content: Buffer.alloc(0) });
  r.headers.fields.push(['X-Bin', 'a\xffb']);
  const f = flow(r);
  assert.equal(exportToString('raw_request', f), 'GET / HTTP/1.1\r\nHost: example.com\r\nX-Bin: a\\xffb\r\n\r\n');
  assert.deepEqual(exportToBytes('raw_request', f), Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\nX-Bin: a\xffb\r\n\r\n', 'latin1'));
  assert.equal(exportToString('curl', f), `curl -H 'X-Bin: a\\xffb' http://example.com/`);
  assert.deepEqual(exportToBytes('curl', f), Buffer.from(`curl -H 'X-Bin: a\xffb' http://example.com/`, 'latin1'));
  // A JavaScript caller (no type check) may still pass any string.
  assert.throws(() => exportToString('python' as ExportFormat, f), /No such export format: python/);
  assert.deepEqual([...EXPORT_FORMATS], ['curl', 'httpie', 'raw', 'raw_request', 'raw_response']);
});

test('pretty_url: Host header wins, default ports dropped, IPv6 not bracketed, CONNECT is the authority', () => {
  assert.equal(prettyUrl(req({ host: '10.0.0.1', port: 80, path: '/a', headers: new Headers([['Host', 'example.com']]) })), 'http://example.com/a');
  assert.equal(prettyUrl(req({ host: '10.0.0.1', port: 80, path: '/a', headers: new Headers([['Host', 'example.com:8080']]) })), 'http://example.com:8080/a');
  assert.equal(prettyUrl(req({ host: '::1', port: 8080, path: '/' })), 'http://::1:8080/');
  assert.equal(prettyUrl(req({ host: 'x', port: 80, path: '*', method: 'OPTIONS' })), 'http://x');
});
