/**
 * Python `re` patterns, translated to JavaScript RegExp.
 *
 * mitmproxy compiles every filter argument with Python's `re` module and uses `search`. Users
 * write Python syntax (`(?P<name>...)`, `\Z`, `(?i)` ...), and the same pattern must match the same
 * text here. This module parses the pattern with Python's rules (the same syntax errors are
 * errors here), then writes an equivalent JavaScript source compiled with the `v` flag.
 *
 * How Python semantics are kept:
 * - Case-insensitivity (IGNORECASE, `(?i)`, `(?i:...)`, `(?-i:...)`) is expanded into explicit
 *   classes of the characters Python treats as equal (see casefold.ts); JavaScript's `i` flag is
 *   never used. Bytes patterns and `(?a)` fold ASCII letters only, as Python does.
 * - `.` becomes `[^\n]` (Python's dot matches `\r`, JavaScript's does not), `^`/`$` are rewritten
 *   per scope (`$` also matches before a final `\n`; MULTILINE looks only at `\n`, never `\r`),
 *   `\A` and `\Z` are input boundaries.
 * - `\d \w \s \b \B` follow Python: Unicode categories for str patterns (`\w` = letters, numbers
 *   and `_`; `\s` = Python's `str.isspace()` set), ASCII for bytes patterns and under `(?a)`.
 *   `\B` does not match in an empty string (Python 3.12/3.13 behaviour).
 * - Atomic groups `(?>...)` and possessive quantifiers (`*+ ++ ?+ {m,n}+`) are emulated exactly
 *   with a capturing lookahead and a backreference, `(?=(X))\k`, because JavaScript lookaheads
 *   never backtrack into themselves. Inside a (fixed-width) lookbehind they are plain groups.
 * - Look-behinds must be fixed-width, as in Python (JavaScript would accept variable width).
 * - Group names are not carried over (only match/no match matters); named backreferences
 *   `(?P=name)` become numbered ones.
 *
 * Rejected with an error although Python accepts them, because JavaScript cannot express them
 * faithfully:
 * - conditional groups `(?(1)yes|no)` / `(?(name)yes|no)`;
 * - named character escapes `\N{EM DASH}` (Node has no Unicode name table);
 * - the LOCALE flag `(?L)` (locale-dependent in Python);
 * - a backreference inside a case-insensitive part of the pattern (Python compares lowercase
 *   forms; JavaScript would need the `i` flag, which folds differently). Write `(?-i:(\w)\1)` or
 *   set MITMPROXY_CASE_SENSITIVE_FILTERS=1;
 * - a backreference to a group that may not have taken part in the match (inside an alternative,
 *   an optional repeat or a negative look-around): Python fails such a backreference, JavaScript
 *   matches it as empty.
 * Everything Python itself refuses (bad escapes such as `\q` or `\G`, `\z` before Python 3.14,
 * global flags not at the start, `(?<name>...)`, variable-width look-behind, unbalanced
 * parentheses, ...) is an error here too, with Python's message.
 * Baseline is Python 3.12/3.13: `\z` is a bad escape (3.14 accepts it), the `t` flag is unknown,
 * group names in byte patterns must be ASCII, and `\B` never matches an empty string.
 * Known small differences: the Unicode tables for `\d \w` are Node's (ICU), not Python's, and
 * the case-folding groups come from CPython 3.11 (Unicode 14; see casefold-data.ts).
 */
import { caseClosureOfRange, caseVariants, type CaseMode } from './casefold.js';
import { pyStrRepr } from '../io/pyrepr.js';

/** The regex flags mitmproxy sets for an operator (IGNORECASE, MULTILINE, DOTALL). */
export interface PyRegexFlags {
  readonly ignoreCase: boolean;
  readonly multiline: boolean;
  readonly dotAll: boolean;
}

export interface CompiledPyRegex {
  readonly regex: RegExp;
  /** The pattern's effective flags, including global inline flags such as `(?s)` (for descriptions). */
  readonly flags: PyRegexFlags;
  /** Number of capturing groups as Python counts them. */
  readonly groupCount: number;
  /**
   * Whether a repetition holds another one and one of them is unbounded (`(a+)+`, `(\w+\s?)*`,
   * `(.*x){9}`): the shape whose backtracking can take exponential time on a text that almost
   * matches. See regex-guard.ts.
   */
  readonly nestedRepetition: boolean;
  /**
   * Whether a repetition can run over a long stretch of text (`.*`, `a+`, `\w{1,500}`): tried at
   * every position of a text where it fails, such a pattern can take time quadratic in the
   * text's length (`.*x` over a 64 KB body without "x": 17 s). See regex-guard.ts.
   */
  readonly longRepetition: boolean;
  /** `(?P<name>...)` groups and their Python numbers. */
  readonly groupNames: ReadonlyMap<string, number>;
  /**
   * The JavaScript group number of each Python group (index 0 is the whole match). They differ
   * when atomic groups or possessive quantifiers add helper groups.
   */
  readonly jsGroupIndex: readonly number[];
}

