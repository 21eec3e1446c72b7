import { mergeRepeatedKeys, ruamelDump } from '../yaml-emit.js';
import { escapedPairs } from './urlencoded.js';
import type { ContentView } from '../types.js';

/** Python's bytes.splitlines(): split on \r\n, \n or \r, dropping the line ends. */
function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x0a || c === 0x0d) {
      out.push(b.subarray(start, i));
      if (c === 0x0d && b[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < b.length) out.push(b.subarray(start));
  return out;
}

function splitOn(b: Buffer, sep: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf(sep); i >= 0; i = b.indexOf(sep, start)) {
    out.push(b.subarray(start, i));
    start = i + sep.length;
  }
  out.push(b.subarray(start));
  return out;
}

/** The boundary parameter exactly as written (quotes included, as mitmproxy reads it). */
function boundaryOf(contentType: string): string | undefined {
  const semi = contentType.indexOf(';');
  if (contentType.split(';', 1)[0]!.split('/').length < 2 || semi < 0) return undefined;
  let boundary: string | undefined;
  for (const clause of contentType.slice(semi + 1).split(';')) {
    const eq = clause.indexOf('=');
    if (eq >= 0 && clause.slice(0, eq).trim() === 'boundary') boundary = clause.slice(eq + 1).trim();
  }
  return boundary;
}

/**
 * The (name, value) fields of a multipart/form-data body, the way mitmproxy decodes them: the
 * value's lines are joined without their line breaks.
 */
export function decodeMultipart(contentType: string, content: Buffer): Array<[Buffer, Buffer]> {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined || /[^\x00-\x7f]/.test(boundary)) return [];
  const out: Array<[Buffer, Buffer]> = [];
  for (const section of splitOn(content, Buffer.from('--' + boundary, 'latin1'))) {
    const lines = splitLines(section);
    if (lines.length > 1 && lines[0]!.subarray(0, 2).toString('latin1') !== '--') {
      const m = /\bname="([^"]+)"/.exec(lines[1]!.toString('latin1'));
      if (m) {
        const blank = lines.slice(2).findIndex((l) => l.length === 0);
        if (blank < 0) throw new Error('multipart part without a blank line after its headers');
        out.push([Buffer.from(m[1]!, 'latin1'), Buffer.concat(lines.slice(3 + blank))]);
      }
    }
  }
  return out;
}

export const multipart: ContentView = {
  name: 'Multipart Form',
  syntaxHighlight: 'yaml',
  render(data, metadata) {
    if (!metadata.httpMessage) throw new Error('Not an HTTP message');
    const ct = metadata.httpMessage.headers.get('content-type');
    if (ct === undefined) throw new Error("KeyError: 'content-type'");
    return ruamelDump(mergeRepeatedKeys(escapedPairs(decodeMultipart(ct, data))));
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'multipart/form-data' ? 1 : 0;
  },
};
