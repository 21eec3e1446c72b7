import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DumpMaster } from '../../src/tools/dump.js';
import { curl } from '../helpers/clients.js';
import { httpServer, rawServer } from '../helpers/servers.js';
import { testConfdir } from '../helpers/proxy.js';
import type { ProxyServer } from '../../src/addons/proxyserver.js';
import { Server } from '../../src/connection.js';
import { WebSocketData } from '../../src/websocket.js';
import { makeFlow } from './helpers.js';
import { BIN } from '../helpers/cli.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** A running mitmdump (in-process) whose output we capture. */
async function dump(t: import('node:test').TestContext, options: Record<string, unknown>) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const m = await DumpMaster.create({ out, withTermlog: false });
  await m.options.update({ listen_host: '127.0.0.1', listen_port: 0, confdir: testConfdir(), ...options });
  await m.run();
  t.after(() => m.shutdown());
  const port = (m.addons.get('proxyserver') as ProxyServer).listenAddresses()[0]!.port;
  return { m, port, output: () => text };
}

const JSON_BODY = '{"hello": "world", "n": 1}\n';

async function jsonServer(t: import('node:test').TestContext) {
  // HTTP/1.0 answers make the versions appear on the lines, as in the spec's example.
  return rawServer(t, (s) => {
    s.once('data', () => s.end(`HTTP/1.0 200 OK\r\nServer: test\r\nContent-type: application/json\r\nContent-Length: ${JSON_BODY.length}\r\n\r\n${JSON_BODY}`));
  });
}

test('flow_detail 1: request line and an aligned response line', async (t) => {
  const up = await httpServer(t, (_q, r) => r.end('0123456789012345678901234567'));
  const d = await dump(t, { flow_detail: 1 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/data.json?x=1`]);
  const lines = d.output().trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, new RegExp(`^127\\.0\\.0\\.1:(\\d+): GET http://127\\.0\\.0\\.1:${up.port}/data\\.json\\?x=1$`));
  const client = /^(127\.0\.0\.1:\d+):/.exec(lines[0]!)![1]!;
  // The << lines up under the method: len(client address) - 2 spaces, then " <<".
  assert.equal(lines[1], `${' '.repeat(client.length - 2)} << 200 OK 28b`);
});

test('flow_detail 1 with an HTTP/1.0 server shows both versions; errors print " << reason"', async (t) => {
  const up = await jsonServer(t);
  const d = await dump(t, { flow_detail: 1 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/data.json?x=1`]);
  await curl(['-x', `http://127.0.0.1:${d.port}`, 'http://127.0.0.1:1/']);
  const lines = d.output().trimEnd().split('\n');
  assert.match(lines[0]!, /: GET http:\/\/127\.0\.0\.1:\d+\/data\.json\?x=1 HTTP\/1\.1$/);
  const client = /^(127\.0\.0\.1:\d+):/.exec(lines[0]!)![1]!;
  assert.equal(lines[1], `${' '.repeat(client.length - (2 + 'HTTP/1.0 '.length))} << HTTP/1.0 200 OK 27b`);
  assert.match(lines[2]!, /: GET http:\/\/127\.0\.0\.1:1\/$/);
  assert.equal(lines[3], ' << Connection refused (127.0.0.1:1)');
});

test('flow_detail 2 adds headers; 3 adds bodies through content views (the spec example); 4 does not cut', async (t) => {
  const up = await jsonServer(t);
  const d = await dump(t, { flow_detail: 3 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, '-A', 'curl/7.88.1', `${up.url}/data.json?x=1`]);
  const expected = [
    `127.0.0.1:PORT: GET http://127.0.0.1:${up.port}/data.json?x=1 HTTP/1.1`,
    `    Host: 127.0.0.1:${up.port}`,
    '    User-Agent: curl/7.88.1',
    '    Accept: */*',
    '    Proxy-Connection: Keep-Alive',
    '',
    "    x: '1'", // newest mitmproxy quotes numeric-looking strings (8.1.1 printed x: 1)
    '',
    ' << HTTP/1.0 200 OK 27b',
    '    Server: test',
    '    Content-type: application/json',
    '    Content-Length: 27',
    '',
    '    {',
    '        "hello": "world",',
    '        "n": 1',
    '    }',
    '',
  ].join('\n');
  assert.equal(d.output().replace(/^127\.0\.0\.1:\d+:/, '127.0.0.1:PORT:'), expected + '\n');

  await d.m.options.update({ flow_detail: 2 });
  const before = d.output().length;
  await curl(['-x', `http://127.0.0.1:${d.port}`, '-A', 'curl/7.88.1', `${up.url}/two`]);
  const two = d.output().slice(before);
  assert.match(two, /\n    Accept: \*\/\*\n    Proxy-Connection: Keep-Alive\n << HTTP\/1\.0 200 OK 27b\n    Server: test\n/);
  assert.doesNotMatch(two, /"hello"/, 'no bodies at level 2');
});

test('level 3 shows an HTML body without a charset declaration as UTF-8', async (t) => {
  const up = await httpServer(t, (_q, r) => {
    r.setHeader('Content-Type', 'text/html');
    r.end('<p>café €</p>');
  });
  const d = await dump(t, { flow_detail: 3 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/`]);
  assert.match(d.output(), /\n    <p>café €<\/p>\n/);
});

test('level 3 cuts bodies at content_view_lines_cutoff, level 4 shows everything; -q style level 0 prints nothing', async (t) => {
  const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
  const up = await httpServer(t, (_q, r) => {
    r.setHeader('Content-Type', 'text/plain');
    r.end(lines);
  });
  const d = await dump(t, { flow_detail: 3, content_view_lines_cutoff: 10 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/`]);
  const three = d.output();
  assert.match(three, /    line 9\n    \(cut off\)\n/);
  assert.doesNotMatch(three, /line 10/);
  await d.m.options.update({ flow_detail: 4 });
  let mark = d.output().length;
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/`]);
  assert.match(d.output().slice(mark), /    line 39\n/);
  assert.doesNotMatch(d.output().slice(mark), /cut off/);
  await d.m.options.update({ flow_detail: 0 });
  mark = d.output().length;
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/`]);
  assert.equal(d.output().slice(mark), '');
});

test('dumper_filter limits which flows are printed; an invalid filter is refused', async (t) => {
  const up = await httpServer(t, (q, r) => r.end(q.url));
  const d = await dump(t, { flow_detail: 1, dumper_filter: '~u keep' });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/keep-me`]);
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/drop-me`]);
  assert.match(d.output(), /keep-me/);
  assert.doesNotMatch(d.output(), /drop-me/);
  await assert.rejects(d.m.options.update({ dumper_filter: '(~q' }), /Invalid filter expression/);
});

