import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { formatAddress } from '../connection.js';

/**
 * Transparent mode: where was a redirected connection going?
 *
 * After an iptables/nftables REDIRECT (or DNAT) the accepted socket's local address is the proxy's;
 * the address the client dialled is only known to the kernel's connection tracking. mitmproxy asks
 * for it with getsockopt(SO_ORIGINAL_DST), which Node's net API does not offer (and a native addon
 * is ruled out). The same fact is in the conntrack table the kernel exposes as text: each entry
 * lists the tuple the client sent (src=client dst=ORIGINAL) and the tuple of the replies after
 * NAT (src=proxy dst=client). The entry whose reply tuple is our socket, seen from our side,
 * holds the original destination.
 *
 * The table is readable by root only (mode 0440) and per network namespace, which is what a proxy
 * wants. It exists on kernels built with CONFIG_NF_CONNTRACK_PROCFS, a deprecated interface some
 * distributions leave out; without it a transparent listener refuses to start and says why
 * (checkConntrackReadable). A lookup reads the table up to the match (see scanTable).
 */
export const CONNTRACK_TABLE = '/proc/net/nf_conntrack';

export type HostPort = [string, number];

/** Why a connection's original destination could not be learned; logged as "Transparent mode failure: ...". */
export class OriginalDestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OriginalDestinationError';
  }
}

/**
 * One spelling per IP address: the kernel prints IPv6 addresses in full ("0000:...:0001"), Node
 * in short form ("::1"), and a dual-stack socket shows IPv4 peers as "::ffff:127.0.0.1".
 */
export function canonicalIp(ip: string): string {
  const a = ip.toLowerCase();
  if (!a.includes(':')) return a;
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  try {
    // The URL parser writes IPv6 hosts in RFC 5952's compressed form.
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}

interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** The two address tuples of a TCP conntrack entry (the client's original one, then the reply one), or null. */
function parseTcpEntry(line: string): [Tuple, Tuple] | null {
  // "ipv4 2 tcp 6 431999 ESTABLISHED src=… dst=… sport=… dport=… [UNREPLIED] src=… dst=… sport=… dport=… [ASSURED] mark=0 …"
  if (!/^ipv[46]\s+\d+\s+tcp\s/.test(line)) return null;
  const values: Record<'src' | 'dst' | 'sport' | 'dport', string[]> = { src: [], dst: [], sport: [], dport: [] };
  for (const m of line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)) values[m[1] as keyof typeof values].push(m[2]!);
  if (values.src.length < 2 || values.dst.length < 2 || values.sport.length < 2 || values.dport.length < 2) return null;
  const tuple = (i: number): Tuple => ({
    src: canonicalIp(values.src[i]!),
    dst: canonicalIp(values.dst[i]!),
    sport: Number(values.sport[i]),
    dport: Number(values.dport[i]),
  });
  return [tuple(0), tuple(1)];
}

/**
 * The original destination of the connection between `client` and the proxy's `local` end, if
 * `line` is its conntrack entry; null for any other line.
 */
export function originalDestinationIn(line: string, client: HostPort, local: HostPort): HostPort | null {
  const entry = parseTcpEntry(line);
  if (!entry) return null;
  const [original, reply] = entry;
  const matches =
    reply.src === canonicalIp(local[0]) && reply.sport === local[1] && reply.dst === canonicalIp(client[0]) && reply.dport === client[1];
  return matches ? [original.dst, original.dport] : null;
}

/**
 * Check at startup that the conntrack table can be read, so a transparent listener that could
 * never learn a destination fails with the reason instead of dropping every connection.
 */
export async function checkConntrackReadable(table = CONNTRACK_TABLE): Promise<void> {
  try {
    await access(table, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `${table} does not exist (the kernel has no nf_conntrack /proc interface: CONFIG_NF_CONNTRACK_PROCFS, or the nf_conntrack module is not loaded)`
        : code === 'EACCES' || code === 'EPERM'
          ? `${table} is readable by root only: run the proxy as root (exclude its own traffic from the redirect with "-m owner ! --uid-owner root")`
          : `${table} cannot be read: ${(e as Error).message}`;
    throw new Error(
      `Transparent mode needs the kernel's connection tracking table to learn where each redirected connection was going, but ${why}. ` +
        'Use --mode regular, --mode socks5 or --mode reverse:URL instead if that cannot be arranged.',
    );
  }
}

/**
 * Look up where a client connection accepted by a transparent listener (`client` its peer,
 * `local` our end of it) was going. Throws OriginalDestinationError when the table has no entry
 * for it, or when the connection was made to the proxy itself rather than redirected (relaying
 * it would loop back into the proxy).
 */
export async function lookupOriginalDestination(client: HostPort, local: HostPort, table = CONNTRACK_TABLE): Promise<HostPort> {
  let found: HostPort | null;
  try {
    found = await scanTable(table, client, local);
  } catch (e) {
    throw new OriginalDestinationError(`cannot read ${table}: ${(e as Error).message}`);
  }
  if (!found) throw new OriginalDestinationError(`no connection tracking entry for ${formatPair(client)} -> ${formatPair(local)} in ${table}`);
  if (found[0] === canonicalIp(local[0]) && found[1] === local[1]) {
    throw new OriginalDestinationError(`the connection from ${formatPair(client)} was made to the proxy itself, not redirected to it`);
  }
  return found;
}

/**
 * Read the table chunk by chunk and parse only the lines that contain our reply tuple's ports
 * ("sport=<proxy port> dport=<client port>"): a gateway's table can hold tens of thousands of
 * entries, and splitting and parsing every line would cost that much per accepted connection.
 */
async function scanTable(table: string, client: HostPort, local: HostPort): Promise<HostPort | null> {
  const needle = `sport=${local[1]} dport=${client[1]}`;
  const stream = createReadStream(table, { encoding: 'utf8' });
  // The unfinished last line of the previous chunk.
  let carry = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = carry + chunk;
      const complete = text.lastIndexOf('\n') + 1;
      const found = searchLines(text.slice(0, complete), needle, client, local);
      if (found) return found;
      carry = text.slice(complete);
    }
    return searchLines(carry, needle, client, local);
  } finally {
    stream.destroy();
  }
}

/** The original destination from the first line of `text` that holds `needle` and is our entry. */
function searchLines(text: string, needle: string, client: HostPort, local: HostPort): HostPort | null {
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
    const start = text.lastIndexOf('\n', i) + 1;
    const end = text.indexOf('\n', i);
    const found = originalDestinationIn(text.slice(start, end < 0 ? text.length : end), client, local);
    if (found) return found;
  }
  return null;
}

function formatPair([host, port]: HostPort): string {
  return formatAddress([canonicalIp(host), port]);
}
