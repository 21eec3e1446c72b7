/**
 * Argon2 (RFC 9106: Argon2d, Argon2i, Argon2id) and its PHC string format
 * (`$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>`), to check `web_password` values that are
 * argon2 hashes as mitmweb does. Node 20 has no argon2 (node:crypto gains it in 24.7).
 *
 * This is a straightforward, allocation-free implementation on 32-bit halves; it verifies a
 * typical interactive hash (64 MiB, t=3) in a few seconds, so callers cache successful checks.
 */
import { timingSafeEqual } from 'node:crypto';
import { blake2b } from './blake2b.js';

export type Argon2Type = 'argon2d' | 'argon2i' | 'argon2id';
const TYPE_IDS: Record<Argon2Type, number> = { argon2d: 0, argon2i: 1, argon2id: 2 };

export interface Argon2Params {
  type: Argon2Type;
  /** 0x13 (19, current) or 0x10 (16, the original). */
  version: number;
  /** Memory in KiB. */
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  tagLength: number;
  secret?: Uint8Array;
  associatedData?: Uint8Array;
}

/** A string that looks like an argon2 PHC hash but cannot be one. */
export class Argon2FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Argon2FormatError';
  }
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** H' of RFC 9106 §3.3: a hash of any length built from chained BLAKE2b-512. */
function hashLong(outLen: number, ...inputs: Uint8Array[]): Buffer {
  if (outLen <= 64) return blake2b(outLen, le32(outLen), ...inputs);
  const out = Buffer.alloc(outLen);
  const r = Math.ceil(outLen / 32) - 2;
  let vi = blake2b(64, le32(outLen), ...inputs);
  vi.copy(out, 0, 0, 32);
  for (let i = 1; i < r; i++) {
    vi = blake2b(64, vi);
    vi.copy(out, i * 32, 0, 32);
  }
  blake2b(outLen - 32 * r, vi).copy(out, r * 32);
  return out;
}

// The compression function works on blocks of 128 64-bit words = 256 uint32 halves.
const BLOCK_WORDS = 256;

/** a += b + 2 * lo32(a) * lo32(b), on the 64-bit word at halves (i, i+1) and (j, j+1) of r. */
function fBlaMka(r: Uint32Array, i: number, j: number): void {
  const al = r[i]!;
  const bl = r[j]!;
  // 64-bit product of two 32-bit numbers, from 16-bit pieces.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  let pl = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  let ph = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  // times two
  ph = ((ph << 1) | (pl >>> 31)) >>> 0;
  pl = (pl << 1) >>> 0;
  // a + b + product
  let lo = al + bl;
  let hi = r[i + 1]! + r[j + 1]! + (lo >= 0x100000000 ? 1 : 0);
  lo >>>= 0;
  const lo2 = lo + pl;
  hi = hi + ph + (lo2 >= 0x100000000 ? 1 : 0);
  r[i] = lo2;
  r[i + 1] = hi;
}

/** d = rotr64(d ^ a, n), halves at d and a. */
function xorRot(r: Uint32Array, d: number, a: number, n: number): void {
  const xl = r[d]! ^ r[a]!;
  const xh = r[d + 1]! ^ r[a + 1]!;
  if (n === 32) {
    r[d] = xh;
    r[d + 1] = xl;
  } else if (n < 32) {
    r[d] = (xl >>> n) | (xh << (32 - n));
    r[d + 1] = (xh >>> n) | (xl << (32 - n));
  } else {
    const k = n - 32;
    r[d] = (xh >>> k) | (xl << (32 - k));
    r[d + 1] = (xl >>> k) | (xh << (32 - k));
  }
}

/** The GB function on four words given as half indexes. */
function gb(r: Uint32Array, a: number, b: number, c: number, d: number): void {
  fBlaMka(r, a, b);
  xorRot(r, d, a, 32);
  fBlaMka(r, c, d);
  xorRot(r, b, c, 24);
  fBlaMka(r, a, b);
  xorRot(r, d, a, 16);
  fBlaMka(r, c, d);
  xorRot(r, b, c, 63);
}

/** The permutation P on 16 words whose half indexes are listed in `w`. */
function permute(r: Uint32Array, w: number[]): void {
  gb(r, w[0]!, w[4]!, w[8]!, w[12]!);
  gb(r, w[1]!, w[5]!, w[9]!, w[13]!);
  gb(r, w[2]!, w[6]!, w[10]!, w[14]!);
  gb(r, w[3]!, w[7]!, w[11]!, w[15]!);
  gb(r, w[0]!, w[5]!, w[10]!, w[15]!);
  gb(r, w[1]!, w[6]!, w[11]!, w[12]!);
  gb(r, w[2]!, w[7]!, w[8]!, w[13]!);
  gb(r, w[3]!, w[4]!, w[9]!, w[14]!);
}

