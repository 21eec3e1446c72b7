/**
 * LDAP credential checks for `proxyauth=ldap[s]:host[:port]:bind_dn:bind_password:dn_subtree[?search_filter_key=key]`,
 * as mitmproxy does them: bind as `bind_dn`, search `dn_subtree` for `(key=<username>)`, then
 * bind as the entry found with the user's password.
 *
 * Where mitmproxy blocks its event loop on each check and waits as long as the server does, here
 * every check is asynchronous and given up on after {@link LDAP_TIMEOUT_MS}, concurrent checks
 * of the same credentials share one round trip, and `ldaps` verifies the server's certificate.
 */
import { Client, EqualityFilter, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { OptionsError } from '../../optmanager.js';
import { isValidHost } from '../../util/valid-host.js';
import { credentialsKey } from './credentials-key.js';

/**
 * How long one check (search and user bind together), the bind at configure time, and each LDAP
 * operation may take. A down or stopped server must fail a request with 407, not hold it.
 */
export const LDAP_TIMEOUT_MS = 5000;

/** A parsed LDAP `proxyauth` spec. */
export interface LdapSpec {
  /** `ldaps`: TLS from the first byte. */
  secure: boolean;
  host: string;
  /** 389 or 636 when the spec has none. */
  port: number;
  bindDn: string;
  bindPassword: string;
  /** The search base. */
  dnSubtree: string;
  /** The attribute the username is compared with (`cn` unless `?search_filter_key=` says otherwise). */
  filterKey: string;
}

/** An attribute description (RFC 4512): a name or numeric OID, with options such as `;lang-en`. */
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

/**
 * Parse a spec as mitmproxy does: more than four colons means a port is present, `ldap` or
 * `ldaps` first, and an optional `?search_filter_key=key` after the subtree. Also refused here
 * (mitmproxy fails on them later, at connect or search time): an empty or malformed host or
 * filter key and a port outside 1-65535.
 */
export function parseLdapSpec(spec: string): LdapSpec {
  const parts = spec.split(':');
  const invalid = () => new OptionsError(`Invalid LDAP specification: ${redactLdapSpec(parts)}`);
  const hasPort = parts.length > 5;
  if (parts.length !== (hasPort ? 6 : 5)) throw invalid();
  const [scheme, host, ...rest] = parts as [string, string, ...string[]];
  let port: number | null = null;
  if (hasPort) {
    const p = rest.shift()!;
    if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw invalid();
    port = Number(p);
  }
  const [bindDn, bindPassword, subtreeAndQuery] = rest as [string, string, string];
  if (scheme !== 'ldap' && scheme !== 'ldaps') throw invalid();
  if (!isValidHost(host, true)) throw invalid();
  let dnSubtree = subtreeAndQuery;
  let filterKey = 'cn';
  if (subtreeAndQuery.includes('?')) {
    const q = subtreeAndQuery.split('?');
    if (q.length !== 2) throw invalid();
    const kv = q[1]!.split('=');
    if (kv.length !== 2 || kv[0] !== 'search_filter_key' || !ATTRIBUTE.test(kv[1]!)) throw invalid();
    dnSubtree = q[0]!;
    filterKey = kv[1]!;
  }
  const secure = scheme === 'ldaps';
  return { secure, host, port: port ?? (secure ? 636 : 389), bindDn, bindPassword, dnSubtree, filterKey };
}

/**
 * The spec for an error message without its bind password (mitmproxy repeats the whole spec,
 * and messages end up in logs and the web UI's event log). When the fields cannot be told apart,
 * the expected form is shown instead.
 */
function redactLdapSpec(parts: string[]): string {
  if (parts.length !== 5 && parts.length !== 6) return 'expected ldap[s]:host[:port]:bind_dn:password:dn_subtree[?search_filter_key=key]';
  const shown = [...parts];
  shown[parts.length - 2] = '********';
  return shown.join(':');
}

/**
 * An LDAP failure as a person reads it. A result code is named ("invalid credentials (result
 * code 49)"), as the server's own text is often empty and ldapts then says only " Code: 0x31".
 */
export function describeLdapError(e: unknown): string {
  if (e instanceof ResultCodeError) {
    const name = e.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    const text = e.message.replace(/\s*Code: 0x[0-9a-f]+$/, '').trim();
    return `${name} (result code ${e.code})${text ? `: ${text}` : ''}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Reject after `ms` unless `p` settles first; `onTimeout` releases what `p` waits on. */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms / 1000} s`));
    }, ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Credential checks against one LDAP server, over a connection bound as the spec's bind DN. */
