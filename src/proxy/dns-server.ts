import dgram from 'node:dgram';
import net from 'node:net';
import { Server, formatAddress, type Client } from '../connection.js';
import { DNSFlow, DNSMessage, DnsRcode } from '../dns.js';
import { FlowError } from '../flow.js';
import type { Master } from '../master.js';
import { now } from '../util/time.js';
import type { ProxyMode } from './modes.js';
import { UdpClients } from './udp-clients.js';
import { bindUdp } from './bind-udp.js';
import { connectUdp } from './connect-udp.js';
import { describeNetworkError } from './error-page.js';
import { socketPeername, socketSockname, udpSocketAddresses } from './socket-address.js';
import { OwnAddresses, ownListenerError } from './own-addresses.js';

/** How long a forwarded query may wait for the server's answer before the flow fails. */
const UPSTREAM_TIMEOUT_MS = 5000;
/** DNS over TCP frames each message with a 2-byte length; a TCP client may send several. */
const MAX_TCP_BUFFER = 64 * 1024 + 2;

/** How a query came in, and so how its answer goes back (and how it is forwarded). */
interface Reply {
  transport: 'udp' | 'tcp';
  send(message: Buffer): void;
}

/**
 * A DNS listener (`--mode dns`, `--mode reverse:dns://host:port`): queries over UDP and over TCP
 * on the same port, each one a DNSFlow through `dns_request`, the server (unless a hook answered),
 * `dns_response` and back to the client; failures go through `dns_error`. In `dns` mode the
 * DnsResolver addon answers address queries and names the server for the rest; a reverse mode
 * forwards everything to its target.
 */
export class DnsServer {
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  private readonly tcpClients = new Set<net.Socket>();
  private readonly pending = new Set<Promise<void>>();
  private readonly clients: UdpClients<null>;
  host = '';
  port = 0;

  constructor(
    private readonly master: Master,
    readonly mode: ProxyMode,
    /** The proxy's listeners: a query forwarded to one of them would come back as a new query, without end. */
    private readonly own: OwnAddresses = new OwnAddresses(),
  ) {
    this.clients = new UdpClients(master, mode, () => [this.host, this.port], () => null);
  }

