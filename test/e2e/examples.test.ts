import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Resolver } from 'node:dns/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { runCli, ROOT } from '../helpers/cli.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer, httpServer, rawServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { httpsOrigin } from '../proxy/modes-helpers.js';
import { testConfdir } from '../helpers/proxy.js';
import { tempDir } from '../helpers/tempdir.js';

const example = (name: string) => join(ROOT, 'examples', name);

test('examples/add-header.ts numbers every response', async (t) => {
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('add-header.ts')]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const a = await curl(['-x', proxy, '-i', `${up.url}/1`]);
  const b = await curl(['-x', proxy, '-i', `${up.url}/2`]);
  assert.match(a.stdout, /x-mitmproxy-ts: response 1\r\n/i);
  assert.match(b.stdout, /x-mitmproxy-ts: response 2\r\n/i);
});

test('examples/block-host.ts answers 403 for the blocked host and its subdomains only', async (t) => {
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('block-host.ts'), '--set', 'block_host=blocked.invalid']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const blocked = await curl(['-x', proxy, 'http://blocked.invalid/x']);
  const sub = await curl(['-x', proxy, 'http://ads.blocked.invalid/x']);
  const other = await curl(['-x', proxy, `${up.url}/fine`]);
  assert.equal(blocked.status, 403);
  assert.equal(blocked.stdout, 'Blocked by mitmproxy-ts: blocked.invalid\n');
  assert.equal(sub.status, 403);
  assert.equal(other.status, 200);
  await tool.waitFor(/blocked http:\/\/blocked\.invalid\/x/);
});

test('examples/log-slow-requests.ts warns about slow responses only', async (t) => {
  const up = await httpServer(t, (req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('late'), 1500);
    else res.end('quick');
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('log-slow-requests.ts'), '--set', 'slow_threshold_ms=1000']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  await curl(['-x', proxy, `${up.url}/fast`]);
  await curl(['-x', proxy, `${up.url}/slow`]);
  const out = await tool.waitFor(/slow request: \d+ ms for GET http:\/\/127\.0\.0\.1:\d+\/slow/);
  assert.doesNotMatch(out, /slow request: .*\/fast/);
});

