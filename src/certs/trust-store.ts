import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expandHome, type OptManager } from '../optmanager.js';

/**
 * The CA certificates upstream servers are verified against when ssl_verify_upstream_trusted_ca
 * or ssl_verify_upstream_trusted_confdir is set (undefined: Node's bundled roots). As in
 * mitmproxy, naming trusted CAs replaces the default roots rather than adding to them.
 */
const cache = new Map<string, { mtimeMs: number; pems: string[] }>();

function readCaFile(path: string): string[] {
  const st = statSync(path);
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.pems;
  const pems = readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  cache.set(path, { mtimeMs: st.mtimeMs, pems });
  return pems;
}

/**
 * The list last handed out. The same CAs come back as the same array: tls-upstream.ts keys its
 * shared SecureContext (and so its TLS session cache) on the array's identity, and a new array per
 * connection would load the CAs into a new context and never resume a session.
 */
let previous: string[] | null = null;

export function upstreamTrustStore(o: OptManager): string[] | undefined {
  const caFile = o.has('ssl_verify_upstream_trusted_ca') ? o.get<string | null>('ssl_verify_upstream_trusted_ca') : null;
  const caDir = o.has('ssl_verify_upstream_trusted_confdir') ? o.get<string | null>('ssl_verify_upstream_trusted_confdir') : null;
  if (!caFile && !caDir) return undefined;
  const pems: string[] = [];
  if (caFile) pems.push(...readCaFile(expandHome(caFile)));
  if (caDir) {
    const dir = expandHome(caDir);
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) pems.push(...readCaFile(p));
      } catch {
        // Unreadable entries in a c_rehash directory are skipped, as OpenSSL does.
      }
    }
  }
  if (previous !== null && previous.length === pems.length && previous.every((p, i) => p === pems[i])) return previous;
  previous = pems;
  return pems;
}
