/**
 * Answer DNS queries for IPv6 addresses (AAAA) from the proxy, as mitmproxy's dns-simple example:
 * example.com is ::1, example.org does not exist (NXDOMAIN), every other name has no IPv6
 * address. Other queries are answered as usual.
 *
 *     npx mitmproxy-ts dump --mode dns@5353 -s examples/dns-spoof-ipv6.ts
 *     dig @127.0.0.1 -p 5353 AAAA example.com
 */
import { DNSResourceRecord, DnsRcode, DnsType, ctx, type DNSFlow } from 'mitmproxy-ts';

export function dns_request(flow: DNSFlow): void {
  const q = flow.request.question;
  if (q?.type !== DnsType.AAAA) return;
  ctx.log.info(`Spoofing IPv6 records for ${q.name}...`);
  if (q.name === 'example.com') {
    flow.response = flow.request.succeed([DNSResourceRecord.AAAA('example.com', '::1')]);
  } else if (q.name === 'example.org') {
    flow.response = flow.request.fail(DnsRcode.NXDOMAIN);
  } else {
    flow.response = flow.request.succeed([]);
  }
}
