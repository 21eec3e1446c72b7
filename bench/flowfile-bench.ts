/**
 * Flow file speed and memory: write 100 000 small HTTP flows (format 21) to a file, then read
 * them back with the streaming FlowReader.
 *
 *   node --expose-gc --import tsx bench/flowfile-bench.ts [flowCount] [bodyBytes]
 *
 * Prints the write and read times (targets: each under 3 s for 100 000 flows), the file size,
 * and the heap while iterating: reading keeps only the flow being decoded, so the heap stays
 * flat however large the file is, while holding every flow grows with the body total.
 */
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTPFlow, Request, Response, Headers } from '../src/http.js';
import { Client, Server } from '../src/connection.js';
import { FlowWriter, writeFlowsToFile } from '../src/io/flowwriter.js';
import { FlowReader } from '../src/io/flowreader.js';

const FLOWS = Number(process.argv[2] ?? 100_000);
const BODY = Number(process.argv[3] ?? 256);

function makeFlow(i: number): HTTPFlow {
  const t = 1_795_793_585 + i / 1000;
  const client = new Client({ peername: ['127.0.0.1', 40000 + (i % 20000)], sockname: ['127.0.0.1', 8080], timestampStart: t });
  const server = new Server({ address: ['example.com', 443] });
  server.peername = ['93.184.216.34', 443];
  server.timestampStart = t;
  server.timestampTcpSetup = t + 0.001;
  const request = new Request({
    host: 'example.com',
    port: 443,
    method: i % 5 === 0 ? 'POST' : 'GET',
    scheme: 'https',
    path: `/api/items/${i}?page=${i % 7}`,
    headers: new Headers([
      ['Host', 'example.com'],
      ['User-Agent', 'bench/1.0'],
      ['Accept', '*/*'],
    ]),
    content: i % 5 === 0 ? Buffer.from(`{"id": ${i}}`) : Buffer.alloc(0),
    timestampStart: t,
    timestampEnd: t + 0.0005,
  });
  const f = new HTTPFlow(client, server, false, request);
  const body = Buffer.alloc(BODY, 0x61 + (i % 26));
  f.response = new Response({
    statusCode: 200,
    reason: 'OK',
    headers: new Headers([
      ['Content-Type', 'text/plain'],
      ['Content-Length', String(body.length)],
    ]),
    content: body,
    timestampStart: t + 0.002,
    timestampEnd: t + 0.003,
  });
  return f;
}

/** CPU time (user + system) since `start`, in ms: steadier than wall time on a busy machine. */
function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flowfile-bench-'));
  const path = join(dir, 'bench.mitm');
  try {
    // Build the flows first: the write figure is encoding + writing, not building test data.
    const flows = Array.from({ length: FLOWS }, (_, i) => makeFlow(i));
    // Warm up the encoder (JIT) on a few flows, as a long-running proxy would be.
    writeFlowsToFile(join(dir, 'warmup.mitm'), flows.slice(0, 2000));
    gc?.();
    // Saving many flows at once (save.file, -w after -r): buffered writes.
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    writeFlowsToFile(path, flows);
    const writeMs = performance.now() - t0;
    const writeCpu = cpuMs(c0);
    // Streaming (save_stream_file): every flow is on disk when add() returns.
    const streamPath = join(dir, 'stream.mitm');
    t0 = performance.now();
    c0 = process.cpuUsage();
    const w = FlowWriter.open(streamPath);
    for (const f of flows) w.add(f);
    w.close();
    const streamMs = performance.now() - t0;
    const streamCpu = cpuMs(c0);
    const size = statSync(path).size;
    flows.length = 0;
    gc?.();

    // Timed pass: nothing but reading (and touching each body).
    let count = 0;
    let bodyBytes = 0;
    t0 = performance.now();
    c0 = process.cpuUsage();
    for await (const f of new FlowReader(path)) {
      count++;
      bodyBytes += (f as HTTPFlow).response!.rawContent!.length;
    }
    const readMs = performance.now() - t0;
    const readCpu = cpuMs(c0);
    if (count !== FLOWS) throw new Error(`read ${count} flows, wrote ${FLOWS}`);

    // Memory pass: the heap after a GC every 10 000 flows while iterating.
    gc?.();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    let n = 0;
    for await (const f of new FlowReader(path)) {
      if ((f as HTTPFlow).response && ++n % 10_000 === 0) {
        gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }

    console.log(`flows: ${FLOWS}, response body: ${BODY} bytes each, file: ${mb(size)} MiB`);
    const line = (what: string, ms: number, cpu: number, target: boolean) =>
      console.log(`${what}: ${ms.toFixed(0)} ms wall, ${cpu.toFixed(0)} ms CPU (${((FLOWS / ms) * 1000).toFixed(0)} flows/s)${target ? ` ${ms < 3000 ? 'OK' : 'SLOW'} (target < 3000 ms)` : ''}`);
    line('write (bulk, save.file)', writeMs, writeCpu, true);
    line('write (one write(2) per flow, save_stream_file)', streamMs, streamCpu, false);
    line('read (streaming FlowReader)', readMs, readCpu, true);
    console.log(
      `heap while reading (${gc ? 'after gc' : 'no --expose-gc, rough'}): baseline ${mb(baseline)} MiB, peak ${mb(peak)} MiB, growth ${mb(peak - baseline)} MiB for ${mb(bodyBytes)} MiB of bodies read`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