export class LdapAuth {
  private readonly url: string;
  /** The bind-DN connection that searches; ldapts sends concurrent searches over it at once. */
  private readonly service: Client;
  /** The bind of `service` in progress, so a reconnect after the server dropped it happens once. */
  private serviceBind: Promise<void> | null = null;
  /** Checks in progress by credentials, so concurrent checks of the same ones share one round trip. */
  private readonly pending = new Map<string, Promise<boolean>>();
  /** Per-check connections still open, closed with the rest by `close`. */
  private readonly userClients = new Set<Client>();
  private closed = false;

  private constructor(private readonly spec: LdapSpec) {
    this.url = `${spec.secure ? 'ldaps' : 'ldap'}://${spec.host}:${spec.port}`;
    this.service = this.newClient();
  }

  /** Connect and bind as the spec's bind DN; an OptionsError when that fails. */
  static async connect(spec: LdapSpec): Promise<LdapAuth> {
    const auth = new LdapAuth(spec);
    try {
      await auth.bindService();
    } catch (e) {
      await auth.close();
      throw new OptionsError(`Could not bind to LDAP server ${auth.url} as ${JSON.stringify(spec.bindDn)}: ${describeLdapError(e)}`);
    }
    return auth;
  }

  /**
   * Whether the server knows these credentials. Empty ones never pass: an LDAP simple bind with
   * a DN and no password is an unauthenticated bind, which some servers (Active Directory among
   * them) accept. Rejects when the server fails, does not answer in time, or this was closed; a
   * wrong password resolves false.
   */
  check(username: string, password: string): Promise<boolean> {
    if (!username || !password) return Promise.resolve(false);
    if (this.closed) return Promise.reject(new Error('LDAP authentication was reconfigured or stopped'));
    const key = credentialsKey(username, password);
    let p = this.pending.get(key);
    if (!p) {
      p = this.lookupAndBind(username, password).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Close every connection; later checks reject. */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [this.service, ...this.userClients];
    this.userClients.clear();
    // unbind() ends the socket even when the server does not answer (ldapts destroys it once the
    // request is written), and the client's own timeout bounds the rest.
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
  }

  private newClient(): Client {
    // Node's default TLS checks apply to ldaps (trusted CA, host name); NODE_EXTRA_CA_CERTS adds
    // a private CA. autoRebind: a search after the server dropped the connection binds again
    // first instead of running anonymously.
    return new Client({ url: this.url, timeout: LDAP_TIMEOUT_MS, connectTimeout: LDAP_TIMEOUT_MS, autoRebind: true });
  }

  private bindService(): Promise<void> {
    // ldapts's own timeout closes the connection; this one also bounds a slow TLS handshake.
    this.serviceBind ??= withTimeout(this.service.bind(this.spec.bindDn, this.spec.bindPassword), LDAP_TIMEOUT_MS, () => undefined).finally(() => {
      this.serviceBind = null;
    });
    return this.serviceBind;
  }

  private lookupAndBind(username: string, password: string): Promise<boolean> {
    let user: Client | null = null;
    let gaveUp = false;
    const closeUser = () => {
      if (!user) return;
      this.userClients.delete(user);
      void user.unbind().catch(() => undefined);
      user = null;
    };
    const run = async (): Promise<boolean> => {
      if (!this.service.isBound) await this.bindService();
      const { searchEntries } = await this.service.search(this.spec.dnSubtree, {
        scope: 'sub',
        // Built as a filter, not written as a string for ldapts to parse: the username is only
        // ever compared for equality (no `*` or `)` to escape), and a filter key the spec allows
        // (an OID, an attribute option) is sent as it is, where ldapts's parser rejects it.
        filter: new EqualityFilter({ attribute: this.spec.filterKey, value: username }),
        // Only the DN is needed; mitmproxy too binds as the first entry found (of several entries
        // with the name, the server sends one and ldapts takes the size limit as no error).
        attributes: ['1.1'],
        sizeLimit: 1,
      });
      const dn = searchEntries[0]?.dn;
      if (!dn || gaveUp) return false;
      // A bind changes who a connection is, so the user's bind gets a connection of its own.
      const client = this.newClient();
      user = client;
      this.userClients.add(client);
      try {
        await client.bind(dn, password);
        return true;
      } catch (e) {
        if (e instanceof InvalidCredentialsError) return false;
        throw e;
      } finally {
        closeUser();
      }
    };
    // On timeout, closing the user's connection also ends a bind that is still waiting.
    return withTimeout(run(), LDAP_TIMEOUT_MS, () => {
      gaveUp = true;
      closeUser();
    }).catch((e: unknown) => {
      throw new Error(`LDAP server ${this.url}: ${describeLdapError(e)}`);
    });
  }
}
