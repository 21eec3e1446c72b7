import dgram from 'node:dgram';
import { isIPv6, type AddressInfo } from 'node:net';
import { Server, formatAddress } from '../connection.js';
import { FlowError } from '../flow.js';
import type { Master } from '../master.js';
import { TCPMessage, UDPFlow } from '../tcp.js';
import { now } from '../util/time.js';
import type { ProxyMode } from './modes.js';
import { UdpClients, type UdpPeer } from './udp-clients.js';
import { bindUdp } from './bind-udp.js';
import { udpSocketAddresses } from './socket-address.js';
import { OwnAddresses, ownListenerError } from './own-addresses.js';

/** What the relay keeps per client: its flow (once started) and its socket towards the target. */
interface Session {
  flow: UDPFlow | null;
  /** Resolves once `udp_start` has run; false when the flow was killed there. */
  started: Promise<boolean> | null;
  upstream: dgram.Socket | null;
  /** Datagrams are recorded, hooked and sent one at a time, in arrival order. */
  queue: Promise<void>;
}

/** The live UDP flows, so `inject.udp` can reach a flow's session. */
const liveUdpFlows = new WeakMap<UDPFlow, (toClient: boolean, content: Buffer) => void>();

/**
 * Send a datagram into a live UDP flow, as the `inject.udp` command does: recorded as if the
 * other side had sent it, through `udp_message`, then sent. False when the flow is not live.
 */
export function injectUdpMessage(flow: UDPFlow, toClient: boolean, content: Buffer): boolean {
  const inject = liveUdpFlows.get(flow);
  if (!inject || !flow.live) return false;
  inject(toClient, content);
  return true;
}

/**
 * A UDP reverse proxy (`--mode reverse:udp://host:port`): each client address gets a socket of
 * its own towards the target, and the datagrams both ways make one UDPFlow per client:
 * `udp_start`, `udp_message` per datagram (an addon may change it, or empty it to drop it), then
 * `udp_end` when the client has been quiet for a while, or `udp_error` when the target refuses.
 */
export class UdpRelay {
  private socket: dgram.Socket | null = null;
  private readonly clients: UdpClients<Session>;
  host = '';
  port = 0;

  constructor(
    private readonly master: Master,
    readonly mode: ProxyMode,
    /** The proxy's listeners: a target that is one of them would relay each datagram back to us. */
    private readonly own: OwnAddresses = new OwnAddresses(),
  ) {
    this.clients = new UdpClients<Session>(
      master,
      mode,
      () => [this.host, this.port],
      () => ({ flow: null, started: null, upstream: null, queue: Promise.resolve() }),
      (peer) => this.endSession(peer),
    );
  }

  async listen(host: string, port: number): Promise<void> {
    const socket = await bindUdp(host, port);
    this.socket = socket;
    socket.on('error', (e) => this.master.log.error(`${this.mode.description}: ${e.message}`));
    socket.on('message', (data, rinfo) => this.fromClient(data, [rinfo.address, rinfo.port]));
    this.host = host;
    this.port = socket.address().port;
  }

  /** The bound address. */
  address(): AddressInfo | null {
    return this.socket ? this.socket.address() : null;
  }

  async close(): Promise<void> {
    await this.clients.closeAll();
    this.socket?.close();
    this.socket = null;
  }

  private fromClient(data: Buffer, address: [string, number]): void {
    const peer = this.clients.get(address);
    const session = peer.state;
    session.started ??= peer.admitted.then((ok) => (ok ? this.start(peer) : false));
    this.enqueue(peer, (flow) => this.deliver(peer, flow, new TCPMessage(true, data)));
  }

  /** Run `step` for the session's flow after everything queued before it (nothing when the flow did not start). */
  private enqueue(peer: UdpPeer<Session>, step: (flow: UDPFlow) => Promise<void>): void {
    const session = peer.state;
    session.queue = session.queue
      .then(async () => {
        if (!(await session.started) || !session.flow || !session.flow.live) return;
        await step(session.flow);
      })
      .catch((e) => this.master.log.error(`UDP relay: unexpected error: ${(e as Error).stack ?? String(e)}`));
  }