/** The pattern does not compile (Python would refuse it) or cannot be translated faithfully. */
export class PyRegexError extends Error {
  constructor(
    message: string,
    /** Offset in the pattern (in bytes for byte patterns), when known. */
    readonly position: number | null,
    /** True when Python accepts the pattern but we cannot translate it faithfully. */
    readonly unsupported: boolean,
  ) {
    super(position === null ? message : `${message} at position ${position}`);
    this.name = 'PyRegexError';
  }
}

// Python's flag bits (values as in Python's `re` module).
const F_I = 2;
const F_L = 4;
const F_M = 8;
const F_S = 16;
const F_U = 32;
const F_X = 64;
const F_A = 256;
const TYPE_FLAGS = F_A | F_L | F_U;
const FLAG_BITS: Record<string, number> = { i: F_I, L: F_L, m: F_M, s: F_S, x: F_X, a: F_A, u: F_U };

const MAXREPEAT = 4294967295;
const MAXCODE = 4294967295;
const SPECIAL = new Set(['.', '\\', '[', '{', '(', ')', '*', '+', '?', '^', '$', '|']);
const VERBOSE_SPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);
const DIGITS = '0123456789';
const OCTDIGITS = '01234567';
const HEXDIGITS = '0123456789abcdefABCDEF';

type Cat = 'd' | 'D' | 'w' | 'W' | 's' | 'S';
type SetItem = { t: 'range'; lo: number; hi: number } | { t: 'cat'; cat: Cat; uni: boolean };
type Branches = RNode[][];
type RNode =
  | { k: 'lit'; cp: number; cm: CaseMode }
  | { k: 'any'; dotAll: boolean }
  | { k: 'set'; negate: boolean; items: SetItem[]; cm: CaseMode }
  | { k: 'cat'; cat: Cat; uni: boolean }
  | { k: 'at'; at: 'bol' | 'eol' | 'bos' | 'eos'; multiline: boolean }
  | { k: 'wordb'; negate: boolean; uni: boolean }
  | { k: 'group'; index: number | null; body: Branches }
  | { k: 'look'; behind: boolean; negate: boolean; body: Branches }
  | { k: 'atomic'; body: Branches }
  | { k: 'repeat'; min: number; max: number; mode: 'greedy' | 'lazy' | 'possessive'; item: RNode }
  | { k: 'backref'; index: number; ci: boolean; position: number };

/** Whether a Source token is an escape (a backslash and the code point after it). */
function isEscape(tok: string): boolean {
  return tok.length > 1 && tok[0] === '\\';
}

/** Reads the pattern as Python's tokenizer does: one character, or a backslash and the next one. */
class Source {
  private i = 0;
  constructor(
    readonly text: string,
    readonly isText: boolean,
  ) {}

  /** Offset of the next token. */
  tell(): number {
    return this.i;
  }
  seek(i: number): void {
    this.i = i;
  }
  private tokenAt(i: number): string | null {
    if (i >= this.text.length) return null;
    const cp = this.text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (ch !== '\\') return ch;
    if (i + 1 >= this.text.length) throw new PyRegexError('bad escape (end of pattern)', i, false);
    return '\\' + String.fromCodePoint(this.text.codePointAt(i + 1)!);
  }
  peek(): string | null {
    return this.tokenAt(this.i);
  }
  get(): string | null {
    const t = this.tokenAt(this.i);
    if (t !== null) this.i += t.length;
    return t;
  }
  match(tok: string): boolean {
    if (this.peek() === tok) {
      this.i += tok.length;
      return true;
    }
    return false;
  }
  /** Up to `n` single-character tokens from `chars`. */
  getWhile(n: number, chars: string): string {
    let out = '';
    for (let k = 0; k < n; k++) {
      const t = this.peek();
      if (t === null || t.length !== 1 || !chars.includes(t)) break;
      out += t;
      this.i += 1;
    }
    return out;
  }
  /** Characters up to `terminator` (consumed), for group names. */
  getUntil(terminator: string, what: string): string {
    let out = '';
    for (;;) {
      const t = this.get();
      if (t === null) {
        if (!out) throw new PyRegexError(`missing ${what}`, this.i, false);
        throw new PyRegexError(`missing ${terminator}, unterminated name`, this.i - out.length, false);
      }
      if (t === terminator) {
        if (!out) throw new PyRegexError(`missing ${what}`, this.i - 1, false);
        return out;
      }
      out += t;
    }
  }
}

const IDENTIFIER = /^[\p{XID_Start}_][\p{XID_Continue}]*$/u;

/** Parses a Python pattern into a tree, applying Python's syntax rules and error messages. */
class PyParser {
  private stateFlags: number;
  private groupCount = 1; // like Python's state.groups: the next group number
  private readonly groupWidths: Array<[number, number] | null> = [null];
  private readonly groupNames = new Map<string, number>();
  private lookbehindGroups: number | null = null;

  constructor(
    private readonly src: Source,
    flags: number,
  ) {
    this.stateFlags = flags;
  }

  get flags(): number {
    return this.stateFlags;
  }

  get groups(): { count: number; names: ReadonlyMap<string, number> } {
    return { count: this.groupCount - 1, names: this.groupNames };
  }

