import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { canonicalPeerIp } from '../certs/ip.js';
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
 * (checkConntrackReadable). Lookups share their reads of the table (see SharedTableReader).
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
    src: canonicalPeerIp(values.src[i]!),
    dst: canonicalPeerIp(values.dst[i]!),
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
    reply.src === canonicalPeerIp(local[0]) && reply.sport === local[1] && reply.dst === canonicalPeerIp(client[0]) && reply.dport === client[1];
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
  let reader = readers.get(table);
  if (!reader) readers.set(table, (reader = new SharedTableReader(table)));
  let found: HostPort | null;
  try {
    found = await reader.lookup(client, local);
  } catch (e) {
    throw new OriginalDestinationError(`cannot read ${table}: ${(e as Error).message}`);
  }
  if (!found) throw new OriginalDestinationError(`no connection tracking entry for ${formatPair(client)} -> ${formatPair(local)} in ${table}`);
  if (found[0] === canonicalPeerIp(local[0]) && found[1] === local[1]) {
    throw new OriginalDestinationError(`the connection from ${formatPair(client)} was made to the proxy itself, not redirected to it`);
  }
  return found;
}

/** How many times `table` has been read by lookups so far (diagnostics; the tests watch the sharing). */
export function conntrackTableReads(table = CONNTRACK_TABLE): number {
  return readers.get(table)?.reads ?? 0;
}

/** One lookup waiting for a read of the table. */
interface PendingLookup {
  client: HostPort;
  local: HostPort;
  /** Our reply tuple's ports as the kernel writes them: "sport=<proxy port> dport=<client port>". */
  needle: string;
  resolve(found: HostPort | null): void;
  reject(e: Error): void;
}

const readers = new Map<string, SharedTableReader>();

/**
 * The reads of one conntrack table, shared by the lookups: one made while the table is being read
 * waits for the next read (the current one may have passed its entry already), and that read
 * serves every lookup that arrived meanwhile. A busy gateway then reads its (possibly huge) table
 * once per batch of new connections instead of once per connection.
 */
class SharedTableReader {
  private waiting: PendingLookup[] = [];
  private reading = false;
  reads = 0;

  constructor(private readonly table: string) {}

  lookup(client: HostPort, local: HostPort): Promise<HostPort | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ client, local, needle: `sport=${local[1]} dport=${client[1]}`, resolve, reject });
      if (!this.reading) void this.readWhileWaited();
    });
  }

  private async readWhileWaited(): Promise<void> {
    this.reading = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      this.reads++;
      try {
        // Those not found by the end of the table have no entry.
        for (const lookup of await scanTable(this.table, batch)) lookup.resolve(null);
      } catch (e) {
        for (const lookup of batch) lookup.reject(e as Error);
      }
    }
    this.reading = false;
  }
}

/**
 * Read the table chunk by chunk and parse only the lines that contain a lookup's reply-tuple
 * ports: a gateway's table can hold tens of thousands of entries, and splitting and parsing every
 * line would cost that much. Lookups are resolved as their entries are found; returns those that
 * were not. The read stops early once every lookup is answered.
 */
async function scanTable(table: string, lookups: PendingLookup[]): Promise<PendingLookup[]> {
  let open = lookups;
  const stream = createReadStream(table, { encoding: 'utf8' });
  // The unfinished last line of the previous chunk.
  let carry = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = carry + chunk;
      const complete = text.lastIndexOf('\n') + 1;
      open = answerFrom(text.slice(0, complete), open);
      if (open.length === 0) return open;
      carry = text.slice(complete);
    }
    return answerFrom(carry, open);
  } finally {
    stream.destroy();
  }
}

/** Resolve the lookups whose entries are among the complete lines of `text`; returns the others. */
function answerFrom(text: string, lookups: PendingLookup[]): PendingLookup[] {
  const open: PendingLookup[] = [];
  for (const lookup of lookups) {
    const found = searchLines(text, lookup);
    if (found) lookup.resolve(found);
    else open.push(lookup);
  }
  return open;
}

/** The original destination from the first line of `text` that holds the lookup's needle and is its entry. */
function searchLines(text: string, { needle, client, local }: PendingLookup): HostPort | null {
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
    const start = text.lastIndexOf('\n', i) + 1;
    const end = text.indexOf('\n', i);
    const found = originalDestinationIn(text.slice(start, end < 0 ? text.length : end), client, local);
    if (found) return found;
  }
  return null;
}

function formatPair([host, port]: HostPort): string {
  return formatAddress([canonicalPeerIp(host), port]);
}
