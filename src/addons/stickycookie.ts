import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { cookieAttr, parseSetCookieHeader } from '../io/cookies.js';
import { now } from '../util/time.js';
import { cookieIsExpired, formatCookieHeader } from './util/cookies.js';
import { filterOption } from './util/filteroption.js';
import type { FlowMatcher } from './util/spec.js';
import { stripChar } from '../util/strip-char.js';

/** Python's http.cookiejar.is_HDN: a host name, not an IPv4 address, without leading/trailing dot. */
function isHostDomainName(text: string): boolean {
  if (/\.\d+$/.test(text)) return false;
  if (text === '') return false;
  return !text.startsWith('.') && !text.endsWith('.');
}

/** Python's http.cookiejar.domain_match (RFC 2965 domain matching, including its looseness). */
function cookiejarDomainMatch(a: string, b: string): boolean {
  const A = a.toLowerCase();
  const B = b.toLowerCase();
  if (A === B) return true;
  if (!isHostDomainName(A)) return false;
  const i = A.lastIndexOf(B);
  if (i === -1 || i === 0) return false;
  if (!B.startsWith('.')) return false;
  return isHostDomainName(B.slice(1));
}

/** Whether a request host may receive a cookie stored for `domain` (with or without a leading dot). */
export function domainMatch(host: string, domain: string): boolean {
  return cookiejarDomainMatch(host, domain) || cookiejarDomainMatch(host, stripChar(domain, '.'));
}

/** A jar key: the cookie's (domain, port, path). */
type Origin = string;
const originKey = (domain: string, port: number, path: string): Origin => JSON.stringify([domain, port, path]);

/**
 * `stickycookie FILTER`: a cookie jar keyed by (domain, port, path). Set-Cookie headers of every
 * response are recorded (expired cookies removed); requests matching the filter get a Cookie
 * header with every stored cookie whose domain, port and path fit (it replaces the request's own
 * Cookie header, as in mitmproxy), and `metadata["stickycookie"] = true`.
 */
export class StickyCookie {
  readonly name = 'stickycookie';
  private master!: Master;
  private filter: FlowMatcher | null = null;
  /** origin -> cookie name -> value, in insertion order. */
  readonly jar = new Map<Origin, { domain: string; port: number; path: string; cookies: Map<string, string | null> }>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('stickycookie', 'optional str', null, 'Set sticky cookie filter. Matched against requests.');
  }

  configure(updated: Set<string>): void {
    if (updated.has('stickycookie')) this.filter = filterOption(this.master.options.get<string | null>('stickycookie'));
  }

  response(flow: HTTPFlow): void {
    if (!this.filter || !flow.response) return;
    const t = now();
    for (const header of flow.response.headers.getAll('set-cookie')) {
      for (const c of parseSetCookieHeader(header)) {
        const domainAttr = cookieAttr(c.attrs, 'domain');
        const pathAttr = cookieAttr(c.attrs, 'path');
        const domain = domainAttr.found && domainAttr.value !== null ? domainAttr.value : flow.request.host;
        const path = pathAttr.found && pathAttr.value !== null ? pathAttr.value : '/';
        const port = flow.request.port;
        if (!domainMatch(flow.request.host, domain)) continue;
        const key = originKey(domain, port, path);
        if (cookieIsExpired(c.attrs, t)) {
          const entry = this.jar.get(key);
          if (entry) {
            entry.cookies.delete(c.name);
            if (entry.cookies.size === 0) this.jar.delete(key);
          }
        } else {
          let entry = this.jar.get(key);
          if (!entry) {
            entry = { domain, port, path, cookies: new Map() };
            this.jar.set(key, entry);
          }
          entry.cookies.set(c.name, c.value);
        }
      }
    }
  }

  request(flow: HTTPFlow): void {
    if (!this.filter) return;
    const pairs: Array<[string, string | null]> = [];
    if (this.filter.match(flow)) {
      const req = flow.request;
      for (const { domain, port, path, cookies } of this.jar.values()) {
        if (domainMatch(req.host, domain) && req.port === port && req.path.startsWith(path)) pairs.push(...cookies);
      }
    }
    if (pairs.length) {
      flow.metadata['stickycookie'] = true;
      flow.request.headers.set('cookie', formatCookieHeader(pairs));
    }
  }
}
