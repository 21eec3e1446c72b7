/**
 * WebSocket relay throughput: sequential echo round trips of 1 KiB messages,
 *   ws client -> ws echo server            (direct, the baseline)
 *   ws client -> proxy -> ws echo server   (a CONNECT tunnel, as browsers use; full interception:
 *                                           frames parsed, messages recorded, hooks fired)
 *   ws client -> naive relay -> ws echo    (a bare node socket.pipe() relay: the ceiling for any
 *                                           Node proxy that touches the bytes in JS at all)
 * in the same run, several rounds alternating; the ratio reported is the median of the per-round
 * ratios (each round measures everything back to back, which cancels most of a noisy machine).
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
 * With --separate-process, PROXY_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" profiles the relay processes.
 * Target (issue 6): the proxied rate at least 0.5x the direct rate for 10 000 round trips of 1 KiB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WebSocket } from 'ws';
import { selfSignedCert, wsClient, wsClientViaProxy, wsServer } from '../test/proxy/websocket-helpers.js';

const args = process.argv.slice(2);
function arg(name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}
const N = arg('--messages', 10_000);
const SIZE = arg('--size', 1024);
const ROUNDS = arg('--rounds', 5);
const deflate = args.includes('--deflate');
const useTls = args.includes('--tls');
const separate = args.includes('--separate-process');
const withMitmdump = args.includes('--mitmdump');
const perMessageDeflate = deflate ? { threshold: 0 } : false;

// A full collection between measurements, so each starts without the previous one's garbage
// (the flows of a finished connection are garbage, and in-process they share the heap).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

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
    const flags = process.env.PROXY_NODE_FLAGS ? process.env.PROXY_NODE_FLAGS.split(' ') : [];
    proc = spawn(process.execPath, [...flags, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, confdir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    port = Number(line.toString().trim());
  }
  const ca = kind === 'naive-relay' ? (useTls ? (await selfSignedCert()).cert : '') : readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8');
  return {
    port,
    ca,
    stop: async () => {
      // Closing stdin lets a child exit on its own, so a profile asked for with --cpu-prof gets written.
      const exited = once(proc, 'exit');
      proc.stdin?.end();
      if (kind === 'mitmdump') proc.kill();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
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
  const ratios = new Map<string, number[]>();
  try {
    for (const kind of kinds) {
      const confdir = mkdtempSync(join(tmpdir(), 'ws-bench-'));
      confdirs.push(confdir);
      const inProcess = !separate && kind !== 'mitmdump';
      relays.set(kind, inProcess ? (kind === 'naive-relay' ? await startNaiveRelay() : await startInProcessProxy(confdir)) : await startChild(kind, confdir));
      rates.set(kind, []);
      ratios.set(kind, []);
    }
    // Warm-up rounds (JIT, TLS, zlib), then measured rounds. Each round measures direct and every
    // relay back to back, so a round's ratios compare runs under the same machine load.
    for (let round = -2; round < ROUNDS; round++) {
      const n = round < 0 ? Math.min(2000, N) : N;
      // Rotate the order so no contestant always runs right after another one's garbage.
      const order: Array<'direct' | Kind> = ['direct', ...relays.keys()];
      for (let k = 0; k < ((round % order.length) + order.length) % order.length; k++) order.push(order.shift()!);
      const got = new Map<string, number>();
      for (const kind of order) {
        collectGarbage();
        const relay = kind === 'direct' ? null : relays.get(kind)!;
        const c = relay
          ? await wsClientViaProxy(relay.port, { port: up.port, tls: useTls, caPem: relay.ca }, { perMessageDeflate })
          : await wsClient(`${useTls ? 'wss' : 'ws'}://127.0.0.1:${up.port}/`, { perMessageDeflate, rejectUnauthorized: false });
        got.set(kind, await roundTrips(c, n));
        c.terminate();
      }
      const direct = got.get('direct')!;
      if (round >= 0) rates.get('direct')!.push(direct);
      const line = [`direct ${direct.toFixed(0)}/s`];
      for (const kind of relays.keys()) {
        const r = got.get(kind)!;
        line.push(`${kind} ${r.toFixed(0)}/s (${(r / direct).toFixed(2)}x)`);
        if (round >= 0) {
          rates.get(kind)!.push(r);
          ratios.get(kind)!.push(r / direct);
        }
      }
      if (round >= 0) console.log(`round ${round + 1}: ${line.join(', ')}`);
    }
  } finally {
    for (const r of relays.values()) await r.stop();
    for (const c of confdirs) rmSync(c, { recursive: true, force: true });
    await up.close();
  }
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  console.log(
    `WebSocket echo, ${N} sequential round trips of ${SIZE} B${deflate ? ', permessage-deflate' : ''}${useTls ? ', TLS' : ''}, ` +
      `relays ${separate ? 'in their own processes' : 'in-process'} (node ${process.version}, load ${loadavg()[0]!.toFixed(2)}), ${ROUNDS} rounds:`,
  );
  console.log(`  direct        median ${median(rates.get('direct')!).toFixed(0)} round trips/s`);
  for (const kind of relays.keys()) {
    const ratio = median(ratios.get(kind)!);
    const verdict = kind === 'mitmproxy-ts' ? (ratio >= 0.5 ? ' (target >= 0.50x: OK)' : ' (target >= 0.50x: BELOW TARGET)') : '';
    console.log(`  ${kind.padEnd(13)} median ${median(rates.get(kind)!).toFixed(0)} round trips/s, median ratio ${ratio.toFixed(2)}x direct${verdict}`);
  }
}

const childAt = args.indexOf('--child');
if (childAt >= 0) await child(args[childAt + 1] as Kind, args[childAt + 2]!);
else await main();
