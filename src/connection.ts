import { isIPv6 } from 'node:net';
import { unmappedAddress } from './certs/ip.js';
import { uuid4 } from './util/uuid.js';

/** A socket address: `[host, port]`, or `[host, port, flowinfo, scopeId]` for some IPv6 sockets. */
export type Address = [host: string, port: number] | [host: string, port: number, flowinfo: number, scopeId: number];

export type TransportProtocol = 'tcp' | 'udp';

export const TLS_VERSIONS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'DTLSv0.9', 'DTLSv1', 'DTLSv1.2', 'QUICv1'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** Schemes allowed in `Server.via` (an upstream proxy spec). */
export type ViaScheme = 'http' | 'https' | 'http3' | 'tls' | 'dtls' | 'tcp' | 'udp' | 'dns' | 'quic';
export type Via = [scheme: ViaScheme, address: [host: string, port: number]];

/** The state dictionary of a connection, keys and types as mitmproxy's flow format 21 (§2.2/2.3). */
export interface ConnectionState {
  peername: Address | null;
  sockname: Address | null;
  id: string;
  transport_protocol: TransportProtocol;
  error: string | null;
  tls: boolean;
  certificate_list: Buffer[];
  alpn: Buffer | null;
  alpn_offers: Buffer[];
  cipher: string | null;
  cipher_list: string[];
  tls_version: TlsVersion | null;
  sni: string | null;
  timestamp_start: number | null;
  timestamp_end: number | null;
  timestamp_tls_setup: number | null;
}

export interface ClientState extends ConnectionState {
  timestamp_start: number;
  mitmcert: Buffer | null;
  proxy_mode: string;
}

export interface ServerState extends ConnectionState {
  address: [string, number] | null;
  timestamp_tcp_setup: number | null;
  via: Via | null;
}

/**
 * What client and server connections have in common: identity, addresses, TLS facts and
 * timestamps. Certificates are kept as PEM text.
 */
export abstract class Connection {
  id: string = uuid4();
  peername: Address | null = null;
  sockname: Address | null = null;
  transportProtocol: TransportProtocol = 'tcp';
  /** Set to a message to close the connection (from a hook) or when it failed. */
  error: string | null = null;
  /** TLS was or will be used on this connection. */
  tls = false;
  /** PEM certificates the peer presented (server chain, or client certificates). */
  certificateList: string[] = [];
  /** Negotiated ALPN protocol; "" when TLS happened without ALPN, null without TLS. */
  alpn: string | null = null;
  alpnOffers: string[] = [];
  cipher: string | null = null;
  cipherList: string[] = [];
  tlsVersion: TlsVersion | null = null;
  sni: string | null = null;
  /** Connected, closed and TLS established: seconds since the epoch (mitmproxy's unit), null until then. */
  timestampStart: number | null = null;
  timestampEnd: number | null = null;
  timestampTlsSetup: number | null = null;

  get tlsEstablished(): boolean {
    return this.timestampTlsSetup !== null;
  }

  /** True while the connection is open. */
  get connected(): boolean {
    return this.timestampStart !== null && this.timestampEnd === null && this.error === null;
  }

  /** The state part of mitmproxy's text for a connection. */
  protected stateText(): string {
    return this.connected ? 'open' : 'closed';
  }

  /** The TLS part of mitmproxy's text for a connection: the ALPN protocol, else whether TLS is established. */
  protected tlsText(): string {
    if (this.alpn) return `, alpn=${this.alpn}`;
    return this.tlsEstablished ? ', tls' : '';
  }

  protected baseState(): ConnectionState {
    return {
      peername: this.peername ? ([...this.peername] as Address) : null,
      sockname: this.sockname ? ([...this.sockname] as Address) : null,
      id: this.id,
      transport_protocol: this.transportProtocol,
      error: this.error,
      tls: this.tls,
      certificate_list: this.certificateList.map((c) => Buffer.from(c, 'utf8')),
      alpn: this.alpn === null ? null : Buffer.from(this.alpn, 'latin1'),
      alpn_offers: this.alpnOffers.map((a) => Buffer.from(a, 'latin1')),
      cipher: this.cipher,
      cipher_list: [...this.cipherList],
      tls_version: this.tlsVersion,
      sni: this.sni,
      timestamp_start: this.timestampStart,
      timestamp_end: this.timestampEnd,
      timestamp_tls_setup: this.timestampTlsSetup,
    };
  }

