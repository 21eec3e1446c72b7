/**
 * bcrypt password hashes (`$2y$`, `$2b$`, `$2a$`), as written by `htpasswd -B`, checked without a
 * native module: Provos and Mazières' "eksblowfish" key schedule over Blowfish.
 *
 * Blowfish starts from the hexadecimal digits of pi's fractional part (18 P-array words and four
 * 256-word S-boxes). Rather than carrying a thousand-constant table, they are computed once, on
 * first use, with BigInt arithmetic (Machin's formula), which takes a few milliseconds.
 */

const P_WORDS = 18;
const S_WORDS = 4 * 256;

let piWords: Uint32Array | null = null;

/** arctan(1/x) scaled by 2^bits, as a BigInt (alternating Taylor series). */
function arctanInverse(x: bigint, bits: bigint): bigint {
  const x2 = x * x;
  let power = (1n << bits) / x; // 1 / x^(2k+1), scaled
  let sum = power;
  for (let k = 1n; power !== 0n; k++) {
    power /= x2;
    const term = power / (2n * k + 1n);
    sum = k % 2n === 1n ? sum - term : sum + term;
  }
  return sum;
}

/** The first 1042 32-bit words of pi's fractional part: Blowfish's initial P-array and S-boxes. */
function blowfishInitWords(): Uint32Array {
  if (piWords) return piWords;
  const count = P_WORDS + S_WORDS;
  const wanted = BigInt(count * 32);
  const guard = 64n;
  const bits = wanted + guard;
  // Machin: pi = 16 arctan(1/5) - 4 arctan(1/239)
  const pi = 16n * arctanInverse(5n, bits) - 4n * arctanInverse(239n, bits);
  let frac = (pi - (3n << bits)) >> guard;
  const words = new Uint32Array(count);
  for (let i = count - 1; i >= 0; i--) {
    words[i] = Number(frac & 0xffffffffn);
    frac >>= 32n;
  }
  piWords = words;
  return words;
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;

  constructor() {
    const init = blowfishInitWords();
    this.p = init.slice(0, P_WORDS);
    this.s = init.slice(P_WORDS);
  }

  private f(x: number): number {
    const s = this.s;
    return ((((s[x >>> 24]! + s[256 + ((x >>> 16) & 0xff)]!) | 0) ^ s[512 + ((x >>> 8) & 0xff)]!) + s[768 + (x & 0xff)]!) | 0;
  }

  /** Encrypt the 64-bit block lr[off], lr[off+1] in place. */
  encipher(lr: Uint32Array, off: number): void {
    const p = this.p;
    let l = lr[off]! ^ p[0]!;
    let r = lr[off + 1]!;
    for (let i = 1; i < 16; i += 2) {
      r ^= this.f(l) ^ p[i]!;
      l ^= this.f(r) ^ p[i + 1]!;
    }
    lr[off] = r ^ p[17]!;
    lr[off + 1] = l;
  }

  /**
   * The (salted) key expansion: XOR the key into P, then replace P and S with successive
   * encryptions of a running block, into which the salt is XORed first when given.
   */
  expand(key: Uint8Array, salt: Uint8Array | null): void {
    const p = this.p;
    let k = 0;
    const keyWord = () => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = (w << 8) | key[k]!;
        k = (k + 1) % key.length;
      }
      return w;
    };
    for (let i = 0; i < P_WORDS; i++) p[i] = p[i]! ^ keyWord();
    let sk = 0;
    const saltWord = () => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = (w << 8) | salt![sk]!;
        sk = (sk + 1) % salt!.length;
      }
      return w;
    };
    const block = new Uint32Array(2);
    const next = () => {
      if (salt) {
        block[0] = block[0]! ^ saltWord();
        block[1] = block[1]! ^ saltWord();
      }
      this.encipher(block, 0);
    };
    for (let i = 0; i < P_WORDS; i += 2) {
      next();
      p[i] = block[0]!;
      p[i + 1] = block[1]!;
    }
    const s = this.s;
    for (let i = 0; i < S_WORDS; i += 2) {
      next();
      s[i] = block[0]!;
      s[i + 1] = block[1]!;
    }
  }
}

const B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function b64Encode(data: Uint8Array, chars: number): string {
  let out = '';
  let acc = 0;
  let n = 0;
  for (const b of data) {
    acc = (acc << 8) | b;
    n += 8;
    while (n >= 6) {
      n -= 6;
      out += B64[(acc >>> n) & 0x3f];
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out += B64[(acc << (6 - n)) & 0x3f];
  return out.slice(0, chars);
}

function b64Decode(text: string, bytes: number): Uint8Array | null {
  const out = new Uint8Array(bytes);
  let acc = 0;
  let n = 0;
  let i = 0;
  for (const ch of text) {
    const v = B64.indexOf(ch);
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffff;
    n += 6;
    if (n >= 8) {
      n -= 8;
      if (i < bytes) out[i++] = (acc >>> n) & 0xff;
    }
  }
  return i === bytes ? out : null;
}

const MAGIC = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');

/** The 31-character hash part of a bcrypt hash for `password` with a 16-byte salt and cost (log2 rounds). */
export function bcryptDigest(password: string, salt: Uint8Array, cost: number): string {
  // The key is the password with its terminating NUL, at most 72 bytes.
  const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]).subarray(0, 72);
  const bf = new Blowfish();
  bf.expand(key, salt);
  const rounds = 2 ** cost;
  for (let i = 0; i < rounds; i++) {
    bf.expand(key, null);
    bf.expand(salt, null);
  }
  const text = new Uint32Array(6);
  for (let i = 0; i < 6; i++) text[i] = MAGIC.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 6; j += 2) bf.encipher(text, j);
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(text[i]!, i * 4);
  return b64Encode(out.subarray(0, 23), 31);
}

/** The parts of "$2y$10$<22 salt chars><31 hash chars>", or null when it is not such a hash. */
export function parseBcryptHash(hash: string): { variant: string; cost: number; salt: Uint8Array; digest: string } | null {
  const m = /^\$(2[aby])\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(hash);
  if (!m) return null;
  const cost = Number(m[2]);
  if (cost < 4 || cost > 31) return null;
  const salt = b64Decode(m[3]!, 16);
  if (!salt) return null;
  return { variant: m[1]!, cost, salt, digest: m[4]! };
}

/** Create a bcrypt hash (for tests and tools): `$2y$<cost>$<salt><hash>`. */
export function bcryptHash(password: string, salt: Uint8Array, cost: number): string {
  return `$2y$${String(cost).padStart(2, '0')}$${b64Encode(salt, 22)}${bcryptDigest(password, salt, cost)}`;
}