  /**
   * Bind UDP and TCP on `host:port`. With port 0, UDP picks a free port and TCP takes the same
   * one; when that TCP port happens to be taken, both try again on another.
   */
  async listen(host: string, port: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bindBoth(host, port);
        return;
      } catch (e) {
        await this.close();
        if (port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 10) throw e;
      }
    }
  }

  private async bindBoth(host: string, port: number): Promise<void> {
    const udp = await bindUdp(host, port);
    this.udp = udp;
    udp.on('error', (e) => this.master.log.error(`${this.mode.description}: ${e.message}`));
    udp.on('message', (data, rinfo) => {
      // An answer that is ready after the listener closed has nowhere to go.
      const reply: Reply = {
        transport: 'udp',
        send: (m) => {
          if (this.udp !== udp) return;
          // node drops a datagram it cannot send without a word unless given a callback.
          udp.send(fitDatagram(m), rinfo.port, rinfo.address, (err) => {
            if (err) this.master.log.warn(`${formatAddress([rinfo.address, rinfo.port])}: cannot send the DNS response: ${err.message}`);
          });
        },
      };
      const { client, admitted } = this.clients.get([rinfo.address, rinfo.port]);
      this.track(admitted.then((ok) => (ok ? this.handle(data, client, reply) : undefined)));
    });
    this.port = udp.address().port;
    this.host = host;
    const tcp = net.createServer((socket) => this.acceptTcp(socket));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: host || undefined, port: this.port }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (e) => this.master.log.error(`${this.mode.description}: ${e.message}`));
  }

  /** The bound address (the UDP socket's; TCP has the same). */
  address(): net.AddressInfo | null {
    return this.udp ? this.udp.address() : null;
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = null;
    this.track(this.clients.closeAll());
    // Wait for the TCP clients' close events: their client_disconnected belongs before we return.
    const closed = [...this.tcpClients].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    for (const s of this.tcpClients) s.destroy();
    await Promise.all(closed);
    const tcp = this.tcp;
    this.tcp = null;
    // A server whose listen() failed is not listening: close() would report that, not call back.
    if (tcp?.listening) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((e) => this.master.log.error(`DNS: unexpected error: ${(e as Error).stack ?? String(e)}`));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** DNS over TCP: length-prefixed messages, answered in the order their answers are ready. */
  private acceptTcp(socket: net.Socket): void {
    this.tcpClients.add(socket);
    socket.on('error', () => undefined);
    socket.setTimeout(60_000, () => socket.destroy());
    const client = this.clients.newClient(socketPeername(socket), 'tcp');
    const admitted = this.clients.connect(client);
    socket.on('close', () => {
      this.tcpClients.delete(socket);
      this.track(admitted.then((ok) => (ok ? this.clients.disconnect(client) : undefined)));
    });
    const reply: Reply = {
      transport: 'tcp',
      send: (m) => {
        if (!socket.destroyed) socket.write(withLength(m));
      },
    };
    void admitted.then((ok) => {
      if (!ok) socket.destroy();
    });
    const messages = new TcpMessageReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of messages.push(chunk)) {
        this.track(admitted.then((ok) => (ok ? this.handle(message, client, reply) : undefined)));
      }
      if (messages.bufferedLength > MAX_TCP_BUFFER) socket.destroy();
    });
  }

  /** One query: a flow from `dns_request` to the answer sent back, or to `dns_error`. */
  private async handle(data: Buffer, client: Client, reply: Reply): Promise<void> {
    const hooks = this.master.addons;
    const peer = client.peername!;
    const server = new Server({ address: this.mode.server ? [this.mode.server.address[0], this.mode.server.address[1]] : null });
    server.transportProtocol = reply.transport;
    let request: DNSMessage;
    try {
      request = DNSMessage.unpack(data, now());
    } catch (e) {
      const flow = new DNSFlow(client, server, true);
      flow.error = new FlowError(`Invalid DNS message: ${(e as Error).message}`);
      flow.live = false;
      this.master.log.info(`${formatAddress(peer)}: ${flow.error.msg}`);
      await hooks.triggerFlow('dns_error', flow);
      // A query whose header could be read gets FORMERR at once instead of waiting for its own
      // timeout. Never a reply to a response: two servers would answer each other forever.
      const formerr = formatErrorReply(data);
      if (formerr) reply.send(formerr);
      return;
    }
    const flow = new DNSFlow(client, server, true, request);
    await hooks.triggerFlow('dns_request', flow);
    // A flow killed here has its error ("Connection killed.") and fails below, as mitmproxy does.
    if (!flow.response && !flow.error) {
      const address = flow.serverConn.address;
      try {
        if (!address) throw new Error('no DNS server to forward the query to');
        flow.serverConn.timestampStart ??= now();
        // The query as the hooks left it: an addon may have replaced the request, not just edited it.
        const query = flow.request;
        const answer = await (reply.transport === 'udp' ? queryUdp : queryTcp)(query.pack(), address, flow.serverConn, query.id, this.own);
        flow.response = DNSMessage.unpack(answer, now());
      } catch (e) {
        flow.error = new FlowError(`${address ? `DNS query to ${formatAddress(address)} failed: ` : ''}${describeNetworkError(e)}`);
      }
    }
    if (flow.error || !flow.response) {
      flow.live = false;
      flow.error ??= new FlowError('no DNS response');
      this.master.log.info(`${formatAddress(peer)}: ${flow.error.msg}`);
      await hooks.triggerFlow('dns_error', flow);
      // The client gets an answer at once, rather than waiting for its own timeout (to the query
      // it sent, with its id, whatever the hooks made of the request).
      reply.send(request.fail(DnsRcode.SERVFAIL).pack());
      return;
    }
    flow.response.timestamp ??= now();
    await hooks.triggerFlow('dns_response', flow);
    flow.live = false;
    // A killed flow, or one whose response a hook took away (mitmproxy sends only a response
    // that is still there), gets no answer.
    if (flow.killed || !flow.response) return;
    let packed: Buffer;
    try {
      packed = flow.response.pack();
    } catch (e) {
      this.master.log.error(`${formatAddress(peer)}: cannot send the DNS response: ${(e as Error).message}`);
      return;
    }
    reply.send(packed);
  }
}