  parse(): Branches {
    const body = this.parseSub(this.stateFlags, !!(this.stateFlags & F_X), 0);
    if (this.src.peek() !== null) throw new PyRegexError('unbalanced parenthesis', this.src.tell(), false);
    const f = this.stateFlags;
    if (this.src.isText) {
      if (f & F_A && f & F_U) throw new PyRegexError('ASCII and UNICODE flags are incompatible', null, false);
    }
    return body;
  }

  private caseMode(flags: number): CaseMode {
    if (!(flags & F_I)) return 'none';
    return !this.src.isText || flags & F_A ? 'ascii' : 'unicode';
  }

  private isUnicode(flags: number): boolean {
    return this.src.isText && !(flags & F_A);
  }

  private parseSub(flags: number, verbose: boolean, nested: number): Branches {
    const branches: Branches = [];
    for (;;) {
      const first = nested === 0 && branches.length === 0;
      // Global flags found in the first branch apply to everything after them.
      branches.push(this.parseSeq(nested === 0 ? this.stateFlags | flags : flags, verbose, nested + 1, first));
      if (!this.src.match('|')) break;
      // Like Python: after a top-level `|`, a global (?x) seen so far turns verbose mode on.
      if (nested === 0) verbose = !!(this.stateFlags & F_X);
    }
    return branches;
  }

  private parseSeq(flagsIn: number, verboseIn: boolean, nested: number, first: boolean): RNode[] {
    const src = this.src;
    const items: RNode[] = [];
    let flags = flagsIn;
    let verbose = verboseIn;
    for (;;) {
      const tok = src.peek();
      if (tok === null || tok === '|' || tok === ')') break;
      const tokStart = src.tell();
      src.get();
      if (verbose) {
        if (VERBOSE_SPACE.has(tok)) continue;
        if (tok === '#') {
          for (;;) {
            const t = src.get();
            if (t === null || t === '\n') break;
          }
          continue;
        }
      }
      if (isEscape(tok)) {
        items.push(this.parseEscape(tok, tokStart, flags));
      } else if (!SPECIAL.has(tok)) {
        items.push({ k: 'lit', cp: tok.codePointAt(0)!, cm: this.caseMode(flags) });
      } else if (tok === '[') {
        items.push(this.parseClass(tokStart, flags));
      } else if (tok === '*' || tok === '+' || tok === '?' || tok === '{') {
        let min: number;
        let max: number;
        if (tok === '?') [min, max] = [0, 1];
        else if (tok === '*') [min, max] = [0, MAXREPEAT];
        else if (tok === '+') [min, max] = [1, MAXREPEAT];
        else {
          if (src.peek() === '}') {
            items.push({ k: 'lit', cp: 0x7b, cm: this.caseMode(flags) });
            continue;
          }
          const here = src.tell();
          const lo = src.getWhile(Infinity, DIGITS);
          let hi: string;
          if (src.match(',')) hi = src.getWhile(Infinity, DIGITS);
          else hi = lo;
          if (!src.match('}')) {
            items.push({ k: 'lit', cp: 0x7b, cm: this.caseMode(flags) });
            src.seek(here);
            continue;
          }
          min = 0;
          max = MAXREPEAT;
          if (lo) {
            min = Number(lo);
            if (min >= MAXREPEAT) throw new PyRegexError('the repetition number is too large', null, false);
          }
          if (hi) {
            max = Number(hi);
            if (max >= MAXREPEAT) throw new PyRegexError('the repetition number is too large', null, false);
            if (max < min) throw new PyRegexError('min repeat greater than max repeat', here, false);
          }
        }
        const item = items[items.length - 1];
        if (!item || item.k === 'at' || item.k === 'wordb') throw new PyRegexError('nothing to repeat', tokStart, false);
        if (item.k === 'repeat') throw new PyRegexError('multiple repeat', tokStart, false);
        let mode: 'greedy' | 'lazy' | 'possessive' = 'greedy';
        if (src.match('?')) mode = 'lazy';
        else if (src.match('+')) mode = 'possessive';
        items[items.length - 1] = { k: 'repeat', min, max, mode, item };
      } else if (tok === '.') {
        items.push({ k: 'any', dotAll: !!(flags & F_S) });
      } else if (tok === '(') {
        const r = this.parseGroup(tokStart, flags, verbose, nested, first && items.length === 0);
        if (r === 'comment') continue;
        if (r === 'global') {
          // Global inline flags: they now hold for the rest of the pattern.
          flags |= this.stateFlags;
          verbose = !!(this.stateFlags & F_X);
          continue;
        }
        items.push(r);
      } else if (tok === '^') {
        items.push({ k: 'at', at: 'bol', multiline: !!(flags & F_M) });
      } else if (tok === '$') {
        items.push({ k: 'at', at: 'eol', multiline: !!(flags & F_M) });
      } else {
        throw new PyRegexError(`unsupported special character ${tok}`, tokStart, false);
      }
    }
    return items;
  }

