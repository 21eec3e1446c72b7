import { ruamelDump } from '../yaml-emit.js';
import type { ContentView } from '../types.js';

// Code page 437, which ZIP uses for names without the UTF-8 flag (bytes 0x80-0xFF).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function cp437(b: Buffer): string {
  let s = '';
  for (const c of b) s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80]!;
  return s;
}

/** The names in a ZIP archive's central directory, in order. */
export function zipFileNames(data: Buffer): string[] {
  // The end-of-central-directory record is in the last 22 + 65535 bytes (it may carry a comment).
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (data.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('File is not a zip file');
  const count = data.readUInt16LE(eocd + 10);
  let pos = data.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 46 > data.length || data.readUInt32LE(pos) !== 0x02014b50) throw new Error('Bad magic number for central directory');
    const flags = data.readUInt16LE(pos + 8);
    const nameLen = data.readUInt16LE(pos + 28);
    const extraLen = data.readUInt16LE(pos + 30);
    const commentLen = data.readUInt16LE(pos + 32);
    const raw = data.subarray(pos + 46, pos + 46 + nameLen);
    names.push(flags & 0x800 ? raw.toString('utf8') : cp437(raw));
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

export const zip: ContentView = {
  name: 'ZIP Archive',
  syntaxHighlight: 'yaml',
  render(data) {
    const names = zipFileNames(data);
    return names.length ? ruamelDump(names) : '(empty zip file)';
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'application/zip' ? 1 : 0;
  },
};
