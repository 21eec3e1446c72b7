import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testProxy } from '../helpers/proxy.js';
import { rawRequest } from '../helpers/clients.js';
import { rawServer } from '../helpers/servers.js';

/**
 * Request smuggling and framing (notes/reliability.md §1.1, §1.2, §2): every ambiguous request is
 * answered 400 and never reaches the server; every ambiguous response is a 502 and its connection
 * is not reused. With validate_inbound_headers off, the lenient cases are forwarded again.
 */
const BAD_REQUESTS: Array<[string, string]> = [
  ['CL and TE', 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n'],
  ['TE and CL', 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n'],
  ['Kelvin-sign chunked', 'Transfer-Encoding: chun\xe2\x84\xaaed\r\n'],
  ['xchunked', 'Transfer-Encoding: xchunked\r\n'],
  ['chunked, identity', 'Transfer-Encoding: chunked, identity\r\n'],
  ['request TE gzip', 'Transfer-Encoding: gzip\r\n'],
  ['two TE lines', 'Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n'],
  ['two CL lines', 'Content-Length: 3\r\nContent-Length: 3\r\n'],
  ['CL list', 'Content-Length: 3, 3\r\n'],
  ['CL +3', 'Content-Length: +3\r\n'],
  ['CL -1', 'Content-Length: -1\r\n'],
  ['CL 0x3', 'Content-Length: 0x3\r\n'],
  ['CL 03', 'Content-Length: 03\r\n'],
  ['space before colon', 'Content-Length : 3\r\n'],
  ['tab before colon', 'Transfer-Encoding\t: chunked\r\n'],
  ['obs-fold', 'X-Folded: a\r\n b\r\n'],
  ['NUL in value', 'X-Nul: a\x00b\r\n'],
  ['two Host headers', 'Host: other.example\r\n'],
];

test('ambiguous requests get 400 and never reach the server', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
  const proxy = await testProxy(t);
  for (const [name, headers] of BAD_REQUESTS) {
    const raw = (await rawRequest(proxy.port, `POST http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n${headers}\r\nabc`, { idleMs: 1500 })).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, name);
  }
  const te10 = (await rawRequest(proxy.port, `POST http://127.0.0.1:${up.port}/ HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`)).toString('latin1');
  assert.match(te10, /^HTTP\/1\.1 400 /, 'TE in an HTTP/1.0 request');
  assert.equal(up.connections, 0, 'nothing reached the server');
});

test('ambiguous responses are a 502 and the server connection is dropped', async (t) => {
  const responses = [
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok',
    'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n',
  ];
  let i = 0;
  const up = await rawServer(t, (s) => s.once('data', () => s.write(Buffer.from(responses[i++ % responses.length]!, 'latin1'))));
  const proxy = await testProxy(t);
  for (let n = 0; n < responses.length; n++) {
    const raw = (await rawRequest(proxy.port, `GET http://127.0.0.1:${up.port}/${n} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`, { idleMs: 1500 })).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 502 Bad Gateway\r\n/, responses[n]);
    assert.match(raw, /refusing to prevent request smuggling attacks/);
  }
  assert.equal(up.connections, responses.length, 'a new server connection each time: the bad one was not reused');
});

test('with validate_inbound_headers off, a lenient case is forwarded again (documented as insecure)', async (t) => {
  const up = await rawServer(t, (s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')));
  const proxy = await testProxy(t, { options: { validate_inbound_headers: false } });
  const raw = (await rawRequest(proxy.port, `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nContent-Length: 03\r\n\r\nabc`)).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 OK/);
  assert.equal(up.connections, 1);
});

test('an HTML-looking host name is escaped in the error page (no XSS)', async (t) => {
  const proxy = await testProxy(t);
  const raw = (await rawRequest(proxy.port, 'GET http://x<script>alert(1)</script>.invalid/ HTTP/1.1\r\nHost: x\r\n\r\n')).toString('latin1');
  assert.doesNotMatch(raw, /<script>/);
});

test('a head ended by a bare LF blank line gets its 400 at once instead of waiting for a CRLF', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
  const proxy = await testProxy(t);
  const target = `http://127.0.0.1:${up.port}/`;
  for (const head of [`GET ${target} HTTP/1.1\nHost: x\n\n`, `GET ${target} HTTP/1.1\r\nHost: x\n\r\n`, `GET ${target} HTTP/1.1\r\nHost: x\r\n\n`]) {
    // The connection stays open after the request, so only an answer (not a close) ends the wait.
    const raw = (await rawRequest(proxy.port, head, { idleMs: 10_000 })).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(head));
  }
  assert.equal(up.connections, 0);
});

test('chunked framing with bare-LF lines gets its 400 (request) or 502 (response) at once instead of waiting for a CRLF', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
  const proxy = await testProxy(t);
  const target = `http://127.0.0.1:${up.port}/`;
  for (const body of ['5\nabcde\r\n0\r\n\r\n', '5\r\nabcde\r\n0\n\n', '5\r\nabcde\r\n0\r\nX-Trailer: 1\n\r\n']) {
    const raw = (await rawRequest(proxy.port, `POST ${target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, { idleMs: 10_000 })).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(body));
    assert.match(raw, /bare LF/);
  }
  const bad = await rawServer(t, (s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nabcde\n0\n\n')));
  const raw = (await rawRequest(proxy.port, `GET http://127.0.0.1:${bad.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`, { idleMs: 10_000 })).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
});
