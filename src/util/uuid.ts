import { randomFillSync } from 'node:crypto';

/**
 * Random (version 4) UUIDs as compact strings. node's crypto.randomUUID() builds its result by
 * concatenation, which V8 keeps as a tree of string pieces: about 490 bytes per id instead of 56.
 * Every flow and connection holds one, so with 100 000 flows that is well over 100 MB.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const pool = Buffer.alloc(16 * 256);
let offset = pool.length;
const out = Buffer.alloc(36);

export function uuid4(): string {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool;
  const o = offset;
  offset += 16;
  b[o + 6] = (b[o + 6]! & 0x0f) | 0x40;
  b[o + 8] = (b[o + 8]! & 0x3f) | 0x80;
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[j++] = 0x2d;
    const h = HEX[b[o + i]!]!;
    out[j++] = h.charCodeAt(0);
    out[j++] = h.charCodeAt(1);
  }
  // latin1 decoding of a Buffer yields one flat one-byte string.
  return out.toString('latin1');
}
