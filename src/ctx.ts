import type { EventLog } from './log.js';
import type { Master } from './master.js';
import type { OptManager } from './optmanager.js';

let current: Master | null = null;

/** Called by every Master as it is created: the newest one is the one `ctx` speaks for. */
export function becomeCurrentMaster(master: Master): void {
  current = master;
}

/**
 * mitmproxy's `ctx`: the master of the running tool, its options and its event log, reachable
 * from any module without keeping `loader.master` from a `load` hook. As in mitmproxy it is the
 * most recently created master, so a program that runs several proxies at once should keep each
 * one's `master` instead.
 */
export const ctx = {
  get master(): Master {
    if (current === null) throw new Error('ctx.master: no mitmproxy-ts master has been created yet (ctx is for addon hooks).');
    return current;
  },
  get options(): OptManager {
    return ctx.master.options;
  },
  get log(): EventLog {
    return ctx.master.log;
  },
};
