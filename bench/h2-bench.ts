/**
 * HTTP/2 through the proxy (issue 6): 100 concurrent streams of 1 KiB GETs over ONE intercepted
 * connection, against the HTTP/1.1 keep-alive figure on 10 intercepted connections, in the same run
 * and through the same proxy process (the built CLI, so client and proxy do not share a CPU loop).
 *
 * Run: npm run build && node --import tsx bench/h2-bench.ts [--seconds 4] [--rounds 5]
 * PROXY_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" profiles the proxy process.
 * Each round measures h1 then h2 back to back; the ratio reported is the median of the per-round
 * ratios (a noisy shared machine moves both figures of a round together, not the ratio).
 * Target: h2 rps >= 0.5 x h1 rps.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 4) || 4;
const rounds = Number(args[args.indexOf('--rounds') + 1] || 5) || 5;
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'h2-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
const body = Buffer.alloc(1024, 'x');
const upstream = http2.createSecureServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')), allowHTTP1: true }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
const upPort = (upstream.address() as net.AddressInfo).port;

const proxy = spawn(process.execPath, [...(process.env.PROXY_NODE_FLAGS ? process.env.PROXY_NODE_FLAGS.split(' ') : []), join(root, 'bin/mitmproxy-ts.js'), 'dump', '--listen-host', '127.0.0.1', '-p', '0', '--set', 'flow_detail=0', '--set', `confdir=${join(dir, 'conf')}`, '--ssl-insecure'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  proxy.stdout!.on('data', (d) => {
    out += d;
    const m = /listening at \S+:(\d+)\./.exec(out);
    if (m) resolve(Number(m[1]));
  });
  proxy.on('exit', () => reject(new Error(`proxy exited: ${out}`)));
});
const ca = await (async () => {
  for (let i = 0; i < 100; i++) {
    try {
      return readFileSync(join(dir, 'conf', 'mitmproxy-ca-cert.pem'), 'utf8');
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('no CA');
})();

function tunnel(alpn: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${upPort} HTTP/1.1\r\nHost: 127.0.0.1:${upPort}\r\n\r\n`));
    s.once('data', (d) => {
      if (!/^HTTP\/1\.1 200/.test(d.toString())) return reject(new Error(d.toString()));
      const t = tls.connect({ socket: s, ca, servername: 'localhost', ALPNProtocols: alpn }, () => resolve(t));
      t.on('error', reject);
    });
    s.on('error', reject);
  });
}

/** Sequential keep-alive GETs on one intercepted HTTP/1.1 connection, parsed by hand (as https-bench.js). */
function getOnce(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.subarray(0, i).toString());
      if (!m) return reject(new Error('no content-length'));
      if (buf.length >= i + 4 + Number(m[1])) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(`GET /size/1024 HTTP/1.1\r\nHost: 127.0.0.1:${upPort}\r\n\r\n`);
  });
}

async function h1(): Promise<number> {
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    const socket = await tunnel(['http/1.1']);
    while (Date.now() < end) {
      await getOnce(socket);
      done++;
    }
    socket.destroy();
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return done / seconds;
}

async function h2(): Promise<number> {
  const socket = await tunnel(['h2']);
  const session = http2.connect(`https://127.0.0.1:${upPort}`, { createConnection: () => socket });
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const stream = async () => {
    while (Date.now() < end) {
      await new Promise<void>((resolve, reject) => {
        const req = session.request({ ':path': '/size/1024' });
        req.on('data', () => undefined);
        req.on('end', () => resolve());
        req.on('error', reject);
        req.end();
      });
      done++;
    }
  };
  await Promise.all(Array.from({ length: 100 }, stream));
  session.close();
  return done / seconds;
}

try {
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const h1s: number[] = [];
  const h2s: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = await h1();
    const b = await h2();
    h1s.push(a);
    h2s.push(b);
    ratios.push(b / a);
    console.error(`round ${i + 1}: h1 ${Math.round(a)} rps, h2 ${Math.round(b)} rps, ratio ${(b / a).toFixed(2)}`);
  }
  console.log(
    JSON.stringify({ bench: 'h2', http1_10conns_rps: Math.round(median(h1s)), h2_100streams_rps: Math.round(median(h2s)), ratio: +median(ratios).toFixed(2), target: '>= 0.5' }),
  );
} finally {
  // A clean stop first, so a profile asked for with PROXY_NODE_FLAGS (--cpu-prof) gets written.
  const exited = new Promise<void>((r) => proxy.once('exit', () => r()));
  proxy.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  proxy.kill('SIGKILL');
  upstream.close();
  process.exit(0);
}
