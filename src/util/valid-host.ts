/** mitmproxy's `is_valid_host`: whether a name can be a host (an SNI, a Host header's host part). */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

/** Labels of 1 to 63 letters, digits, "-" and "_", separated by dots; one trailing dot allowed. */
export const DNS_NAME = /^(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/;
/** What may stand in an international name before it is IDNA-encoded (no "/", "%", ":", spaces, ...). */
const IDN_CHARS = /^[\p{L}\p{M}\p{N}._-]+$/u;

/**
 * A DNS name (at most 255 bytes) or an IP address. Text (`idna`) is IDNA-encoded first, as
 * mitmproxy does for str hosts, so "bücher.example" is valid; bytes off the wire (an SNI) are
 * taken as they are.
 */
export function isValidHost(name: string, idna = false): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (DNS_NAME.test(name) || isIPv4(name) || isIPv6(name)) return true;
  // Only the non-ASCII names are left to encode; domainToASCII alone would cut a name at "/"
  // or "?" and decode "%xx" (it parses a URL host), accepting names mitmproxy refuses.
  if (!idna || !/[^\x00-\x7f]/.test(name) || !IDN_CHARS.test(name)) return false;
  const ascii = domainToASCII(name);
  return ascii.length > 0 && ascii.length <= 255 && DNS_NAME.test(ascii);
}
