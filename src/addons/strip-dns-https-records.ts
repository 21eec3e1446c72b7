import type { Loader } from '../addonmanager.js';
import { DnsType, type DNSFlow } from '../dns.js';
import type { Master } from '../master.js';

/** The SvcParamKeys (RFC 9460) this addon edits. */
const KEY_ALPN = 1;
const KEY_ECH = 5;

/** An HTTPS record's data: priority and target name as received, then its parameters in key order. */
interface ServiceBinding {
  head: Buffer;
  params: Array<{ key: number; value: Buffer }>;
}

/** Parse HTTPS/SVCB record data; null when it is malformed (such a record is left as it is). */
export function parseServiceBinding(data: Buffer): ServiceBinding | null {
  if (data.length < 3) return null;
  // SvcPriority (2 bytes), then TargetName: uncompressed labels up to the root label.
  let pos = 2;
  for (;;) {
    if (pos >= data.length) return null;
    const len = data[pos]!;
    if (len > 63) return null;
    pos += 1 + len;
    if (len === 0) break;
  }
  if (pos > data.length) return null;
  const head = data.subarray(0, pos);
  const params: ServiceBinding['params'] = [];
  while (pos < data.length) {
    if (pos + 4 > data.length) return null;
    const key = data.readUInt16BE(pos);
    const len = data.readUInt16BE(pos + 2);
    if (pos + 4 + len > data.length) return null;
    params.push({ key, value: data.subarray(pos + 4, pos + 4 + len) });
    pos += 4 + len;
  }
  return { head, params };
}

export function packServiceBinding(sb: ServiceBinding): Buffer {
  const parts: Buffer[] = [sb.head];
  for (const { key, value } of sb.params) {
    const kl = Buffer.alloc(4);
    kl.writeUInt16BE(key, 0);
    kl.writeUInt16BE(value.length, 2);
    parts.push(kl, value);
  }
  return Buffer.concat(parts);
}

/** The protocol ids of an alpn parameter (each one length-prefixed); null when malformed. */
function alpnIds(value: Buffer): Buffer[] | null {
  const ids: Buffer[] = [];
  for (let pos = 0; pos < value.length; ) {
    const len = value[pos]!;
    if (len === 0 || pos + 1 + len > value.length) return null;
    ids.push(value.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return ids;
}

const isHttp3 = (id: Buffer) => {
  const s = id.toString('latin1');
  return s === 'h3' || s.startsWith('h3-');
};

/**
 * Edit the HTTPS records of DNS answers the proxy passes on: without `strip_ech`'s removal of the
 * Encrypted ClientHello configuration, a client would encrypt the real server name and the proxy
 * could not make a certificate for it; with `http3` off, the h3 ALPNs are removed so clients do not
 * go around the proxy over QUIC.
 */
export class StripDnsHttpsRecords {
  readonly name = 'stripdnshttpsrecords';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'strip_ech',
      'bool',
      true,
      'Strip Encrypted ClientHello (ECH) data from DNS HTTPS records so that mitmproxy can generate matching certificates.',
    );
  }

  dns_response(flow: DNSFlow): void {
    const response = flow.response;
    if (!response) return;
    const stripEch = this.master.options.get<boolean>('strip_ech');
    const stripH3 = this.master.options.has('http3') && !this.master.options.get<boolean>('http3');
    if (!stripEch && !stripH3) return;
    for (const answer of response.answers) {
      if (answer.type !== DnsType.HTTPS) continue;
      const sb = parseServiceBinding(answer.data);
      if (!sb) continue;
      let changed = false;
      const params: ServiceBinding['params'] = [];
      for (const p of sb.params) {
        if (stripEch && p.key === KEY_ECH) {
          changed = true;
          continue;
        }
        if (stripH3 && p.key === KEY_ALPN) {
          const ids = alpnIds(p.value);
          if (ids && ids.some(isHttp3)) {
            changed = true;
            const kept = ids.filter((id) => !isHttp3(id));
            // No ALPN left: the parameter goes, as mitmproxy sets it to None.
            if (kept.length) params.push({ key: p.key, value: Buffer.concat(kept.flatMap((id) => [Buffer.from([id.length]), id])) });
            continue;
          }
        }
        params.push(p);
      }
      if (changed) answer.data = packServiceBinding({ head: sb.head, params });
    }
  }
}