/** DNS over TCP (RFC 1035 4.2.2) puts a 2-byte length before each message; this takes them out of the chunks read. */
class TcpMessageReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** The messages `chunk` completes (copies, so they do not keep the chunk alive). */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (this.buffered.length >= 2 && this.buffered.length >= 2 + this.buffered.readUInt16BE(0)) {
      const len = this.buffered.readUInt16BE(0);
      messages.push(Buffer.from(this.buffered.subarray(2, 2 + len)));
      this.buffered = this.buffered.subarray(2 + len);
    }
    return messages;
  }

  /** Bytes of a message not complete yet. */
  get bufferedLength(): number {
    return this.buffered.length;
  }
}

/** The largest UDP payload (IPv4: 65535 minus the IP and UDP headers). */
const MAX_UDP_PAYLOAD = 65507;

/**
 * A response too big for one datagram (names are sent uncompressed, so the questions alone of a
 * small query can outgrow it) goes out as its header with TC set and no sections: the client
 * asks again over TCP (RFC 1035 4.2.1), instead of hearing nothing.
 */
function fitDatagram(message: Buffer): Buffer {
  if (message.length <= MAX_UDP_PAYLOAD) return message;
  const head = Buffer.from(message.subarray(0, 12));
  head.writeUInt16BE(head.readUInt16BE(2) | 0x0200, 2);
  head.fill(0, 4, 12);
  return head;
}

/** FORMERR for a query that could not be parsed (null when not even its header is there, or it is not a query). */
function formatErrorReply(data: Buffer): Buffer | null {
  if (data.length < 12 || data[2]! & 0x80) return null;
  const head = Buffer.alloc(12);
  data.copy(head, 0, 0, 2);
  // QR set, the opcode and RD copied, RCODE 1 (format error), every count 0.
  head[2] = 0x80 | (data[2]! & 0x79);
  head[3] = DnsRcode.FORMERR;
  return head;
}

function withLength(message: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(message.length);
  return Buffer.concat([len, message]);
}

/**
 * Send a query over UDP from a socket of its own and wait for the answer with the same id. A
 * name that does not resolve (or a connect that fails) fails the query at once.
 */
async function queryUdp(query: Buffer, [host, port]: [string, number], server: Server, id: number, own: OwnAddresses): Promise<Buffer> {
  const socket = await connectUdp(host, port);
  // As mitmproxy records the server side of a forwarded query: its socket's addresses
  // (and, over TCP only, timestamp_tcp_setup).
  [server.peername, server.sockname] = udpSocketAddresses(socket);
  const remote = socket.remoteAddress();
  if (own.isOwn(remote.address, remote.port, 'udp')) {
    socket.close();
    throw ownListenerError([host, port]);
  }
  return new Promise((resolve, reject) => {
    const finish = (err: Error | null, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS / 1000} s`)), UPSTREAM_TIMEOUT_MS);
    socket.on('error', (e) => finish(e));
    // A connected socket receives only from the server it is connected to; only the answer to our query counts.
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) finish(null, msg);
    });
    socket.send(query);
  });
}

/** Send a query over TCP (length-prefixed) and read the one answer. */
function queryTcp(query: Buffer, [host, port]: [string, number], server: Server, _id: number, own: OwnAddresses): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // An IP literal is judged before connecting; a name once connected (nothing is sent to us either way).
    if (own.isOwn(host, port, 'tcp')) return reject(ownListenerError([host, port]));
    const socket = net.connect({ host, port });
    const messages = new TcpMessageReader();
    const finish = (err: Error | null, answer?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS / 1000} s`)), UPSTREAM_TIMEOUT_MS);
    socket.on('connect', () => {
      if (own.isOwn(socket.remoteAddress, socket.remotePort, 'tcp')) return finish(ownListenerError([host, port]));
      server.timestampTcpSetup = now();
      server.peername = socketPeername(socket, [host, port]);
      server.sockname = socketSockname(socket);
      socket.write(withLength(query));
    });
    socket.on('error', (e) => finish(e));
    socket.on('data', (chunk: Buffer) => {
      const [answer] = messages.push(chunk);
      if (answer) finish(null, answer);
    });
    socket.on('end', () => finish(new Error('the server closed the connection without an answer')));
  });
}
