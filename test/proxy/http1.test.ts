import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { testProxy } from '../helpers/proxy.js';
import { curl, rawRequest } from '../helpers/clients.js';
import { echoServer, httpServer, rawServer, closedPort } from '../helpers/servers.js';
import { flowRecorder } from '../helpers/recorder.js';
import type { HTTPFlow, StreamSetting } from '../../src/index.js';

test('GET through the proxy with curl: body, status and the flow are right', async (t) => {
  const up = await echoServer(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const r = await curl(['-x', proxy.url, `${up.url}/path?x=1`]);
  assert.equal(r.status, 200);
  const body = JSON.parse(r.stdout);
  assert.equal(body.method, 'GET');
  assert.equal(body.url, '/path?x=1', 'absolute-form is forwarded in origin-form');
  assert.equal(rec.flows.length, 1);
  const f = rec.flows[0]!;
  assert.equal(f.request.host, '127.0.0.1');
  assert.equal(f.request.port, up.port);
  assert.equal(f.request.path, '/path?x=1');
  assert.equal(f.request.authority, '', 'regular mode stores absolute-form requests in origin form');
  assert.equal(f.response!.statusCode, 200);
  assert.equal(f.response!.text, r.stdout);
  assert.ok(f.serverConn.peername, 'server connection recorded');
  assert.equal(f.live, false);
});

test('POST with a body, and a chunked upload, arrive intact', async (t) => {
  const up = await echoServer(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const r1 = await curl(['-x', proxy.url, '-d', 'hello=world', `${up.url}/post`]);
  assert.equal(JSON.parse(r1.stdout).body, 'hello=world');
  assert.equal(rec.flows[0]!.request.text, 'hello=world');
  const big = 'x'.repeat(100_000);
  const r2 = await curl(['-x', proxy.url, '-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `${up.url}/chunked`], { input: big });
  const echoed = JSON.parse(r2.stdout);
  assert.equal(echoed.body.length, big.length);
  assert.ok(echoed.rawHeaders.map((h: string) => h.toLowerCase()).includes('transfer-encoding'));
  assert.equal(rec.flows[1]!.request.rawContent!.length, big.length, 'the de-chunked body is recorded');
});

test('keep-alive: several requests on one client connection reuse one upstream connection', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 5; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, path: `${up.url}/r${i}`, agent, headers: { Host: `127.0.0.1:${up.port}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  }
  assert.equal(up.connections, 1, 'one upstream connection for five requests');
});

test('HEAD, 204 and 304 responses carry no body and keep the connection usable', async (t) => {
  const up = await httpServer(t, (req, res) => {
    if (req.url === '/204') res.writeHead(204).end();
    else if (req.url === '/304') res.writeHead(304, { ETag: '"x"' }).end();
    else res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '11' }).end(req.method === 'HEAD' ? undefined : 'hello world');
  });
  const proxy = await testProxy(t);
  const head = await curl(['-x', proxy.url, '-I', `${up.url}/head`]);
  assert.equal(head.status, 200);
  assert.match(head.stdout, /Content-Length: 11/i, 'HEAD keeps the announced length');
  // Three requests on one connection: if a bodiless response were framed wrong, the next would break.
  const raw = await rawRequest(
    proxy.port,
    `GET ${up.url}/204 HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\nGET ${up.url}/304 HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\nGET ${up.url}/x HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nConnection: close\r\n\r\n`,
  );
  const text = raw.toString('latin1');
  const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [204, 304, 200], 'pipelined requests answered in order');
  assert.ok(text.endsWith('hello world'));
});

test('Expect: 100-continue is answered by the proxy and not forwarded', async (t) => {
  const up = await echoServer(t);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const raw = await rawRequest(
    proxy.port,
    `POST ${up.url}/c HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    { until: (b) => b.includes('100 Continue') },
  );
  assert.match(raw.toString(), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  const full = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${up.url}/c`, headers: { Host: `127.0.0.1:${up.port}`, Expect: '100-continue', 'Content-Length': 4 } });
    req.on('continue', () => req.end('data'));
    req.on('response', (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
  });
  const echoed = JSON.parse(full);
  assert.equal(echoed.body, 'data');
  assert.ok(!echoed.rawHeaders.some((h: string) => h.toLowerCase() === 'expect'), 'Expect is stripped');
});

test('Expect: 100-continue from an HTTP/1.0 client is ignored (no 100 Continue it could not understand)', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  const raw = (
    await rawRequest(proxy.port, `POST ${up.url}/c HTTP/1.0\r\nHost: 127.0.0.1:${up.port}\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata`)
  ).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.equal(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).body, 'data');
});

test('a response head with bare LF line endings or a folded header is read as browsers read it (RFC 9112 §2.2, §5.2)', async (t) => {
  const up = await rawServer(t, (s) =>
    s.on('data', () => s.end('HTTP/1.1 200 OK\nContent-Length: 2\nX-Folded: a\r\n \t b\n\nok')),
  );
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const raw = (await rawRequest(proxy.port, `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nConnection: close\r\n\r\n`)).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\nContent-Length: 2\r\nX-Folded: a b\r\n\r\nok$/);
  assert.equal(rec.flows[0]!.response!.headers.get('x-folded'), 'a b');
});

test('a response head of up to 256 KiB passes, as browsers take it (Chromium\'s limit); a larger one is a 502', async (t) => {
  // 60 cookies of 2 KiB: a 120 KiB head that Chromium and mitmproxy both accept; the proxy's
  // 64 KiB limit for heads answered it with a 502 ("headers exceed 65536 bytes").
  const cookies = Array.from({ length: 60 }, (_, i) => `c${i}=${'v'.repeat(2048)}; Path=/`);
  const up = await httpServer(t, (req, res) => {
    if (req.url === '/huge') res.setHeader('x-huge', 'h'.repeat(300 * 1024));
    else res.setHeader('set-cookie', cookies);
    res.end('ok');
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const r = await curl(['-s', '-D', '-', '-x', proxy.url, `${up.url}/big`]);
  assert.equal(r.status, 200, r.stdout.slice(0, 200));
  assert.equal((r.stdout.match(/^set-cookie: /gim) ?? []).length, 60);
  assert.equal(rec.flows[0]!.response!.headers.getAll('set-cookie').length, 60);
  const huge = await curl(['-x', proxy.url, `${up.url}/huge`]);
  assert.equal(huge.status, 502);
  assert.match(huge.stdout, /headers exceed 262144 bytes/);
});

test('HTTP/1.0 clients: response without chunking, connection closed after the response', async (t) => {
  const up = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('part1-');
    res.end('part2');
  });
  const proxy = await testProxy(t);
  const raw = (await rawRequest(proxy.port, `GET ${up.url}/ HTTP/1.0\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`)).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(raw, /transfer-encoding/i);
  assert.match(raw, /content-length: 11/i);
  assert.ok(raw.endsWith('part1-part2'));
});

test('header case, order and duplicates survive in both directions (raw bytes checked)', async (t) => {
  const up = await rawServer(t, (s) => {
    s.once('data', () => {
      s.end('HTTP/1.1 200 OK\r\nX-Lower: a\r\nSet-Cookie: a=1\r\nX-UPPER: B\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  const proxy = await testProxy(t);
  const raw = (
    await rawRequest(proxy.port, `GET http://127.0.0.1:${up.port}/h HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nX-MiXeD: 1\r\nx-dup: one\r\nAccept: */*\r\nx-dup: two\r\nConnection: close\r\n\r\n`)
  ).toString('latin1');
  const sent = Buffer.concat(up.received[0]!).toString('latin1');
  assert.equal(sent, `GET /h HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nX-MiXeD: 1\r\nx-dup: one\r\nAccept: */*\r\nx-dup: two\r\nConnection: close\r\n\r\n`);
  assert.match(raw, /\r\nX-Lower: a\r\nSet-Cookie: a=1\r\nX-UPPER: B\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok$/);
});

test('a refused upstream gives the client a 502 page naming the reason, and an error hook', async (t) => {
  const port = await closedPort();
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const r = await curl(['-x', proxy.url, `http://127.0.0.1:${port}/`]);
  assert.equal(r.status, 502);
  assert.match(r.stdout, /<h1>502 Bad Gateway<\/h1>/);
  assert.match(r.stdout, /refused/i);
  assert.equal(rec.flows.length, 1);
  assert.match(rec.flows[0]!.error!.msg, /refused/i);
  assert.equal(rec.flows[0]!.response, null);
});

test('a DNS failure and an upstream that resets mid-response are 502s; the proxy keeps serving', async (t) => {
  const up = await rawServer(t, (s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
      setTimeout(() => s.destroy(), 50);
    });
  });
  const ok = await echoServer(t);
  const proxy = await testProxy(t);
  const dns = await curl(['-x', proxy.url, 'http://does-not-exist.invalid/']);
  assert.equal(dns.status, 502);
  assert.match(dns.stdout, /not known|ENOTFOUND|EAI_AGAIN/);
  const reset = await curl(['-x', proxy.url, `${up.url}/`]);
  assert.equal(reset.status, 502);
  assert.match(reset.stdout, /closed connection|outstanding|reset/i);
  const after = await curl(['-x', proxy.url, `${ok.url}/still-alive`]);
  assert.equal(after.status, 200);
});

test('empty lines before the first request are skipped (RFC 9112 §2.2), not taken for a non-HTTP client', async (t) => {
  const up = await httpServer(t, (_req, res) => res.end('fine'));
  const proxy = await testProxy(t);
  const raw = (await rawRequest(proxy.port, `\r\nGET ${up.url}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
});

test('malformed requests get a 400 with the reason', async (t) => {
  const proxy = await testProxy(t);
  const cases: Array<[string, RegExp]> = [
    ['GARBAGE\r\n\r\n', /Bad HTTP request line/],
    ['GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both transfer-encoding and content-length/],
    ['GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc', /Invalid header name/],
    ['GET / HTTP/1.1\r\n\r\n', /no host header, destination unknown/],
    ['GET http://x/ HTTP/2.0\r\nHost: x\r\n\r\n', /unsupported HTTP version/],
    ['POST http://x/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX0\r\n\r\n', /chunked/],
    ['GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length: 03\r\n\r\n', /invalid content-length/],
    // A SOCKS5 greeting at the HTTP port: answered at once, not after a request head timeout.
    ['\x05\x01\x00', /this is an HTTP proxy/],
    // Host 127.0.0.1 to us, evil.example to a parser that reads past the "#".
    ['GET http://127.0.0.1:9#@evil.example/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n', /Bad HTTP request line/],
  ];
  for (const [req, reason] of cases) {
    const raw = (await rawRequest(proxy.port, req)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, `400 for ${JSON.stringify(req.slice(0, 40))}`);
    assert.match(raw, reason);
    assert.match(raw, /Connection: close/);
  }
});

test('a request for a ws:// URL (aiohttp through a proxy) is refused with 400 and recorded with the target it named', async (t) => {
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const raw = (
    await rawRequest(proxy.port, 'GET ws://127.0.0.1:9/chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  ).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(raw, /Invalid request scheme: ws/);
  const f = rec.flows[0]!;
  assert.equal(f.error?.msg, 'Invalid request scheme: ws');
  // As mitmproxy parses the request line: the flow shows ws://127.0.0.1:9/chat?x=1, not a path of "ws://...".
  assert.deepEqual([f.request.scheme, f.request.host, f.request.port, f.request.path, f.request.authority], ['ws', '127.0.0.1', 9, '/chat?x=1', '127.0.0.1:9']);
  assert.equal(f.request.prettyUrl, 'ws://127.0.0.1:9/chat?x=1');
});

test('a large body streams through with stream_large_bodies and is not stored', async (t) => {
  const size = 8 * 1024 * 1024;
  const up = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': String(size) });
    res.end(Buffer.alloc(size, 'z'));
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { stream_large_bodies: '1m' } });
  const r = await curl(['-x', proxy.url, '-o', '/dev/null', `${up.url}/big`]);
  assert.equal(r.status, 200);
  assert.equal(r.sizeDownload, size);
  const f = rec.flows[0]!;
  assert.equal(f.response!.stream, true, 'the flow records that it was streamed');
  assert.equal(f.response!.rawContent, null, 'the streamed body is not kept');
});

test('stream_large_bodies marks a large request streamed before requestheaders, where an addon sees it and can put a stream function in its place', async (t) => {
  const up = await echoServer(t);
  const seen: Array<StreamSetting> = [];
  // As mitmproxy's save_streamed_data example: hook into the bodies the proxy streams anyway.
  const addon = {
    name: 'upper',
    requestheaders(f: HTTPFlow) {
      seen.push(f.request.stream);
      if (f.request.stream) f.request.stream = (chunk: Buffer) => Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1');
    },
  };
  const proxy = await testProxy(t, { addons: [addon], options: { stream_large_bodies: '10' } });
  const big = await curl(['-x', proxy.url, '--data-binary', 'a body longer than ten bytes', `${up.url}/big`]);
  const small = await curl(['-x', proxy.url, '--data-binary', 'short', `${up.url}/small`]);
  assert.deepEqual(seen, [true, false]);
  assert.match(big.stdout, /A BODY LONGER THAN TEN BYTES/);
  assert.match(small.stdout, /short/);
});

test('a streamed close-delimited HTTP/1.0 response stays close-delimited: no chunked framing on an HTTP/1.0 status line', async (t) => {
  // An HTTP/1.0 server: no length, the body ends when it closes.
  const up = await rawServer(t, (s) => {
    s.once('data', () => {
      s.write('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n');
      s.write(Buffer.alloc(5000, 'a'));
      setTimeout(() => s.end('END'), 100);
    });
  });
  const proxy = await testProxy(t, { options: { stream_large_bodies: '1k' } });
  const raw = (await rawRequest(proxy.port, `GET ${up.url}/ HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`)).toString('latin1');
  const [head, body] = raw.split('\r\n\r\n', 2) as [string, string];
  assert.match(head, /^HTTP\/1\.0 200 OK\r\n/);
  assert.doesNotMatch(head, /transfer-encoding/i, 'RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing');
  assert.equal(body, 'a'.repeat(5000) + 'END', 'the body as sent, delimited by the close');
  // A second proxy in front (upstream mode) checks the framing as mitmproxy does: it gets the body too.
  const front = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${proxy.port}`] } });
  const r = await curl(['-x', front.url, `${up.url}/`]);
  assert.equal(r.status, 200);
  assert.equal(r.stdout, 'a'.repeat(5000) + 'END');
});