/** Half indexes of the 8 rows and 8 columns of a block seen as an 8x8 matrix of 16-byte registers. */
const ROWS: number[][] = [];
const COLUMNS: number[][] = [];
for (let i = 0; i < 8; i++) {
  const row: number[] = [];
  for (let k = 0; k < 16; k++) row.push((16 * i + k) * 2);
  ROWS.push(row);
  const col: number[] = [];
  for (let k = 0; k < 8; k++) col.push((2 * i + 16 * k) * 2, (2 * i + 1 + 16 * k) * 2);
  COLUMNS.push(col);
}

const R = new Uint32Array(BLOCK_WORDS);
const Q = new Uint32Array(BLOCK_WORDS);

/**
 * out = G(x, y) (xorInto false) or out ^= G(x, y) (xorInto true). Blocks are views into memory
 * at the given offsets (in halves).
 */
function compress(mem: Uint32Array, out: number, x: Uint32Array, xo: number, y: Uint32Array, yo: number, xorInto: boolean): void {
  for (let i = 0; i < BLOCK_WORDS; i++) R[i] = x[xo + i]! ^ y[yo + i]!;
  Q.set(R);
  for (const row of ROWS) permute(Q, row);
  for (const col of COLUMNS) permute(Q, col);
  if (xorInto) for (let i = 0; i < BLOCK_WORDS; i++) mem[out + i] = mem[out + i]! ^ Q[i]! ^ R[i]!;
  else for (let i = 0; i < BLOCK_WORDS; i++) mem[out + i] = Q[i]! ^ R[i]!;
}

function blockFromBytes(dst: Uint32Array, off: number, b: Buffer): void {
  for (let i = 0; i < BLOCK_WORDS; i++) dst[off + i] = b.readUInt32LE(i * 4);
}

/** How many block compressions run between two yields of the async variant (~10 ms of work). */
const BLOCKS_PER_STEP = 1024;

