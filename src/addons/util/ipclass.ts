/**
 * Which kind of address a client connects from, with the ranges of Python's `ipaddress`
 * module (3.13) that mitmproxy's block addon relies on: loopback, private (IANA special-purpose
 * ranges that are not globally reachable) and global.
 */
import { BlockList } from 'node:net';
import { bytesToIp, ipToBytes, unmapIPv4 } from '../../certs/ip.js';
import { BoundedCache } from '../../util/bounded-cache.js';

function list(entries: ReadonlyArray<readonly [string, number]>, type: 'ipv4' | 'ipv6'): BlockList {
  const b = new BlockList();
  for (const [net, prefix] of entries) b.addSubnet(net, prefix, type);
  return b;
}

const V4_PRIVATE = list(
  [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 29], ['192.0.0.170', 31], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
    ['198.51.100.0', 24], ['203.0.113.0', 24], ['240.0.0.0', 4], ['255.255.255.255', 32],
  ],
  'ipv4',
);
/** Inside the private ranges but globally reachable (PCP and TURN anycast). */
const V4_PRIVATE_EXCEPTIONS = list([['192.0.0.9', 32], ['192.0.0.10', 32]], 'ipv4');
/** Shared address space (carrier-grade NAT): neither private nor global. */
const V4_SHARED = list([['100.64.0.0', 10]], 'ipv4');

const V6_PRIVATE = list(
  [
    ['::1', 128], ['::', 128], ['::ffff:0:0', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
    ['2001:db8::', 32], ['2002::', 16], ['3fff::', 20], ['fc00::', 7], ['fe80::', 10],
  ],
  'ipv6',
);
const V6_PRIVATE_EXCEPTIONS = list(
  [['2001:1::1', 128], ['2001:1::2', 128], ['2001:3::', 32], ['2001:4:112::', 48], ['2001:20::', 28], ['2001:30::', 28]],
  'ipv6',
);

export interface AddressClass {
  /** The address checked: IPv4-mapped IPv6 addresses are unwrapped, zone ids removed. */
  readonly address: string;
  readonly loopback: boolean;
  readonly private: boolean;
  readonly global: boolean;
}

/** Classes of recently seen client addresses: every client connection asks, mostly for the same few. */
const recent = new BoundedCache<string, AddressClass | null>(1024);

/** Classify an IP address text; null when it is not an IP address. */
export function classifyAddress(text: string): AddressClass | null {
  return recent.getOrCompute(text, classify);
}

function classify(text: string): AddressClass | null {
  const bytes = ipToBytes(text.split('%')[0]!);
  if (!bytes) return null;
  const b = unmapIPv4(bytes);
  const address = bytesToIp(b);
  if (b.length === 4) {
    const isPrivate = V4_PRIVATE.check(address, 'ipv4') && !V4_PRIVATE_EXCEPTIONS.check(address, 'ipv4');
    return { address, loopback: b[0] === 127, private: isPrivate, global: !isPrivate && !V4_SHARED.check(address, 'ipv4') };
  }
  const isPrivate = V6_PRIVATE.check(address, 'ipv6') && !V6_PRIVATE_EXCEPTIONS.check(address, 'ipv6');
  return { address, loopback: address === '::1', private: isPrivate, global: !isPrivate };
}
