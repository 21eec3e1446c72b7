import type { OptManager } from '../optmanager.js';
import net from 'node:net';
import { parseSize } from '../util/human.js';
import { compilePyRegex } from '../flowfilter/pyregex.js';
import { guardRegex, type RegexTester } from '../flowfilter/regex-guard.js';
import { pyStrRepr } from '../io/pyrepr.js';

/**
 * The option values the proxy core reads for every connection or request, parsed once per
 * `configure` instead of being looked up (and size strings re-parsed) on the hot path.
 */
export interface ProxyOptions {
  bodySizeLimit: number | null;
  streamLargeBodies: number | null;
  storeStreamedBodies: boolean;
  validateInboundHeaders: boolean;
  connectionStrategy: 'eager' | 'lazy';
  keepHostHeader: boolean;
  connectAddr: string | null;
  sslInsecure: boolean;
  upstreamCert: boolean;
  http2: boolean;
  websocket: boolean;
  rawtcp: boolean;
  tcpTimeoutMs: number;
  proxyDebug: boolean;
  /** Largest request head we accept (not a mitmproxy option: mitmproxy has no limit). */
  maxHeadSize: number;
  /** Largest response head we accept from a server (likewise). */
  maxResponseHeadSize: number;
  ignoreHosts: RegexTester[];
  allowHosts: RegexTester[];
  tcpHosts: RegexTester[];
  /** Record connections ignore_hosts / allow_hosts pass through as TCP flows. */
  showIgnoredHosts: boolean;
}

export const MAX_HEAD_SIZE = 64 * 1024;
/**
 * Servers' heads may be larger: browsers take up to 256 KiB (Chromium's limit; Firefox takes
 * more), and a site whose cookies or policies add up past 64 KiB must not get a 502 through the
 * proxy while it works without one.
 */
export const MAX_RESPONSE_HEAD_SIZE = 256 * 1024;

/** Host patterns are Python regexes, searched case-insensitively (mitmproxy's re.IGNORECASE). */
function compileHostPatterns(name: string, patterns: readonly string[]): RegexTester[] {
  return patterns.map((p) => {
    try {
      const compiled = compilePyRegex(p, { bytes: false, flags: { ignoreCase: true, multiline: false, dotAll: false } });
      // Host names come from clients (SNI, Host, CONNECT): a runaway pattern is time-limited.
      return guardRegex(compiled.regex, p, compiled.nestedRepetition);
    } catch (e) {
      throw new Error(`Invalid regular expression in ${name}: ${JSON.stringify(p)} (${(e as Error).message})`);
    }
  });
}

/** A size option's value, with mitmproxy's message for one that is not a size. */
function sizeOption(name: string, value: string | null): number | null {
  try {
    return parseSize(value);
  } catch {
    throw new Error(`Invalid ${name} specification: ${value}`);
  }
}

/** connect_addr must be an IP address (mitmproxy's message otherwise). */
function connectAddr(value: string | null): string | null {
  if (!value) return null;
  if (!net.isIP(value)) throw new Error(`Invalid value for connect_addr: ${pyStrRepr(value)}. Specify a valid IP address.`);
  return value;
}

/** The longest timer node keeps (2^31 - 1 ms); a longer one fires after 1 ms instead. */
const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/** tcp_timeout in ms: 0 (no idle timeout) up to what a node timer can hold. */
function tcpTimeoutMs(value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMEOUT_S) {
    throw new Error(`Invalid value for tcp_timeout: ${value}. It must be between 0 and ${MAX_TIMEOUT_S} seconds.`);
  }
  return value * 1000;
}

/**
 * Refuse listen options no listener can use, before the running listeners are stopped for them
 * (a port out of range or a host with control characters would leave the proxy serving nothing).
 */
function checkListenOptions(host: string, port: number | null): void {
  if (port !== null && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`Invalid value for listen_port: ${port}. It must be between 0 and 65535.`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(host)) throw new Error(`Invalid value for listen_host: ${pyStrRepr(host)}.`);
}

/** Read the proxy's option snapshot; throws on an invalid size, address, timeout, listen address or host pattern. */
export function readProxyOptions(o: OptManager): ProxyOptions {
  const get = <T>(n: string, fallback: T): T => (o.has(n) ? (o.get(n) as T) : fallback);
  checkListenOptions(get<string>('listen_host', ''), get<number | null>('listen_port', null));
  // udp_hosts only matters for UDP that reaches the layer decision (WireGuard, local and TUN
  // modes, DTLS), which this proxy does not serve: reverse:udp and dns are fixed layers in
  // mitmproxy too. Its patterns are still checked as tcp_hosts' are.
  compileHostPatterns('udp_hosts', get<string[]>('udp_hosts', []));
  return {
    bodySizeLimit: sizeOption('body_size_limit', get<string | null>('body_size_limit', null)),
    streamLargeBodies: sizeOption('stream_large_bodies', get<string | null>('stream_large_bodies', null)),
    storeStreamedBodies: get('store_streamed_bodies', false),
    validateInboundHeaders: get('validate_inbound_headers', true),
    connectionStrategy: get<string>('connection_strategy', 'eager') === 'lazy' ? 'lazy' : 'eager',
    keepHostHeader: get('keep_host_header', false),
    connectAddr: connectAddr(get<string | null>('connect_addr', null)),
    sslInsecure: get('ssl_insecure', false),
    upstreamCert: get('upstream_cert', true),
    http2: get('http2', true),
    websocket: get('websocket', true),
    rawtcp: get('rawtcp', true),
    tcpTimeoutMs: tcpTimeoutMs(get('tcp_timeout', 600)),
    proxyDebug: get('proxy_debug', false),
    maxHeadSize: MAX_HEAD_SIZE,
    maxResponseHeadSize: MAX_RESPONSE_HEAD_SIZE,
    ignoreHosts: compileHostPatterns('ignore_hosts', get<string[]>('ignore_hosts', [])),
    allowHosts: compileHostPatterns('allow_hosts', get<string[]>('allow_hosts', [])),
    tcpHosts: compileHostPatterns('tcp_hosts', get<string[]>('tcp_hosts', [])),
    showIgnoredHosts: get('show_ignored_hosts', false),
  };
}

/**
 * How long a client may take over one request head or handshake (CONNECT, SOCKS5, ClientHello,
 * the HTTP/2 preface), from its first byte to its last, and a server over its TLS handshake:
 * 60 s as node's headersTimeout, or half of tcp_timeout when that is shorter (so the stall is
 * reported before the idle timeout drops the connection without a word).
 */
export function handshakeTimeoutMs(options: ProxyOptions): number {
  // tcp_timeout 0 means no idle timeout at all (node's setTimeout(0)); the 60 s still apply.
  return options.tcpTimeoutMs > 0 ? Math.min(60_000, options.tcpTimeoutMs / 2) : 60_000;
}
