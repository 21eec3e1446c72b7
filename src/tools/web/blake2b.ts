/**
 * BLAKE2b (RFC 7693) with any digest length from 1 to 64 bytes, unkeyed. Node's OpenSSL only
 * offers the fixed 64-byte variant, and Argon2 needs the others (the digest length is part of
 * BLAKE2b's parameter block, so truncating a 64-byte digest gives a different result).
 *
 * 64-bit words are kept as pairs of 32-bit halves (low word first) in Uint32Arrays.
 */

const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
].map((row) => row.map((x) => x * 2));

const v = new Uint32Array(32);
const m = new Uint32Array(32);

/** v[a] += v[b] (64-bit), halves at 2a and 2b. */
function add64(a: number, b: number): void {
  const lo = v[a]! + v[b]!;
  let hi = v[a + 1]! + v[b + 1]!;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

function add64m(a: number, lo0: number, hi0: number): void {
  const lo = v[a]! + lo0;
  let hi = v[a + 1]! + hi0;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

function mix(a: number, b: number, c: number, d: number, x: number, y: number): void {
  add64(a, b);
  add64m(a, m[x]!, m[x + 1]!);
  // d = (d ^ a) >>> 32
  let xl = v[d]! ^ v[a]!;
  let xh = v[d + 1]! ^ v[a + 1]!;
  v[d] = xh;
  v[d + 1] = xl;
  add64(c, d);
  // b = (b ^ c) >>> 24
  xl = v[b]! ^ v[c]!;
  xh = v[b + 1]! ^ v[c + 1]!;
  v[b] = (xl >>> 24) ^ (xh << 8);
  v[b + 1] = (xh >>> 24) ^ (xl << 8);
  add64(a, b);
  add64m(a, m[y]!, m[y + 1]!);
  // d = (d ^ a) >>> 16
  xl = v[d]! ^ v[a]!;
  xh = v[d + 1]! ^ v[a + 1]!;
  v[d] = (xl >>> 16) ^ (xh << 16);
  v[d + 1] = (xh >>> 16) ^ (xl << 16);
  add64(c, d);
  // b = (b ^ c) >>> 63
  xl = v[b]! ^ v[c]!;
  xh = v[b + 1]! ^ v[c + 1]!;
  v[b] = (xh >>> 31) ^ (xl << 1);
  v[b + 1] = (xl >>> 31) ^ (xh << 1);
}

class Blake2bState {
  readonly h = new Uint32Array(16);
  readonly buf = new Uint8Array(128);
  bufLen = 0;
  /** Bytes compressed so far (a double is exact far beyond anything we hash). */
  t = 0;

  constructor(readonly outLen: number) {
    this.h.set(IV);
    this.h[0]! ^= 0x01010000 ^ outLen;
  }

  compress(last: boolean): void {
    for (let i = 0; i < 16; i++) {
      v[i] = this.h[i]!;
      v[i + 16] = IV[i]!;
    }
    v[24]! ^= this.t >>> 0;
    v[25]! ^= Math.floor(this.t / 0x100000000);
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    const b = this.buf;
    for (let i = 0; i < 32; i++) m[i] = b[i * 4]! | (b[i * 4 + 1]! << 8) | (b[i * 4 + 2]! << 16) | (b[i * 4 + 3]! << 24);
    for (let r = 0; r < 12; r++) {
      const s = SIGMA[r]!;
      mix(0, 8, 16, 24, s[0]!, s[1]!);
      mix(2, 10, 18, 26, s[2]!, s[3]!);
      mix(4, 12, 20, 28, s[4]!, s[5]!);
      mix(6, 14, 22, 30, s[6]!, s[7]!);
      mix(0, 10, 20, 30, s[8]!, s[9]!);
      mix(2, 12, 22, 24, s[10]!, s[11]!);
      mix(4, 14, 16, 26, s[12]!, s[13]!);
      mix(6, 8, 18, 28, s[14]!, s[15]!);
    }
    for (let i = 0; i < 16; i++) this.h[i] = this.h[i]! ^ v[i]! ^ v[i + 16]!;
  }

  update(data: Uint8Array): this {
    for (let i = 0; i < data.length; i++) {
      if (this.bufLen === 128) {
        this.t += 128;
        this.compress(false);
        this.bufLen = 0;
      }
      this.buf[this.bufLen++] = data[i]!;
    }
    return this;
  }

  digest(): Buffer {
    this.t += this.bufLen;
    this.buf.fill(0, this.bufLen);
    this.compress(true);
    const out = Buffer.alloc(this.outLen);
    for (let i = 0; i < this.outLen; i++) out[i] = this.h[i >> 2]! >>> (8 * (i & 3));
    return out;
  }
}

/** BLAKE2b of the concatenated inputs with a digest of `outLen` bytes (1..64). */
export function blake2b(outLen: number, ...inputs: Uint8Array[]): Buffer {
  if (!(outLen >= 1 && outLen <= 64)) throw new RangeError(`BLAKE2b digest length must be 1..64, got ${outLen}`);
  const s = new Blake2bState(outLen);
  for (const i of inputs) s.update(i);
  return s.digest();
}
