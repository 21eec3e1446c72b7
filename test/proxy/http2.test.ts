import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { flowRecorder } from '../helpers/recorder.js';
import { Headers, type HTTPFlow } from '../../src/index.js';

/**
 * Every process warning while this file runs: the HTTP/2 paths must not make node warn (a
 * deprecation is reported once per process, so the check is the file's last test).
 */
const processWarnings: string[] = [];
process.on('warning', (w: Error) => void processWarnings.push(`${w.name}: ${w.message}`));

/** A self-signed certificate for localhost / 127.0.0.1, made once per test file. */
const certDir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-h2-'));
process.on('exit', () => rmSync(certDir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
const key = readFileSync(join(certDir, 'key.pem'));
const cert = readFileSync(join(certDir, 'cert.pem'));

/** An HTTPS upstream speaking h2 (and HTTP/1.1), echoing what it received. */
async function h2Upstream(t: TestContext, handler?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void, options: http2.SecureServerOptions = {}) {
  const sessions = { count: 0 };
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true, ...options }, handler ?? ((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: req.httpVersion, path: req.url, headers: req.rawHeaders, body }));
    });
  }));
  server.on('secureConnection', () => sessions.count++);
  // An http2 server's close() waits for its sessions; end them so teardown never hangs.
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, sessions, server };
}

/** An HTTP/2 client session through the proxy (CONNECT + TLS with ALPN h2). */
async function h2Through(proxyPort: number, target: string): Promise<http2.ClientHttp2Session> {
  const socket = await tlsThroughProxy(proxyPort, target, { ca: proxyCa(testConfdir()), servername: 'localhost', alpn: ['h2'] });
  assert.equal(socket.alpnProtocol, 'h2');
  return http2.connect(`https://${target}`, { createConnection: () => socket });
}

function get(session: http2.ClientHttp2Session, path: string, extra: http2.OutgoingHttpHeaders = {}, body?: string) {
  return new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders | null }>((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': body ? 'POST' : 'GET', ...extra });
    let data = '';
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve({ status, headers, body: data, trailers }));
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

/** A POST with `body` and request trailers; resolves with the response body and trailers. */
function postWithTrailers(session: http2.ClientHttp2Session, path: string, body: string, trailers: http2.OutgoingHttpHeaders) {
  return new Promise<{ trailers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': 'POST' }, { waitForTrailers: true });
    req.on('wantTrailers', () => req.sendTrailers(trailers));
    let data = '';
    let received: http2.IncomingHttpHeaders = {};
    req.on('trailers', (tr) => (received = tr));
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve({ trailers: received, body: data }));
    req.on('error', reject);
    req.end(body);
  });
}

test('curl --http2 through the proxy to an h2 server: HTTP/2 on both sides, recorded as HTTP/2.0', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const r = await curl(['--http2', '--cacert', join(testConfdir(), 'mitmproxy-ca-cert.pem'), '-x', proxy.url, '-H', 'Cookie: a=1', '-H', 'Cookie: b=2', `https://localhost:${up.port}/h2?x=1`]);
  assert.equal(r.status, 200, r.stderr);
  const echoed = JSON.parse(r.stdout);
  assert.equal(echoed.version, '2.0');
  assert.equal(echoed.path, '/h2?x=1');
  const f = rec.flows[0]!;
  assert.equal(f.request.httpVersion, 'HTTP/2.0');
  assert.equal(f.response!.httpVersion, 'HTTP/2.0');
  assert.equal(f.request.authority, `localhost:${up.port}`);
  assert.equal(f.clientConn.alpn, 'h2');
  assert.equal(f.serverConn.alpn, 'h2');
  assert.deepEqual(f.request.headers.getAll('cookie'), ['a=1', 'b=2'], 'HTTP/2 cookie fields stay separate in the flow');
  assert.equal(f.response!.reason, '');
});

