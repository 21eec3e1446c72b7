/**
 * mitmweb API under a large view: 100 000 small HTTP flows, then
 *   - RSS of the process,
 *   - GET /flows (plain and gzip),
 *   - a filter change on /updates (flows/updateFilter -> flows/filterUpdate),
 *   - a view_filter change (PUT /options -> flows/reset on /updates),
 *   - GET /flows/dump.
 *
 * Run: node --import tsx --expose-gc bench/web-bench.ts [--flows N] [--flows-per-connection N] [--proxy]
 *   Built in-process (default): browser-like GETs (7 request headers with a cookie, 5 response
 *            headers, ~300-byte JSON answers), 8 flows per keep-alive connection (1: every flow
 *            on its own connection, the worst case for memory).
 *   --proxy  send the requests through the proxy to a local upstream instead (32 keep-alive
 *            connections; slower to set up; the flows then carry real connection data).
 * Targets (issue 7): GET /flows < 2 s, filter change < 1 s, RSS < 600 MB at 100 000 flows.
 */
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Client, Server } from '../src/connection.js';
import { Headers } from '../src/headers.js';
import { HTTPFlow, Request, Response } from '../src/http.js';
import { WebMaster } from '../src/tools/web/master.js';
import type { ProxyServer } from '../src/addons/proxyserver.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--flows') + 1] || 0) || 100_000;
const viaProxy = args.includes('--proxy');
const gc = (globalThis as { gc?: () => void }).gc;

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(0)} MB`;
}

/** A string as the proxy's HTTP parser makes it: flat, one byte per character (not a rope of pieces). */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

/** Flows per keep-alive connection: a browser sends several requests over each connection. */
const FLOWS_PER_CONNECTION = Number(args[args.indexOf('--flows-per-connection') + 1] || 0) || 8;
let conns: { c: Client; s: Server } | null = null;

/** A small flow like a browser's: a GET with typical headers and a ~300-byte JSON answer. */
function smallFlow(i: number, t0: number): HTTPFlow {
  if (i % FLOWS_PER_CONNECTION === 0 || !conns) {
    const c = new Client({ peername: ['127.0.0.1', 40000 + (i % 20000)], sockname: ['127.0.0.1', 8080], timestampStart: t0 + i * 0.001 });
    c.timestampEnd = t0 + i * 0.001 + 0.05;
    const s = new Server({ address: ['api.example.com', 443] });
    s.peername = ['93.184.216.34', 443];
    s.sockname = ['10.0.0.2', 50000 + (i % 10000)];
    s.timestampStart = t0 + i * 0.001 + 0.001;
    s.timestampTcpSetup = s.timestampStart + 0.001;
    conns = { c, s };
  }
  const { c, s } = conns;
  const req = new Request({
    host: 'api.example.com',
    port: 443,
    method: 'GET',
    scheme: 'https',
    path: flat(`/v1/items/${i}?fields=name,price`),
    headers: new Headers([
      ['Host', 'api.example.com'],
      ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
      ['Accept', 'application/json'],
      ['Accept-Language', 'en-US,en;q=0.5'],
      ['Accept-Encoding', 'gzip, deflate, br'],
      ['Connection', 'keep-alive'],
      ['Cookie', flat(`session=${(i * 7919).toString(36)}abcdef0123456789`)],
    ]),
    content: Buffer.alloc(0),
    timestampStart: t0 + i * 0.001 + 0.002,
    timestampEnd: t0 + i * 0.001 + 0.002,
  });
  const f = new HTTPFlow(c, s, false, req);
  f.timestampCreated = req.timestampStart;
  const body = Buffer.from(JSON.stringify({ id: i, name: `item ${i}`, price: (i % 1000) / 10, tags: ['a', 'b', 'c'], description: 'x'.repeat(200) }));
  f.response = new Response({
    statusCode: 200,
    reason: 'OK',
    httpVersion: 'HTTP/1.1',
    headers: new Headers([
      ['Content-Type', 'application/json'],
      ['Content-Length', flat(String(body.length))],
      ['Date', 'Fri, 27 Nov 2026 15:31:43 GMT'],
      ['Cache-Control', 'no-cache'],
      ['Server', 'nginx'],
    ]),
    content: body,
    timestampStart: t0 + i * 0.001 + 0.03,
    timestampEnd: t0 + i * 0.001 + 0.04,
  });
  return f;
}

const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * GET with a client in another process (curl) when there is one, so the client's own parsing
 * does not share this event loop; node:http otherwise.
 */
function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; bytes: number; ms: number }> {
  if (hasCurl) {
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}'];
    for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
    args.push(`http://127.0.0.1:${port}${path}`);
    return new Promise((resolve, reject) =>
      execFile('curl', args, (err, stdout) => {
        if (err) return reject(err);
        const [status, bytes, secs] = stdout.trim().split(' ');
        resolve({ status: Number(status), bytes: Number(bytes), ms: Number(secs) * 1000 });
      }),
    );
  }
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - start }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function sendThroughProxy(proxyPort: number, upstreamPort: number, count: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: proxyPort, path: `http://127.0.0.1:${upstreamPort}/v1/items/${i}`, headers: { Host: `127.0.0.1:${upstreamPort}` }, agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  agent.destroy();
}

