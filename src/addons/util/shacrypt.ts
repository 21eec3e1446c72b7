/**
 * Ulrich Drepper's SHA-256/SHA-512 crypt (`$5$`, `$6$`), as written by `htpasswd -2` / `-5` and
 * found in /etc/shadow: many rounds of SHA over password, salt and the previous digest, then a
 * crypt-style base64 of the digest bytes in a fixed shuffled order.
 */
import { createHash } from 'node:crypto';

const B64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;

/** `size` bytes of `seq` repeated. */
function repeatTo(seq: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seq.length) seq.copy(out, i, 0, Math.min(seq.length, size - i));
  return out;
}

/**
 * The full crypt string for `password` given the settings of an existing hash (or a fresh one):
 * "$5$[rounds=N$]salt$hash". Returns null for settings that are not SHA-crypt.
 */
export function shaCrypt(password: string, setting: string): string | null {
  const m = /^\$([56])\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (!m) return null;
  const algo = m[1] === '5' ? 'sha256' : 'sha512';
  const size = algo === 'sha256' ? 32 : 64;
  const customRounds = m[2] !== undefined;
  const rounds = customRounds ? Math.min(999_999_999, Math.max(1000, Number(m[2]))) : DEFAULT_ROUNDS;
  const salt = Buffer.from(m[3]!, 'utf8').subarray(0, 16);
  const pw = Buffer.from(password, 'utf8');
  const digest = (...parts: Buffer[]) => {
    const h = createHash(algo);
    for (const p of parts) h.update(p);
    return h.digest();
  };

  const b = digest(pw, salt, pw);
  const a = createHash(algo);
  a.update(pw);
  a.update(salt);
  a.update(repeatTo(b, pw.length));
  // One step per bit of the password length: B for a set bit, the password for a clear one.
  for (let i = pw.length; i > 0; i >>= 1) a.update(i & 1 ? b : pw);
  let result = a.digest();

  const dp = digest(...Array<Buffer>(pw.length).fill(pw));
  const pSeq = repeatTo(dp, pw.length);
  const ds = digest(...Array<Buffer>(16 + result[0]!).fill(salt));
  const sSeq = repeatTo(ds, salt.length);

  for (let i = 0; i < rounds; i++) {
    const c = createHash(algo);
    c.update(i & 1 ? pSeq : result);
    if (i % 3) c.update(sSeq);
    if (i % 7) c.update(pSeq);
    c.update(i & 1 ? result : pSeq);
    result = c.digest();
  }

  let out = '';
  const put = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let i = 0; i < n; i++, w >>>= 6) out += B64[w & 0x3f];
  };
  const r = result;
  // Digest bytes go out in groups of three taken a third of the digest apart, rotating which
  // byte leads (the order is fixed by the specification).
  const third = size === 32 ? 10 : 21;
  for (let k = 0; k < third; k++) {
    const x = r[k]!;
    const y = r[k + third]!;
    const z = r[k + 2 * third]!;
    const rot = k % 3;
    if (size === 32) {
      if (rot === 0) put(x, y, z, 4);
      else if (rot === 1) put(z, x, y, 4);
      else put(y, z, x, 4);
    } else {
      if (rot === 0) put(x, y, z, 4);
      else if (rot === 1) put(y, z, x, 4);
      else put(z, x, y, 4);
    }
  }
  if (size === 32) put(0, r[31]!, r[30]!, 3);
  else put(0, 0, r[63]!, 2);
  return `$${m[1]}$${customRounds ? `rounds=${rounds}$` : ''}${salt.toString('utf8')}$${out}`;
}
