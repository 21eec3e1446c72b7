import net from 'node:net';
import { formatAddress } from '../connection.js';
import type { Master } from '../master.js';
import { ProxyMode } from './modes.js';
import { handleClientConnection } from './client-connection.js';
import type { ProxyOptions } from './proxy-options.js';
import { OwnAddresses, type OwnTransport } from './own-addresses.js';
import { IdleConnections } from './idle-connections.js';
import { checkConntrackReadable } from './original-destination.js';
import { DnsServer } from './dns-server.js';
import { UdpRelay } from './udp-relay.js';

/** The TCP modes this version can serve (DNS and UDP relays are told apart by servesDns / relaysUdp). */
const SUPPORTED_MODES: ReadonlySet<string> = new Set(['regular', 'transparent', 'reverse', 'upstream', 'socks5']);

/**
 * Why a listener could not start, in mitmproxy's words (with its hint for a port in use), keeping
 * the socket error's `code` (EADDRINUSE, EACCES, ...) and the error itself as `cause`.
 */
function startFailure(mode: ProxyMode, host: string, port: number, e: unknown): NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException).code;
  const inUse = code === 'EADDRINUSE';
  let message = `${mode.description} failed to listen on ${host || '*'}:${port} with ${inUse ? 'address already in use' : (e as Error).message}`;
  if (inUse && mode.customListenPort === null) message += `\nTry specifying a different port by using \`--mode ${mode.fullSpec}@${port + 2}\`.`;
  const failure: NodeJS.ErrnoException = new Error(message, { cause: e });
  if (code !== undefined) failure.code = code;
  return failure;
}

/** A UDP relay: reverse proxies to a udp:// target. */
function relaysUdp(mode: ProxyMode): boolean {
  return mode.type === 'reverse' && mode.server?.scheme === 'udp';
}

/** A DNS server (UDP and TCP) rather than a TCP proxy: `dns` mode and reverse proxies to a dns:// target. */
function servesDns(mode: ProxyMode): boolean {
  return mode.type === 'dns' || (mode.type === 'reverse' && mode.server?.scheme === 'dns');
}

/** One listening socket for one mode spec. */
export interface Listener {
  mode: ProxyMode;
  /** The host asked for and the port actually bound (port 0 resolved). */
  host: string;
  port: number;
  /** The bound address as the socket reports it ("::" for every interface, say). */
  address(): net.AddressInfo | null;
  /** Stop listening (and, for DNS and UDP, end the clients the listener keeps). */
  close(): Promise<void>;
}

/**
 * The server for one entry of `mode`: its listener while it runs, or why it does not. Each
 * starts and fails on its own, so one mode that cannot bind leaves the others serving.
 */
export interface ServerInstance {
  readonly mode: ProxyMode;
  /** Where it was asked to listen (`listen_host`/`listen_port` applied); a change restarts it. */
  readonly host: string;
  readonly requestedPort: number;
  listener: Listener | null;
  lastError: string | null;
}

/**
 * What each mode this version cannot serve would need. mitmproxy serves these with native code
 * (a user-space TCP/IP stack, OS redirectors, QUIC), which a Node program cannot have without a
 * native addon.
 */
const MISSING_FOR: Readonly<Record<string, string>> = {
  wireguard: 'a WireGuard endpoint and a user-space TCP/IP stack',
  local: "an operating-system redirector for other programs' traffic",
  tun: 'a TUN interface and a user-space TCP/IP stack',
};

/** Why `mode` cannot be served at all by this version, or null. */
function unsupported(mode: ProxyMode): string | null {
  if (servesDns(mode) || relaysUdp(mode)) return null;
  const missing = MISSING_FOR[mode.type];
  if (missing) return `${mode.description} (${mode.fullSpec}) is not available in mitmproxy-ts: it needs ${missing}.`;
  if (mode.type === 'reverse' && mode.transportProtocol === 'udp') {
    return `${mode.description} (${mode.fullSpec}) is not available in mitmproxy-ts: ${mode.server?.scheme} targets need QUIC or DTLS, which Node does not offer; udp:// and dns:// targets work.`;
  }
  if (!SUPPORTED_MODES.has(mode.type)) return `Proxy mode "${mode.type}" is not supported by mitmproxy-ts (${mode.fullSpec}).`;
  return null;
}

/**
 * The proxy's servers, one per mode spec, and the connections they accepted. The options
 * object is shared with every connection and updated in place on `configure`.
 */
