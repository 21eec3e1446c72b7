/**
 * Transparent mode's original-destination lookup on a big conntrack table: a gateway can track
 * tens of thousands of connections, and the table is read for every accepted connection.
 *
 * Run: node --import tsx bench/conntrack-bench.ts [--entries 50000]
 * Writes a table in the kernel's format to a temporary file (the entry looked up is the last one)
 * and times lookups of it, one at a time and 200 at once (new connections arriving together share
 * their reads of the table); no root or iptables needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conntrackTableReads, lookupOriginalDestination } from '../src/proxy/original-destination.js';

const args = process.argv.slice(2);
const entries = Number(args[args.indexOf('--entries') + 1] || 50_000) || 50_000;
const dir = mkdtempSync(join(tmpdir(), 'conntrack-bench-'));
try {
  const table = join(dir, 'nf_conntrack');
  const lines: string[] = [];
  for (let i = 0; i < entries; i++) {
    const client = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const port = 1024 + (i % 60000);
    lines.push(
      `ipv4     2 tcp      6 431999 ESTABLISHED src=${client} dst=93.184.216.34 sport=${port} dport=443 src=192.168.1.1 dst=${client} sport=8080 dport=${port} [ASSURED] mark=0 zone=0 use=2`,
    );
  }
  lines.push('ipv4     2 tcp      6 431999 ESTABLISHED src=192.168.1.9 dst=1.2.3.4 sport=5555 dport=443 src=192.168.1.1 dst=192.168.1.9 sport=8080 dport=5555 [ASSURED] mark=0 zone=0 use=2');
  const text = lines.join('\n') + '\n';
  writeFileSync(table, text);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    const found = await lookupOriginalDestination(['192.168.1.9', 5555], ['192.168.1.1', 8080], table);
    times.push(performance.now() - start);
    if (found[0] !== '1.2.3.4' || found[1] !== 443) throw new Error(`wrong destination ${found.join(':')}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`conntrack table: ${entries + 1} entries, ${(text.length / 1048576).toFixed(1)} MiB; entry looked up is the last one`);
  console.log(`lookup: first ${times[0]!.toFixed(1)} ms, median ${sorted[3]!.toFixed(1)} ms, best ${sorted[0]!.toFixed(1)} ms (7 lookups)`);

  // 200 connections accepted together: entries spread over the table, all looked up at once.
  const clients = Array.from({ length: 200 }, (_, k) => Math.floor(((k + 0.5) * entries) / 200));
  const readsBefore = conntrackTableReads(table);
  const start = performance.now();
  const results = await Promise.all(
    clients.map((i) => lookupOriginalDestination([`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1024 + (i % 60000)], ['192.168.1.1', 8080], table)),
  );
  const elapsed = performance.now() - start;
  if (results.some((r) => r[0] !== '93.184.216.34')) throw new Error('wrong destination in the concurrent lookups');
  console.log(`200 lookups at once: ${elapsed.toFixed(1)} ms in all, ${conntrackTableReads(table) - readsBefore} reads of the table`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
