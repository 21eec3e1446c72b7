/**
 * mitmweb's authentication secret (`web_password`, web-api.md §2.1):
 *
 * - empty: a random 128-bit token (32 hex characters), new at each start and whenever the option
 *   is set back to "", printed in the startup URL as `?token=...`;
 * - starting with `$`: an argon2 PHC hash, checked with argon2;
 * - anything else: a plaintext password (a warning recommends a hash).
 *
 * Every comparison is constant-time. Successful argon2 checks are remembered (by a digest of the
 * password) so a client that sends the password with each request does not pay for argon2 each time.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Loader } from '../../addonmanager.js';
import type { Master } from '../../master.js';
import { OptionsError } from '../../optmanager.js';
import { Argon2FormatError, parseArgon2Hash, verifyArgon2Async, type Argon2Hash } from './argon2.js';
import { safeEqual } from './cookies.js';

function randomToken(): string {
  return randomBytes(16).toString('hex');
}

export class WebAuth {
  readonly name = 'webauth';
  private master!: Master;
  /** The current secret: a token, a plaintext password, or an argon2 hash. */
  private secret = randomToken();
  private argon: Argon2Hash | null = null;
  private verified = new Set<string>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'web_password',
      'str',
      '',
      'Password to protect the mitmweb user interface. Values starting with `$` are interpreted as an argon2 hash, everything else is considered a plaintext password. If no password is provided, a random token is generated on startup.For automated calls, you can pass the password as token query parameteror as `Authorization: Bearer ...` header.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('web_password')) return;
    const pw = this.master.options.get<string>('web_password');
    let argon: Argon2Hash | null = null;
    if (pw.startsWith('$')) {
      try {
        argon = parseArgon2Hash(pw);
      } catch (e) {
        if (!(e instanceof Argon2FormatError)) throw e;
        throw new OptionsError("`web_password` starts with `$`, but it's not a valid argon2 hash.");
      }
    } else if (pw) {
      this.master.log.warn('Using a plaintext password to protect the mitmweb user interface. Consider using an argon2 hash for `web_password`  instead.');
    }
    this.argon = argon;
    this.secret = pw || randomToken();
    this.verified.clear();
  }

  /** The generated token, or null when a password is configured. */
  get token(): string | null {
    return this.master.options.get<string>('web_password') ? null : this.secret;
  }

  /** `http://host:port/?token=...` (no token when a password is set; IPv6 hosts in brackets). */
  get webUrl(): string {
    const o = this.master.options;
    const token = this.token;
    let host = o.get<string>('web_host');
    if (host.includes(':')) host = `[${host}]`;
    return `http://${host}:${o.get<number>('web_port')}/${token !== null ? `?token=${token}` : ''}`;
  }

  /** `mitmproxy-auth-<web_port>`, from the live option. */
  authCookieName(): string {
    return `mitmproxy-auth-${this.master.options.get<number>('web_port')}`;
  }

  /** Whether `password` is the secret. An empty password never is. */
  async isValidPassword(password: string): Promise<boolean> {
    if (!password) return false;
    const argon = this.argon;
    if (argon) {
      const key = createHash('sha256').update(this.secret).update('\0').update(password).digest('hex');
      if (this.verified.has(key)) return true;
      let ok = false;
      try {
        ok = await verifyArgon2Async(argon, password);
      } catch {
        ok = false;
      }
      // The secret may have changed while argon2 ran; only remember results for the current one.
      if (ok && this.argon === argon) {
        if (this.verified.size > 64) this.verified.clear();
        this.verified.add(key);
      }
      return ok;
    }
    return safeEqual(this.secret, password);
  }
}