test('body_size_limit: 413 for a large request, 502 for a large response', async (t) => {
  const up = await httpServer(t, (req, res) => {
    req.resume();
    res.end(Buffer.alloc(5000, 'y'));
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { body_size_limit: '2k' } });
  const big = await curl(['-x', proxy.url, '--data-binary', '@-', `${up.url}/upload`], { input: 'a'.repeat(4096) });
  assert.equal(big.status, 413);
  assert.match(big.stdout, /Request body exceeds mitmproxy&#x27;s body_size_limit/);
  const resp = await curl(['-x', proxy.url, `${up.url}/download`]);
  assert.equal(resp.status, 502);
  assert.match(resp.stdout, /Response body exceeds mitmproxy&#x27;s body_size_limit/);
  assert.equal(rec.flows.length, 2);
  assert.ok(rec.flows.every((f) => f.error));
});

test('a request to the proxy itself through the proxy is refused before connecting (no loop)', async (t) => {
  let clientsConnected = 0;
  const proxy = await testProxy(t, { addons: [{ name: 'count', client_connected: () => void clientsConnected++ }] });
  for (const host of ['127.0.0.1', 'localhost', '127.1']) {
    const r = await curl(['-x', proxy.url, `http://${host}:${proxy.port}/`]);
    assert.equal(r.status, 502, host);
    assert.match(r.stdout, /Connection killed: Request destination unknown/);
  }
  // The proxy never dialled itself: one client per curl, no server connection at all.
  assert.equal(clientsConnected, 3);
  const messages = proxy.logs.map((l) => l.message);
  assert.equal(messages.filter((m) => m === 'client connect').length, 3, messages.join('\n'));
  assert.ok(!messages.some((m) => m.startsWith('server connect ')), messages.join('\n'));
  assert.ok(
    messages.includes(`server connection to 127.0.0.1:${proxy.port} killed before connect: Request destination unknown. Unable to figure out where this request should be forwarded to.`),
    messages.join('\n'),
  );
});

test('a silent upstream: the connection is closed after tcp_timeout of inactivity, and the flow records an error', async (t) => {
  const up = await rawServer(t, () => undefined);
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { tcp_timeout: 2 } });
  const started = Date.now();
  const r = await curl(['-x', proxy.url, `${up.url}/silent`], { timeoutMs: 30000 });
  const elapsed = Date.now() - started;
  assert.equal(r.status, 0, 'no response');
  assert.ok(elapsed >= 1500 && elapsed < 15000, `closed after ${elapsed} ms`);
  for (let i = 0; i < 50 && rec.flows.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(rec.flows.length, 1);
  assert.ok(rec.flows[0]!.error, 'error hook fired');
});