  private parseGroup(start: number, flags: number, verbose: boolean, nested: number, mayBeGlobal: boolean): RNode | 'comment' | 'global' {
    const src = this.src;
    let capture = true;
    let atomic = false;
    let name: string | null = null;
    let addFlags = 0;
    let delFlags = 0;
    if (src.match('?')) {
      const ch = src.get();
      if (ch === null) throw new PyRegexError('unexpected end of pattern', src.tell(), false);
      if (ch === 'P') {
        if (src.match('<')) {
          name = src.getUntil('>', 'group name');
          this.checkGroupName(name, src.tell() - name.length - 1);
        } else if (src.match('=')) {
          const refName = src.getUntil(')', 'group name');
          const pos = src.tell() - refName.length - 1;
          this.checkGroupName(refName, pos);
          const gid = this.groupNames.get(refName);
          if (gid === undefined) throw new PyRegexError(`unknown group name ${pyStrRepr(refName)}`, pos, false);
          this.checkBackref(gid, pos);
          return { k: 'backref', index: gid, ci: !!(flags & F_I), position: start };
        } else {
          const c2 = src.get();
          if (c2 === null) throw new PyRegexError('unexpected end of pattern', src.tell(), false);
          throw new PyRegexError(`unknown extension ?P${c2}`, src.tell() - c2.length - 2, false);
        }
      } else if (ch === ':') {
        capture = false;
      } else if (ch === '#') {
        for (;;) {
          if (src.peek() === null) throw new PyRegexError('missing ), unterminated comment', start, false);
          if (src.get() === ')') return 'comment';
        }
      } else if (ch === '=' || ch === '!' || ch === '<') {
        let kind = ch;
        let behind = false;
        if (ch === '<') {
          const c2 = src.get();
          if (c2 === null) throw new PyRegexError('unexpected end of pattern', src.tell(), false);
          if (c2 !== '=' && c2 !== '!') throw new PyRegexError(`unknown extension ?<${c2}`, src.tell() - c2.length - 2, false);
          kind = c2;
          behind = true;
        }
        const savedLookbehind = this.lookbehindGroups;
        if (behind && savedLookbehind === null) this.lookbehindGroups = this.groupCount;
        const body = this.parseSub(flags, verbose, nested + 1);
        if (behind && savedLookbehind === null) this.lookbehindGroups = null;
        if (!src.match(')')) throw new PyRegexError('missing ), unterminated subpattern', start, false);
        if (behind) {
          const [lo, hi] = this.width(body);
          if (lo > MAXCODE) throw new PyRegexError('looks too much behind', null, false);
          if (lo !== hi) throw new PyRegexError('look-behind requires fixed-width pattern', null, false);
        }
        return { k: 'look', behind, negate: kind === '!', body };
      } else if (ch === '(') {
        throw new PyRegexError('conditional groups (?(...)...) are not supported', start, true);
      } else if (ch === '>') {
        capture = false;
        atomic = true;
      } else if (ch in FLAG_BITS || ch === '-') {
        const parsed = this.parseFlags(ch);
        if (parsed === null) {
          if (!mayBeGlobal) throw new PyRegexError('global flags not at the start of the expression', start, false);
          return 'global';
        }
        [addFlags, delFlags] = parsed;
        capture = false;
      } else {
        throw new PyRegexError(`unknown extension ?${ch}`, src.tell() - ch.length - 1, false);
      }
    }
    let group: number | null = null;
    if (capture) {
      group = this.groupCount++;
      this.groupWidths.push(null);
      if (name !== null) {
        const old = this.groupNames.get(name);
        if (old !== undefined) {
          throw new PyRegexError(`redefinition of group name ${pyStrRepr(name)} as group ${group}; was group ${old}`, src.tell() - name.length - 1, false);
        }
        this.groupNames.set(name, group);
      }
    }
    const subVerbose = (verbose || !!(addFlags & F_X)) && !(delFlags & F_X);
    let subFlags = flags;
    if (addFlags & TYPE_FLAGS) subFlags &= ~TYPE_FLAGS;
    subFlags = (subFlags | addFlags) & ~delFlags;
    const body = this.parseSub(subFlags, subVerbose, nested + 1);
    if (!src.match(')')) throw new PyRegexError('missing ), unterminated subpattern', start, false);
    if (group !== null) this.groupWidths[group] = this.width(body);
    if (atomic) return { k: 'atomic', body };
    return { k: 'group', index: group, body };
  }