test('an upstream connection kept from an HTTP/1.1-only client is not handed to a client that offers h2', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const ca = join(testConfdir(), 'mitmproxy-ca-cert.pem');
  const url = `https://localhost:${up.port}/`;
  for (const [flag, version] of [['--http1.1', '1.1'], ['--http2', '2.0'], ['--http2', '2.0'], ['--http1.1', '1.1']] as const) {
    const r = await curl([flag, '--cacert', ca, '-x', proxy.url, url]);
    assert.equal(r.status, 200, r.stderr);
    assert.equal(JSON.parse(r.stdout).version, version, flag);
  }
  assert.deepEqual(
    rec.flows.map((f) => f.request.httpVersion),
    ['HTTP/1.1', 'HTTP/2.0', 'HTTP/2.0', 'HTTP/1.1'],
  );
  assert.ok(up.sessions.count < 4, 'a kept connection still serves a later client with the same offer');
});

test('an HTTP/2 request in a tunnel goes to the tunnel\'s server, whatever its :authority says', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const r = await curl(['--http2', '--cacert', join(testConfdir(), 'mitmproxy-ca-cert.pem'), '-x', proxy.url, '-H', 'Host: elsewhere.invalid', `https://localhost:${up.port}/routed`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(JSON.parse(r.stdout).path, '/routed');
  const f = rec.flows[0]!;
  assert.equal(f.request.host, 'localhost');
  assert.equal(f.request.port, up.port);
  assert.equal(f.request.prettyHost, 'elsewhere.invalid');
});

test('an h2 client and an HTTP/1-only server: translated (Host from :authority, cookies joined, connection headers dropped)', async (t) => {
  const seen: Array<{ version: string; raw: string[] }> = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    seen.push({ version: req.httpVersion, raw: req.rawHeaders });
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Upper', 'Yes');
    res.end('from h1');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const rec = flowRecorder();
  // lazy: no upstream handshake before the client's, so the client gets h2 even though the server cannot.
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(proxy.port, `127.0.0.1:${port}`);
  t.after(() => session.close());
  const r = await get(session, '/translated', { cookie: ['a=1', 'b=2'] });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'from h1');
  assert.equal(r.headers['x-upper'], 'Yes');
  assert.equal(r.headers['connection'], undefined);
  assert.equal(seen[0]!.version, '1.1');
  const raw = seen[0]!.raw;
  assert.equal(raw[0], 'Host');
  assert.equal(raw[1], `127.0.0.1:${port}`);
  assert.deepEqual(raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'cookie').length, 1);
  assert.ok(raw.includes('a=1; b=2'));
  assert.equal(rec.flows[0]!.request.httpVersion, 'HTTP/2.0');
  assert.equal(rec.flows[0]!.response!.httpVersion, 'HTTP/1.1');
});

test('100 concurrent streams on one intercepted connection, multiplexed onto one upstream connection', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  // Streams in flight must not pile listeners onto the client's socket (Node warns past 10).
  const before = processWarnings.length;
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => get(session, `/s${i}`)));
  assert.ok(results.every((r, i) => r.status === 200 && JSON.parse(r.body).path === `/s${i}`));
  assert.equal(rec.flows.length, 100);
  assert.equal(up.sessions.count, 1, 'one upstream TLS connection carried all streams');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(processWarnings.slice(before).filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
});

test('a browser request with a few hundred header fields (Chromium sends each cookie as its own field) passes, as in mitmproxy', async (t) => {
  // node's HTTP/2 server takes 128 header fields by default and resets a stream with more: a
  // site with 170 cookies (Chromium's limit is 180) failed with ERR_HTTP2_PROTOCOL_ERROR on
  // every request through the proxy, and so did a fetch() with 150 custom headers.
  const up = await h2Upstream(t, undefined, { maxHeaderListPairs: 2000 });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const cookies = Array.from({ length: 170 }, (_, i) => `c${i}=${'v'.repeat(50)}`);
  const custom: http2.OutgoingHttpHeaders = {};
  for (let i = 0; i < 150; i++) custom[`x-h${i}`] = `v${i}`;
  const withCookies = await get(session, '/cookies', { cookie: cookies, 'user-agent': 'Chromium-like', 'sec-fetch-site': 'same-origin' });
  assert.equal(withCookies.status, 200);
  const raw: string[] = JSON.parse(withCookies.body).headers;
  const sent = raw.filter((_, i) => i % 2 === 1 && raw[i - 1] === 'cookie').join('; ').split('; ');
  assert.equal(sent.length, 170, 'every cookie reached the server');
  const withCustom = await get(session, '/custom', custom);
  assert.equal(withCustom.status, 200);
  assert.equal(JSON.parse(withCustom.body).headers.filter((h: string) => h.startsWith('x-h')).length, 150);
  assert.equal(rec.flows.length, 2);
  assert.equal(rec.flows[0]!.request.headers.getAll('cookie').length, 170, 'the flow keeps the fields as sent');
});

