/**
 * Memory under load (issue 2): 100 000 keep-alive requests through `mitmproxy-ts dump -q`
 * (flows captured, hooks fired); the proxy's RSS after 10 000 and after 100 000 requests.
 * Target: growth under 50 MB.
 *
 * Run: npm run build && node --import tsx bench/soak.ts [--requests 100000] [--connections 10]
 */
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const total = opt('--requests', 100_000);
const conns = opt('--connections', 10);
const root = fileURLToPath(new URL('..', import.meta.url));

const body = Buffer.alloc(1024, 'x');
const upstream = http.createServer((_q, r) => {
  r.writeHead(200, { 'content-length': body.length });
  r.end(body);
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
const upPort = (upstream.address() as net.AddressInfo).port;
const proxy = spawn(process.execPath, [join(root, 'bin/mitmproxy-ts.js'), 'dump', '--listen-host', '127.0.0.1', '-p', '0', '--set', 'flow_detail=0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => {
  let out = '';
  proxy.stdout!.on('data', (d) => {
    out += d;
    const m = /listening at \S+:(\d+)\./.exec(out);
    if (m) resolve(Number(m[1]));
  });
});
const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))![1]) / 1024;

/** One keep-alive connection sending raw absolute-form GETs back to back. */
function client(count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const req = Buffer.from(`GET http://127.0.0.1:${upPort}/x HTTP/1.1\r\nHost: 127.0.0.1:${upPort}\r\n\r\n`);
    let left = count;
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(req));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.subarray(0, i).toString())![1]);
        if (buf.length < i + 4 + len) return;
        buf = buf.subarray(i + 4 + len);
        if (--left === 0) {
          s.end();
          return resolve();
        }
        s.write(req);
      }
    });
    s.on('error', reject);
  });
}

async function run(n: number): Promise<number> {
  const t0 = Date.now();
  await Promise.all(Array.from({ length: conns }, () => client(Math.ceil(n / conns))));
  return (n / (Date.now() - t0)) * 1000;
}

try {
  const warm = await run(10_000);
  const rss10k = rssMb();
  const rate = await run(total - 10_000);
  const rssEnd = rssMb();
  console.log(
    JSON.stringify({ bench: 'soak', requests: total, rps_first_10k: Math.round(warm), rps_rest: Math.round(rate), rss_after_10k_MB: Math.round(rss10k), rss_after_all_MB: Math.round(rssEnd), growth_MB: Math.round(rssEnd - rss10k), target: 'growth < 50' }),
  );
} finally {
  proxy.kill('SIGKILL');
  upstream.close();
  process.exit(0);
}