  /** `(?aiLmsux-imsx:` / `(?aiLmsux)`: returns null for global flags, else [add, del]. */
  private parseFlags(firstChar: string): [number, number] | null {
    const src = this.src;
    let ch: string | null = firstChar;
    let add = 0;
    let del = 0;
    if (ch !== '-') {
      for (;;) {
        const flag = FLAG_BITS[ch]!;
        if (src.isText) {
          if (ch === 'L') throw new PyRegexError("bad inline flags: cannot use 'L' flag with a str pattern", src.tell(), false);
        } else if (ch === 'u') {
          throw new PyRegexError("bad inline flags: cannot use 'u' flag with a bytes pattern", src.tell(), false);
        }
        add |= flag;
        if (flag & TYPE_FLAGS && (add & TYPE_FLAGS) !== flag) {
          throw new PyRegexError("bad inline flags: flags 'a', 'u' and 'L' are incompatible", src.tell(), false);
        }
        ch = src.get();
        if (ch === null) throw new PyRegexError('missing -, : or )', src.tell(), false);
        if (ch === ')' || ch === '-' || ch === ':') break;
        if (!(ch in FLAG_BITS)) {
          throw new PyRegexError(/^\p{L}$/u.test(ch) ? 'unknown flag' : 'missing -, : or )', src.tell() - ch.length, false);
        }
      }
    }
    if (ch === ')') {
      if (add & F_L) throw new PyRegexError('the LOCALE flag (?L) is not supported', src.tell(), true);
      this.stateFlags |= add;
      return null;
    }
    if (ch === '-') {
      ch = src.get();
      if (ch === null) throw new PyRegexError('missing flag', src.tell(), false);
      if (!(ch in FLAG_BITS)) throw new PyRegexError(/^\p{L}$/u.test(ch) ? 'unknown flag' : 'missing flag', src.tell() - ch.length, false);
      for (;;) {
        const flag = FLAG_BITS[ch]!;
        if (flag & TYPE_FLAGS) throw new PyRegexError("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", src.tell(), false);
        del |= flag;
        ch = src.get();
        if (ch === null) throw new PyRegexError('missing :', src.tell(), false);
        if (ch === ':') break;
        if (!(ch in FLAG_BITS)) throw new PyRegexError(/^\p{L}$/u.test(ch) ? 'unknown flag' : 'missing :', src.tell() - ch.length, false);
      }
    }
    if (add & del) throw new PyRegexError('bad inline flags: flag turned on and off', src.tell() - 1, false);
    if (add & F_L) throw new PyRegexError('the LOCALE flag (?L:...) is not supported', src.tell(), true);
    return [add, del];
  }

  private checkGroupName(name: string, pos: number): void {
    // Python 3.12+: names in bytes patterns must be ASCII identifiers.
    if (!this.src.isText && /[^\x00-\x7f]/.test(name)) throw new PyRegexError(`bad character in group name ${pyStrRepr(name)}`, pos, false);
    if (!IDENTIFIER.test(name)) throw new PyRegexError(`bad character in group name ${pyStrRepr(name)}`, pos, false);
  }

  private checkBackref(gid: number, pos: number): void {
    if (!(gid < this.groupCount && this.groupWidths[gid] !== null)) throw new PyRegexError('cannot refer to an open group', pos, false);
    if (this.lookbehindGroups !== null && gid >= this.lookbehindGroups) {
      throw new PyRegexError('cannot refer to group defined in the same lookbehind subpattern', pos, false);
    }
  }