  protected setBaseState(s: ConnectionState): void {
    this.peername = s.peername ? ([...s.peername] as Address) : null;
    this.sockname = s.sockname ? ([...s.sockname] as Address) : null;
    this.id = s.id;
    this.transportProtocol = s.transport_protocol;
    this.error = s.error;
    this.tls = s.tls;
    this.certificateList = s.certificate_list.map((c) => Buffer.from(c).toString('utf8'));
    this.alpn = s.alpn === null ? null : Buffer.from(s.alpn).toString('latin1');
    this.alpnOffers = s.alpn_offers.map((a) => Buffer.from(a).toString('latin1'));
    this.cipher = s.cipher;
    this.cipherList = [...s.cipher_list];
    this.tlsVersion = s.tls_version;
    this.sni = s.sni;
    this.timestampStart = s.timestamp_start;
    this.timestampEnd = s.timestamp_end;
    this.timestampTlsSetup = s.timestamp_tls_setup;
  }
}

/** The connection between a client and the proxy. */
export class Client extends Connection {
  /** PEM of the certificate we presented to the client. */
  mitmcert: string | null = null;
  /** The full mode spec of the listener that accepted this client, e.g. "regular" or "socks5@1080". */
  proxyMode = 'regular';

  constructor(init?: { peername?: Address | null; sockname?: Address | null; timestampStart?: number; proxyMode?: string }) {
    super();
    if (init?.peername !== undefined) this.peername = init.peername;
    if (init?.sockname !== undefined) this.sockname = init.sockname;
    if (init?.timestampStart !== undefined) this.timestampStart = init.timestampStart;
    if (init?.proxyMode !== undefined) this.proxyMode = init.proxyMode;
  }

  getState(): ClientState {
    return {
      ...this.baseState(),
      timestamp_start: this.timestampStart ?? 0,
      mitmcert: this.mitmcert === null ? null : Buffer.from(this.mitmcert, 'utf8'),
      proxy_mode: this.proxyMode,
    };
  }

  setState(s: ClientState): void {
    this.setBaseState(s);
    this.mitmcert = s.mitmcert === null ? null : Buffer.from(s.mitmcert).toString('utf8');
    this.proxyMode = s.proxy_mode;
  }

  static fromState(s: ClientState): Client {
    const c = new Client();
    c.setState(s);
    return c;
  }

  /** As mitmproxy prints a client: `Client([::1]:5555, state=open, alpn=h2)`. */
  override toString(): string {
    return `Client(${formatAddress(this.peername)}, state=${this.stateText()}${this.tlsText()})`;
  }
}

/** The connection between the proxy and an upstream server. */
export class Server extends Connection {
  /** Where we were asked to connect (host name or IP and port). */
  address: [string, number] | null = null;
  timestampTcpSetup: number | null = null;
  /** An upstream proxy this connection goes through. */
  via: Via | null = null;

  constructor(init?: { address?: [string, number] | null }) {
    super();
    if (init?.address !== undefined) this.address = init.address;
  }

  getState(): ServerState {
    return {
      ...this.baseState(),
      address: this.address ? [this.address[0], this.address[1]] : null,
      timestamp_tcp_setup: this.timestampTcpSetup,
      via: this.via ? [this.via[0], [this.via[1][0], this.via[1][1]]] : null,
    };
  }

  setState(s: ServerState): void {
    this.setBaseState(s);
    this.address = s.address ? [s.address[0], s.address[1]] : null;
    this.timestampTcpSetup = s.timestamp_tcp_setup;
    this.via = s.via ? [s.via[0], [s.via[1][0], s.via[1][1]]] : null;
  }

  static fromState(s: ServerState): Server {
    const c = new Server();
    c.setState(s);
    return c;
  }

  /** As mitmproxy prints a server: `Server([::1]:443, state=open, tls, src_port=50712)`. */
  override toString(): string {
    const localPort = this.sockname ? `, src_port=${this.sockname[1]}` : '';
    return `Server(${formatAddress(this.address)}, state=${this.stateText()}${this.tlsText()}${localPort})`;
  }
}

/** "host:port" as mitmproxy shows addresses: IPv6 hosts in brackets, IPv4-mapped ones as IPv4, "*:port" for every interface. */
export function formatAddress(addr: Address | readonly [string, number] | null | undefined): string {
  if (!addr) return '<no address>';
  const [rawHost, port] = addr;
  const host = unmappedAddress(rawHost);
  // A listener on every interface, as mitmproxy shows it.
  if (host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host))) return `*:${port}`;
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
