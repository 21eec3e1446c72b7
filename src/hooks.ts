import type { LayerName } from './proxy/next-layer.js';
import type { Client, Server } from './connection.js';
import type { HTTPFlow } from './http.js';
import type { TCPFlow, UDPFlow } from './tcp.js';
import type { DNSFlow } from './dns.js';
import type { AnyFlow } from './flows.js';
import type { Loader } from './addonmanager.js';
import type { LogEntry } from './log.js';

/** The data of `server_connect`, `server_connected`, `server_disconnected`, `server_connect_error`. */
export interface ServerConnectionHookData {
  client: Client;
  server: Server;
}

/** What a TLS ClientHello says (parsed by proxy/clienthello.ts). */
export interface ClientHello {
  /** Server Name Indication, or null when the client sent none. */
  sni: string | null;
  /** ALPN protocols offered, in order. */
  alpnProtocols: string[];
  /** Cipher suite numbers offered. */
  cipherSuites: number[];
  /** Extensions as [type, raw data] in order. */
  extensions: Array<[number, Buffer]>;
  /** Versions from supported_versions (e.g. 0x0304), or the legacy version when absent. */
  supportedVersions: number[];
  /** The complete ClientHello record(s) as received. */
  raw: Buffer;
}

/** Where a connection stands when a TLS or layer hook fires. */
export interface ConnectionContext {
  client: Client;
  server: Server;
}

/** `tls_clienthello`: set `ignoreConnection` to pass the TLS bytes through untouched. */
export interface ClientHelloData {
  context: ConnectionContext;
  clientHello: ClientHello;
  ignoreConnection: boolean;
  establishServerTlsFirst: boolean;
}

/** `tls_start_*`, `tls_established_*`, `tls_failed_*`. */
export interface TlsData {
  /** The connection TLS is set up on (the client or the server side). */
  conn: Client | Server;
  context: ConnectionContext;
  isDtls: boolean;
  /** Node TLS options an addon may adjust before the handshake starts. */
  settings: Record<string, unknown>;
}

/** `socks5_auth`: set `valid` to accept the credentials. */
export interface Socks5AuthData {
  clientConn: Client;
  username: string;
  password: string;
  valid: boolean;
}

/** `next_layer`: an addon may choose the protocol layer by setting `layer`. */
export interface NextLayerData {
  context: ConnectionContext;
  /** Bytes received from the client so far. */
  dataClient(): Buffer;
  /** Bytes received from the server so far. */
  dataServer(): Buffer;
  /**
   * The layer the proxy chose; set it to change the choice: "http" (HTTP/1 or HTTP/2 as the
   * bytes say), "tls" (intercept TLS), "tcp" (a recorded TCP flow) or "ignore" (relay the bytes
   * untouched, unrecorded). null leaves the proxy's choice.
   */
  layer: LayerName | null;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * An addon: any object with methods named after mitmproxy's hooks. Every method is optional and
 * may be async; `addons` lists child addons that are called right after their parent.
 */
export interface Addon {
  /** Unique addon name (defaults to the lower-cased class name). */
  name?: string;
  addons?: Addon[];

  load?(loader: Loader): MaybePromise<void>;
  configure?(updated: Set<string>): MaybePromise<void>;
  running?(): MaybePromise<void>;
  done?(): MaybePromise<void>;
  update?(flows: AnyFlow[]): MaybePromise<void>;
  add_log?(entry: LogEntry): MaybePromise<void>;

  client_connected?(client: Client): MaybePromise<void>;
  client_disconnected?(client: Client): MaybePromise<void>;
  server_connect?(data: ServerConnectionHookData): MaybePromise<void>;
  server_connected?(data: ServerConnectionHookData): MaybePromise<void>;
  server_disconnected?(data: ServerConnectionHookData): MaybePromise<void>;
  server_connect_error?(data: ServerConnectionHookData): MaybePromise<void>;

  requestheaders?(flow: HTTPFlow): MaybePromise<void>;
  request?(flow: HTTPFlow): MaybePromise<void>;
  responseheaders?(flow: HTTPFlow): MaybePromise<void>;
  response?(flow: HTTPFlow): MaybePromise<void>;
  error?(flow: HTTPFlow): MaybePromise<void>;
  http_connect?(flow: HTTPFlow): MaybePromise<void>;
  http_connect_upstream?(flow: HTTPFlow): MaybePromise<void>;
  http_connected?(flow: HTTPFlow): MaybePromise<void>;
  http_connect_error?(flow: HTTPFlow): MaybePromise<void>;

