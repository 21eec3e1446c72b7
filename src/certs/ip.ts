/** IP address text <-> bytes, for iPAddress SubjectAltNames and canonical cache keys. */
import { isIPv4, isIPv6 } from 'node:net';

/** Strip brackets and an IPv6 zone id ("[fe80::1%eth0]" -> "fe80::1"); other text is returned unchanged. */
function bare(ip: string): string {
  let s = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = s.indexOf('%');
  if (zone >= 0 && isIPv6(s.slice(0, zone))) s = s.slice(0, zone);
  return s;
}

/** Whether `s` is an IPv4 or IPv6 literal (brackets and zone ids allowed). */
export function isIpLiteral(s: string): boolean {
  const b = bare(s);
  return isIPv4(b) || isIPv6(b);
}

/** 4 or 16 bytes for an IP literal, or null when `s` is not one. */
export function ipToBytes(s: string): Buffer | null {
  const ip = bare(s);
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) return null;
  let text = ip;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, null];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === null ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/**
 * Canonical text of 4 or 16 address bytes (IPv6 per RFC 5952: lowercase, longest zero run
 * compressed, and an IPv4-mapped address with its IPv4 part dotted, "::ffff:192.0.2.1", as
 * inet_ntop, node and Python's ipaddress write it).
 */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) return Buffer.from(b).toString('hex');
  const v4 = unmapIPv4(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  if (v4.length === 4) return `::ffff:${Array.from(v4).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** An IPv4 address seen through a dual-stack socket (::ffff:a.b.c.d) as its 4 bytes; other addresses unchanged. */
export function unmapIPv4(b: Buffer): Buffer {
  return b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff ? b.subarray(12) : b;
}

/**
 * A socket-reported address as mitmproxy shows it (the fast text path of unmapIPv4). A listener
 * on "" or "::" is one dual-stack socket, through which node reports IPv4 peers as IPv4-mapped IPv6 ("::ffff:127.0.0.1"); mitmproxy
 * listens per address family and sees plain IPv4. Unmapped, such an address names the client in
 * log lines, flows and hooks, and the leaf for a client without SNI gets an IPv4 SAN it can verify.
 */
export function unmappedAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * One spelling per peer address, for comparing addresses from different sources (node's sockets,
 * the kernel's tables, option values): the canonical text, IPv4-mapped IPv6 as plain IPv4, and
 * anything that is not an IP literal lowercased.
 */
export function canonicalPeerIp(s: string): string {
  const b = ipToBytes(s);
  return b ? bytesToIp(unmapIPv4(b)) : s.toLowerCase();
}

/** The canonical text of an IP literal, or null when `s` is not one. */
export function canonicalIp(s: string): string | null {
  const b = ipToBytes(s);
  return b ? bytesToIp(b) : null;
}