export class ProxyServers {
  private instances: ServerInstance[] = [];
  readonly own = new OwnAddresses();
  /** Upstream connections kept between client connections from the same address. */
  readonly idle = new IdleConnections();
  private readonly sockets = new Set<net.Socket>();
  private readonly handlers = new Set<Promise<void>>();
  /** Updates run one after another, each on the outcome of the one before. */
  private updating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly master: Master,
    readonly options: ProxyOptions,
  ) {}

  get activeConnections(): number {
    return this.sockets.size;
  }

  /** Every server, running or failed, in `mode` order. */
  get servers(): readonly ServerInstance[] {
    return this.instances;
  }

  /** The running listeners, in `mode` order. */
  get listeners(): Listener[] {
    const out: Listener[] = [];
    for (const i of this.instances) if (i.listener) out.push(i.listener);
    return out;
  }

  /**
   * Make the servers match `modes`: servers whose spec and address are unchanged keep running
   * (and keep their port and connections), removed ones stop, new ones start. A server that
   * fails records why (`lastError`) and logs it; the rest are not affected.
   */
  update(modes: ProxyMode[], listenHost: string, listenPort: number | null): Promise<void> {
    const run = this.updating.then(() => this.applyUpdate(modes, listenHost, listenPort));
    this.updating = run.catch(() => undefined);
    return run;
  }

  private async applyUpdate(modes: ProxyMode[], listenHost: string, listenPort: number | null): Promise<void> {
    const previous = [...this.instances];
    const next: ServerInstance[] = [];
    for (const mode of modes) {
      const host = mode.listenHost(listenHost);
      const requestedPort = mode.listenPort(listenPort) ?? 8080;
      const i = previous.findIndex((p) => p.mode.fullSpec === mode.fullSpec && p.host === host && p.requestedPort === requestedPort);
      next.push(i >= 0 ? previous.splice(i, 1)[0]! : { mode, host, requestedPort, listener: null, lastError: null });
    }
    this.instances = next;
    // Free the ports of the removed servers before new ones may want them.
    await Promise.all(previous.map((p) => this.stopInstance(p)));
    for (const instance of next) if (!instance.listener) await this.startInstance(instance);
  }

  private async startInstance(instance: ServerInstance): Promise<void> {
    const { mode, host, requestedPort } = instance;
    try {
      const why = unsupported(mode);
      if (why) throw new Error(why);
      // A transparent listener learns destinations from the conntrack table: say at once when it cannot.
      if (mode.type === 'transparent') await checkConntrackReadable();
      instance.listener = servesDns(mode) || relaysUdp(mode) ? await this.listenDatagrams(mode, host, requestedPort) : await this.listen(mode, host, requestedPort);
      instance.lastError = null;
    } catch (e) {
      instance.lastError = (e as Error).message;
      this.master.log.error(instance.lastError, undefined, e);
      return;
    }
    this.own.add(host || '', instance.listener.port, ownTransport(mode));
    this.master.log.info(`${mode.description} listening at ${listenAddressText(host, instance.listener.port)}.`);
  }

  /** Stop listening; connections already accepted go on until they end (as in mitmproxy). */
  private async stopInstance(instance: ServerInstance): Promise<void> {
    const l = instance.listener;
    if (!l) return;
    instance.listener = null;
    this.own.remove(l.port, ownTransport(instance.mode), instance.host || '');
    await l.close();
    this.master.log.info(`${instance.mode.description} at ${listenAddressText(l.host, l.port)} stopped.`);
  }

  private listen(mode: ProxyMode, host: string, port: number): Promise<Listener> {
    return new Promise((resolve, reject) => {
      // allowHalfOpen: a client's FIN need not end our side (a raw TCP relay passes it on);
      // handleClientConnection decides when it does.
      const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(mode, socket));
      server.on('error', (e) => reject(startFailure(mode, host, port, e)));
      server.listen({ host: host || undefined, port }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.master.log.error(`${mode.description}: ${e.message}`));
        resolve({
          mode,
          host,
          port: (server.address() as net.AddressInfo).port,
          address: () => server.address() as net.AddressInfo | null,
          // Stop listening now; node's close callback would wait for every accepted connection
          // to end (an idle client can hold it for tcp_timeout, a tunnel forever), and a mode
          // change or shutdown must not wait for that. Accepted connections end on their own
          // (or are destroyed by stop()).
          close: () => {
            server.close();
            return Promise.resolve();
          },
        });
      });
    });
  }

  /** A listener that is not a TCP proxy: a DNS server (UDP and TCP) or a UDP relay. */
  private async listenDatagrams(mode: ProxyMode, host: string, port: number): Promise<Listener> {
    const server = servesDns(mode) ? new DnsServer(this.master, mode, this.own) : new UdpRelay(this.master, mode, this.own);
    try {
      await server.listen(host, port);
    } catch (e) {
      await server.close();
      throw startFailure(mode, host, port, e);
    }
    return { mode, host, port: server.port, address: () => server.address(), close: () => server.close() };
  }

  private accept(mode: ProxyMode, socket: net.Socket): void {
    // From birth every socket has an error handler: a reset client must never crash the process.
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const p = handleClientConnection(this.master, mode, socket, this.options, this.own, this.idle).catch((e) => {
      this.master.log.error(`Unexpected error: ${(e as Error).stack ?? String(e)}`);
    });
    this.handlers.add(p);
    void p.finally(() => this.handlers.delete(p));
  }

  /** Stop every server and end every client connection. */
  async stop(): Promise<void> {
    // Connections first: nothing an update waits for may hang on a client.
    for (const s of this.sockets) s.destroy();
    await this.updating;
    const instances = this.instances;
    this.instances = [];
    const closing = instances.map((i) => this.stopInstance(i));
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
    // Handlers end once their sockets are gone; one still waiting on something else (an
    // upstream that never answers) must not keep shutdown (Ctrl-C, close()) from finishing.
    const handlers = [...this.handlers];
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled(handlers).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), HANDLER_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (!settled) this.master.log.debug(`Stopped with ${this.handlers.size} connection handler(s) still waiting.`);
    this.idle.clear();
  }
}

/** How long `stop` waits for connection handlers to finish after their sockets were destroyed. */
const HANDLER_GRACE_MS = 5000;

/**
 * `host:port` as mitmproxy's listening and stopped lines show a listener: `*:8080` for every
 * interface, whether that is spelled "", "0.0.0.0" or "::", and an IPv6 host in brackets.
 */
export function listenAddressText(host: string, port: number): string {
  return formatAddress([host || '0.0.0.0', port]);
}

/** What a listener of `mode` listens on, as OwnAddresses records it. */
function ownTransport(mode: ProxyMode): OwnTransport {
  return servesDns(mode) ? 'both' : relaysUdp(mode) ? 'udp' : 'tcp';
}
