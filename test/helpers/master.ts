import { Master } from '../../src/master.js';
import type { Addon } from '../../src/hooks.js';
import type { LogEntry } from '../../src/log.js';

/** What the helpers need of a test context (node:test's TestContext has it). */
export interface AfterHook {
  after(fn: () => void | Promise<void>): void;
}

/**
 * A running Master with `addons` (no proxy server), for addon tests; `log` collects the log
 * entries from here on. The master is shut down when the test ends, pass or fail.
 */
export async function runningMaster(t: AfterHook, ...addons: Addon[]): Promise<{ master: Master; log: LogEntry[] }> {
  const master = new Master();
  await master.addons.add(...addons);
  await master.run();
  const log: LogEntry[] = [];
  master.log.subscribe((e) => log.push(e));
  t.after(() => master.shutdown());
  return { master, log };
}