  websocket_start?(flow: HTTPFlow): MaybePromise<void>;
  websocket_message?(flow: HTTPFlow): MaybePromise<void>;
  /** Every WebSocket conversation ends here, a killed one too (its error is "Connection killed."). */
  websocket_end?(flow: HTTPFlow): MaybePromise<void>;

  tcp_start?(flow: TCPFlow): MaybePromise<void>;
  tcp_message?(flow: TCPFlow): MaybePromise<void>;
  tcp_end?(flow: TCPFlow): MaybePromise<void>;
  /** Every TCP flow gets either `tcp_end` or `tcp_error`; a killed flow gets `tcp_error`. */
  tcp_error?(flow: TCPFlow): MaybePromise<void>;
  udp_start?(flow: UDPFlow): MaybePromise<void>;
  udp_message?(flow: UDPFlow): MaybePromise<void>;
  udp_end?(flow: UDPFlow): MaybePromise<void>;
  /** Every UDP flow gets either `udp_end` or `udp_error`; a killed flow gets `udp_error`. */
  udp_error?(flow: UDPFlow): MaybePromise<void>;
  dns_request?(flow: DNSFlow): MaybePromise<void>;
  dns_response?(flow: DNSFlow): MaybePromise<void>;
  /** A query that failed or was killed in `dns_request`; the client is answered SERVFAIL. */
  dns_error?(flow: DNSFlow): MaybePromise<void>;

  tls_clienthello?(data: ClientHelloData): MaybePromise<void>;
  tls_start_client?(data: TlsData): MaybePromise<void>;
  tls_start_server?(data: TlsData): MaybePromise<void>;
  tls_established_client?(data: TlsData): MaybePromise<void>;
  tls_established_server?(data: TlsData): MaybePromise<void>;
  tls_failed_client?(data: TlsData): MaybePromise<void>;
  tls_failed_server?(data: TlsData): MaybePromise<void>;

  socks5_auth?(data: Socks5AuthData): MaybePromise<void>;
  next_layer?(data: NextLayerData): MaybePromise<void>;

  /**
   * Not a hook: whether this addon's handler for `hook` only reads the flow, never changing,
   * dropping, killing or intercepting it. When every handler that would see a WebSocket or TCP
   * message (its message hook and `update`) says so, the proxy forwards the message first and runs
   * the hooks right after, which takes them off the message's round trip. Addons without it are
   * assumed to modify, and messages wait for them as mitmproxy's do.
   */
  readsOnly?(hook: string): boolean;
}

/** Every hook name, in mitmproxy's spelling. */
export const HOOK_NAMES = [
  'load', 'configure', 'running', 'done', 'update', 'add_log',
  'client_connected', 'client_disconnected', 'server_connect', 'server_connected', 'server_disconnected', 'server_connect_error',
  'requestheaders', 'request', 'responseheaders', 'response', 'error',
  'http_connect', 'http_connect_upstream', 'http_connected', 'http_connect_error',
  'websocket_start', 'websocket_message', 'websocket_end',
  'tcp_start', 'tcp_message', 'tcp_end', 'tcp_error',
  'udp_start', 'udp_message', 'udp_end', 'udp_error',
  'dns_request', 'dns_response', 'dns_error',
  'tls_clienthello', 'tls_start_client', 'tls_start_server', 'tls_established_client', 'tls_established_server',
  'tls_failed_client', 'tls_failed_server',
  'quic_start_client', 'quic_start_server',
  'socks5_auth', 'next_layer',
] as const;

export type HookName = (typeof HOOK_NAMES)[number];

/** Hooks whose argument is a flow; each is followed by `update([flow])` and waits while the flow is intercepted. */
export const FLOW_HOOKS: ReadonlySet<string> = new Set([
  'requestheaders', 'request', 'responseheaders', 'response', 'error',
  'http_connect', 'http_connect_upstream', 'http_connected', 'http_connect_error',
  'websocket_start', 'websocket_message', 'websocket_end',
  'tcp_start', 'tcp_message', 'tcp_end', 'tcp_error',
  'udp_start', 'udp_message', 'udp_end', 'udp_error',
  'dns_request', 'dns_response', 'dns_error',
]);
