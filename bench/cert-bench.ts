/**
 * Certificate store speed and memory: CA creation, the first leaf, cached lookups, 1,000 distinct
 * names (the cache must keep memory bounded), and how much issuing delays the event loop, with
 * @peculiar/x509 over WebCrypto as the alternative we did not take.
 *
 * Run: node --expose-gc --import tsx bench/cert-bench.ts [--key-size 2048] [--names 1000]
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CertStore } from '../src/certs/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const KEY_SIZE = arg('--key-size', 2048);
const NAMES = arg('--names', 1000);

const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => {
  gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
};
const line = (label: string, value: string) => console.log(`${label.padEnd(52)} ${value}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Run `fn` while recording event-loop delay and utilisation; returns its result and the figures. */
async function underMonitor<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; p50: number; p99: number; max: number; elu: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const elu0 = performance.eventLoopUtilization();
  h.enable();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  h.disable();
  const elu = performance.eventLoopUtilization(elu0);
  return { result, ms, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, elu: elu.active };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cert-bench-'));
  try {
    console.log(`node ${process.version}, key size ${KEY_SIZE}, ${NAMES} names${gc ? '' : ' (run with --expose-gc for exact RSS)'}\n`);

    // CA creation: key generation (threadpool) + self-signed cert + six files.
    const createTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await CertStore.open({ confdir: join(root, `ca${i}`), keySize: KEY_SIZE });
      createTimes.push(performance.now() - t0);
    }
    line('CA creation (median of 3)', `${median(createTimes).toFixed(0)} ms`);
    let t0 = performance.now();
    const store = await CertStore.open({ confdir: join(root, 'ca0'), keySize: KEY_SIZE });
    line('CA load (existing confdir)', `${(performance.now() - t0).toFixed(1)} ms`);

    t0 = performance.now();
    await store.getCert({ commonName: 'first.example', sans: ['first.example'] });
    line('first leaf', `${(performance.now() - t0).toFixed(2)} ms`);

    const lookups = 100_000;
    t0 = performance.now();
    for (let i = 0; i < lookups; i++) await store.getCert({ commonName: 'first.example', sans: ['first.example'] });
    line('cached lookup', `${(((performance.now() - t0) / lookups) * 1000).toFixed(2)} µs`);

    const rss0 = rssMb();
    const seq = await underMonitor(async () => {
      for (let i = 0; i < NAMES; i++) await store.getCert({ commonName: `seq${i}.example`, sans: [`seq${i}.example`] });
    });
    const rss1 = rssMb();
    line(`${NAMES} distinct names, one after another`, `${seq.ms.toFixed(0)} ms (${(seq.ms / NAMES).toFixed(2)} ms/leaf, ${(NAMES / (seq.ms / 1000)).toFixed(0)} leaves/s)`);
    line('  main-thread busy per leaf', `${(seq.elu / NAMES).toFixed(3)} ms`);
    line('  event-loop delay p50 / p99 / max', `${seq.p50.toFixed(2)} / ${seq.p99.toFixed(2)} / ${seq.max.toFixed(2)} ms`);
    line('  cached entries afterwards', `${store.generatedCount} (cap ${CertStore.STORE_CAP})`);
    line('  RSS before / after', `${rss0.toFixed(1)} / ${rss1.toFixed(1)} MB`);

    const par = await underMonitor(async () => {
      const batch = 64;
      for (let i = 0; i < NAMES; i += batch) {
        await Promise.all(
          Array.from({ length: Math.min(batch, NAMES - i) }, (_, j) => store.getCert({ commonName: `par${i + j}.example`, sans: [`par${i + j}.example`] })),
        );
      }
    });
    const rss2 = rssMb();
    line(`${NAMES} distinct names, 64 at a time`, `${par.ms.toFixed(0)} ms (${(NAMES / (par.ms / 1000)).toFixed(0)} leaves/s)`);
    line('  event-loop delay p50 / p99 / max', `${par.p50.toFixed(2)} / ${par.p99.toFixed(2)} / ${par.max.toFixed(2)} ms`);
    line('  RSS after', `${rss2.toFixed(1)} MB`);

    // The alternative: @peculiar/x509's generator over WebCrypto (same CA key, same kind of leaf).
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const signingKey = await webcrypto.subtle.importKey('pkcs8', store.caKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
    const ca = new x509.X509Certificate(store.caCertPem);
    const publicKey = await ca.publicKey.export(alg, ['verify']);
    const peculiarLeaf = (n: number) =>
      x509.X509CertificateGenerator.create({
        serialNumber: (n + 1).toString(16).padStart(2, '0'),
        issuer: ca.subjectName,
        subject: `CN=alt${n}.example`,
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 199 * 86400e3),
        signingAlgorithm: alg,
        publicKey,
        signingKey,
        extensions: [
          new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1']),
          new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `alt${n}.example` }]),
        ],
      });
    await peculiarLeaf(0);
    const alt = await underMonitor(async () => {
      for (let i = 0; i < 200; i++) await peculiarLeaf(i);
    });
    line('@peculiar/x509 + WebCrypto, 200 leaves (not used)', `${(alt.ms / 200).toFixed(2)} ms/leaf, main-thread busy ${(alt.elu / 200).toFixed(3)} ms/leaf`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