test('examples/swapcase-contentview.ts shows text/example bodies case-swapped, others as they are', async (t) => {
  const up = await httpServer(t, (req, res) => {
    res.setHeader('content-type', req.url === '/example' ? 'text/example' : 'text/plain');
    res.end(req.url === '/example' ? 'Hello Example' : 'Hello Plain');
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('swapcase-contentview.ts'), '--flow-detail', '3']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const ex = await curl(['-x', proxy, `${up.url}/example`]);
  assert.equal(ex.stdout, 'Hello Example', 'the view changes what is shown, not the body');
  await curl(['-x', proxy, `${up.url}/plain`]);
  const out = await tool.waitFor(/Hello Plain/);
  assert.match(out, /^ {4}hELLO eXAMPLE$/m);
  assert.doesNotMatch(out, /hELLO pLAIN/);
});

test('examples/dns-spoof-ipv6.ts answers AAAA queries: ::1, NXDOMAIN, no records', async (t) => {
  const tool = await runCli(t, ['dump', '--mode', 'dns@0', '--listen-host', '127.0.0.1', '-s', example('dns-spoof-ipv6.ts')]);
  const resolver = new Resolver({ timeout: 5000, tries: 1 });
  resolver.setServers([`127.0.0.1:${tool.port}`]);
  assert.deepEqual(await resolver.resolve6('example.com'), ['::1']);
  await assert.rejects(resolver.resolve6('example.org'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve6('example.net'), { code: 'ENODATA' });
  await tool.waitFor(/Spoofing IPv6 records for example\.net\.\.\./);
});

test('examples/hosted-app.ts answers example.com and api.example.com from inside the proxy', async (t) => {
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('hosted-app.ts')]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const page = await curl(['-x', proxy, 'http://example.com/']);
  assert.equal(page.status, 200);
  assert.equal(page.stdout, 'Hello World!\n');
  const api = await curl(['-x', proxy, 'http://api.example.com/time']);
  assert.equal(api.status, 200);
  assert.equal((JSON.parse(api.stdout) as { path: string }).path, '/time');
});

test('examples/stream-replace.ts replaces text as the body streams, matches split across chunks included', async (t) => {
  let finish: (() => void) | null = null;
  const up = await httpServer(t, (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.write('one foo, then fo');
    finish = () => res.end('o and foo\n');
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('stream-replace.ts'), '--set', 'stream_replace=foo/bar']);
  const chunks: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: tool.port, path: `${up.url}/`, headers: { host: `127.0.0.1:${up.port}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        chunks.push(d);
        // The start went out while the server still holds the rest: the body is streamed.
        if (chunks.length === 1) finish!();
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  await done;
  assert.equal(chunks[0], 'one bar, then ', 'the possible start of a match waits for the next chunk');
  assert.equal(chunks.join(''), 'one bar, then bar and bar\n');
});

test('examples/websocket-inject.ts answers a secret with an injected message and ticks while the conversation is open', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  await once(wss, 'listening');
  const serverGot: string[] = [];
  wss.on('connection', (s) => s.on('message', (m: Buffer) => serverGot.push(m.toString())));
  const port = (wss.address() as { port: number }).port;
  const tool = await runCli(t, ['dump', '--listen-host', '127.0.0.1', '--mode', `reverse:http://127.0.0.1:${port}@0`, '-s', example('websocket-inject.ts'), '--set', 'websocket_tick_ms=100']);
  const ws = new WebSocket(`ws://127.0.0.1:${tool.port}/`);
  t.after(() => ws.terminate());
  const got: string[] = [];
  ws.on('message', (m: Buffer) => got.push(m.toString()));
  await once(ws, 'open');
  ws.send('my secret');
  ws.send('hello');
  const deadline = Date.now() + 10000;
  while ((got.filter((m) => m.startsWith('tick')).length < 2 || serverGot.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(got.includes('ssssssh'), JSON.stringify(got));
  assert.deepEqual(got.filter((m) => m.startsWith('tick')).slice(0, 2), ['tick 1 from mitmproxy-ts', 'tick 2 from mitmproxy-ts']);
  assert.deepEqual(serverGot, ['hello'], 'the secret never reached the server');
  ws.close();
  await once(ws, 'close');
  await tool.waitFor(/WebSocket connection closed by client/);
  assert.doesNotMatch(tool.stdout() + tool.stderr(), /websocket tick:|Unhandled error/);
});

test('examples/host-histogram.ts adds a command that mitmweb runs on flows and a path', async (t) => {
  const dir = tempDir(t, 'histogram-');
  const up = await echoServer(t);
  const tool = await runCli(t, ['web', '--listen-host', '127.0.0.1', '-p', '0', '--web-port', '0', '--no-web-open-browser', '-s', example('host-histogram.ts')]);
  const out = await tool.waitFor(/Web server listening at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/);
  const api = new URL(/Web server listening at (\S+)/.exec(out)![1]!);
  const proxy = `http://127.0.0.1:${tool.port}`;
  await curl(['-x', proxy, `${up.url}/a`]);
  await curl(['-x', proxy, `http://localhost:${up.port}/b`]);
  await curl(['-x', proxy, `http://localhost:${up.port}/c`]);
  const target = join(dir, 'hosts.txt');
  const r = await curl([
    '-H', `Authorization: Bearer ${api.searchParams.get('token')}`,
    '-H', 'Cookie: _mitmproxy_xsrf=x',
    '-H', 'X-XSRFToken: x',
    '-H', 'Content-Type: application/json',
    '-d', JSON.stringify({ arguments: ['@all', target] }),
    `http://127.0.0.1:${api.port}/commands/histogram.save`,
  ]);
  assert.equal(r.stdout, '{"value": null}');
  assert.equal(readFileSync(target, 'utf8'), '1: 127.0.0.1\n2: localhost\n');
  await tool.waitFor(/histogram of 2 hosts written to /);
});

test('examples/reroute-connections.ts connects to the rerouted address and leaves the request as the client sent it', async (t) => {
  const up = await echoServer(t);
  const gone = await closedPort();
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('reroute-connections.ts'), '--set', `reroute=127.0.0.1:${gone}=127.0.0.1:${up.port}`]);
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `http://127.0.0.1:${gone}/staging`]);
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.stdout) as { url: string; rawHeaders: string[] };
  assert.equal(seen.url, '/staging');
  assert.equal(seen.rawHeaders[seen.rawHeaders.indexOf('Host') + 1], `127.0.0.1:${gone}`);
  await tool.waitFor(new RegExp(`rerouting 127\\.0\\.0\\.1:${gone} to 127\\.0\\.0\\.1:${up.port}`));
});

