import { escapeBytes } from '../../util/escapes.js';
import { mergeRepeatedKeys, ruamelDump } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

/** Percent-decode to bytes ("+" is a space); a "%" without two hex digits stays literal. */
function unquotePlusToBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) out.push(0x20);
    else if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c);
  }
  return Buffer.from(out);
}

/**
 * Form fields as byte pairs (Python's parse_qsl on bytes with keep_blank_values): split on "&",
 * a field without "=" has an empty value.
 */
export function parseFormBytes(data: Buffer): Array<[Buffer, Buffer]> {
  const out: Array<[Buffer, Buffer]> = [];
  for (const field of data.toString('latin1').split('&')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const name = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? '' : field.slice(eq + 1);
    out.push([unquotePlusToBytes(name), unquotePlusToBytes(value)]);
  }
  return out;
}

/** Byte pairs shown as escaped text, as mitmproxy's views print them. */
export function escapedPairs(pairs: Iterable<readonly [Uint8Array, Uint8Array]>): Array<[string, string]> {
  return Array.from(pairs, ([k, v]) => [escapeBytes(k), escapeBytes(v)]);
}

export const urlencoded: ContentView = {
  name: 'URL-encoded',
  syntaxHighlight: 'yaml',
  render(data) {
    return ruamelDump(mergeRepeatedKeys(escapedPairs(parseFormBytes(data))));
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'application/x-www-form-urlencoded' ? 1 : 0;
  },
};
