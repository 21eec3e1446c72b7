import { Client, formatAddress } from '../connection.js';
import type { Master } from '../master.js';
import { now } from '../util/time.js';
import type { ProxyMode } from './modes.js';
import { unmappedAddress } from '../certs/ip.js';

/**
 * UDP has no connections: a UDP client is a peer address, "connected" from its first datagram
 * until it has been quiet this long.
 */
export const UDP_CLIENT_IDLE_MS = 20_000;

/** A UDP client while it is "connected", and what its listener keeps for it (`T`). */
export interface UdpPeer<T> {
  client: Client;
  /** Where its datagrams come from, as the socket reports it: replies go there (client.peername has IPv4-mapped addresses unmapped). */
  remote: [string, number];
  /** Resolves to false when an addon refused the client in `client_connected`. */
  admitted: Promise<boolean>;
  /** The listener's own state for this client (a relay's flow and upstream socket, say). */
  state: T;
}

/**
 * The clients of one listening UDP socket and of its TCP twin: `client_connected` when one first
 * shows up (where addons such as block_global may refuse it), `client_disconnected` at the end.
 * A UDP client ends after UDP_CLIENT_IDLE_MS without a datagram either way (`touch`), or on
 * `closeAll`; `onEnd` runs first (a relay ends its flow there).
 */
export class UdpClients<T> {
  private readonly peers = new Map<string, UdpPeer<T> & { idle: NodeJS.Timeout }>();
  private readonly ending = new Set<Promise<void>>();

  constructor(
    private readonly master: Master,
    private readonly mode: ProxyMode,
    private readonly listenAddress: () => [string, number],
    private readonly newState: (client: Client) => T,
    private readonly onEnd: (peer: UdpPeer<T>) => Promise<void> = async () => undefined,
  ) {}

  /** The client a datagram from `address` belongs to: known (and kept alive), or new. */
  get(address: [string, number]): UdpPeer<T> {
    const key = keyOf(address);
    const known = this.peers.get(key);
    if (known) {
      known.idle.refresh();
      return known;
    }
    const client = this.newClient([unmappedAddress(address[0]), address[1]], 'udp');
    const admitted = this.connect(client);
    const idle = setTimeout(() => void this.end(key), UDP_CLIENT_IDLE_MS);
    idle.unref();
    const peer = { client, remote: address, admitted, state: this.newState(client), idle };
    this.peers.set(key, peer);
    return peer;
  }

  /** Keep `peer` alive: traffic the other way counts too. */
  touch(peer: UdpPeer<T>): void {
    this.peers.get(keyOf(peer.remote))?.idle.refresh();
  }

  /** End one client now (its flow failed, say). */
  endPeer(peer: UdpPeer<T>): Promise<void> {
    return this.end(keyOf(peer.remote));
  }

  async closeAll(): Promise<void> {
    for (const key of [...this.peers.keys()]) void this.end(key);
    await Promise.allSettled([...this.ending]);
  }

  newClient(address: [string, number], transport: 'udp' | 'tcp'): Client {
    const client = new Client({ peername: address, sockname: this.listenAddress(), timestampStart: now(), proxyMode: this.mode.fullSpec });
    client.transportProtocol = transport;
    return client;
  }

  /** `client_connected`; false when an addon refused the client (block_global, block_private, a script). */
  async connect(client: Client): Promise<boolean> {
    const label = formatAddress(client.peername);
    this.master.log.info('client connect', label);
    await this.master.addons.trigger('client_connected', client);
    if (!client.error) return true;
    this.master.log.info('client kill connection', label);
    await this.disconnect(client);
    return false;
  }

  async disconnect(client: Client): Promise<void> {
    client.timestampEnd = now();
    this.master.log.info('client disconnect', formatAddress(client.peername));
    await this.master.addons.trigger('client_disconnected', client);
  }

  private end(key: string): Promise<void> {
    const peer = this.peers.get(key);
    if (!peer) return Promise.resolve();
    this.peers.delete(key);
    clearTimeout(peer.idle);
    const done = (async () => {
      if (!(await peer.admitted)) return;
      await this.onEnd(peer);
      await this.disconnect(peer.client);
    })().catch((e) => this.master.log.error(`UDP client: unexpected error: ${(e as Error).stack ?? String(e)}`));
    this.ending.add(done);
    void done.finally(() => this.ending.delete(done));
    return done;
  }
}

function keyOf(address: readonly [string, number] | readonly [string, number, number, number]): string {
  return `${address[0]} ${address[1]}`;
}
