import type { AddonManager } from '../addonmanager.js';
import type { Flow } from '../flow.js';

/**
 * The addon hooks of one client connection, fired through the addon manager, which also keep
 * count of the ones still running. While any runs, the connection's idle timeouts (tcp_timeout,
 * on the client socket, its HTTP/2 session and its server sockets) hold off: mitmproxy disarms
 * its inactivity watchdog for every hook, and an intercepted flow waits inside its hook. A flow
 * held for the user, or an addon that takes its time, would otherwise cost the client its
 * connection after tcp_timeout, its flow ending in "Client disconnected.".
 */
export class ConnectionHooks {
  private running = 0;
  private settled: Array<() => void> = [];

  constructor(private readonly addons: AddonManager) {}

  /** Whether a hook of this connection is running (an idle timeout firing now is held off). */
  get busy(): boolean {
    return this.running > 0;
  }

  /** Run `fn` once no hook of this connection is running (now, if none is). */
  whenSettled(fn: () => void): void {
    if (this.running === 0) fn();
    else this.settled.push(fn);
  }

  trigger(hook: string, ...args: unknown[]): Promise<void> {
    return this.track(this.addons.trigger(hook, ...args));
  }

  async triggerFlow(hook: string, flow: Flow): Promise<void> {
    const pending = this.addons.triggerFlowFast(hook, flow);
    if (pending) await this.track(pending);
  }

  /** The addon manager's `triggerFlowFast`: synchronous unless something has to be awaited. */
  triggerFlowFast(hook: string, flow: Flow): Promise<void> | undefined {
    const pending = this.addons.triggerFlowFast(hook, flow);
    return pending && this.track(pending);
  }

  onlyReads(hook: string): boolean {
    return this.addons.onlyReads(hook);
  }

  hasHandlers(hook: string): boolean {
    return this.addons.hasHandlers(hook);
  }

  private async track(pending: Promise<void>): Promise<void> {
    this.running++;
    try {
      await pending;
    } finally {
      if (--this.running === 0 && this.settled.length) {
        const waiting = this.settled;
        this.settled = [];
        for (const fn of waiting) fn();
      }
    }
  }
}

/**
 * Give `socket` an idle timeout of `ms` (0: none) that a running hook of `hooks` holds off: one
 * that expires meanwhile starts again, in full, once the hooks are done (mitmproxy counts the
 * end of a hook as activity). `hooks` is asked when the timeout expires: a server connection
 * changes hands (the idle cache gives it to the client's next connection), and the hooks that
 * count are those of the connection using it then.
 */
export function setIdleTimeout(
  socket: { setTimeout(ms: number, cb?: () => void): unknown; destroyed: boolean },
  ms: number,
  hooksNow: () => ConnectionHooks,
  onIdle: () => void,
): void {
  if (ms <= 0) return;
  const expired = (): void => {
    const hooks = hooksNow();
    if (!hooks.busy) return onIdle();
    // Node calls a timeout's callback once, and arms its timer again only on traffic: without
    // this, a quiet connection whose hook ended would never time out.
    hooks.whenSettled(() => {
      if (!socket.destroyed) socket.setTimeout(ms, expired);
    });
  };
  socket.setTimeout(ms, expired);
}
