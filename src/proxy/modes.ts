/**
 * Proxy mode specs: `MODE[:DATA][@[LISTEN_HOST:]LISTEN_PORT]`, e.g. "regular", "socks5@1080",
 * "reverse:https://example.com@127.0.0.1:8443", "upstream:http://proxy:3128" (spec core.md c.2).
 */

export type ServerScheme = 'http' | 'https' | 'http3' | 'tls' | 'dtls' | 'tcp' | 'udp' | 'dns' | 'quic';
export const SERVER_SCHEMES: readonly ServerScheme[] = ['http', 'https', 'http3', 'tls', 'dtls', 'tcp', 'udp', 'dns', 'quic'];

/** An upstream server or proxy: scheme and address. */
export interface ServerSpec {
  scheme: ServerScheme;
  address: [host: string, port: number];
}

export type ModeName = 'regular' | 'transparent' | 'upstream' | 'reverse' | 'socks5' | 'dns' | 'wireguard' | 'local' | 'tun';
export type TransportKind = 'tcp' | 'udp' | 'both';

export class ModeSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModeSpecError';
  }
}

const SERVER_SPEC_RE = /^(?:(\w+):\/\/)?([^:/]+|\[.+\])(?::(\d+))?\/?$/;
const DEFAULT_SERVER_PORTS: Partial<Record<ServerScheme, number>> = { http: 80, https: 443, quic: 443, http3: 443, dns: 53 };

/** Parse "[scheme://]host[:port][/]" as mitmproxy's server_spec.parse. */
export function parseServerSpec(spec: string, defaultScheme: ServerScheme): ServerSpec {
  const m = SERVER_SPEC_RE.exec(spec);
  if (!m) throw new ModeSpecError(`Invalid server specification: ${spec}`);
  const scheme = (m[1] ?? defaultScheme) as ServerScheme;
  if (!SERVER_SCHEMES.includes(scheme)) throw new ModeSpecError(`Invalid server scheme: ${scheme}`);
  let host = m[2]!;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!isValidHost(host)) throw new ModeSpecError(`Invalid hostname: ${host}`);
  let port: number;
  if (m[3] !== undefined) port = Number(m[3]);
  else {
    const d = DEFAULT_SERVER_PORTS[scheme];
    if (d === undefined) throw new ModeSpecError('Port specification missing.');
    port = d;
  }
  if (!(port >= 0 && port <= 65535)) throw new ModeSpecError(`Invalid port: ${port}`);
  return { scheme, address: [host, port] };
}

function isValidHost(host: string): boolean {
  if (host.length === 0 || host.length > 255) return false;
  if (host.includes(':')) return /^[0-9a-fA-F:.]+(%\w+)?$/.test(host);
  // Host names and IPv4: letters, digits, hyphens, underscores and dots (no spaces, NUL or slashes).
  return /^[\p{L}\p{N}_.-]+$/u.test(host);
}

/** A parsed proxy mode. */
export class ProxyMode {
  private constructor(
    /** The spec as the user wrote it (the `proxy_mode` of client connections). */
    readonly fullSpec: string,
    readonly type: ModeName,
    /** The part after `mode:` (e.g. the reverse target). */
    readonly data: string,
    readonly customListenHost: string | null,
    readonly customListenPort: number | null,
    /** The target of reverse and upstream modes. */
    readonly server: ServerSpec | null,
  ) {}