test('dumper_default_contentview picks the view for bodies at level 3 (auto by default); a view that does not exist is refused', async (t) => {
  const up = await jsonServer(t);
  const d = await dump(t, { flow_detail: 3, dumper_default_contentview: 'hex dump' });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/hex`]);
  assert.match(d.output(), /\n    0000:   7b 22 68 65  6c 6c 6f 22  3a 20 22 77  6f 72 6c 64   \{"hello": "world\n/);
  assert.doesNotMatch(d.output(), /^ {8}"hello": "world",$/m, 'not the JSON view');
  await d.m.options.update({ dumper_default_contentview: 'raw' });
  let before = d.output().length;
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/raw`]);
  assert.match(d.output().slice(before), /\n\n {4}\{"hello": "world", "n": 1\}\n/);
  await d.m.options.update({ dumper_default_contentview: 'auto' });
  before = d.output().length;
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/auto`]);
  assert.match(d.output().slice(before), /\n {8}"hello": "world",\n/);
  await assert.rejects(d.m.options.updateUnchecked({ dumper_default_contentview: 'no such view' }), /Valid choices/);
});

test('showhost: the printed URL is built from the Host header instead of the address the request went to', async (t) => {
  const up = await httpServer(t, (_q, r) => r.end('ok'));
  const d = await dump(t, { flow_detail: 1 });
  await curl(['-x', `http://127.0.0.1:${d.port}`, '-H', 'Host: shown.example', `${up.url}/plain`]);
  assert.match(d.output(), new RegExp(`: GET http://127\\.0\\.0\\.1:${up.port}/plain\\n`));
  await d.m.options.update({ showhost: true });
  await curl(['-x', `http://127.0.0.1:${d.port}`, '-H', 'Host: shown.example:8000', `${up.url}/shown`]);
  assert.match(d.output(), /: GET http:\/\/shown\.example:8000\/shown\n/);
});

