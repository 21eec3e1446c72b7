import { Resolver, getServers, promises as dnsPromises } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Loader } from '../addonmanager.js';
import { parseAuthority } from '../http.js';
import { DNSResourceRecord, DnsClass, DnsOpcode, DnsRcode, DnsType, ipToRdata, type DNSFlow, type DNSMessage, type DNSQuestion } from '../dns.js';
import type { Master } from '../master.js';
import { modeType } from './util/mode.js';


/** Where the system keeps its host names (getaddrinfo reads it too). */
const HOSTS_FILE = '/etc/hosts';

/** A lookup that found nothing: NXDOMAIN when the name does not exist, SERVFAIL when the lookup itself failed. */
class ResolveError extends Error {
  constructor(readonly responseCode: number) {
    super(`DNS response code ${responseCode}`);
  }
}

/**
 * The DNS server of `--mode dns`: A and AAAA queries are answered by the proxy itself, from the
 * hosts file and the name servers (`dns_name_servers`, or the system's), so a client sees what
 * a program on the proxy's machine would resolve. Every other query (and every query when
 * `dns_use_hosts_file` is off) is forwarded to the first name server. A script's `dns_request`
 * that sets a response or an error comes first: the resolver then leaves the flow alone.
 */
export class DnsResolver {
  readonly name = 'dnsresolver';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('dns_use_hosts_file', 'bool', true, 'Use the hosts file for DNS lookups in regular DNS mode/wireguard mode.');
    loader.addOption(
      'dns_name_servers',
      'sequence of str',
      [],
      "Name servers to use for lookups. Default: operating system's name servers",
    );
  }

  /** `dns_name_servers`, or the operating system's; entries may carry a port ("127.0.0.1:5353", "[::1]:5353"). */
  private nameServers(): string[] {
    const configured = this.master.options.get<string[]>('dns_name_servers');
    return configured.length ? configured : getServers();
  }

  async dns_request(flow: DNSFlow): Promise<void> {
    const shouldResolve = modeType(flow.clientConn.proxyMode) === 'dns' && flow.live && !flow.response && !flow.error;
    if (!shouldResolve) return;
    const req = flow.request;
    // One address question, as mitmproxy asks: a query without a question, or with several
    // (which name servers refuse), is the name server's to answer.
    const q = req.query && req.opCode === DnsOpcode.QUERY ? req.question : undefined;
    const ipLookup = q !== undefined && (q.type === DnsType.A || q.type === DnsType.AAAA) && q.class_ === DnsClass.IN;
    if (ipLookup && this.master.options.get<boolean>('dns_use_hosts_file')) {
      flow.response = await this.resolveMessage(req, q);
    } else if (!flow.serverConn.address) {
      const first = this.nameServers()[0];
      if (first) flow.serverConn.address = parseServer(first);
    }
  }

  private async resolveMessage(message: DNSMessage, q: DNSQuestion): Promise<DNSMessage> {
    try {
      const addresses = await this.lookup(q.name, q.type === DnsType.A ? 4 : 6);
      return message.succeed(addresses.map((ip) => new DNSResourceRecord(q.name, q.type, q.class_, DNSResourceRecord.DEFAULT_TTL, ipToRdata(ip))));
    } catch (e) {
      if (e instanceof ResolveError) return message.fail(e.responseCode);
      throw e;
    }
  }

  /**
   * The addresses of `name`: with no name servers configured, as the system resolves it
   * (getaddrinfo: the hosts file, then the system's servers); with `dns_name_servers`, from the
   * hosts file first, then by asking those servers.
   */
  private async lookup(name: string, family: 4 | 6): Promise<string[]> {
    const servers = this.master.options.get<string[]>('dns_name_servers');
    try {
      if (servers.length === 0) return await systemLookup(name, family);
      const fromHosts = await hostsFileAddresses(name, family);
      if (fromHosts.length) return fromHosts;
      const resolver = new Resolver({ timeout: 5000, tries: 2 });
      resolver.setServers(servers);
      return await new Promise<string[]>((resolve, reject) => {
        const done = (err: NodeJS.ErrnoException | null, addresses: string[]) => (err ? reject(err) : resolve(addresses));
        if (family === 4) resolver.resolve4(name, done);
        else resolver.resolve6(name, done);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // "No such name" is NXDOMAIN; "the name exists but has no address of this family" is an
      // empty NOERROR answer; anything else (no server reachable, a timeout) is SERVFAIL.
      if (code === 'ENOTFOUND') throw new ResolveError(DnsRcode.NXDOMAIN);
      if (code === 'ENODATA') return [];
      throw new ResolveError(DnsRcode.SERVFAIL);
    }
  }
}

/**
 * getaddrinfo for one address family. It says "not found" both for a name that does not exist and
 * for one without addresses of that family; the second is an empty NOERROR answer, not NXDOMAIN
 * (which would tell the client the name has no addresses of any kind), so the other family decides.
 */
async function systemLookup(name: string, family: 4 | 6): Promise<string[]> {
  try {
    return (await dnsPromises.lookup(name, { family, all: true })).map((a) => a.address);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTFOUND') throw e;
    const other = await dnsPromises.lookup(name, { family: family === 4 ? 6 : 4, all: true }).catch(() => []);
    if (other.length > 0) return [];
    throw e;
  }
}

/** A name server entry ("8.8.8.8", "127.0.0.1:5353", "[::1]:5353", "::1") as an address, port 53 by default. */
export function parseServer(spec: string): [string, number] {
  // A bare IPv6 address is all colons; anything else is an authority with an optional port.
  const authority = isIP(spec) === 6 ? null : parseAuthority(spec);
  return authority ? [authority.host, authority.port ?? 53] : [spec, 53];
}

/** Addresses the hosts file gives `name` (case-insensitive, comments ignored), of one family. */
async function hostsFileAddresses(name: string, family: 4 | 6): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(HOSTS_FILE, 'utf8');
  } catch {
    return [];
  }
  const wanted = name.toLowerCase().replace(/\.$/, '');
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!ip || isIP(ip) !== family) continue;
    if (names.some((n) => n.toLowerCase() === wanted)) found.push(ip);
  }
  return found;
}
