import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startProxy, type RunningProxy, type StartProxyOptions } from '../../src/index.js';
import type { LogEntry } from '../../src/log.js';
import type { TlsConfig } from '../../src/addons/tlsconfig.js';

let sharedConfdir: string | null = null;

/** One temporary confdir per test process (the CA is created there once), removed at exit. */
export function testConfdir(): string {
  if (!sharedConfdir) {
    const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-test-'));
    sharedConfdir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return sharedConfdir;
}

/** Start an in-process proxy for a test; it is closed when the test ends, pass or fail. */
export async function testProxy(t: TestContext, opts: StartProxyOptions = {}): Promise<RunningProxy & { logs: LogEntry[] }> {
  const logs: LogEntry[] = [];
  // Tests read the log from `logs` (and assert on it); nothing goes to stderr unless a test asks.
  const p = await startProxy({ log: 'none', ...opts, options: { confdir: testConfdir(), ...opts.options } });
  // Tests that use TLS read the CA file from confdir: make sure it exists before they start.
  const tlsconfig = p.master.addons.get('tlsconfig') as TlsConfig | undefined;
  if (tlsconfig) await tlsconfig.certStore().catch(() => undefined);
  p.master.log.subscribe((e) => logs.push(e));
  t.after(() => p.close());
  return Object.assign(p, { logs });
}
