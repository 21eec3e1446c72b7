/**
 * WebSocket relay throughput: sequential echo round trips of 1 KiB messages,
 *   ws client -> ws echo server            (direct, the baseline)
 *   ws client -> proxy -> ws echo server   (a CONNECT tunnel, as browsers use; full interception:
 *                                           frames parsed, messages recorded, hooks fired)
 *   ws client -> naive relay -> ws echo    (a bare node socket.pipe() relay: the ceiling for any
 *                                           Node proxy that touches the bytes in JS at all)
 * in the same run, several rounds alternating, best rate of each reported.
 *
 * By default the proxy (startProxy with the default addon chain) and the naive relay run in this
 * process, next to the client and the echo server: sequential round trips are latency-bound, and
 * a proxy in another process adds two process wake-ups per round trip, which alone caps even the
 * naive relay at ~0.5x on a 2-core machine. `--separate-process` measures that setup too.
 *
 * Run: node --import tsx bench/websocket-bench.ts [--messages N] [--size BYTES] [--rounds R] [--deflate] [--tls]
 *                                                 [--separate-process] [--mitmdump]
 *   --deflate           permessage-deflate negotiated on both hops (threshold 0: every message compressed)
 *   --tls               wss with TLS interception (the direct baseline is wss as well)
 *   --separate-process  run mitmproxy-ts and the naive relay as child processes
 *   --mitmdump          also measure Debian's mitmdump (if installed; always its own process)
 * Target (issue 6): the proxied rate at least 0.5x the direct rate for 10 000 round trips of 1 KiB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WebSocket } from 'ws';
import { selfSignedCert, wsClient, wsClientViaProxy, wsServer } from '../test/proxy/websocket-helpers.js';

const args = process.argv.slice(2);
function arg(name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}
const N = arg('--messages', 10_000);
const SIZE = arg('--size', 1024);
const ROUNDS = arg('--rounds', 3);
const deflate = args.includes('--deflate');
const useTls = args.includes('--tls');
const separate = args.includes('--separate-process');
const withMitmdump = args.includes('--mitmdump');
const perMessageDeflate = deflate ? { threshold: 0 } : false;

type Kind = 'naive-relay' | 'mitmproxy-ts' | 'mitmdump';

interface RunningRelay {
  port: number;
  /** The CA a client must trust for wss through this relay. */
  ca: string;
  stop(): Promise<void>;
}