  private parseEscape(tok: string, pos: number, flags: number): RNode {
    const src = this.src;
    // The escaped character (a whole code point: `\😀` is two UTF-16 units after the backslash).
    const c = tok.slice(1);
    const uni = this.isUnicode(flags);
    const cm = this.caseMode(flags);
    const lit = (cp: number): RNode => ({ k: 'lit', cp, cm });
    switch (c) {
      case 'A':
        return { k: 'at', at: 'bos', multiline: false };
      case 'Z':
        return { k: 'at', at: 'eos', multiline: false };
      case 'b':
        return { k: 'wordb', negate: false, uni };
      case 'B':
        return { k: 'wordb', negate: true, uni };
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W':
        return { k: 'cat', cat: c, uni };
    }
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined && tok.length === 2) return lit(simple);
    const cp = this.numericEscape(tok, pos, false);
    if (cp !== null) return lit(cp);
    if (c === '0') return lit(parseInt(src.getWhile(2, OCTDIGITS) || '0', 8));
    if (DIGITS.includes(c)) {
      let digits = c;
      const n1 = src.peek();
      if (n1 !== null && n1.length === 1 && DIGITS.includes(n1)) {
        digits += src.get();
        const n2 = src.peek();
        if (OCTDIGITS.includes(digits[0]!) && OCTDIGITS.includes(digits[1]!) && n2 !== null && n2.length === 1 && OCTDIGITS.includes(n2)) {
          digits += src.get();
          const v = parseInt(digits, 8);
          if (v > 0o377) throw new PyRegexError(`octal escape value \\${digits} outside of range 0-0o377`, pos, false);
          return lit(v);
        }
      }
      const group = Number(digits);
      if (group < this.groupCount) {
        this.checkBackref(group, pos + 1);
        return { k: 'backref', index: group, ci: !!(flags & F_I), position: pos };
      }
      throw new PyRegexError(`invalid group reference ${group}`, pos + 1, false);
    }
    if (/^[A-Za-z]$/.test(c)) throw new PyRegexError(`bad escape ${tok}`, pos, false);
    return lit(c.codePointAt(0)!);
  }

  /** `\x..`, `\u....`, `\U........`, `\N{...}`: the code point, or null for other escapes. */
  private numericEscape(tok: string, pos: number, inClass: boolean): number | null {
    const src = this.src;
    const c = tok[1]!;
    if (c === 'x') {
      const hex = src.getWhile(2, HEXDIGITS);
      if (hex.length !== 2) throw new PyRegexError(`incomplete escape \\x${hex}`, pos, false);
      return parseInt(hex, 16);
    }
    if (c === 'u' && src.isText) {
      const hex = src.getWhile(4, HEXDIGITS);
      if (hex.length !== 4) throw new PyRegexError(`incomplete escape \\u${hex}`, pos, false);
      return parseInt(hex, 16);
    }
    if (c === 'U' && src.isText) {
      const hex = src.getWhile(8, HEXDIGITS);
      if (hex.length !== 8) throw new PyRegexError(`incomplete escape \\U${hex}`, pos, false);
      const v = parseInt(hex, 16);
      if (v > 0x10ffff) throw new PyRegexError(`bad escape \\U${hex}`, pos, false);
      return v;
    }
    if (c === 'N' && src.isText) {
      if (!src.match('{')) throw new PyRegexError('missing {', src.tell(), false);
      src.getUntil('}', 'character name');
      throw new PyRegexError('named Unicode escapes (\\N{...}) are not supported', pos, true);
    }
    if (inClass && OCTDIGITS.includes(c)) {
      const digits = c + src.getWhile(2, OCTDIGITS);
      const v = parseInt(digits, 8);
      if (v > 0o377) throw new PyRegexError(`octal escape value \\${digits} outside of range 0-0o377`, pos, false);
      return v;
    }
    return null;
  }

  private parseClass(start: number, flags: number): RNode {
    const src = this.src;
    const uni = this.isUnicode(flags);
    const items: SetItem[] = [];
    const negate = src.match('^');
    type Code = { lit: number } | { cat: Cat };
    const classEscape = (tok: string, pos: number): Code => {
      const c = tok.slice(1);
      if (c === 'b') return { lit: 8 }; // backspace inside a class
      const simple = SIMPLE_ESCAPES[c];
      if (simple !== undefined) return { lit: simple };
      if ('dDsSwW'.includes(c)) return { cat: c as Cat };
      const cp = this.numericEscape(tok, pos, true);
      if (cp !== null) return { lit: cp };
      if (DIGITS.includes(c) || /^[A-Za-z]$/.test(c)) throw new PyRegexError(`bad escape ${tok}`, pos, false);
      return { lit: c.codePointAt(0)! };
    };
    const push = (code: Code): void => {
      if ('cat' in code) items.push({ t: 'cat', cat: code.cat, uni });
      else items.push({ t: 'range', lo: code.lit, hi: code.lit });
    };
    for (;;) {
      const thisPos = src.tell();
      const tok = src.get();
      if (tok === null) throw new PyRegexError('unterminated character set', start, false);
      if (tok === ']' && items.length > 0) break;
      // A token is an escape or one code point (two UTF-16 units for a character beyond the BMP).
      const code1: Code = isEscape(tok) ? classEscape(tok, thisPos) : { lit: tok.codePointAt(0)! };
      if (src.match('-')) {
        const thatPos = src.tell();
        const that = src.get();
        if (that === null) throw new PyRegexError('unterminated character set', start, false);
        if (that === ']') {
          push(code1);
          items.push({ t: 'range', lo: 0x2d, hi: 0x2d });
          break;
        }
        const code2: Code = isEscape(that) ? classEscape(that, thatPos) : { lit: that.codePointAt(0)! };
        if (!('lit' in code1) || !('lit' in code2) || code2.lit < code1.lit) {
          throw new PyRegexError(`bad character range ${tok}-${that}`, thisPos, false);
        }
        items.push({ t: 'range', lo: code1.lit, hi: code2.lit });
      } else {
        push(code1);
      }
    }
    return { k: 'set', negate, items, cm: this.caseMode(flags) };
  }

  /** Python's (min, max) width of a subpattern, used for the fixed-width look-behind rule. */
  width(body: Branches): [number, number] {
    let lo = Infinity;
    let hi = 0;
    for (const seq of body) {
      let l = 0;
      let h = 0;
      for (const n of seq) {
        const [a, b] = this.nodeWidth(n);
        l += a;
        h += b;
      }
      lo = Math.min(lo, l);
      hi = Math.max(hi, h);
    }
    return [lo, hi];
  }

  private nodeWidth(n: RNode): [number, number] {
    switch (n.k) {
      case 'lit':
      case 'any':
      case 'set':
      case 'cat':
        return [1, 1];
      case 'at':
      case 'wordb':
      case 'look':
        return [0, 0];
      case 'group':
      case 'atomic':
        return this.width(n.body);
      case 'repeat': {
        const [i, j] = this.nodeWidth(n.item);
        const lo = i * n.min;
        const hi = n.max === MAXREPEAT && j ? Infinity : j * n.max;
        return [lo, hi];
      }
      case 'backref':
        return this.groupWidths[n.index] ?? [0, 0];
    }
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

/**
 * Checks the backreferences that JavaScript would treat differently: one that may point to a
 * group that did not take part in the match, or one that is case-insensitive.
 * `defined` is the set of groups certainly set when `seq` starts; returns the set after it.
 */
function checkBackrefs(seq: RNode[], definedIn: ReadonlySet<number>): Set<number> {
  const defined = new Set(definedIn);
  for (const n of seq) {
    for (const g of checkNode(n, defined)) defined.add(g);
  }
  return defined;
}

function checkBody(body: Branches, defined: ReadonlySet<number>): Set<number> {
  let common: Set<number> | null = null;
  for (const seq of body) {
    const after = checkBackrefs(seq, defined);
    if (common === null) common = after;
    else for (const g of [...common]) if (!after.has(g)) common.delete(g);
  }
  return common ?? new Set(defined);
}

function checkNode(n: RNode, defined: ReadonlySet<number>): Set<number> {
  switch (n.k) {
    case 'backref':
      if (n.ci) {
        throw new PyRegexError(
          'a backreference in a case-insensitive pattern is not supported (use (?-i:...) or MITMPROXY_CASE_SENSITIVE_FILTERS=1)',
          n.position,
          true,
        );
      }
      if (!defined.has(n.index)) {
        throw new PyRegexError(`a backreference to group ${n.index}, which may not have matched, is not supported`, n.position, true);
      }
      return new Set(defined);
    case 'group': {
      const after = checkBody(n.body, defined);
      if (n.index !== null) after.add(n.index);
      return after;
    }
    case 'atomic':
      return checkBody(n.body, defined);
    case 'look': {
      const after = checkBody(n.body, defined);
      return n.negate ? new Set(defined) : after;
    }
    case 'repeat': {
      const after = checkNode(n.item, defined);
      return n.min >= 1 ? after : new Set(defined);
    }
    default:
      return new Set(defined);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing the JavaScript source (for the `v` flag).

const UNI_WORD = '[\\p{L}\\p{N}_]';
const UNI_SPACE = '[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const ASCII_SPACE = '[\\t-\\r\\x20]';

function catSource(cat: Cat, uni: boolean): string {
  switch (cat) {
    case 'd':
      return uni ? '\\p{Nd}' : '[0-9]';
    case 'D':
      return uni ? '\\P{Nd}' : '[^0-9]';
    case 'w':
      return uni ? UNI_WORD : '[A-Za-z0-9_]';
    case 'W':
      return uni ? '[^\\p{L}\\p{N}_]' : '[^A-Za-z0-9_]';
    case 's':
      return uni ? UNI_SPACE : ASCII_SPACE;
    case 'S':
      return '[^' + (uni ? UNI_SPACE : ASCII_SPACE).slice(1);
  }
}

const PLAIN_OUTSIDE = /^[A-Za-z0-9_ !"#%&',:;<=>@`~-]$/;
const SYNTAX = /^[\^$\\.*+?()[\]{}|/]$/;

function charSource(cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (/^[A-Za-z0-9_]$/.test(ch)) return ch;
  if (!inClass) {
    if (PLAIN_OUTSIDE.test(ch)) return ch;
    if (SYNTAX.test(ch)) return '\\' + ch;
  }
  return `\\u{${cp.toString(16)}}`;
}

class Emitter {
  private jsGroups = 0;
  readonly groupMap = new Map<number, number>();
  private lookbehindDepth = 0;

  emitBody(body: Branches): string {
    return body.map((seq) => seq.map((n) => this.emit(n)).join('')).join('|');
  }

  private emitSet(negate: boolean, items: SetItem[], cm: CaseMode): string {
    const parts: string[] = [];
    const ranges: Array<[number, number]> = [];
    for (const it of items) {
      if (it.t === 'cat') parts.push(catSource(it.cat, it.uni));
      else {
        ranges.push([it.lo, it.hi]);
        ranges.push(...caseClosureOfRange(it.lo, it.hi, cm));
      }
    }
    for (const [lo, hi] of ranges) {
      parts.push(lo === hi ? charSource(lo, true) : `${charSource(lo, true)}-${charSource(hi, true)}`);
    }
    return `[${negate ? '^' : ''}${parts.join('')}]`;
  }

  emit(n: RNode): string {
    switch (n.k) {
      case 'lit': {
        const variants = caseVariants(n.cp, n.cm);
        if (variants.length === 1) return charSource(n.cp, false);
        return `[${variants.map((cp) => charSource(cp, true)).join('')}]`;
      }
      case 'any':
        // Not `[^]`: V8's `v` mode (Node 20) mis-parses an empty negated class.
        return n.dotAll ? '[\\s\\S]' : '[^\\n]';
      case 'set':
        return this.emitSet(n.negate, n.items, n.cm);
      case 'cat':
        return catSource(n.cat, n.uni);
      case 'at':
        switch (n.at) {
          case 'bol':
            return n.multiline ? '(?<![^\\n])' : '^';
          case 'eol':
            return n.multiline ? '(?![^\\n])' : '(?=\\n?$)';
          case 'bos':
            return '^';
          case 'eos':
            return '$';
        }
        break;
      case 'wordb': {
        if (!n.uni) return n.negate ? '(?!^$)\\B' : '\\b';
        const W = UNI_WORD;
        return n.negate ? `(?!^$)(?:(?<=${W})(?=${W})|(?<!${W})(?!${W}))` : `(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;
      }
      case 'group': {
        if (n.index === null) return `(?:${this.emitBody(n.body)})`;
        this.groupMap.set(n.index, ++this.jsGroups);
        return `(${this.emitBody(n.body)})`;
      }
      case 'look': {
        if (n.behind) this.lookbehindDepth++;
        const inner = this.emitBody(n.body);
        if (n.behind) this.lookbehindDepth--;
        return `(?${n.behind ? '<' : ''}${n.negate ? '!' : '='}${inner})`;
      }
      case 'atomic':
        return this.atomic(() => this.emitBody(n.body));
      case 'repeat': {
        const q = quantifier(n.min, n.max);
        const atom = () => {
          const inner = this.emit(n.item);
          return isAtom(n.item) ? inner : `(?:${inner})`;
        };
        if (n.mode === 'possessive') return this.atomic(() => atom() + q);
        return atom() + q + (n.mode === 'lazy' ? '?' : '');
      }
      case 'backref':
        return `(?:\\${this.groupMap.get(n.index)!})`;
    }
    throw new Error('unreachable');
  }

  /** Python's atomic group: a lookahead never backtracks into itself, so capture and consume it. */
  private atomic(inner: () => string): string {
    // In a look-behind everything is fixed-width, so atomicity cannot change the result, and
    // JavaScript matches look-behinds right to left, which would break the capture trick.
    if (this.lookbehindDepth > 0) return `(?:${inner()})`;
    const k = ++this.jsGroups;
    return `(?=(${inner()}))(?:\\${k})`;
  }
}

/** The repetitions that `n` holds (itself included when it is one), however deep. */
function* repetitions(n: RNode): Generator<Extract<RNode, { k: 'repeat' }>> {
  if (n.k === 'repeat') {
    yield n;
    yield* repetitions(n.item);
  } else if (n.k === 'group' || n.k === 'look' || n.k === 'atomic') {
    for (const branch of n.body) for (const m of branch) yield* repetitions(m);
  }
}

function hasNestedRepetition(tree: Branches): boolean {
  for (const branch of tree) {
    for (const top of branch) {
      for (const outer of repetitions(top)) {
        if (outer.max <= 1) continue;
        for (const inner of repetitions(outer.item)) {
          if (inner.max > 1 && (inner.max === MAXREPEAT || outer.max === MAXREPEAT)) return true;
        }
      }
    }
  }
  return false;
}

/** Repetitions with more than this many rounds count as long. */
const LONG_REPETITION = 32;

function hasLongRepetition(tree: Branches): boolean {
  for (const branch of tree) for (const top of branch) for (const r of repetitions(top)) if (r.max > LONG_REPETITION) return true;
  return false;
}

function isAtom(n: RNode): boolean {
  return n.k === 'lit' || n.k === 'any' || n.k === 'set' || n.k === 'cat' || (n.k === 'group' && n.index !== null);
}

function quantifier(min: number, max: number): string {
  if (max === MAXREPEAT) {
    if (min === 0) return '*';
    if (min === 1) return '+';
    return `{${min},}`;
  }
  if (min === 0 && max === 1) return '?';
  if (min === max) return `{${min}}`;
  return `{${min},${max}}`;
}

/** A Python str, encoded as UTF-8, as a byte string (one char per byte). Fails on lone surrogates as Python does. */
function utf8Bytes(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  if (/\p{Cs}/u.test(s)) throw new PyRegexError("'utf-8' codec can't encode a surrogate", null, false);
  return Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * Compile `pattern` as Python's `re.compile(pattern, flags)` would, for `re.search`.
 * With `bytes`, the pattern is UTF-8 encoded and must be matched against byte strings (one
 * char per byte, e.g. `buffer.toString('latin1')`), as mitmproxy matches bytes.
 * Throws PyRegexError.
 */
export function compilePyRegex(pattern: string, opts: { bytes: boolean; flags: PyRegexFlags }): CompiledPyRegex {
  const text = opts.bytes ? utf8Bytes(pattern) : pattern;
  let flags = 0;
  if (opts.flags.ignoreCase) flags |= F_I;
  if (opts.flags.multiline) flags |= F_M;
  if (opts.flags.dotAll) flags |= F_S;
  const parser = new PyParser(new Source(text, !opts.bytes), flags);
  let source: string;
  let nestedRepetition: boolean;
  let longRepetition: boolean;
  const emitter = new Emitter();
  try {
    const tree = parser.parse();
    checkBody(tree, new Set());
    source = emitter.emitBody(tree);
    nestedRepetition = hasNestedRepetition(tree);
    longRepetition = hasLongRepetition(tree);
  } catch (e) {
    if (e instanceof PyRegexError) throw e;
    if (e instanceof RangeError) throw new PyRegexError('pattern is nested too deeply', null, false);
    throw e;
  }
  let regex: RegExp;
  try {
    regex = new RegExp(source, 'v');
  } catch (e) {
    throw new PyRegexError(`cannot be translated to a JavaScript regex (${(e as Error).message})`, null, true);
  }
  const f = parser.flags;
  const groups = parser.groups;
  const jsGroupIndex = [0];
  for (let g = 1; g <= groups.count; g++) jsGroupIndex.push(emitter.groupMap.get(g)!);
  return {
    regex,
    flags: { ignoreCase: !!(f & F_I), multiline: !!(f & F_M), dotAll: !!(f & F_S) },
    groupCount: groups.count,
    nestedRepetition,
    longRepetition,
    groupNames: new Map(groups.names),
    jsGroupIndex,
  };
}
