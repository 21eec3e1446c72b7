import { readFileSync } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import type { Client } from '../connection.js';
import type { Socks5AuthData } from '../hooks.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError, expandHome } from '../optmanager.js';
import { HtpasswdFile, HtpasswdError } from './util/htpasswd.js';
import { modeType } from './util/mode.js';

const REALM = 'mitmproxy';

/** Checks a username and password. */
export type Validator = (username: string, password: string) => boolean;

/** Build the validator for a `proxyauth` value; throws OptionsError for an invalid one. */
export function makeValidator(spec: string): Validator {
  if (spec === 'any') return () => true;
  if (spec.startsWith('@')) {
    const path = expandHome(spec.slice(1));
    let file: HtpasswdFile;
    try {
      file = new HtpasswdFile(readFileSync(path, 'utf8'));
    } catch (e) {
      const why = e instanceof HtpasswdError ? e.message : (e as NodeJS.ErrnoException).code === 'ENOENT' ? `Htpasswd file not found: ${path}` : (e as Error).message;
      throw new OptionsError(`Could not open htpasswd file: ${path} (${why})`);
    }
    return (u, p) => file.checkPassword(u, p);
  }
  if (spec.startsWith('ldap')) {
    // The spec holds the LDAP bind password, so it is not repeated in the message.
    throw new OptionsError('LDAP proxy authentication (proxyauth=ldap[s]:...) is not supported yet by mitmproxy-ts. Use "username:pass", "any" or "@path" to an htpasswd file.');
  }
  if (spec.includes(':')) {
    // Exactly "user:pass", as mitmproxy splits it (a password cannot contain a colon).
    const parts = spec.split(':');
    if (parts.length !== 2) throw new OptionsError('Invalid single-user auth specification.');
    const [user, pass] = parts as [string, string];
    return (u, p) => u === user && p === pass;
  }
  throw new OptionsError('Invalid proxyauth specification.');
}

/** Split a `Basic <base64(user:pass)>` header value; null when it is not one. */
export function parseBasicAuth(value: string): [user: string, pass: string] | null {
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'basic') return null;
  const decoded = Buffer.from(parts[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** `Basic <base64(user:pass)>`. */
export function basicAuthValue(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
}

/** Whether the client talks to us as to a proxy (regular and upstream modes) rather than a server. */
function isHttpProxy(flow: HTTPFlow): boolean {
  const t = modeType(flow.clientConn.proxyMode);
  return t === 'regular' || t === 'upstream';
}

/** The 407 (proxy) or 401 (server) answer asking for Basic credentials. */
export function authRequiredResponse(isProxy: boolean): Response {
  const status = isProxy ? 407 : 401;
  const reason = isProxy ? 'Proxy Authentication Required' : 'Unauthorized';
  const headers: Record<string, string> = { [isProxy ? 'Proxy-Authenticate' : 'WWW-Authenticate']: `Basic realm="${REALM}"` };
  return Response.make(status, `<html><head><title>${status} ${reason}</title></head><body><h1>${status} ${reason}</h1></body></html>`, headers);
}

/**
 * `proxyauth`: require Basic credentials (user:pass, any, or an htpasswd file). As a proxy
 * (regular and upstream modes) the client is asked with 407 and Proxy-Authorization; in other
 * modes with 401 and Authorization. A connection authenticated by its CONNECT (or SOCKS5
 * handshake) is not asked again for the requests inside the tunnel; replayed requests are not
 * asked at all. Accepted credentials are removed from the request and kept in
 * `metadata["proxyauth"] = [user, pass]`.
 */
export class ProxyAuth {
  readonly name = 'proxyauth';
  private master!: Master;
  private validator: Validator | null = null;
  /** Connections authenticated once for all their requests (by CONNECT or SOCKS5). */
  private readonly authenticated = new WeakMap<Client, [string, string]>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'proxyauth',
      'optional str',
      null,
      'Require proxy authentication. Format: "username:pass", "any" to accept any user/pass combination, "@path" to use an Apache htpasswd file, or "ldap[s]:url_server_ldap[:port]:dn_auth:password:dn_subtree[?search_filter_key=...]" for LDAP authentication.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('proxyauth')) return;
    const spec = this.master.options.get<string | null>('proxyauth');
    this.validator = spec ? makeValidator(spec) : null;
  }

  socks5_auth(data: Socks5AuthData): void {
    if (this.validator && this.validator(data.username, data.password)) {
      data.valid = true;
      this.authenticated.set(data.clientConn, [data.username, data.password]);
    }
  }

  http_connect(flow: HTTPFlow): void {
    if (this.validator && this.authenticateHttp(flow)) {
      this.authenticated.set(flow.clientConn, flow.metadata['proxyauth'] as [string, string]);
    }
  }

  requestheaders(flow: HTTPFlow): void {
    if (!this.validator) return;
    const known = this.authenticated.get(flow.clientConn);
    if (known) flow.metadata['proxyauth'] = [...known];
    else if (flow.isReplay) return;
    else this.authenticateHttp(flow);
  }

  /** Check the flow's credentials: on success strip them and record the user; otherwise answer 407/401. */
  private authenticateHttp(flow: HTTPFlow): boolean {
    const isProxy = isHttpProxy(flow);
    const header = isProxy ? 'Proxy-Authorization' : 'Authorization';
    const creds = parseBasicAuth(flow.request.headers.get(header) ?? '');
    let valid = false;
    if (creds) {
      try {
        valid = this.validator!(creds[0], creds[1]);
      } catch (e) {
        this.master.log.warn(`proxyauth: checking credentials failed: ${(e as Error).message}`);
      }
    }
    if (valid && creds) {
      flow.metadata['proxyauth'] = [creds[0], creds[1]];
      flow.request.headers.delete(header);
      return true;
    }
    flow.response = authRequiredResponse(isProxy);
    return false;
  }
}
