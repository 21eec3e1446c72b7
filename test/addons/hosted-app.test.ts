/**
 * Apps hosted inside the proxy (mitmproxy's asgiapp): a fetch-style handler and a node:http
 * listener answer requests for their host through a real proxy and real curl, without any network
 * connection to that host; failures become 500s; other hosts and ports are proxied as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { gzipSync } from 'node:zlib';
import { FetchApp, NodeApp, type HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { httpServer } from '../helpers/servers.js';
import { flowRecorder } from '../helpers/recorder.js';

/** curl through the proxy, headers included in stdout (-i). */
function via(port: number, args: string[]) {
  return curl(['-i', '-x', `http://127.0.0.1:${port}`, ...args]);
}

test('FetchApp answers its host with a web-standard handler: request details in, status, headers, cookies and body out; nothing reaches the network', async (t) => {
  const seen: Array<{ method: string; url: string; header: string | null; body: string; flow: HTTPFlow }> = [];
  const app = new FetchApp(
    async (request, { flow }) => {
      seen.push({ method: request.method, url: request.url, header: request.headers.get('x-test'), body: await request.text(), flow });
      return new Response(`hello ${new URL(request.url).searchParams.get('name')}`, {
        status: 201,
        statusText: 'Made',
        headers: [
          ['Content-Type', 'text/plain'],
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2; Path=/'],
        ],
      });
    },
    'app.test',
    80,
  );
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [app, rec.addon] });
  const r = await via(proxy.port, ['-H', 'X-Test: yes', '--data-binary', 'the body', 'http://app.test/greet?name=ts']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/1\.1 201 Made\r\n/);
  assert.match(r.stdout, /\r\nset-cookie: a=1\r\nset-cookie: b=2; Path=\/\r\n/i);
  assert.match(r.stdout, /\r\ncontent-length: 8\r\n/i);
  assert.ok(r.stdout.endsWith('\r\n\r\nhello ts'), r.stdout);
  assert.equal(seen.length, 1);
  assert.deepEqual({ ...seen[0], flow: undefined }, { method: 'POST', url: 'http://app.test/greet?name=ts', header: 'yes', body: 'the body', flow: undefined });
  assert.equal(rec.flows.length, 1);
  const flow = rec.flows[0]!;
  assert.equal(seen[0]!.flow, flow, 'the handler gets the flow it answers');
  assert.equal(flow.response!.statusCode, 201);
  assert.equal(flow.serverConn.timestampStart, null, 'no server connection was made');
});

test('NodeApp hosts a node:http listener: routing, streamed writes collected, HEAD, and only its host and port', async (t) => {
  const listener: http.RequestListener = (req, res) => {
    if (req.url === '/json') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ method: req.method, host: req.headers.host }));
      return;
    }
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // Written in pieces without a length: chunked on the in-memory hop, one sized body for the client.
        res.writeHead(200, 'Echoing', { 'X-Length': String(Buffer.concat(chunks).length) });
        res.write('got: ');
        res.end(Buffer.concat(chunks));
      });
      return;
    }
    if (req.url === '/gz') {
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain' });
      res.end(gzipSync('compressed by the app'));
      return;
    }
    res.statusCode = 404;
    res.end('no such page');
  };
  const upstream = await httpServer(t, (_req, res) => res.end('from the real server'));
  const rec = flowRecorder();
  const proxy = await testProxy(t, { addons: [new NodeApp(listener, 'localhost', upstream.port + 1), rec.addon] });
  const base = `http://localhost:${upstream.port + 1}`;

  const json = await via(proxy.port, [`${base}/json`]);
  assert.match(json.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(json.stdout.endsWith(`{"method":"GET","host":"localhost:${upstream.port + 1}"}`), json.stdout);

  const echo = await via(proxy.port, ['--data-binary', 'x'.repeat(100_000), `${base}/echo`]);
  assert.match(echo.stdout, /^HTTP\/1\.1 200 Echoing\r\n/);
  assert.match(echo.stdout, /\r\nx-length: 100000\r\n/i);
  assert.match(echo.stdout, /\r\ncontent-length: 100005\r\n/i);
  assert.doesNotMatch(echo.stdout, /transfer-encoding|keep-alive/i);
  assert.ok(echo.stdout.endsWith(`got: ${'x'.repeat(100_000)}`));

  const head = await via(proxy.port, ['-I', `${base}/json`]);
  assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(head.stdout, /content-length: 0/i, 'a HEAD answer is not given a length the app did not say');

  // An encoded body goes out as the app encoded it (not encoded twice), and the flow can decode it.
  const gz = await via(proxy.port, ['--compressed', `${base}/gz`]);
  assert.ok(gz.stdout.endsWith('\r\n\r\ncompressed by the app'), gz.stdout);

  const missing = await via(proxy.port, [`${base}/nope`]);
  assert.match(missing.stdout, /^HTTP\/1\.1 404 Not Found\r\n/);

  // Another port of the same host is proxied to the real server.
  const other = await via(proxy.port, [`http://localhost:${upstream.port}/json`]);
  assert.ok(other.stdout.endsWith('from the real server'), other.stdout);
  assert.equal(rec.flows.length, 6);
  for (const f of rec.flows) {
    // The recorded response says what was sent: its Content-Length matches its body.
    if (f.request.method !== 'HEAD') assert.equal(f.response!.headers.get('content-length'), String(f.response!.rawContent!.length), f.request.url);
  }
  assert.equal(rec.flows.find((f) => f.request.path === '/gz')!.response!.text, 'compressed by the app');
});