test('request and response trailers pass through HTTP/2', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.addTrailers({ 'x-checksum': 'abc', 'x-client-trailer': String(req.trailers['x-req-trailer'] ?? 'none') });
      res.end('body');
    });
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const result = await postWithTrailers(session, '/trailers', 'payload', { 'x-req-trailer': 'sent' });
  assert.equal(result.body, 'body');
  assert.equal(result.trailers['x-checksum'], 'abc');
  assert.equal(result.trailers['x-client-trailer'], 'sent');
  const f = rec.flows[0]!;
  assert.equal(f.request.trailers!.get('x-req-trailer'), 'sent');
  assert.equal(f.response!.trailers!.get('x-checksum'), 'abc');
});

test('a stream reset by the server becomes a flow error; a stream reset by the client aborts upstream; the session keeps working', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    if (req.url === '/reset') res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 3000);
    else res.end('ok');
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const reset = await get(session, '/reset').catch((e: Error) => ({ status: -1, body: e.message }));
  assert.ok(reset.status === 502 || reset.status === -1, `client sees an error (${reset.status})`);
  const errFlow = rec.flows.find((f) => f.request.path === '/reset')!;
  assert.match(errFlow.error!.msg, /reset|INTERNAL_ERROR|closed/);

  const slow = session.request({ ':path': '/slow' });
  slow.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 300));
  slow.close(http2.constants.NGHTTP2_CANCEL);
  const ok = await get(session, '/after');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok');
});

test('h2c with prior knowledge to the proxy port is served (each stream names its target)', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = http2.connect(proxy.url);
  t.after(() => session.close());
  const r = await get(session, '/prior', { ':authority': `127.0.0.1:${up.port}`, ':scheme': 'https' });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).path, '/prior');
});

test('HTTP/2 on TLS inside TLS: through an upstream:https:// proxy chain both proxies speak h2 on every hop', async (t) => {
  const up = await h2Upstream(t);
  const rec1 = flowRecorder();
  const rec2 = flowRecorder();
  const p2 = await testProxy(t, { addons: [rec2.addon], options: { ssl_insecure: true } });
  const p1 = await testProxy(t, { addons: [rec1.addon], options: { mode: [`upstream:https://127.0.0.1:${p2.port}`], ssl_insecure: true } });
  for (let i = 0; i < 3; i++) {
    const r = await curl(['--http2', '-k', '-x', p1.url, `https://localhost:${up.port}/x${i}`]);
    assert.equal(r.status, 200, r.stderr);
    assert.equal(JSON.parse(r.stdout).version, '2.0');
  }
  assert.deepEqual(rec1.flows.map((f) => [f.request.httpVersion, f.clientConn.alpn, f.serverConn.alpn]), Array(3).fill(['HTTP/2.0', 'h2', 'h2']));
  // The second proxy's client connection is TLS inside its own TLS listener connection.
  assert.deepEqual(rec2.flows.map((f) => [f.request.httpVersion, f.clientConn.alpn, f.serverConn.alpn]), Array(3).fill(['HTTP/2.0', 'h2', 'h2']));
});

