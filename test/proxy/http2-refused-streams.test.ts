/**
 * An HTTP/2 server that refuses a stream (RST_STREAM REFUSED_STREAM, or a GOAWAY whose last stream
 * id is below it, which nghttp2 turns into the same code) has not processed it (RFC 9113 §8.7), so
 * the request may be sent again on another connection, whatever its method. Browsers do that; a
 * proxy that answers 502 instead breaks pages behind servers that cap requests per connection
 * (nginx's keepalive_requests), where all the requests in flight past the cap are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { testProxy } from '../helpers/proxy.js';
import { selfSignedCert } from './websocket-helpers.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** An HTTP/2 server over TLS; `onStream` gets each stream with its session's stream count. */
async function h2Server(
  t: { after: (fn: () => void) => void },
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session, nth: number) => void,
): Promise<number> {
  const server = http2.createSecureServer(await selfSignedCert());
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    let n = 0;
    s.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      onStream(stream, headers, s, ++n);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** Answer a stream with "<method> <path> <body length>" once its body is read. */
function answer(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  let n = 0;
  stream.on('data', (d: Buffer) => (n += d.length));
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200 });
    stream.end(`${headers[':method']} ${headers[':path']} ${n}`);
  });
}

/** A request through the proxy's h2 client session; resolves with "status body", or "rst N". */
function request(session: http2.ClientHttp2Session, authority: string, method: string, path: string, body?: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request({ ':method': method, ':path': path, ':scheme': 'https', ':authority': authority }, { endStream: !body });
    stream.on('error', () => undefined);
    let status = '';
    let text = '';
    stream.on('response', (h) => (status = String(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('close', () => resolve(stream.rstCode ? `rst ${stream.rstCode}` : `${status} ${status === '200' ? text : ''}`.trim()));
    if (body) stream.end(body);
  });
}

async function clientSession(t: { after: (fn: () => void) => void }, proxyPort: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${proxyPort}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return session;
}

test('streams a server refuses with GOAWAY (past its last stream id) are sent again on a new connection', async (t) => {
  const processed: string[] = [];
  let sessions = 0;
  const port = await h2Server(t, (stream, headers, session, nth) => {
    if (nth === 1) sessions++;
    // Streams that arrived after the GOAWAY are seen here too, and then refused by nghttp2:
    // only those answered in full count.
    stream.on('close', () => {
      if (stream.rstCode === 0 && stream.headersSent) processed.push(`${headers[':method']} ${headers[':path']}`);
    });
    answer(stream, headers);
    // At most three requests per connection: the third one's arrival announces the end.
    if (nth === 3) {
      session.goaway(0, stream.id!);
      stream.on('close', () => session.close());
    }
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const session = await clientSession(t, proxy.port);
  const authority = `localhost:${port}`;
  // The first request makes the proxy's server connection; then many go out on it at once.
  assert.equal(await request(session, authority, 'GET', '/first'), '200 GET /first 0');
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => (i % 2 ? request(session, authority, 'POST', `/p${i}`, Buffer.alloc(1000 * i, 0x61)) : request(session, authority, 'GET', `/g${i}`))),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 8 }, (_, i) => (i % 2 ? `200 POST /p${i} ${1000 * i}` : `200 GET /g${i} 0`)),
  );
  // Each request was processed once: the refused ones only on later connections (three at most each).
  assert.equal(processed.filter((p) => p !== 'GET /first').length, 8, processed.join(', '));
  assert.equal(new Set(processed).size, processed.length, processed.join(', '));
  assert.ok(sessions >= 3, `the server saw ${sessions} connections`);
});

test('a request reset with REFUSED_STREAM is sent again; one refused every time is a 502 after three retries', async (t) => {
  const seen: string[] = [];
  const port = await h2Server(t, (stream, headers) => {
    const path = String(headers[':path']);
    seen.push(path);
    const attempts = seen.filter((p) => p === path).length;
    if (path === '/once' && attempts === 1) return void stream.close(NGHTTP2_REFUSED_STREAM);
    if (path === '/always') return void stream.close(NGHTTP2_REFUSED_STREAM);
    answer(stream, headers);
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const session = await clientSession(t, proxy.port);
  const authority = `localhost:${port}`;
  assert.equal(await request(session, authority, 'POST', '/once', Buffer.from('order=1')), '200 POST /once 7');
  assert.equal(await request(session, authority, 'GET', '/always'), '502');
  assert.deepEqual(seen, ['/once', '/once', '/always', '/always', '/always', '/always']);
});

test('a stream reset with another code (the server may have acted on it) is not sent again', async (t) => {
  const seen: string[] = [];
  const port = await h2Server(t, (stream, headers) => {
    seen.push(String(headers[':path']));
    stream.close(NGHTTP2_INTERNAL_ERROR);
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const session = await clientSession(t, proxy.port);
  assert.equal(await request(session, `localhost:${port}`, 'GET', '/x'), '502');
  assert.deepEqual(seen, ['/x']);
});