/** The naive relay: answers CONNECT with 200, then pipes bytes both ways, nothing else. */
async function startNaiveRelay(): Promise<RunningRelay> {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const m = /^CONNECT ([^:\s]+):(\d+) /.exec(head.toString('latin1'));
      if (!m) return void client.destroy();
      const upstream = net.connect({ host: m[1], port: Number(m[2]), noDelay: true }, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    ca: useTls ? (await selfSignedCert()).cert : '',
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** mitmproxy-ts in this process, as a library user starts it (default addons, nothing printed). */
async function startInProcessProxy(confdir: string): Promise<RunningRelay> {
  const { startProxy } = await import('../src/start.js');
  const proxy = await startProxy({ options: { confdir, ssl_insecure: true } });
  // The CA is created in the background at startup; wait for it before reading its file.
  await (proxy.master.addons.get('tlsconfig') as { certStore(): Promise<unknown> }).certStore();
  return { port: proxy.port, ca: readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8'), stop: () => proxy.close() };
}

/** Child mode: run a relay, print its port, exit when stdin closes. */
async function child(kind: Kind, confdir: string): Promise<void> {
  const relay = kind === 'naive-relay' ? await startNaiveRelay() : await startInProcessProxy(confdir);
  process.stdout.write(`${relay.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void relay.stop().then(() => process.exit(0)));
}

async function startChild(kind: Kind, confdir: string): Promise<RunningRelay> {
  let proc: ChildProcess;
  let port: number;
  if (kind === 'mitmdump') {
    port = await freePort();
    proc = spawn('mitmdump', ['-q', '--listen-host', '127.0.0.1', '-p', String(port), '--ssl-insecure', '--set', `confdir=${confdir}`], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    let up = false;
    for (let i = 0; i < 150 && !up; i++) {
      up = await canConnect(port);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (!up) {
      proc.kill();
      throw new Error('mitmdump did not start');
    }
  } else {
    proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, confdir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    port = Number(line.toString().trim());
  }
  const ca = kind === 'naive-relay' ? (useTls ? (await selfSignedCert()).cert : '') : readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8');
  return {
    port,
    ca,
    stop: async () => {
      proc.stdin?.end();
      proc.kill();
    },
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** N sequential round trips: send, wait for the echo, send the next. Returns round trips per second. */
async function roundTrips(ws: WebSocket, n: number): Promise<number> {
  const payload = Buffer.alloc(SIZE, 'x');
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    let left = n;
    ws.on('message', (data: Buffer) => {
      if (data.length !== SIZE) reject(new Error(`echo of ${data.length} bytes`));
      if (--left === 0) resolve();
      else ws.send(payload);
    });
    ws.once('close', () => reject(new Error('closed early')));
    ws.send(payload);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  ws.removeAllListeners('message');
  ws.removeAllListeners('close');
  return n / seconds;
}

async function main(): Promise<void> {
  if (useTls) await selfSignedCert();
  const up = await wsServer({ tls: useTls, ws: { perMessageDeflate } });
  const kinds: Kind[] = ['naive-relay', 'mitmproxy-ts'];
  if (withMitmdump && spawnSync('mitmdump', ['--version'], { stdio: 'ignore' }).status === 0) kinds.push('mitmdump');
  const relays = new Map<Kind, RunningRelay>();
  const confdirs: string[] = [];
  const rates = new Map<string, number[]>([['direct', []]]);
  try {
    for (const kind of kinds) {
      const confdir = mkdtempSync(join(tmpdir(), 'ws-bench-'));
      confdirs.push(confdir);
      const inProcess = !separate && kind !== 'mitmdump';
      relays.set(kind, inProcess ? (kind === 'naive-relay' ? await startNaiveRelay() : await startInProcessProxy(confdir)) : await startChild(kind, confdir));
      rates.set(kind, []);
    }
    // One short warm-up round (JIT, TLS, zlib), then alternating measured rounds.
    for (let round = -1; round < ROUNDS; round++) {
      const n = round < 0 ? Math.min(1000, N) : N;
      const d = await wsClient(`${useTls ? 'wss' : 'ws'}://127.0.0.1:${up.port}/`, { perMessageDeflate, rejectUnauthorized: false });
      const direct = await roundTrips(d, n);
      d.terminate();
      const line = [`direct ${direct.toFixed(0)}/s`];
      if (round >= 0) rates.get('direct')!.push(direct);
      for (const [kind, relay] of relays) {
        const c = await wsClientViaProxy(relay.port, { port: up.port, tls: useTls, caPem: relay.ca }, { perMessageDeflate });
        const r = await roundTrips(c, n);
        c.terminate();
        line.push(`${kind} ${r.toFixed(0)}/s`);
        if (round >= 0) rates.get(kind)!.push(r);
      }
      if (round >= 0) console.log(`round ${round + 1}: ${line.join(', ')}`);
    }
  } finally {
    for (const r of relays.values()) await r.stop();
    for (const c of confdirs) rmSync(c, { recursive: true, force: true });
    await up.close();
  }
  const best = (k: string) => Math.max(...rates.get(k)!);
  console.log(
    `WebSocket echo, ${N} sequential round trips of ${SIZE} B${deflate ? ', permessage-deflate' : ''}${useTls ? ', TLS' : ''}, ` +
      `relays ${separate ? 'in their own processes' : 'in-process'} (node ${process.version}, load ${loadavg()[0]!.toFixed(2)}), best of ${ROUNDS}:`,
  );
  console.log(`  direct        ${best('direct').toFixed(0)} round trips/s`);
  for (const kind of relays.keys()) {
    const ratio = best(kind) / best('direct');
    const verdict = kind === 'mitmproxy-ts' ? (ratio >= 0.5 ? ' (target >= 0.50x: OK)' : ' (target >= 0.50x: BELOW TARGET)') : '';
    console.log(`  ${kind.padEnd(13)} ${best(kind).toFixed(0)} round trips/s, ${ratio.toFixed(2)}x direct${verdict}`);
  }
}

const childAt = args.indexOf('--child');
if (childAt >= 0) await child(args[childAt + 1] as Kind, args[childAt + 2]!);
else await main();