/** Compute an Argon2 tag. Blocks the thread for the whole computation; see `argon2Async`. */
export function argon2(password: Uint8Array, salt: Uint8Array, p: Argon2Params): Buffer {
  const steps = argon2Steps(password, salt, p);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Compute an Argon2 tag, giving the event loop a turn every few milliseconds. */
export async function argon2Async(password: Uint8Array, salt: Uint8Array, p: Argon2Params): Promise<Buffer> {
  const steps = argon2Steps(password, salt, p);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function* argon2Steps(password: Uint8Array, salt: Uint8Array, p: Argon2Params): Generator<void, Buffer, void> {
  const lanes = p.parallelism;
  if (!(lanes >= 1 && lanes <= 0xffffff)) throw new RangeError('argon2: parallelism out of range');
  if (!(p.tagLength >= 4)) throw new RangeError('argon2: tag length must be at least 4');
  if (!(p.iterations >= 1)) throw new RangeError('argon2: iterations must be at least 1');
  if (!(p.memoryKiB >= 8 * lanes)) throw new RangeError('argon2: memory must be at least 8 KiB per lane');
  const type = TYPE_IDS[p.type];
  const secret = p.secret ?? new Uint8Array(0);
  const ad = p.associatedData ?? new Uint8Array(0);
  const h0 = blake2b(
    64,
    le32(lanes), le32(p.tagLength), le32(p.memoryKiB), le32(p.iterations), le32(p.version), le32(type),
    le32(password.length), password, le32(salt.length), salt, le32(secret.length), secret, le32(ad.length), ad,
  );
  const segLen = Math.floor(p.memoryKiB / (4 * lanes));
  const laneLen = segLen * 4;
  const blocks = laneLen * lanes;
  const mem = new Uint32Array(blocks * BLOCK_WORDS);
  const at = (lane: number, col: number) => (lane * laneLen + col) * BLOCK_WORDS;

  for (let l = 0; l < lanes; l++) {
    blockFromBytes(mem, at(l, 0), hashLong(1024, h0, le32(0), le32(l)));
    blockFromBytes(mem, at(l, 1), hashLong(1024, h0, le32(1), le32(l)));
  }

  const zero = new Uint32Array(BLOCK_WORDS);
  const input = new Uint32Array(BLOCK_WORDS);
  const address = new Uint32Array(BLOCK_WORDS);
  const tmp = new Uint32Array(BLOCK_WORDS);
  let work = 0;

  for (let pass = 0; pass < p.iterations; pass++) {
    for (let slice = 0; slice < 4; slice++) {
      for (let lane = 0; lane < lanes; lane++) {
        const independent = type === 1 || (type === 2 && pass === 0 && slice < 2);
        if (independent) {
          input.fill(0);
          input[0] = pass;
          input[2] = lane;
          input[4] = slice;
          input[6] = blocks;
          input[8] = p.iterations;
          input[10] = type;
          input[12] = 0; // counter
        }
        const nextAddresses = () => {
          input[12] = input[12]! + 1;
          compress(tmp, 0, zero, 0, input, 0, false);
          compress(address, 0, zero, 0, tmp, 0, false);
        };
        let start = 0;
        if (pass === 0 && slice === 0) {
          start = 2;
          if (independent) nextAddresses();
        }
        for (let idx = start; idx < segLen; idx++) {
          const col = slice * segLen + idx;
          const prevCol = col === 0 ? laneLen - 1 : col - 1;
          let j1: number;
          let j2: number;
          if (independent) {
            if (idx % 128 === 0) nextAddresses();
            j1 = address[(idx % 128) * 2]!;
            j2 = address[(idx % 128) * 2 + 1]!;
          } else {
            j1 = mem[at(lane, prevCol)]!;
            j2 = mem[at(lane, prevCol) + 1]!;
          }
          let refLane = j2 % lanes;
          if (pass === 0 && slice === 0) refLane = lane;
          const sameLane = refLane === lane;
          let areaSize: number;
          if (pass === 0) areaSize = sameLane ? col - 1 : slice * segLen + (idx === 0 ? -1 : 0);
          else areaSize = sameLane ? laneLen - segLen + idx - 1 : laneLen - segLen + (idx === 0 ? -1 : 0);
          // relative position = areaSize - 1 - (areaSize * (j1^2 >> 32) >> 32), exactly in 64-bit terms.
          const x = Number((BigInt(j1) * BigInt(j1)) >> 32n);
          const y = Number((BigInt(areaSize) * BigInt(x)) >> 32n);
          const rel = areaSize - 1 - y;
          const startPos = pass === 0 || slice === 3 ? 0 : (slice + 1) * segLen;
          const refCol = (startPos + rel) % laneLen;
          const xorInto = pass > 0 && p.version === 0x13;
          compress(mem, at(lane, col), mem, at(lane, prevCol), mem, at(refLane, refCol), xorInto);
          if (++work % BLOCKS_PER_STEP === 0) yield;
        }
      }
    }
  }

  const final = new Uint32Array(BLOCK_WORDS);
  for (let l = 0; l < lanes; l++) {
    const o = at(l, laneLen - 1);
    for (let i = 0; i < BLOCK_WORDS; i++) final[i] = final[i]! ^ mem[o + i]!;
  }
  const fb = Buffer.alloc(1024);
  for (let i = 0; i < BLOCK_WORDS; i++) fb.writeUInt32LE(final[i]!, i * 4);
  return hashLong(p.tagLength, fb);
}

/** A parsed PHC string. */
export interface Argon2Hash {
  params: Argon2Params;
  salt: Buffer;
  hash: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+$/;

function b64decode(s: string, what: string): Buffer {
  if (!B64.test(s)) throw new Argon2FormatError(`invalid ${what} encoding`);
  return Buffer.from(s, 'base64');
}

/** Parse `$argon2id$v=19$m=...,t=...,p=...$salt$hash`; throws Argon2FormatError. */
export function parseArgon2Hash(phc: string): Argon2Hash {
  const parts = phc.split('$');
  if (parts[0] !== '' || parts.length < 5 || parts.length > 6) throw new Argon2FormatError('not an argon2 hash');
  const type = parts[1] as Argon2Type;
  if (!(type in TYPE_IDS)) throw new Argon2FormatError(`unknown argon2 variant ${JSON.stringify(parts[1])}`);
  let i = 2;
  let version = 0x10;
  if (parts.length === 6) {
    const vm = /^v=(\d+)$/.exec(parts[i]!);
    if (!vm) throw new Argon2FormatError('invalid version field');
    version = Number(vm[1]);
    if (version !== 0x10 && version !== 0x13) throw new Argon2FormatError(`unsupported argon2 version ${version}`);
    i++;
  }
  const pm = /^m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,8})$/.exec(parts[i]!);
  if (!pm) throw new Argon2FormatError('invalid parameters');
  const memoryKiB = Number(pm[1]);
  const iterations = Number(pm[2]);
  const parallelism = Number(pm[3]);
  if (parallelism < 1 || iterations < 1 || memoryKiB < 8 * parallelism || memoryKiB > 0xffffffff) throw new Argon2FormatError('parameters out of range');
  const salt = b64decode(parts[i + 1]!, 'salt');
  const hash = b64decode(parts[i + 2]!, 'hash');
  if (salt.length < 1 || hash.length < 4) throw new Argon2FormatError('salt or hash too short');
  return { params: { type, version, memoryKiB, iterations, parallelism, tagLength: hash.length }, salt, hash };
}

/** Check a password against a PHC argon2 hash (constant-time comparison of the tags). */
export function verifyArgon2(phc: string | Argon2Hash, password: string): boolean {
  const h = typeof phc === 'string' ? parseArgon2Hash(phc) : phc;
  const tag = argon2(Buffer.from(password, 'utf8'), h.salt, h.params);
  return tag.length === h.hash.length && timingSafeEqual(tag, h.hash);
}

/** `verifyArgon2` without blocking the event loop for the whole computation. */
export async function verifyArgon2Async(phc: string | Argon2Hash, password: string): Promise<boolean> {
  const h = typeof phc === 'string' ? parseArgon2Hash(phc) : phc;
  const tag = await argon2Async(Buffer.from(password, 'utf8'), h.salt, h.params);
  return tag.length === h.hash.length && timingSafeEqual(tag, h.hash);
}