async function main(): Promise<void> {
  const confdir = mkdtempSync(join(tmpdir(), 'web-bench-'));
  const m = await WebMaster.create({ withTermlog: false });
  await m.options.update({ confdir, web_port: 0, web_open_browser: false, listen_host: '127.0.0.1', listen_port: 0, server: viaProxy });
  await m.run();
  const port = m.app.address!.port;
  const auth = { Authorization: `Bearer ${m.auth.token}` };
  gc?.();
  const rssBefore = process.memoryUsage().rss;

  const tBuild = performance.now();
  let upstream: http.Server | null = null;
  if (viaProxy) {
    upstream = http.createServer((req, res) => {
      const body = JSON.stringify({ url: req.url, description: 'x'.repeat(200) });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', () => r()));
    const ps = m.addons.get('proxyserver') as ProxyServer;
    await sendThroughProxy(ps.listenAddresses()[0]!.port, (upstream.address() as { port: number }).port, N);
  } else {
    const t0 = Date.now() / 1000;
    for (let i = 0; i < N; i++) m.view.add([smallFlow(i, t0)]);
  }
  const buildMs = performance.now() - tBuild;
  gc?.();
  const rss = process.memoryUsage().rss;
  const heap = process.memoryUsage().heapUsed;

  let gcMs = 0;
  const gcObs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcMs += e.duration;
  });
  gcObs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const plain = await get(port, '/flows', auth);
  const cpuFirst = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 10));
  const gcFirst = gcMs;
  gcMs = 0;
  const again: number[] = [];
  const cpu1 = process.cpuUsage();
  for (let i = 0; i < 3; i++) again.push((await get(port, '/flows', auth)).ms);
  const cpuAgain = process.cpuUsage(cpu1);
  await new Promise((r) => setTimeout(r, 10));
  const gcAgain = gcMs / 3;
  gcObs.disconnect();
  again.sort((a, b) => a - b);
  const plain2 = { ms: again[1]! };
  const gz = await get(port, '/flows', { ...auth, 'Accept-Encoding': 'gzip' });

  const ws = new WebSocket(`ws://127.0.0.1:${port}/updates`, { headers: auth });
  await new Promise((r) => ws.once('open', r));
  const waitType = (type: string) =>
    new Promise<{ type: string; payload?: unknown }>((resolve) => {
      const on = (d: WebSocket.RawData) => {
        const msg = JSON.parse(String(d)) as { type: string; payload?: unknown };
        if (msg.type === type) {
          ws.off('message', on);
          resolve(msg);
        }
      };
      ws.on('message', on);
    });
  const filterChange = async (expr: string) => {
    const start = performance.now();
    const reply = waitType('flows/filterUpdate');
    ws.send(JSON.stringify({ type: 'flows/updateFilter', payload: { name: 'search', expr } }));
    const msg = await reply;
    const ids = (msg.payload as { matching_flow_ids: string[] | null }).matching_flow_ids;
    return { ms: performance.now() - start, matches: ids ? ids.length : 0 };
  };
  const f1 = await filterChange('~u /v1/items/1');
  const f2 = await filterChange('~bs "item 4"');
  const f3 = await filterChange('~c 200 & ~t json');

  const tView = performance.now();
  const reset = waitType('flows/reset');
  await new Promise<void>((resolve, reject) => {
    const body = JSON.stringify({ view_filter: '~u /v1/items/9' });
    const req = http.request(
      { host: '127.0.0.1', port, path: '/options', method: 'PUT', headers: { ...auth, Cookie: '_mitmproxy_xsrf=x', 'X-XSRFToken': 'x', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  await reset;
  const viewFilterMs = performance.now() - tView;
  const shown = m.view.length;

  const dump = await get(port, '/flows/dump', auth);

  console.log(`mitmweb API with ${N} flows (${viaProxy ? 'through the proxy' : `built in-process, ${FLOWS_PER_CONNECTION} per connection`}), Node ${process.versions.node}, HTTP client: ${hasCurl ? 'curl' : 'node:http'}`);
  console.log(`  building the view:           ${(buildMs / 1000).toFixed(1)} s`);
  console.log(`  RSS:                         ${mb(rss)} (before the flows: ${mb(rssBefore)}; JS heap ${mb(heap)})${gc ? '' : '  [run with --expose-gc for settled figures]'}`);
  console.log(`  GET /flows:                  ${plain.ms.toFixed(0)} ms the first time, then ${plain2.ms.toFixed(0)} ms (median of 3) (${mb(plain.bytes)}, status ${plain.status})`);
  const cpuMs = (u: NodeJS.CpuUsage, n = 1) => ((u.user + u.system) / 1000 / n).toFixed(0);
  console.log(`  GET /flows, server CPU time: ${cpuMs(cpuFirst)} ms the first time, then ${cpuMs(cpuAgain, 3)} ms; in GC ${gcFirst.toFixed(0)} ms, then ${gcAgain.toFixed(0)} ms (machine load average ${loadavg()[0]!.toFixed(2)})`);
  console.log(`  GET /flows (gzip):           ${gz.ms.toFixed(0)} ms (${mb(gz.bytes)})`);
  console.log(`  /updates filter change:      ${f1.ms.toFixed(0)} ms (~u, ${f1.matches} match), ${f2.ms.toFixed(0)} ms (~bs, ${f2.matches}), ${f3.ms.toFixed(0)} ms (~c & ~t, ${f3.matches})`);
  console.log(`  view_filter change -> reset: ${viewFilterMs.toFixed(0)} ms (${shown} flows shown)`);
  console.log(`  GET /flows/dump:             ${dump.ms.toFixed(0)} ms (${mb(dump.bytes)})`);
  const ok = plain.ms < 2000 && Math.max(f1.ms, f2.ms, f3.ms) < 1000 && rss < 600 * 1024 * 1024;
  console.log(ok ? '  targets met (GET /flows < 2 s, filter change < 1 s, RSS < 600 MB)' : '  TARGETS MISSED (GET /flows < 2 s, filter change < 1 s, RSS < 600 MB)');

  ws.terminate();
  await m.shutdown();
  upstream?.close();
  rmSync(confdir, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

await main();