/** A request on `session` that records how its stream ended: cleanly (END_STREAM) or reset, and with what. */
function outcome(session: http2.ClientHttp2Session, path: string, extra: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ ended: boolean; rstCode: number; status: number; headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders | null }>((resolve) => {
    const req = session.request({ ':path': path, ...extra });
    let ended = false;
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    let body = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('trailers', (tr) => (trailers = tr));
    req.on('data', (d) => (body += d));
    req.on('end', () => (ended = true));
    req.on('error', () => undefined);
    req.on('close', () => resolve({ ended, rstCode: req.rstCode ?? 0, status, headers, body, trailers }));
    req.end();
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), what);
}

test('a streamed response the server cuts off reaches the client as a reset stream, never as a complete body', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    res.write(Buffer.alloc(1000, 'x'));
    // An RST_STREAM(INTERNAL_ERROR) from the server once the first bytes are out.
    setTimeout(() => res.stream.destroy(new Error('cut')), 200);
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, stream_large_bodies: '100' } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const r = await outcome(session, '/cut');
  assert.equal(r.status, 200);
  assert.equal(r.ended, false, 'no END_STREAM for a body that did not end');
  assert.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  await until(() => rec.flows.length === 1, 'the flow ends');
  assert.equal(rec.flows[0]!.error!.msg, 'stream reset by server (INTERNAL_ERROR)', "our words, not node's");
});

test('trailers of streamed bodies are forwarded both ways', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.write('streamed ');
      res.addTrailers({ 'x-resp-trailer': `got ${String(req.trailers['x-req-trailer'])}` });
      res.end('body');
    });
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, stream_large_bodies: '1' } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const result = await postWithTrailers(session, '/stream-trailers', 'a request body longer than one byte', { 'x-req-trailer': 'sent' });
  assert.equal(result.body, 'streamed body');
  assert.equal(result.trailers['x-resp-trailer'], 'got sent', 'the request trailer reached the server and its answer came back');
  assert.equal(rec.flows[0]!.response!.stream !== false, true, 'the response was streamed');
});

test('HTTP/2 responses keep their headers as the flow has them: no date or content-length added; an empty body still carries trailers', async (t) => {
  const server = https.createServer({ key, cert }, (req, res) => {
    res.sendDate = false;
    res.write('chunked ');
    res.end('body');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const emptyWithTrailers = {
    name: 'empty-with-trailers',
    response(f: HTTPFlow) {
      if (f.request.path !== '/empty') return;
      f.response!.rawContent = Buffer.alloc(0);
      f.response!.trailers = new Headers([['x-empty-trailer', 'yes']]);
    },
  };
  const proxy = await testProxy(t, { addons: [emptyWithTrailers], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(proxy.port, `127.0.0.1:${port}`);
  t.after(() => session.close());
  const r = await outcome(session, '/plain');
  assert.equal(r.body, 'chunked body');
  assert.equal(r.headers['date'], undefined, 'the server sent no date');
  assert.equal(r.headers['content-length'], undefined, 'the server sent none (it was chunked)');
  const empty = await outcome(session, '/empty');
  assert.equal(empty.ended, true);
  assert.equal(empty.body, '');
  assert.equal(empty.trailers?.['x-empty-trailer'], 'yes');
});

test('HTTP/2 upstream details: the client\'s host header goes on, uppercase names an addon set are lowercased with a warning, a 103 is logged and swallowed', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ headers: req.rawHeaders }));
  });
  const shouty = {
    name: 'shouty',
    request(f: HTTPFlow) {
      f.request.headers.set('X-Added', '1');
    },
    response(f: HTTPFlow) {
      f.response!.headers.set('X-Resp', '1');
    },
  };
  const proxy = await testProxy(t, { addons: [shouty], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const r = await outcome(session, '/hosted', { host: `127.0.0.1:${up.port}` });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-resp'], '1');
  const raw: string[] = JSON.parse(r.body).headers;
  assert.equal(raw[raw.indexOf('host') + 1], `127.0.0.1:${up.port}`, 'host header forwarded unchanged');
  assert.equal(raw[raw.indexOf('x-added') + 1], '1');
  const lines = proxy.logs.map((e) => e.message);
  assert.ok(lines.includes("Lowercased 'X-Added' header as uppercase is not allowed with HTTP/2."), lines.join('\n'));
  assert.ok(lines.includes("Lowercased 'X-Resp' header as uppercase is not allowed with HTTP/2."), lines.join('\n'));
  assert.ok(lines.includes('Swallowing HTTP/2 informational response: 103 Early Hints'), lines.join('\n'));
});