test('examples/suppress-error-pages.ts drops the connection instead of sending the 502 page', async (t) => {
  const gone = await closedPort();
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('suppress-error-pages.ts')]);
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `http://127.0.0.1:${gone}/`]);
  assert.equal(r.status, 0);
  assert.equal(r.code, 52, r.stderr);
  await tool.waitFor(/dropping http:\/\/127\.0\.0\.1:\d+\/ instead of an error page: Connection refused/);
});

test('examples/tcp-replace.ts greets the client and replaces foo with bar both ways', async (t) => {
  const up = await rawServer(t, (s) => s.on('data', (d) => s.write(`echo:${d.toString('latin1')}`)));
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--tcp-hosts', '.*', '-s', example('tcp-replace.ts')]);
  const s = await connectTunnel(tool.port, `127.0.0.1:${up.port}`);
  t.after(() => s.destroy());
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  s.write('foo food');
  const deadline = Date.now() + 10000;
  while (!got.includes('echo:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(got, 'hello from mitmproxy-ts\necho:bar bard');
  assert.deepEqual(up.received.flat().map((b) => b.toString('latin1')), ['bar bard']);
});

test('examples/save-streamed-bodies.ts copies the bodies that stream_large_bodies streams to files, and passes them on unchanged', async (t) => {
  const dir = tempDir(t, 'streamed-');
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--set', 'stream_large_bodies=100', '--set', `save_streamed_dir=${dir}`, '-s', example('save-streamed-bodies.ts')]);
  const upload = 'x'.repeat(5000);
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, '--data-binary', upload, `${up.url}/upload`]);
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.stdout) as { body: string }).body, upload);
  await tool.waitFor(/saved the request body .* to .*\.request/);
  await tool.waitFor(/saved the response body .* to .*\.response/);
  const files = readdirSync(dir).sort();
  assert.equal(files.length, 2, JSON.stringify(files));
  assert.equal(readFileSync(join(dir, files.find((f) => f.endsWith('.request'))!), 'latin1'), upload);
  assert.equal(readFileSync(join(dir, files.find((f) => f.endsWith('.response'))!), 'latin1'), r.stdout);
});

test('examples/save-streamed-bodies.ts closes the file of a body whose flow fails mid-stream, with what came through', async (t) => {
  const dir = tempDir(t, 'streamed-');
  const up = await rawServer(t, (s) => {
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n${'y'.repeat(3000)}`);
      setTimeout(() => s.destroy(), 500);
    });
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--set', 'stream_large_bodies=100', '--set', `save_streamed_dir=${dir}`, '-s', example('save-streamed-bodies.ts')]);
  await curl(['-x', `http://127.0.0.1:${tool.port}`, `http://127.0.0.1:${up.port}/cut`]);
  await tool.waitFor(/saved what came of a body of http:\/\/127\.0\.0\.1:\d+\/cut to .*\.response \(the flow failed\)/);
  const files = readdirSync(dir);
  assert.equal(files.length, 1, JSON.stringify(files));
  assert.equal(readFileSync(join(dir, files[0]!), 'latin1'), 'y'.repeat(3000));
});

test('examples/tls-passthrough.ts passes TLS through to a server once a client refused the proxy certificate for it', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('from the origin itself'));
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--ssl-insecure', '--set', `confdir=${testConfdir()}`, '-s', example('tls-passthrough.ts')]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  // The client trusts the origin's CA only: the proxy's certificate is refused the first time.
  const first = await curl(['-x', proxy, '--cacert', origin.caFile, `${origin.url}/`]);
  assert.equal(first.status, 0);
  assert.equal(first.code, 60, first.stderr);
  await tool.waitFor(/client refused our certificate for 127\.0\.0\.1:\d+: passing it through from now on/);
  const second = await curl(['-x', proxy, '--cacert', origin.caFile, `${origin.url}/`]);
  assert.equal(second.status, 200, second.stderr);
  assert.equal(second.stdout, 'from the origin itself');
  await tool.waitFor(/TLS passthrough: 127\.0\.0\.1:\d+/);
});
