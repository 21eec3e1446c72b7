import { readFileSync } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import type { Client } from '../connection.js';
import type { Socks5AuthData } from '../hooks.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError, expandHome } from '../optmanager.js';
import { HtpasswdFile, HtpasswdError } from './util/htpasswd.js';
import { modeType } from './util/mode.js';
import { credentialsKey } from './util/credentials-key.js';

const REALM = 'mitmproxy';
/** At most one "checking credentials failed" warning this often. */
const CHECK_WARNING_INTERVAL_MS = 10_000;

/**
 * Checks a username and password. LDAP answers asynchronously (a network round trip); the others
 * answer at once, and the hooks then stay synchronous.
 */
export interface Validator {
  (username: string, password: string): boolean | Promise<boolean>;
  /** Release what the validator holds open (LDAP connections). */
  close?(): Promise<void>;
}

/** Build the validator for a `proxyauth` value; rejects with an OptionsError for an invalid one. */
export async function makeValidator(spec: string): Promise<Validator> {
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
    // Loaded only when used: the LDAP client is not needed by anyone else.
    const { LdapAuth, parseLdapSpec } = await import('./util/ldap-auth.js');
    const ldap = await LdapAuth.connect(parseLdapSpec(spec));
    return Object.assign((u: string, p: string) => ldap.check(u, p), { close: () => ldap.close() });
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

/** Apply `f` to a value now, or once it is resolved when it is a promise (sync validators stay sync). */
function whenReady<T, R>(value: T | Promise<T>, f: (v: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
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
 * `proxyauth`: require Basic credentials (user:pass, any, an htpasswd file, or LDAP). As a proxy
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
  /**
   * Per connection, the credentials it last proved. A keep-alive connection repeats them on every
   * request, and an LDAP check is a network round trip. Only successes, only for that connection's
   * life, and forgotten when the option changes.
   */
  private proven = new WeakMap<Client, string>();
  /** Bumped by each `proxyauth` change, so a slow earlier configure cannot install its validator over a later one. */
  private generation = 0;
  /** When the last "checking credentials failed" warning was logged, and how many were held back since. */
  private lastCheckWarning = 0;
  private heldBackWarnings = 0;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'proxyauth',
      'optional str',
      null,
      'Require proxy authentication. Format: "username:pass", "any" to accept any user/pass combination, "@path" to use an Apache htpasswd file, or "ldap[s]:url_server_ldap[:port]:dn_auth:password:dn_subtree[?search_filter_key=...]" for LDAP authentication.',
    );
  }

  async configure(updated: Set<string>): Promise<void> {
    if (!updated.has('proxyauth')) return;
    const generation = ++this.generation;
    const spec = this.master.options.get<string | null>('proxyauth');
    // An invalid spec or an LDAP server refusing the bind throws here: the old validator stays.
    const next = spec ? await makeValidator(spec) : null;
    if (generation !== this.generation) {
      await next?.close?.();
      return;
    }
    const old = this.validator;
    this.validator = next;
    this.proven = new WeakMap();
    await old?.close?.();
  }

  /** Close LDAP connections. The validator stays in place, so a late request fails (407) rather than passing. */
  async done(): Promise<void> {
    // A configure still binding to an LDAP server closes what it opened instead of installing it.
    this.generation++;
    await this.validator?.close?.();
  }

  socks5_auth(data: Socks5AuthData): void | Promise<void> {
    if (!this.validator) return;
    return whenReady(this.check(data.clientConn, data.username, data.password), (valid) => {
      if (!valid) return;
      data.valid = true;
      this.authenticated.set(data.clientConn, [data.username, data.password]);
    });
  }

  http_connect(flow: HTTPFlow): void | Promise<void> {
    if (!this.validator) return;
    return whenReady(this.authenticateHttp(flow), (valid) => {
      if (valid) this.authenticated.set(flow.clientConn, flow.metadata['proxyauth'] as [string, string]);
    });
  }

  requestheaders(flow: HTTPFlow): void | Promise<void> {
    if (!this.validator) return;
    const known = this.authenticated.get(flow.clientConn);
    if (known) flow.metadata['proxyauth'] = [...known];
    else if (flow.isReplay) return;
    else return whenReady(this.authenticateHttp(flow), () => undefined);
  }

  /** Check the flow's credentials: on success strip them and record the user; otherwise answer 407/401. */
  private authenticateHttp(flow: HTTPFlow): boolean | Promise<boolean> {
    const isProxy = isHttpProxy(flow);
    const header = isProxy ? 'Proxy-Authorization' : 'Authorization';
    const creds = parseBasicAuth(flow.request.headers.get(header) ?? '');
    const finish = (valid: boolean): boolean => {
      if (valid && creds) {
        flow.metadata['proxyauth'] = [creds[0], creds[1]];
        flow.request.headers.delete(header);
        return true;
      }
      flow.response = authRequiredResponse(isProxy);
      return false;
    };
    return creds ? whenReady(this.check(flow.clientConn, creds[0], creds[1]), finish) : finish(false);
  }

  /**
   * One warning per CHECK_WARNING_INTERVAL_MS while checks fail (an LDAP server that is down fails
   * every request; the event log should say so, not repeat it a thousand times).
   */
  private warnCheckFailed(reason: string): void {
    const t = Date.now();
    if (t - this.lastCheckWarning < CHECK_WARNING_INTERVAL_MS) {
      this.heldBackWarnings++;
      return;
    }
    const more = this.heldBackWarnings ? ` (${this.heldBackWarnings} more failed since the last warning)` : '';
    this.lastCheckWarning = t;
    this.heldBackWarnings = 0;
    this.master.log.warn(`proxyauth: checking credentials failed: ${reason}${more}`);
  }

  /**
   * Ask the validator, unless this connection already proved these credentials. A validator
   * that fails (an LDAP server down or too slow) is a warning and a refusal, never a pass.
   */
  private check(client: Client, username: string, password: string): boolean | Promise<boolean> {
    const key = credentialsKey(username, password);
    if (this.proven.get(client) === key) return true;
    const proven = this.proven;
    const validator = this.validator!;
    const remember = (valid: boolean): boolean => {
      // The option changed while the check ran: its answer was for the old setting.
      if (this.validator !== validator) return false;
      if (valid) proven.set(client, key);
      return valid;
    };
    const failed = (e: unknown): boolean => {
      this.warnCheckFailed((e as Error).message);
      return false;
    };
    let result: boolean | Promise<boolean>;
    try {
      result = validator(username, password);
    } catch (e) {
      return failed(e);
    }
    return result instanceof Promise ? result.then(remember, failed) : remember(result);
  }
}