  static parse(spec: string): ProxyMode {
    const at = spec.lastIndexOf('@');
    let head = at >= 0 ? spec.slice(0, at) : spec;
    let listenAt = at >= 0 ? spec.slice(at + 1) : '';
    if (head === '') {
      head = listenAt;
      listenAt = '';
    }
    const colon = head.indexOf(':');
    const modeName = (colon >= 0 ? head.slice(0, colon) : head).toLowerCase();
    const data = colon >= 0 ? head.slice(colon + 1) : '';
    let host: string | null = null;
    let port: number | null = null;
    if (listenAt) {
      let portStr = listenAt;
      const c = listenAt.lastIndexOf(':');
      if (c >= 0) {
        host = listenAt.slice(0, c);
        if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
        portStr = listenAt.slice(c + 1);
      }
      if (!/^\d+$/.test(portStr) || Number(portStr) > 65535) throw new ModeSpecError(`Invalid proxy mode specification: ${spec} (invalid port: ${portStr})`);
      port = Number(portStr);
    }
    const noData = () => {
      if (data) throw new ModeSpecError(`Invalid proxy mode specification: ${spec} (mode takes no arguments)`);
    };
    let server: ServerSpec | null = null;
    try {
      switch (modeName) {
        case 'regular':
        case 'transparent':
        case 'socks5':
        case 'dns':
          noData();
          break;
        case 'upstream': {
          server = parseServerSpec(data, 'http');
          if (server.scheme !== 'http' && server.scheme !== 'https') throw new ModeSpecError('invalid upstream proxy scheme');
          break;
        }
        case 'reverse': {
          // ws:// and wss:// targets are HTTP and HTTPS servers (WebSocket starts as an HTTP
          // upgrade); mitmproxy itself only accepts http(s)://, so this is an alias.
          const ws = /^(wss?):\/\//i.exec(data);
          server = parseServerSpec(ws ? (ws[1]!.toLowerCase() === 'wss' ? 'https' : 'http') + data.slice(ws[1]!.length) : data, 'https');
          break;
        }
        case 'wireguard':
        case 'local':
        case 'tun':
          break;
        default:
          throw new ModeSpecError('unknown mode');
      }
    } catch (e) {
      if (e instanceof ModeSpecError && e.message.startsWith('Invalid proxy mode specification')) throw e;
      throw new ModeSpecError(`Invalid proxy mode specification: ${spec} (${(e as Error).message})`);
    }
    return new ProxyMode(spec, modeName as ModeName, data, host, port, server);
  }

  /** The description used in the startup log line ("HTTP(S) proxy listening at *:8080."). */
  get description(): string {
    switch (this.type) {
      case 'regular':
        return 'HTTP(S) proxy';
      case 'transparent':
        return 'Transparent Proxy';
      case 'upstream':
        return 'HTTP(S) proxy (upstream mode)';
      case 'reverse':
        return `reverse proxy to ${this.data}`;
      case 'socks5':
        return 'SOCKS v5 proxy';
      case 'dns':
        return 'DNS server';
      case 'wireguard':
        return 'WireGuard server';
      case 'local':
        return 'Local redirector';
      case 'tun':
        return 'TUN interface';
    }
  }

  get defaultPort(): number | null {
    switch (this.type) {
      case 'socks5':
        return 1080;
      case 'dns':
        return 53;
      case 'wireguard':
        return 51820;
      case 'local':
      case 'tun':
        return null;
      case 'reverse':
        return this.server?.scheme === 'dns' ? 53 : 8080;
      default:
        return 8080;
    }
  }

  get transportProtocol(): TransportKind {
    if (this.type === 'reverse' && this.server) {
      const s = this.server.scheme;
      if (s === 'http3' || s === 'dtls' || s === 'udp' || s === 'quic') return 'udp';
      if (s === 'dns' || s === 'https') return 'both';
      return 'tcp';
    }
    if (this.type === 'dns' || this.type === 'local' || this.type === 'tun') return 'both';
    if (this.type === 'wireguard') return 'udp';
    return 'tcp';
  }

  listenHost(defaultHost: string | null = null): string {
    if (this.customListenHost !== null) return this.customListenHost;
    return defaultHost ?? '';
  }

  listenPort(defaultPort: number | null = null): number | null {
    if (this.customListenPort !== null) return this.customListenPort;
    if (defaultPort !== null) return defaultPort;
    return this.defaultPort;
  }

  toString(): string {
    return this.fullSpec;
  }
}
