/** mitmproxy's `is_valid_host`: whether a name can be a host (an SNI, a Host header's host part). */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;

/**
 * A DNS name of labels of letters, digits, "-" and "_" (at most 255 bytes, one trailing dot
 * allowed) or an IP address. Text (`idna`) is IDNA-encoded first, as mitmproxy does for str
 * hosts, so "bücher.example" is valid; bytes off the wire (an SNI) are taken as they are.
 */
export function isValidHost(name: string, idna = false): boolean {
  if (idna && /[^\x00-\x7f]/.test(name)) {
    name = domainToASCII(name);
    if (name === '') return false;
  }
  if (name.length === 0 || name.length > 255) return false;
  if (isIPv4(name) || isIPv6(name)) return true;
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return bare.split('.').every((l) => LABEL.test(l));
}