test('flow_detail 1 cuts long URLs to the terminal width, which COLUMNS sets as for mitmdump', async (t) => {
  const up = await httpServer(t, (_q, r) => r.end('ok'));
  const d = await dump(t, { flow_detail: 1 });
  const path = `/${'a'.repeat(120)}`;
  const before = process.env.COLUMNS;
  t.after(() => (before === undefined ? delete process.env.COLUMNS : (process.env.COLUMNS = before)));
  process.env.COLUMNS = '300';
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}${path}`]);
  process.env.COLUMNS = '100';
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}${path}`]);
  const requests = d.output().split('\n').filter((l) => l.includes(': GET '));
  assert.ok(requests[0]!.endsWith(`${up.url}${path}`), requests[0]);
  const cut = /GET (\S+)$/.exec(requests[1]!)![1]!;
  assert.equal(cut.length, 75 + 1, 'COLUMNS 100 leaves 75 characters and the ellipsis');
  assert.ok(cut.endsWith('…'));
});

test('level 3 names protobuf fields with protobuf_definitions (gRPC response type chosen by the request path)', async (t) => {
  // shop.v1.PlaceReply {ok: true, priority: HIGH} in one uncompressed gRPC frame.
  const frame = Buffer.from([0, 0, 0, 0, 4, 0x08, 0x01, 0x18, 0x01]);
  const up = await httpServer(t, (_q, r) => {
    r.setHeader('Content-Type', 'application/grpc');
    r.end(frame);
  });
  const shop = fileURLToPath(new URL('../fixtures/contentviews/proto/shop.proto', import.meta.url));
  const d = await dump(t, { flow_detail: 3, protobuf_definitions: shop });
  await curl(['-x', `http://127.0.0.1:${d.port}`, `${up.url}/shop.v1.Orders/Place`]);
  assert.match(d.output(), /\n    ok: true\n    priority: HIGH\n/);
});

test('a WebSocket that ended without a close frame (killed, dropped) prints UNKNOWN_ERROR=None, as mitmdump', async (t) => {
  const d = await dump(t, { flow_detail: 1 });
  const flow = makeFlow({ url: 'http://127.0.0.1:9/ws', response: { status: 101 } });
  flow.serverConn = new Server({ address: ['127.0.0.1', 9] });
  flow.websocket = new WebSocketData();
  await d.m.addons.trigger('websocket_end', flow);
  flow.websocket.closeCode = 4321;
  flow.websocket.closeReason = 'bye';
  await d.m.addons.trigger('websocket_end', flow);
  assert.deepEqual(d.output().trimEnd().split('\n'), [
    'Error in WebSocket connection to 127.0.0.1:9: WebSocket Error: UNKNOWN_ERROR=None',
    'Error in WebSocket connection to 127.0.0.1:9: WebSocket Error: UNKNOWN_ERROR=4321 (reason: bye)',
  ]);
});

test('flow_detail 4 prints a 16 MiB binary body in full as a hex dump without exhausting the heap', async (t) => {
  // A browser downloading a large binary through `mitmdump --flow-detail 4`: the hex dump was
  // built from string pieces and took ~75 bytes of heap per body byte, so a 64 MiB download ran
  // the process out of memory. Here 16 MiB under a 512 MB heap cap (it took 1.2 GB).
  const body = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
  const up = await httpServer(t, (_q, r) => {
    r.setHeader('content-type', 'application/octet-stream');
    r.end(body);
  });
  const args = [BIN, 'dump', '--listen-host', '127.0.0.1', '-p', '0', '--flow-detail', '4', '--set', `confdir=${testConfdir()}`];
  const child = spawn(process.execPath, args, { env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '--max-old-space-size=512' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  // 84 MB of output: only its first lines (the port) and a window at its end are kept.
  let head = '';
  let tail = '';
  let stderr = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (d: string) => {
    if (head.length < 4096) head += d;
    tail = (tail + d).slice(-4096);
  });
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  const deadline = Date.now() + 20000;
  while (!/listening at \S+:\d+\./.test(head) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/listening at \S+:(\d+)\./.exec(head)![1]);
  const r = await curl(['-o', '/dev/null', '-x', `http://127.0.0.1:${port}`, `${up.url}/download.bin`], { timeoutMs: 60000 });
  assert.equal(r.status, 200, stderr);
  assert.equal(r.sizeDownload, body.length);
  // The last row (offset 0xfffff0) is printed once the whole body has been.
  const printed = Date.now() + 60000;
  while (!tail.includes('\n    fffff0:   ') && child.exitCode === null && Date.now() < printed) await new Promise((r) => setTimeout(r, 100));
  assert.ok(tail.includes('\n    fffff0:   '), stderr);
  assert.equal(child.exitCode, null, 'the proxy is still running');
});
