/**
 * HTTP/2 rapid reset (CVE-2023-44487): a client opens streams and resets them at once, as fast
 * as it can. Each stream costs a flow, its hooks and often a server connection, while the client
 * pays a few bytes. Node 24 limits resets per session itself; Node 20 does not. So each client
 * connection gets a budget of resets: a burst, refilled at a steady rate. A client that spends
 * it has its connection closed with GOAWAY (ENHANCE_YOUR_CALM). Browsers reset a stream now and
 * then (a navigation cancelled, an image scrolled away), far below the budget.
 */
export interface ResetBudget {
  /** Resets allowed at once. */
  burst: number;
  /** Resets allowed per second after that. */
  perSecond: number;
}

/** The budget for every new connection (change it here to allow more or fewer). */
export const http2ResetBudget: ResetBudget = { burst: 200, perSecond: 50 };

/** Count one client reset; returns false once the budget is spent (the caller closes the connection). */
export type ResetCounter = () => boolean;

export function resetCounter(budget: ResetBudget = { ...http2ResetBudget }, clock: () => number = Date.now): ResetCounter {
  let tokens = budget.burst;
  let last = clock();
  return () => {
    const t = clock();
    tokens = Math.min(budget.burst, tokens + ((t - last) / 1000) * budget.perSecond);
    last = t;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };
}

/** Client streams the proxy itself closed with an error code (their 'aborted' is not a client reset). */
const closedByProxy = new WeakSet<object>();

/** Close a client stream with `code` (RST_STREAM) as the proxy's own decision, not the client's reset. */
export function closeClientStream(stream: { close(code: number): void }, code: number): void {
  closedByProxy.add(stream);
  stream.close(code);
}

/**
 * Whether a stream's 'aborted' event is the client resetting it. node emits 'aborted' for every
 * stream that ends before its response does: our own `destroy()` (the stream is destroyed by
 * then) and our own `close(code)` too, and those must not spend the client's budget (an ad
 * blocker killing a hundred flows is not a flood).
 */
export function isClientReset(stream: { destroyed: boolean }): boolean {
  return !stream.destroyed && !closedByProxy.has(stream);
}
