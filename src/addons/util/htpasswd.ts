/**
 * Apache htpasswd files for `proxyauth=@path`. Supported password formats, none needing a
 * native module:
 * - `$2y$`, `$2b$`, `$2a$` bcrypt                   (htpasswd -B; see bcrypt.ts)
 * - `{SHA}` + base64(SHA-1(password))            (htpasswd -s)
 * - `$apr1$salt$hash`, Apache's MD5 crypt          (htpasswd -m, long the htpasswd default)
 * - `$1$salt$hash`, the same algorithm with the glibc MD5-crypt magic
 * - `$5$` / `$6$` SHA-256 / SHA-512 crypt          (htpasswd -2 / -5; see shacrypt.ts)
 * - plain text                                      (htpasswd -p)
 * Not supported, refused when the file is loaded so that nobody is silently locked out: the buggy
 * `$2x$` bcrypt variant and other `$id$` schemes.
 * A 13-character DES crypt() hash cannot be told apart from a plain password and is treated as one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { bcryptDigest, parseBcryptHash } from './bcrypt.js';
import { shaCrypt } from './shacrypt.js';
import { BoundedCache } from '../../util/bounded-cache.js';

/** A malformed line or a password format we cannot check. */
export class HtpasswdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HtpasswdError';
  }
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * The MD5-based crypt of Poul-Henning Kamp (FreeBSD `$1$`), which Apache uses with the magic
 * `$apr1$`: 1000 rounds of MD5 over password, salt and the previous digest, then a custom base64.
 */
export function md5Crypt(password: string, salt: string, magic: '$apr1$' | '$1$'): string {
  const pw = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.split('$')[0]!.slice(0, 8), 'utf8');
  const md5 = (...parts: Buffer[]) => {
    const h = createHash('md5');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const alternate = md5(pw, s, pw);
  const ctx = createHash('md5');
  ctx.update(pw);
  ctx.update(magic);
  ctx.update(s);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(16, left)));
  // One byte per bit of the password length: NUL for a set bit, the first password byte otherwise.
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  let digest = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const parts: Buffer[] = [];
    parts.push(i & 1 ? pw : digest);
    if (i % 3) parts.push(s);
    if (i % 7) parts.push(pw);
    parts.push(i & 1 ? digest : pw);
    digest = md5(...parts);
  }
  let out = '';
  const put = (value: number, chars: number) => {
    for (let v = value, n = chars; n > 0; n--, v >>= 6) out += ITOA64[v & 0x3f];
  };
  const d = digest;
  put((d[0]! << 16) | (d[6]! << 8) | d[12]!, 4);
  put((d[1]! << 16) | (d[7]! << 8) | d[13]!, 4);
  put((d[2]! << 16) | (d[8]! << 8) | d[14]!, 4);
  put((d[3]! << 16) | (d[9]! << 8) | d[15]!, 4);
  put((d[4]! << 16) | (d[10]! << 8) | d[5]!, 4);
  put(d[11]!, 2);
  return `${magic}${s.toString('utf8')}$${out}`;
}

function constantTimeEqual(a: string, b: string): boolean {
  // Compare fixed-length digests so the time taken tells nothing about how much of a guess was right.
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y) && a === b;
}

type Scheme = 'sha' | 'apr1' | 'md5' | 'bcrypt' | 'sha-crypt' | 'plain';

function schemeOf(user: string, hash: string): Scheme {
  if (hash.startsWith('{SHA}')) return 'sha';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('$1$')) return 'md5';
  if (/^\$2[aby]\$/.test(hash)) {
    if (!parseBcryptHash(hash)) throw new HtpasswdError(`Malformed bcrypt hash for user '${user}'`);
    return 'bcrypt';
  }
  if (/^\$[56]\$/.test(hash)) return 'sha-crypt';
  if (/^\$[0-9a-z]+\$/.test(hash)) throw new HtpasswdError(`Unsupported htpasswd format for user '${user}': ${hash.slice(0, hash.indexOf('$', 1) + 1)} hashes are not supported (use htpasswd -m or -s)`);
  return 'plain';
}

/** The users of an htpasswd file and their password hashes. */
export class HtpasswdFile {
  private readonly users = new Map<string, { scheme: Scheme; hash: string }>();

  /** Parse the file's text; throws HtpasswdError for a malformed line or an unsupported format. */
  constructor(content: string) {
    for (const raw of content.split(/\r\n|\r|\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw new HtpasswdError(`Malformed htpasswd line: '${line}'`);
      const user = line.slice(0, colon);
      if (!user) throw new HtpasswdError(`Malformed htpasswd line: '${line}'`);
      // Anything after a second colon is a comment field (as mitmproxy and Apache ignore it).
      const hash = line.slice(colon + 1).split(':')[0]!;
      this.users.set(user, { scheme: schemeOf(user, hash), hash });
    }
  }

  /**
   * Recent results of the deliberately slow schemes (bcrypt takes about 100 ms at cost 10,
   * SHA-crypt tens of ms, on the event loop). A proxy client sends the same credentials with
   * every request, so they are checked once.
   */
  private readonly slowCache = new BoundedCache<string, boolean>(1024);

  private checkSlow(username: string, hash: string, password: string, check: () => boolean): boolean {
    const key = createHash('sha256').update(`${username}\0${password}\0${hash}`, 'utf8').digest('base64');
    return this.slowCache.getOrCompute(key, check);
  }

  get size(): number {
    return this.users.size;
  }

  checkPassword(username: string, password: string): boolean {
    const entry = this.users.get(username);
    if (!entry) return false;
    const { scheme, hash } = entry;
    switch (scheme) {
      case 'sha':
        return constantTimeEqual(hash.slice(5), createHash('sha1').update(password, 'utf8').digest('base64'));
      case 'apr1':
        return constantTimeEqual(hash, md5Crypt(password, hash.slice(6), '$apr1$'));
      case 'md5':
        return constantTimeEqual(hash, md5Crypt(password, hash.slice(3), '$1$'));
      case 'bcrypt':
        return this.checkSlow(username, hash, password, () => {
          const parsed = parseBcryptHash(hash)!;
          return constantTimeEqual(parsed.digest, bcryptDigest(password, parsed.salt, parsed.cost));
        });
      case 'sha-crypt':
        return this.checkSlow(username, hash, password, () => constantTimeEqual(hash, shaCrypt(password, hash) ?? ''));
      case 'plain':
        return constantTimeEqual(hash, password);
    }
  }
}