test('an HTTP/2 request whose :authority and host header disagree is refused before it becomes a flow', async (t) => {
  const up = await h2Upstream(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const r = await outcome(session, '/mismatch', { ':authority': 'one.example', host: 'two.example' });
  assert.equal(r.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
  assert.ok(proxy.logs.some((e) => e.message === 'HTTP/2 protocol error: Request header block has mismatched :authority and Host headers'));
  const ok = await outcome(session, '/after');
  assert.equal(ok.status, 200, 'the connection goes on');
  assert.deepEqual(rec.flows.map((f) => f.request.path), ['/after']);
});

test('reverse mode rewrites both :authority and a host header an HTTP/2 client sent to the target', async (t) => {
  const up = await h2Upstream(t);
  const proxy = await testProxy(t, { options: { mode: [`reverse:https://127.0.0.1:${up.port}`], ssl_insecure: true } });
  const session = http2.connect(`https://127.0.0.1:${proxy.port}`, { rejectUnauthorized: false, servername: 'front.example' });
  t.after(() => session.close());
  const r = await get(session, '/', { ':authority': 'front.example', host: 'front.example' });
  assert.equal(r.status, 200);
  const raw: string[] = JSON.parse(r.body).headers;
  const value = (name: string) => raw[raw.indexOf(name) + 1];
  assert.equal(value(':authority'), `127.0.0.1:${up.port}`);
  assert.equal(value('host'), `127.0.0.1:${up.port}`, 'not front.example: a second proxy would refuse the mismatch');
});

test('reverse mode to an IPv6 target writes its host value in brackets', async (t) => {
  // The request is stopped in its request hook, with the lazy strategy: nothing connects to ::1.
  const seen: Array<[string, string | undefined]> = [];
  const stopper = {
    name: 'stopper',
    request(f: HTTPFlow) {
      seen.push([f.request.authority, f.request.headers.get('host')]);
      f.kill();
    },
  };
  const proxy = await testProxy(t, { addons: [stopper], options: { mode: ['reverse:http://[::1]:8443'], connection_strategy: 'lazy' } });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  await outcome(session, '/v6', { ':authority': 'front.example', host: 'front.example' });
  assert.deepEqual(seen, [['[::1]:8443', '[::1]:8443']]);
});

test('with the http2 option off, HTTP/2 with prior knowledge is refused', async (t) => {
  const proxy = await testProxy(t, { options: { http2: false } });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const r = await outcome(session, '/prior', { ':authority': '127.0.0.1:1', ':scheme': 'http' });
  assert.equal(r.status, 0, 'no response');
  assert.ok(proxy.logs.some((e) => e.message === 'HTTP/2 with prior knowledge refused: the http2 option is off.'));
});

test('a client that cancels its stream is logged as a client that left, not as a server reset', async (t) => {
  const up = await h2Upstream(t, (req, res) => {
    res.write('partial');
    setTimeout(() => res.end(), 10_000).unref();
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, stream_large_bodies: '1' } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const req = session.request({ ':path': '/cancelled' });
  req.on('error', () => undefined);
  await new Promise((r) => req.once('data', r));
  req.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => rec.flows.length === 1, 'the flow ends');
  assert.equal(rec.flows[0]!.error!.msg, 'stream reset by client (CANCEL)');
  const lines = proxy.logs.map((e) => e.message).filter((m) => m.includes('/cancelled'));
  assert.ok(lines.some((m) => m.endsWith(': stream reset by client (CANCEL)')), lines.join('\n'));
  assert.ok(!lines.some((m) => m.includes('reset by server')), lines.join('\n'));
});

test('http2_ping_keepalive: a PING goes to the server once its connection has been idle that long, none while it is busy, none with 0', async (t) => {
  const up = await h2Upstream(t);
  const pings: number[] = [];
  up.server.on('session', (s) => s.on('ping', () => pings.push(Date.now())));
  const proxy = await testProxy(t, { options: { ssl_insecure: true, http2_ping_keepalive: 3 } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  // Busy: a request every half second for four seconds, so the connection is never idle for 3 s.
  for (const end = Date.now() + 4000; Date.now() < end; ) {
    assert.equal((await get(session, '/busy')).status, 200);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(pings, [], 'no PING while requests keep the connection busy');
  // Idle: a PING within a few seconds, logged as mitmproxy logs it.
  const idleSince = Date.now();
  for (let i = 0; i < 150 && pings.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(pings.length > 0, 'a PING once the connection is idle');
  assert.ok(pings[0]! - idleSince >= 1000, 'not before the connection was idle for a while');
  assert.ok(
    proxy.logs.some((e) => e.level === 'debug' && e.message === `Send HTTP/2 keep-alive PING to 127.0.0.1:${up.port}`),
    proxy.logs.map((e) => e.message).join('\n'),
  );

  // 0 turns it off.
  const quietUp = await h2Upstream(t);
  const quietPings: number[] = [];
  quietUp.server.on('session', (s) => s.on('ping', () => quietPings.push(Date.now())));
  await proxy.master.options.update({ http2_ping_keepalive: 0 });
  const quiet = await h2Through(proxy.port, `127.0.0.1:${quietUp.port}`);
  t.after(() => quiet.close());
  assert.equal((await get(quiet, '/once')).status, 200);
  await new Promise((r) => setTimeout(r, 4000));
  assert.deepEqual(quietPings, []);
});

test('normalize_outbound_headers off: uppercase names an addon set are not reported (node sends every HTTP/2 name lowercase regardless)', async (t) => {
  const up = await h2Upstream(t);
  const shouty = { name: 'shouty', request: (f: HTTPFlow) => void f.request.headers.set('X-Added', '1') };
  const proxy = await testProxy(t, { addons: [shouty], options: { ssl_insecure: true, normalize_outbound_headers: false } });
  const session = await h2Through(proxy.port, `127.0.0.1:${up.port}`);
  t.after(() => session.close());
  const r = await get(session, '/quiet');
  assert.equal(r.status, 200);
  const raw: string[] = JSON.parse(r.body).headers;
  assert.equal(raw[raw.indexOf('x-added') + 1], '1');
  assert.ok(!proxy.logs.some((e) => e.message.startsWith('Lowercased')), proxy.logs.map((e) => e.message).join('\n'));
});

test('a reset stream does not cancel the HTTP/2 server connection other requests are waiting for', async (t) => {
  const up = await h2Upstream(t);
  let first = true;
  // The first connection takes a while, so every other request comes to wait for it.
  const slow = { name: 'slow', server_connect: async () => void (first && ((first = false), await new Promise((r) => setTimeout(r, 300)))) };
  const proxy = await testProxy(t, { addons: [slow], options: { ssl_insecure: true } });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const request = (path: string) => {
    const r = session.request({ ':path': path, ':authority': `127.0.0.1:${up.port}`, ':scheme': 'https' });
    r.on('error', () => undefined);
    r.resume();
    return r;
  };
  const opener = request('/opener');
  await new Promise((r) => setTimeout(r, 50));
  const others = Array.from({ length: 10 }, (_, i) => request(`/other${i}`));
  await new Promise((r) => setTimeout(r, 100));
  opener.close(http2.constants.NGHTTP2_CANCEL);
  const statuses = await Promise.all(others.map((r) => new Promise<number>((resolve) => r.on('response', (h) => resolve(Number(h[':status']))))));
  assert.deepEqual([...new Set(statuses)], [200]);
  assert.equal(up.sessions.count, 1, 'one server connection for all of them');
});

test('no process warnings from any of the HTTP/2 traffic above (listener leaks, deprecated options such as priority signaling on Node 24)', async () => {
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(processWarnings, []);
});
