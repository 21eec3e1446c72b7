import type { ServerConnection, UpstreamTarget } from './upstream-pool.js';

/** How long an upstream connection waits, unused, for the next client connection. */
const IDLE_TIMEOUT_MS = 30_000;
/** At most this many idle connections per client address, and in all. */
const PER_CLIENT_LIMIT = 32;
const TOTAL_LIMIT = 512;

interface Parked {
  conn: ServerConnection;
  timer: NodeJS.Timeout;
}

/**
 * Upstream connections kept open after the client connection that opened them has closed, for
 * the next connection from the same client address. A browser or test client that opens a new
 * CONNECT tunnel per request then costs one TLS handshake instead of two.
 *
 * Connections are never shared between client addresses: one user's upstream connection (with
 * whatever connection-bound authentication it carries) is never handed to another host.
 */
export class IdleConnections {
  private readonly byClient = new Map<string, Parked[]>();
  private total = 0;

  /** Keep a connection that finished its last exchange cleanly; returns false when it must be closed instead. */
  park(clientHost: string, conn: ServerConnection): boolean {
    if (this.total >= TOTAL_LIMIT || conn.closed || !conn.reusable || conn.inUse || conn.reader.ended || conn.reader.bufferedLength !== 0) return false;
    const list = this.byClient.get(clientHost) ?? [];
    if (list.length >= PER_CLIENT_LIMIT) return false;
    const parked: Parked = { conn, timer: setTimeout(() => this.drop(clientHost, conn, true), IDLE_TIMEOUT_MS) };
    parked.timer.unref();
    list.push(parked);
    this.byClient.set(clientHost, list);
    this.total++;
    conn.owner = { forget: (c) => this.drop(clientHost, c, false) };
    return true;
  }

  /** Take an idle connection for `target` (the most recently parked one first). */
  take(clientHost: string, target: UpstreamTarget): ServerConnection | null {
    const list = this.byClient.get(clientHost);
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i--) {
      const p = list[i]!;
      // The protocol a kept TLS connection negotiated answered its first client's ALPN offer: a
      // client offering something else (h2 after an http/1.1-only client) needs its own handshake.
      if (!p.conn.closed && p.conn.reusable && !p.conn.reader.ended && p.conn.reader.bufferedLength === 0 && p.conn.matches(target) && sameOffers(p.conn.target.alpn, target.alpn)) {
        this.remove(clientHost, p);
        return p.conn;
      }
    }
    return null;
  }

  /** Whether an idle TLS connection to `address` exists for this client (a CONNECT then needs no new connection). */
  hasTls(clientHost: string, address: [string, number]): boolean {
    return (this.byClient.get(clientHost) ?? []).some((p) => p.conn.target.tls && p.conn.target.address[0] === address[0] && p.conn.target.address[1] === address[1]);
  }

  private remove(clientHost: string, p: Parked): void {
    clearTimeout(p.timer);
    const list = this.byClient.get(clientHost);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) {
      list.splice(i, 1);
      this.total--;
    }
    if (list.length === 0) this.byClient.delete(clientHost);
  }

  private drop(clientHost: string, conn: ServerConnection, close: boolean): void {
    const p = (this.byClient.get(clientHost) ?? []).find((x) => x.conn === conn);
    if (p) this.remove(clientHost, p);
    if (close) conn.close();
  }

  /** Close every idle connection (options that affect TLS changed, or shutdown). */
  clear(): void {
    for (const [host, list] of [...this.byClient]) for (const p of [...list]) this.drop(host, p.conn, true);
  }

  get size(): number {
    return this.total;
  }
}

/** Whether two ALPN offers are the same protocols (no offer counts as the default, http/1.1 only). */
function sameOffers(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a && a.length ? [...a].sort() : ['http/1.1'];
  const y = b && b.length ? [...b].sort() : ['http/1.1'];
  return x.length === y.length && x.every((p, i) => p === y[i]);
}