test('an app that throws, rejects or returns no Response gets the client a 500 and logs the error; the proxy goes on serving', async (t) => {
  const nodeApp = new NodeApp(
    (req, res) => {
      if (req.url === '/sync') throw new Error('sync failure');
      if (req.url === '/half') {
        res.write('partial');
        setImmediate(() => res.destroy(new Error('gave up midway')));
        return;
      }
      return Promise.reject(new Error('async failure')) as unknown as void;
    },
    'node.test',
  );
  const fetchApp = new FetchApp((request) => {
    if (request.url.endsWith('/throw')) throw new Error('fetch failure');
    return 'not a response' as unknown as Response;
  }, 'fetch.test');
  const proxy = await testProxy(t, { addons: [nodeApp, fetchApp] });
  for (const [url, message] of [
    ['http://node.test/sync', 'sync failure'],
    ['http://node.test/async', 'async failure'],
    ['http://node.test/half', 'the app ended its response early'],
    ['http://fetch.test/throw', 'fetch failure'],
    ['http://fetch.test/other', 'not a Response'],
  ] as const) {
    const r = await via(proxy.port, [url]);
    assert.match(r.stdout, /^HTTP\/1\.1 500 Internal Server Error\r\n/, url);
    assert.ok(r.stdout.endsWith('Hosted app error.'), url);
    assert.ok(
      proxy.logs.some((e) => e.level === 'error' && e.message.includes(message)),
      `${url}: ${proxy.logs.map((e) => e.message).join('\n')}`,
    );
  }
});

test('over HTTPS the app answers through TLS interception (connection_strategy lazy, upstream_cert off: the host need not exist)', async (t) => {
  const app = new FetchApp((request) => new Response(`secure ${request.url}`), 'app.test', 443);
  const proxy = await testProxy(t, { addons: [app], options: { connection_strategy: 'lazy', upstream_cert: false } });
  const r = await via(proxy.port, ['-k', 'https://app.test/page']);
  assert.equal(r.code, 0, r.stderr);
  // (curl and the proxy agree on HTTP/2 inside the tunnel.)
  assert.match(r.stdout, /\r\n\r\nHTTP\/2 200 \r\n/);
  assert.ok(r.stdout.endsWith('secure https://app.test/page'), r.stdout);
});

test('a flow killed while its app hangs stops waiting: the app is told (request.signal, a closed request) and the connection is freed', async (t) => {
  let fetchSignal: AbortSignal | null = null;
  let nodeRequestClosed = false;
  const called = new Set<string>();
  const fetchApp = new FetchApp((request) => {
    fetchSignal = request.signal;
    called.add('hang-fetch.test');
    return new Promise<Response>(() => undefined);
  }, 'hang-fetch.test');
  const nodeApp = new NodeApp((req) => {
    called.add('hang-node.test');
    req.on('close', () => (nodeRequestClosed = true));
  }, 'hang-node.test');
  const started: HTTPFlow[] = [];
  const ended: string[] = [];
  const watcher = {
    name: 'watcher',
    requestheaders: (f: HTTPFlow) => void started.push(f),
    error: (f: HTTPFlow) => void ended.push(`${f.request.host} ${f.error?.msg}`),
  };
  const proxy = await testProxy(t, { addons: [watcher, fetchApp, nodeApp] });
  for (const host of ['hang-fetch.test', 'hang-node.test']) {
    const pending = via(proxy.port, [`http://${host}/`]);
    // Killed once the app has the request and hangs on it (as from mitmweb).
    await waitUntil(() => called.has(host));
    started.find((f) => f.request.host === host)!.kill();
    const r = await pending;
    assert.notEqual(r.code, 0, 'the client gets no answer from a killed flow');
  }
  await waitUntil(() => ended.length === 2);
  assert.deepEqual(ended.sort(), ['hang-fetch.test Connection killed.', 'hang-node.test Connection killed.']);
  assert.equal(fetchSignal!.aborted, true, 'the fetch-style app sees its request aborted');
  await waitUntil(() => nodeRequestClosed);
  assert.ok(!proxy.logs.some((e) => e.level === 'error'), 'a kill is no app error');
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cond(), 'timed out');
}
