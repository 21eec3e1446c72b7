import { isBinary } from '../text.js';
import type { ContentView } from '../types.js';

const BYTES_PER_ROW = 16;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const ASCII = Array.from({ length: 256 }, (_, i) => (i >= 0x20 && i < 0x7f ? String.fromCharCode(i) : '.'));
// Separator before byte i of a row: two spaces between groups of four bytes, one inside a group.
const SEP = Array.from({ length: BYTES_PER_ROW }, (_, i) => (i === 0 ? '' : i % 4 === 0 ? '  ' : ' '));

function hexRow(data: Uint8Array, offset: number): string {
  const end = Math.min(offset + BYTES_PER_ROW, data.length);
  let line = offset.toString(16).padStart(4, '0') + ':   ';
  let ascii = '';
  for (let i = 0; i < BYTES_PER_ROW; i++) {
    if (offset + i < end) {
      const b = data[offset + i]!;
      line += SEP[i]! + HEX[b]!;
      ascii += ASCII[b]!;
    } else {
      line += SEP[i]! + '  ';
    }
  }
  return line + '   ' + ascii;
}

/**
 * Offset, 16 bytes in hex in groups of four, and the printable ASCII, one row per 16 bytes
 * (the layout of mitmproxy's Rust hex dump). No newline after the last row.
 */
export const hexDump: ContentView = {
  name: 'Hex Dump',
  syntaxHighlight: 'none',
  render(data, _metadata, hints) {
    const rows: string[] = [];
    // One row more than shown, so that the caller's cut keeps the newline after the last shown row.
    const limit = hints?.maxLines ? Math.min(data.length, (hints.maxLines + 1) * BYTES_PER_ROW) : data.length;
    for (let off = 0; off < limit; off += BYTES_PER_ROW) rows.push(hexRow(data, off));
    return rows.join('\n');
  },
  renderPriority(data) {
    return isBinary(data) ? 0.5 : 0;
  },
};