  /** `udp_start`, then the socket towards the target. False when an addon killed the flow. */
  private async start(peer: UdpPeer<Session>): Promise<boolean> {
    const [host, port] = this.mode.server!.address;
    const server = new Server({ address: [host, port] });
    server.transportProtocol = 'udp';
    const flow = new UDPFlow(peer.client, server, true);
    peer.state.flow = flow;
    // Injections wait in the session's queue, which runs once this start is over: one made in
    // udp_start itself (as mitmproxy allows) goes out after it, when the socket is up.
    liveUdpFlows.set(flow, (toClient, content) => this.enqueue(peer, (f) => this.deliver(peer, f, new TCPMessage(!toClient, content))));
    await this.master.addons.triggerFlow('udp_start', flow);
    if (flow.killed) {
      // As every UDP flow, a killed one ends with udp_error (its error is "Connection killed.").
      await this.master.addons.triggerFlow('udp_error', flow);
      return false;
    }
    // A kill later on ends the session at once (udp_error), instead of when the client goes quiet.
    flow.onKill(() => void this.clients.endPeer(peer));
    const upstream = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    peer.state.upstream = upstream;
    upstream.on('message', (data) => {
      this.clients.touch(peer);
      this.enqueue(peer, (f) => this.deliver(peer, f, new TCPMessage(false, data)));
    });
    // On loopback and LANs a closed port answers with ICMP, which a connected socket reports here.
    upstream.on('error', (e) => void this.fail(peer, flow, e));
    // As mitmproxy records a UDP server connection: started before connecting, then the addresses
    // of the connected socket (peername, sockname); timestamp_tcp_setup is for TCP only.
    server.timestampStart = now();
    // A name that does not resolve fails the connect with an 'error' (fail() above records it and
    // ends the session, with udp_error): the flow has started all the same.
    const connected = await new Promise<boolean>((resolve) => {
      upstream.once('connect', () => resolve(true));
      upstream.once('error', () => resolve(false));
      upstream.connect(port, host);
    });
    if (connected) {
      [server.peername, server.sockname] = udpSocketAddresses(upstream);
      const remote = upstream.remoteAddress();
      if (this.own.isOwn(remote.address, remote.port, 'udp')) {
        // Judged on the address connected to, before anything is sent. The client's later
        // datagrams are dropped with this flow until it goes quiet: no socket for each of them.
        peer.state.upstream = null;
        upstream.close();
        flow.error = new FlowError(ownListenerError([host, port]).message);
        flow.live = false;
        server.timestampEnd = now();
        this.master.log.warn(`UDP flow to ${formatAddress(server.address)} failed: ${flow.error.msg}`, formatAddress(peer.client.peername));
        await this.master.addons.triggerFlow('udp_error', flow);
        return false;
      }
    } else {
      // Datagrams queued meanwhile are still recorded, but an unconnected socket has nowhere to send them.
      peer.state.upstream = null;
      upstream.close();
    }
    return true;
  }

  /** Record a datagram, run `udp_message`, and send it on unless an addon emptied it. */
  private async deliver(peer: UdpPeer<Session>, flow: UDPFlow, message: TCPMessage): Promise<void> {
    flow.messages.push(message);
    await this.master.addons.triggerFlow('udp_message', flow);
    if (!flow.live || message.content.length === 0) return;
    if (message.fromClient) peer.state.upstream?.send(message.content);
    else if (this.socket) this.socket.send(message.content, peer.remote[1], peer.remote[0]);
  }

  private async fail(peer: UdpPeer<Session>, flow: UDPFlow, e: Error): Promise<void> {
    if (!flow.live) return;
    flow.error = new FlowError(`${formatAddress(flow.serverConn.address)}: ${(e as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connection refused' : e.message}`);
    await this.clients.endPeer(peer);
  }

  /** The client went quiet (or the relay closes, or the flow failed): `udp_end` or `udp_error`. */
  private async endSession(peer: UdpPeer<Session>): Promise<void> {
    await peer.state.queue;
    const { flow, upstream } = peer.state;
    // Datagrams still queued after this point are recorded but have no socket to go out on.
    peer.state.upstream = null;
    try {
      upstream?.close();
    } catch {
      // already closed
    }
    if (!flow || !(await peer.state.started)) return;
    liveUdpFlows.delete(flow);
    flow.live = false;
    flow.serverConn.timestampEnd = now();
    if (flow.error) {
      this.master.log.info(`UDP flow to ${formatAddress(flow.serverConn.address)} failed: ${flow.error.msg}`, formatAddress(peer.client.peername));
      await this.master.addons.triggerFlow('udp_error', flow);
    } else {
      await this.master.addons.triggerFlow('udp_end', flow);
    }
  }
}
