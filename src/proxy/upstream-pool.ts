import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { lookup } from 'node:dns/promises';
import { ADDRCONFIG, type LookupAddress } from 'node:dns';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { Server, formatAddress, type Via } from '../connection.js';
import type { ServerConnectionHookData } from '../hooks.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import { describeNetworkError } from './error-page.js';
import { SocketReader } from './socket-reader.js';
import { socketPeername, socketSockname } from './socket-address.js';
import { startServerTls } from './tls-upstream.js';
import { modeVia, openProxyPath, sameVia, UpstreamProxyError } from './upstream-proxy.js';
import { waitForDrain } from './wait-for-drain.js';
import { proxyDebug } from './debug.js';
import { watchSocketClose } from './socket-close-watch.js';
import { untilAborted } from '../util/until-aborted.js';
import { Turns } from '../util/turns.js';
import { setIdleTimeout, type ConnectionHooks } from './connection-hooks.js';

/** Connecting upstream failed (refused, DNS, TLS, cancelled by an addon, or a loop into ourselves). */
export class ConnectError extends Error {
  /**
   * @param logged the failure has had its event-log line already ("error establishing server
   *   connection", "Server TLS handshake failed"), so the flow need not repeat it.
   */
  constructor(
    message: string,
    readonly logged = false,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

export const DESTINATION_UNKNOWN =
  'Request destination unknown. Unable to figure out where this request should be forwarded to.';

/** What we want to talk to upstream. */
export interface UpstreamTarget {
  address: [string, number];
  tls: boolean;
  /** SNI to send; defaults to the host when it is a name. */
  sni?: string | null;
  /** ALPN protocols to offer when `tls`. */
  alpn?: string[];
  /**
   * The upstream HTTP(S) proxy to go through (proxy/upstream-proxy.ts). Left out: the mode's
   * (upstream mode), or none; null: connect directly.
   */
  via?: Via | null;
  /** With `via`: the connection carries plain HTTP requests in absolute form to the proxy (no CONNECT). */
  forwardPlain?: boolean;
  /** Plain HTTP/2 with prior knowledge (h2c), as the client spoke it to this server (upstream-exchange.ts). */
  h2c?: boolean;
}

/** One open connection to an upstream server, used for one HTTP/1 exchange at a time. */
export class ServerConnection {
  inUse = false;
  /** False once a response said `Connection: close`, framing was close-delimited, or an exchange broke. */
  reusable = true;
  /**
   * The connection carries connection-bound authentication (NTLM or Negotiate: the server
   * remembers who authenticated on this TCP connection), so it is never kept for another client
   * connection, even from the same address (another user on the same machine or behind the same NAT).
   */
  authBound = false;
  closed = false;
  reader: SocketReader;
  /** Resolves once the socket closed and `server_disconnected` ran. */
  finished: Promise<void> = Promise.resolve();
  /** The HTTP/2 session when the server negotiated h2 (then many exchanges share the connection). */
  h2: import('node:http2').ClientHttp2Session | null = null;
  /** True for HTTP/2 connections: several exchanges at once, never exclusively "in use". */
  multiplexed = false;
  /** Exchanges this connection has carried (a failure on a used connection may just mean it went stale). */
  exchanges = 0;
  /** Who holds the connection now (a client connection's pool, or the idle cache): told when it closes. */
  owner: { forget(conn: ServerConnection): void } | null = null;

  constructor(
    readonly server: Server,
    /** The byte stream to the server: the TCP socket, or the TLS socket once TLS is up. */
    public socket: Duplex,
    public target: UpstreamTarget,
    /**
     * The hooks of the client connection using this one now (its tcp_timeout waits while one
     * runs); the next client connection's once it takes this one over from the idle cache.
     */
    public hooks: ConnectionHooks,
  ) {
    this.reader = new SocketReader(socket);
    // The socket is half-open capable (a relay passes a server's FIN on and keeps sending): an
    // HTTP connection the server closes while it waits idle in the pool is closed here instead.
    // So is an h2c one whatever its streams (TLS ends itself): HTTP/2 has no half-closed
    // connection, and its session would wait for the rest of a response that cannot come.
    socket.once('end', () => {
      if (this.multiplexed || (!this.inUse && this.exchanges > 0)) this.close();
    });
  }

  /** Whether this connection can carry a request for `target`. */
  matches(target: UpstreamTarget): boolean {
    const a = this.target;
    return (
      a.address[0] === target.address[0] &&
      a.address[1] === target.address[1] &&
      a.tls === target.tls &&
      (a.sni ?? null) === (target.sni ?? null) &&
      sameVia(a.via, target.via) &&
      !!a.forwardPlain === !!target.forwardPlain &&
      !!a.h2c === !!target.h2c
    );
  }

  /** Write, resolving once the socket accepts more (backpressure). */
  write(data: Buffer | string): Promise<void> | void {
    if (this.closed) throw new ConnectError('server connection closed');
    const ok = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
    if (!ok) return waitForDrain(this.socket);
  }

  close(): void {
    this.reusable = false;
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /**
   * End our side and let the server close its own (after an upgraded connection's last frame, so
   * it can still read that), closing for good after `graceMs` if it does not. The timer goes
   * with the socket, and holds only this connection: a finished flow must not stay in memory
   * (with everything a WebSocket recorded) for the grace period.
   */
  endGracefully(graceMs: number): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    const timer = setTimeout(() => this.close(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }
}

/**
 * The upstream connections owned by one client connection (as mitmproxy: a server connection
 * belongs to the client connection that opened it). Idle connections are reused for the next
 * request to the same destination; all of them close with the client.
 */
export class UpstreamPool {
  private conns: ServerConnection[] = [];

  constructor(private readonly ctx: ConnectionContext) {}

  /** Number of open upstream connections. */
  get size(): number {
    return this.conns.length;
  }

  /** Connections being opened, by target: concurrent requests wait for one HTTP/2 connection instead of each opening their own. */
  private readonly opening = new Map<string, Promise<ServerConnection>>();
  /** Turns for connections being opened (see `open`). */
  private readonly openingTurns = new Turns(MAX_OPENING);

  /** A connection that can take a request for `target` now (an idle HTTP/1 one is marked in use). */
  private findUsable(target: UpstreamTarget): ServerConnection | null {
    for (const c of this.conns) {
      if (c.multiplexed && c.reusable && !c.closed && c.matches(target)) return c;
      if (!c.inUse && !c.multiplexed && c.reusable && !c.closed && !c.reader.ended && c.reader.bufferedLength === 0 && c.matches(target)) {
        c.inUse = true;
        return c;
      }
    }
    return null;
  }

  /** An idle (or shareable HTTP/2) connection to `target`, or a new one (firing the server_connect hooks). */
  async acquire(target: UpstreamTarget, cancelled?: AbortSignal): Promise<ServerConnection> {
    target = this.withVia(target);
    const usable = this.findUsable(target);
    if (usable) return usable;
    const key = JSON.stringify([target.address, target.tls, target.sni ?? null, target.via ?? null, !!target.forwardPlain]);
    const shareable = target.tls && target.alpn?.includes('h2');
    const pending = shareable ? this.opening.get(key) : undefined;
    if (pending) {
      // Another request is already connecting there: if it turns out to be HTTP/2, share it.
      await pending.catch(() => null);
      const shared = this.findUsable(target);
      if (shared) return shared;
    }
    const kept = this.adoptIdle(target);
    if (kept) return kept;
    // A connection other requests may come to wait for is not given up on with this request.
    const job = this.connectFor(target, shareable ? undefined : cancelled);
    this.opening.set(key, job);
    try {
      return await job;
    } finally {
      if (this.opening.get(key) === job) this.opening.delete(key);
    }
  }

  /**
   * An idle connection an earlier client connection from the same address left behind
   * (idle-connections.ts), taken over by this pool.
   */
  adoptIdle(target: UpstreamTarget, opts: { claim: boolean } = { claim: true }): ServerConnection | null {
    const idle = this.ctx.idle;
    const host = this.ctx.client.peername?.[0];
    if (!idle || host === undefined) return null;
    const conn = idle.take(host, this.withVia(target));
    if (!conn) return null;
    this.conns.push(conn);
    conn.owner = this;
    conn.hooks = this.ctx.hooks;
    conn.inUse = opts.claim && !conn.multiplexed;
    return conn;
  }

  private async connectFor(target: UpstreamTarget, cancelled?: AbortSignal): Promise<ServerConnection> {
    if (target.tls) {
      // The plain connection opened eagerly for this client connection's own server (reverse
      // mode, a tunnel) gets TLS now rather than a second connection, as mitmproxy reuses it.
      const [host] = target.address;
      const plain = this.eagerConnection(target, (c) => c.reader.bufferedLength === 0);
      if (plain) {
        plain.inUse = true;
        await this.startTls(plain, target.sni !== undefined ? target.sni : net.isIP(host) ? null : host, target.alpn ?? ['http/1.1']);
        // An HTTP/2 connection is shared by every exchange rather than held by one.
        if (plain.multiplexed) plain.inUse = false;
        return plain;
      }
    }
    if (target.h2c) {
      // Likewise the client's h2c goes on that connection rather than a second one: what it
      // holds already (read while the client's first bytes were awaited) is the h2c server's
      // SETTINGS, which the HTTP/2 session reads first.
      const plain = this.eagerConnection(target, (c) => c.exchanges === 0 && !c.multiplexed);
      if (plain) {
        plain.target = target;
        plain.multiplexed = true;
        return plain;
      }
    }
    const c = await this.open(target, undefined, cancelled);
    c.inUse = !c.multiplexed;
    return c;
  }

  /**
   * The plain connection opened eagerly to this client connection's own server, free and open,
   * to `target`'s address (through the same upstream proxy), if there is one and `usable` says so.
   */
  private eagerConnection(target: UpstreamTarget, usable: (c: ServerConnection) => boolean): ServerConnection | undefined {
    const [host, port] = target.address;
    return this.conns.find(
      (c) =>
        c.server === this.ctx.server &&
        !c.inUse &&
        !c.closed &&
        !c.reader.ended &&
        !c.target.tls &&
        !c.target.forwardPlain &&
        c.target.address[0] === host &&
        c.target.address[1] === port &&
        sameVia(c.target.via, target.via) &&
        usable(c),
    );
  }

  /** Hand a connection back after an exchange; it stays open only if it is reusable. */
  release(c: ServerConnection): void {
    if (c.multiplexed) return;
    c.inUse = false;
    if (!c.reusable || c.closed || c.reader.ended) c.close();
  }

  /** A connection of ours closed. */
  forget(conn: ServerConnection): void {
    this.conns = this.conns.filter((c) => c !== conn);
  }

  /** The idle plain connection to `address` (the one opened eagerly for a CONNECT), if any. */
  idleFor(address: [string, number]): ServerConnection | null {
    return (
      this.conns.find(
        (c) => !c.inUse && !c.closed && !c.target.tls && !c.target.forwardPlain && c.target.address[0] === address[0] && c.target.address[1] === address[1],
      ) ?? null
    );
  }

  /** The open connection whose Server is `server` (to find the one an exchange used). */
  byServer(server: Server): ServerConnection | null {
    return this.conns.find((c) => c.server === server && !c.closed) ?? null;
  }

  /** The connection that carried a flow's 101 response, taken out of the pool for the new protocol. */
  takeUpgraded(flow: { serverConn: Server }): ServerConnection | null {
    const c = this.conns.find((x) => x.server === flow.serverConn && !x.closed) ?? null;
    if (c) this.conns = this.conns.filter((x) => x !== c);
    return c;
  }

  /**
   * Start TLS on an open plain connection (the one opened eagerly for a CONNECT), for
   * `establish_server_tls_first`. Throws ConnectError with mitmproxy's wording on failure.
   */
  async startTls(conn: ServerConnection, sni: string | null, alpn: string[]): Promise<void> {
    const server = conn.server;
    server.tls = true;
    server.sni = sni;
    const raw = conn.reader.handOver() as net.Socket;
    const client = this.watchClient();
    // Given up on when the client leaves (a server that never answers the handshake holds it otherwise).
    client.signal.addEventListener('abort', () => raw.destroy(), { once: true });
    try {
      conn.socket = await startServerTls(this.ctx, server, raw, alpn);
    } catch (e) {
      conn.close();
      raw.destroy();
      throw new ConnectError((e as Error).message, true);
    } finally {
      client.stop();
    }
    conn.reader = new SocketReader(conn.socket);
    conn.target = { ...conn.target, tls: true, sni, alpn };
    conn.multiplexed = server.alpn === 'h2';
  }

  /**
   * The client connection ended: idle, reusable HTTP/1 connections are kept for the client's next
   * connection (idle-connections.ts); the others are closed. Resolves when the closed ones' hooks ran.
   */
  async closeAll(): Promise<void> {
    const conns = [...this.conns];
    this.conns = [];
    const host = this.ctx.client.peername?.[0];
    const closing: ServerConnection[] = [];
    for (const c of conns) {
      // Only TLS connections are worth keeping (a handshake saved); plain ones close as before, so
      // hook order for plain HTTP stays mitmproxy's (server_disconnected before client_disconnected).
      const kept = c.target.tls && !c.target.via && !c.multiplexed && !c.authBound && c.exchanges > 0 && host !== undefined && this.ctx.idle?.park(host, c);
      if (!kept) {
        c.close();
        closing.push(c);
      }
    }
    await Promise.all(closing.map((c) => c.finished));
  }

  /** The target with its upstream proxy decided (the mode's when the caller did not say). */
  private withVia(target: UpstreamTarget): UpstreamTarget {
    if (target.via !== undefined) return target;
    const via = modeVia(this.ctx.mode);
    return via ? { ...target, via } : target;
  }

  /**
   * While a server connection is being set up, its client may leave. Then nobody waits for the
   * answer of a resolver that does not respond or of a server that never answers a SYN (the
   * system gives up on those only after minutes): the signal aborts, and the connection, its
   * flows and the socket being opened go at once instead of piling up (as mitmproxy cancels a
   * connect along with its client's tasks).
   */
  private watchClient(cancelled?: AbortSignal): { signal: AbortSignal; stop: () => void } {
    const controller = new AbortController();
    const cancel = () => controller.abort(new ConnectionCancelledError());
    const stop = watchSocketClose(this.ctx.rawSocket, cancel);
    if (!cancelled) return { signal: controller.signal, stop };
    // The one request this is for was given up on (an HTTP/2 stream the client reset).
    if (cancelled.aborted) cancel();
    else cancelled.addEventListener('abort', cancel, { once: true });
    return {
      signal: controller.signal,
      stop: () => {
        stop();
        cancelled.removeEventListener('abort', cancel);
      },
    };
  }

  /**
   * Open a connection to `target` with the connection hooks; throws ConnectError. Given up on
   * when the client leaves or `cancelled` aborts. At most MAX_OPENING connections of one client
   * connection are being opened at a time: an HTTP/2 client opening (and resetting) thousands
   * of streams at once must not make us dial a server thousands of times (rapid reset).
   */
  async open(target: UpstreamTarget, server = new Server({ address: target.address }), cancelled?: AbortSignal): Promise<ServerConnection> {
    const client = this.watchClient(cancelled);
    let release: (() => void) | null = null;
    try {
      // One turn of the event loop first: node hands us an HTTP/2 stream (and runs its hooks)
      // before it reads the RST_STREAM right behind it in the same packet. A stream reset at once
      // is then seen here, and no connection is opened for it.
      await setImmediatePromise();
      release = await this.openingTurns.take(client.signal);
      return await this.connect(target, server, client.signal);
    } catch (e) {
      if (release === null && e instanceof ConnectionCancelledError) throw new ConnectError(e.message);
      throw e;
    } finally {
      release?.();
      client.stop();
    }
  }

  /** `open`, given up on when `clientGone` aborts. */
  private async connect(target: UpstreamTarget, server: Server, clientGone: AbortSignal): Promise<ServerConnection> {
    const { ctx } = this;
    const hooks = ctx.hooks;
    target = this.withVia(target);
    const via = target.via ?? null;
    server.via = via;
    server.address = target.address;
    server.tls = target.tls;
    if (target.tls) server.sni = target.sni !== undefined ? target.sni : target.address[0];
    const data: ServerConnectionHookData = { client: ctx.client, server };
    await hooks.trigger('server_connect', data);
    // As in mitmproxy, the connection goes where the hook left `server.address`: an addon may
    // send it elsewhere. The pool still files it under the target asked for (`conn.target`).
    const address: [string, number] = server.address ? [server.address[0], server.address[1]] : target.address;
    // Through an upstream proxy, the TCP connection goes to the proxy.
    const dial = via ? via[1] : address;
    let addresses: LookupAddress[] | null = null;
    let failure: unknown = null;
    if (!server.error) {
      // Resolved before connecting, so that a destination that is one of our own listeners is
      // refused without ever reaching it, whatever its spelling; the connection then goes to
      // exactly the addresses checked.
      try {
        addresses = await untilAborted(resolveHost(dial[0]), clientGone);
        if (addresses.some((a) => ctx.own.isOwn(a.address, dial[1]))) server.error = DESTINATION_UNKNOWN;
      } catch (e) {
        failure = e;
      }
    }
    if (server.error) {
      // Killed by an addon in server_connect or by the loop guard (mitmproxy's wording).
      ctx.master.log.info(`server connection to ${formatAddress(address)} killed before connect: ${server.error}`, ctx.clientLabel);
      await hooks.trigger('server_connect_error', data);
      throw new ConnectError(`Connection killed: ${server.error}`, true);
    }
    server.timestampStart = now();
    proxyDebug(ctx, () => `[server] opening a connection to ${formatAddress(address)}${via ? ` via ${via[0]}://${formatAddress(via[1])}` : ''}${target.tls ? ' (TLS)' : ''}${ctx.options.connectAddr ? ` from ${ctx.options.connectAddr}` : ''}`);
    let socket: Duplex;
    try {
      if (failure) throw failure;
      socket = await tcpConnect(dial[0], dial[1], ctx.options.connectAddr, addresses, clientGone);
    } catch (e) {
      server.error = via ? `Cannot connect to upstream proxy ${formatAddress(dial)}: ${describeNetworkError(e)}` : describeNetworkError(e);
      server.timestampEnd = now();
      ctx.master.log.info(`error establishing server connection: ${server.error}`, ctx.clientLabel);
      await hooks.trigger('server_connect_error', data);
      throw new ConnectError(server.error, true);
    }
    const tcp = socket as net.Socket;
    // The rest (an upstream proxy's CONNECT, the TLS handshake) ends at once if the client leaves.
    if (clientGone.aborted) tcp.destroy();
    else clientGone.addEventListener('abort', () => tcp.destroy(), { once: true });
    // A server that stays silent longer than tcp_timeout is given up on, as a client is (not
    // while a hook of the client connection using it runs: see ServerConnection.hooks).
    let conn: ServerConnection | null = null;
    setIdleTimeout(tcp, ctx.options.tcpTimeoutMs, () => conn?.hooks ?? ctx.hooks, () => tcp.destroy());
    server.timestampTcpSetup = now();
    server.peername = socketPeername(tcp, address);
    server.sockname = socketSockname(tcp);
    // mitmproxy's event log lines for the server side: "server connect host:port (ip:port)".
    const shown = server.peername[0] === dial[0] ? formatAddress(dial) : `${formatAddress(dial)} (${formatAddress(server.peername)})`;
    ctx.master.log.info(`server connect ${shown}`, ctx.clientLabel);
    tcp.once('close', () => ctx.master.log.info(`server disconnect ${shown}`, ctx.clientLabel));
    if (via) {
      try {
        socket = await openProxyPath(ctx, tcp, { via, target: address, forwardPlain: !!target.forwardPlain && !target.tls });
      } catch (e) {
        tcp.destroy();
        server.error = e instanceof UpstreamProxyError ? e.message : describeNetworkError(e);
        server.timestampEnd = now();
        await hooks.trigger('server_connect_error', data);
        throw new ConnectError(server.error);
      }
    }
    if (target.tls) {
      try {
        socket = await startServerTls(ctx, server, socket as net.Socket, target.alpn ?? ['http/1.1'], clientGone);
      } catch (e) {
        socket.destroy();
        tcp.destroy();
        server.error = (e as Error).message;
        server.timestampEnd = now();
        throw new ConnectError(server.error, true);
      }
    }
    conn = new ServerConnection(server, socket, target, ctx.hooks);
    conn.multiplexed = server.alpn === 'h2' || !!target.h2c;
    proxyDebug(ctx, () => `[server] connected to ${formatAddress(server.peername)} from ${formatAddress(server.sockname)}${conn.multiplexed ? ' (HTTP/2)' : ''}`);
    conn.owner = this;
    this.conns.push(conn);
    conn.finished = new Promise<void>((resolve) => {
      // (Also when the server closed while the TLS hooks ran: then the close was emitted already.)
      watchSocketClose(socket, () => {
        conn.closed = true;
        conn.reusable = false;
        server.timestampEnd = now();
        conn.owner?.forget(conn);
        void hooks.trigger('server_disconnected', data).finally(resolve);
      });
    });
    await hooks.trigger('server_connected', data);
    return conn;
  }
}

/**
 * The addresses a host name resolves to (an IP literal is its own address); throws as DNS does.
 * Looked up as net.connect would (it no longer looks up itself): only address families this
 * machine has configured, in the order --dns-result-order sets.
 */
async function resolveHost(host: string): Promise<LookupAddress[]> {
  const family = net.isIP(host);
  if (family) return [{ address: host, family }];
  let pending = lookupsUnderWay.get(host);
  if (!pending) {
    const job = lookup(host, { all: true, hints: ADDRCONFIG });
    const forget = () => {
      if (lookupsUnderWay.get(host) === job) lookupsUnderWay.delete(host);
    };
    job.then(forget, forget);
    lookupsUnderWay.set(host, job);
    pending = job;
  }
  return pending;
}

/**
 * Lookups not answered yet, by host name: requests for a name being looked up share that lookup.
 * The system resolver works through a small thread pool (shared with file and zlib work), so
 * with a resolver that is slow or down, one lookup per request would pile up by the thousand,
 * each waiting for its turn long after its client left; one per name does not.
 */
const lookupsUnderWay = new Map<string, Promise<LookupAddress[]>>();

/**
 * A TCP connection, resolved when connected; every error is turned into a rejection. With
 * `addresses`, the host is not looked up again: the connection goes to one of them.
 */
export function tcpConnect(
  host: string,
  port: number,
  localAddress: string | null,
  addresses: LookupAddress[] | null = null,
  signal: AbortSignal | null = null,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    // allowHalfOpen: a server's FIN ends only what it sends; a TCP relay passes it on and the
    // client may still send (node would end our side at once otherwise). HTTP connections the
    // server closes are closed by ServerConnection.
    const opts: net.NetConnectOpts = { host, port, noDelay: true, allowHalfOpen: true };
    if (localAddress) opts.localAddress = localAddress;
    if (addresses && addresses.length > 0 && !net.isIP(host)) opts.lookup = presetLookup(addresses);
    const s = net.connect(opts);
    const onAbort = () => onError(signal!.reason as Error);
    const onError = (e: Error) => {
      signal?.removeEventListener('abort', onAbort);
      s.destroy();
      reject(e);
    };
    s.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => {
      s.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      // From here on the connection's owner handles errors; until it does, they must not crash us.
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}

/**
 * How many server connections one client connection may be opening at once. An HTTP/1 client
 * needs one at a time; a browser's HTTP/2 connection a few dozen at most, once (they are reused).
 */
const MAX_OPENING = 32;

/** A connect given up on because the client connection it was for has closed (mitmproxy's words). */
class ConnectionCancelledError extends Error {
  constructor() {
    super('connection cancelled');
    this.name = 'ConnectionCancelledError';
  }
}


/** A `lookup` for net.connect that answers with addresses resolved earlier (one, or all for happy eyeballs). */
function presetLookup(addresses: LookupAddress[]): net.LookupFunction {
  return (_hostname, options, callback) => {
    const family = typeof options === 'object' && options ? options.family : undefined;
    const fitting = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    const list = fitting.length ? fitting : addresses;
    if (typeof options === 'object' && options && (options as { all?: boolean }).all) {
      (callback as unknown as (err: null, addrs: LookupAddress[]) => void)(null, list);
    } else {
      callback(null, list[0]!.address, list[0]!.family);
    }
  };
}
