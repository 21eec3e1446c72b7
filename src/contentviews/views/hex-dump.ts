import { isBinary } from '../text.js';
import type { ContentView } from '../types.js';

const BYTES_PER_ROW = 16;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const SPACE = 0x20;
const DOT = 0x2e;
/** Bytes of a row after its offset: ":   ", 16 hex pairs with their separators, "   ", 16 ASCII characters. */
const ROW_BODY = 4 + BYTES_PER_ROW * 2 + (BYTES_PER_ROW - 1) + 3 + 3 + BYTES_PER_ROW;

/**
 * Write the row at `offset` into `out` at `pos`; returns the position after it. The rows are
 * written as bytes into one buffer rather than built as strings: a row concatenated from pieces
 * is a tree of some 40 string objects until the text is flattened, and a hex dump of a 64 MiB
 * body (mitmdump --flow-detail 4) took more than 4 GB of heap that way, ending the process.
 */
function writeRow(data: Uint8Array, offset: number, out: Buffer, pos: number): number {
  const end = Math.min(offset + BYTES_PER_ROW, data.length);
  const digits = Math.max(4, offset.toString(16).length);
  pos += out.write(offset.toString(16).padStart(digits, '0'), pos, 'latin1');
  out[pos++] = 0x3a; // ':'
  out[pos++] = SPACE;
  out[pos++] = SPACE;
  out[pos++] = SPACE;
  for (let i = 0; i < BYTES_PER_ROW; i++) {
    // Two spaces between groups of four bytes, one inside a group.
    if (i > 0) {
      out[pos++] = SPACE;
      if (i % 4 === 0) out[pos++] = SPACE;
    }
    if (offset + i < end) {
      const b = data[offset + i]!;
      out[pos++] = HEX_DIGITS[b >> 4]!;
      out[pos++] = HEX_DIGITS[b & 15]!;
    } else {
      out[pos++] = SPACE;
      out[pos++] = SPACE;
    }
  }
  out[pos++] = SPACE;
  out[pos++] = SPACE;
  out[pos++] = SPACE;
  for (let i = offset; i < end; i++) {
    const b = data[i]!;
    out[pos++] = b >= 0x20 && b < 0x7f ? b : DOT;
  }
  return pos;
}

/**
 * Offset, 16 bytes in hex in groups of four, and the printable ASCII, one row per 16 bytes
 * (the layout of mitmproxy's Rust hex dump). No newline after the last row.
 */
export const hexDump: ContentView = {
  name: 'Hex Dump',
  syntaxHighlight: 'none',
  render(data, _metadata, hints) {
    // One row more than shown, so that the caller's cut keeps the newline after the last shown row.
    const limit = hints?.maxLines ? Math.min(data.length, (hints.maxLines + 1) * BYTES_PER_ROW) : data.length;
    const rows = Math.ceil(limit / BYTES_PER_ROW);
    if (rows === 0) return '';
    const offsetDigits = Math.max(4, ((rows - 1) * BYTES_PER_ROW).toString(16).length);
    const out = Buffer.allocUnsafe(rows * (offsetDigits + ROW_BODY + 1));
    let pos = 0;
    for (let off = 0; off < limit; off += BYTES_PER_ROW) {
      if (off > 0) out[pos++] = 0x0a;
      pos = writeRow(data, off, out, pos);
    }
    return out.toString('latin1', 0, pos);
  },
  renderPriority(data) {
    return isBinary(data) ? 0.5 : 0;
  },
};
