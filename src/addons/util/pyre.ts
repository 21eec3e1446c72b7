/**
 * Python `re` operations the spec-driven addons need (search, split, sub with a replacement
 * template, sub with a literal), on top of the Python-to-JavaScript pattern translation in
 * flowfilter/pyregex.ts. Users write map_remote, map_local and modify_body patterns in Python
 * syntax because that is what mitmproxy documents; the same pattern must do the same here.
 *
 * Group numbers: the translated JavaScript regex numbers its groups like Python unless the pattern
 * uses atomic groups or possessive quantifiers (which the translation emulates with extra
 * groups). We count Python's groups ourselves and trust the numbering only when the counts agree;
 * otherwise a replacement that refers to groups is refused with a clear message.
 */
import { compilePyRegex, PyRegexError, type CompiledPyRegex } from '../../flowfilter/pyregex.js';
import { TimeLimit, type FoundMatch } from '../../flowfilter/regex-guard.js';
import { pyStrRepr } from '../../io/pyrepr.js';

/** A pattern or replacement template Python would refuse (or we cannot reproduce). */
export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

/** A compiled Python pattern. */
export interface PyPattern {
  /** The translated regex with the `g` flag, for scanning (callers reset `lastIndex`). */
  readonly regex: RegExp;
  /** Number of capturing groups, as Python counts them. */
  readonly groups: number;
  /** Named groups (`(?P<name>...)`) and their numbers. */
  readonly groupNames: ReadonlyMap<string, number>;
  /** Whether JavaScript's group numbers are Python's (see the module comment). */
  readonly sameNumbering: boolean;
  /** For a pattern with nested repetition: its matches run in a worker under a time limit (see regex-guard.ts). */
  readonly timeLimit: TimeLimit | null;
}

/** One match: where it is and its groups by Python number (undefined when a group did not take part). */
export interface PyMatch {
  readonly index: number;
  readonly end: number;
  group(n: number): string | undefined;
}

/** Count Python's capturing groups and collect group names, without compiling. */
function scanGroups(pattern: string): { count: number; names: Map<string, number> } {
  const names = new Map<string, number>();
  let count = 0;
  // Global verbose flag at the start, e.g. "(?x)" or "(?ix)": whitespace and # comments are ignored.
  const verbose = /^\(\?[aiLmsux]*x[aiLmsux]*\)/.test(pattern);
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (verbose && c === '#') {
      while (i < pattern.length && pattern[i] !== '\n') i++;
      continue;
    }
    if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') {
        if (pattern[i] === '\\') i++;
        i++;
      }
      continue;
    }
    if (c !== '(') continue;
    if (pattern[i + 1] !== '?') {
      count++;
      continue;
    }
    if (pattern.startsWith('(?P<', i)) {
      count++;
      const end = pattern.indexOf('>', i + 4);
      if (end > 0) names.set(pattern.slice(i + 4, end), count);
    } else if (pattern.startsWith('(?#', i)) {
      const end = pattern.indexOf(')', i);
      i = end < 0 ? pattern.length : end;
    }
  }
  return { count, names };
}

function jsGroupCount(regex: RegExp): number {
  return new RegExp(`${regex.source}|`, regex.flags.replace('g', '')).exec('')!.length - 1;
}

function compileText(pattern: string, textForScan: string, bytes: boolean, dotAll: boolean): PyPattern {
  let compiled: CompiledPyRegex;
  try {
    compiled = compilePyRegex(pattern, { bytes, flags: { ignoreCase: false, multiline: false, dotAll } });
  } catch (e) {
    if (e instanceof PyRegexError) throw new PatternError(e.message);
    throw e;
  }
  const regex = compiled.regex;
  const { count, names } = scanGroups(textForScan);
  return {
    regex: new RegExp(regex.source, regex.flags.includes('g') ? regex.flags : regex.flags + 'g'),
    groups: count,
    groupNames: names,
    sameNumbering: jsGroupCount(regex) === count,
    timeLimit: compiled.nestedRepetition ? new TimeLimit(pattern) : null,
  };
}

/** Compile a Python str pattern (matched against text). Throws PatternError with Python's message. */
export function compileStrPattern(pattern: string, opts: { dotAll?: boolean } = {}): PyPattern {
  return compileText(pattern, pattern, false, opts.dotAll ?? false);
}

/**
 * Compile a Python bytes pattern (matched against byte strings: one char per byte, latin1).
 * Bytes above 0x7f are handed to the translator as `\xHH` escapes, which a bytes pattern reads
 * as that very byte, so patterns that are not valid UTF-8 work too.
 */
export function compileBytesPattern(pattern: Uint8Array, opts: { dotAll?: boolean } = {}): PyPattern {
  let text = '';
  const hex = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;
  for (let i = 0; i < pattern.length; i++) {
    const b = pattern[i]!;
    if (b === 0x5c && i + 1 < pattern.length) {
      const n = pattern[++i]!;
      // "\<byte>" escapes the byte; "\xHH" is the same escaped literal.
      text += n >= 0x80 ? hex(n) : '\\' + String.fromCharCode(n);
    } else {
      text += b >= 0x80 ? hex(b) : String.fromCharCode(b);
    }
  }
  return compileText(text, text, true, opts.dotAll ?? false);
}

function toMatch(m: FoundMatch, p: PyPattern): PyMatch {
  return {
    index: m.index,
    end: m.index + m[0].length,
    group: (n: number) => {
      if (n === 0) return m[0];
      if (!p.sameNumbering) throw new PatternError('groups cannot be used with atomic groups or possessive quantifiers');
      return m[n];
    },
  };
}

/** Python's `re.search`: the first match, or null. */
export function pySearch(p: PyPattern, text: string): PyMatch | null {
  let m: FoundMatch | null | undefined;
  if (p.timeLimit) m = p.timeLimit.matchAll(p.regex, text, 1)[0];
  else {
    p.regex.lastIndex = 0;
    m = p.regex.exec(text);
  }
  return m ? toMatch(m, p) : null;
}

/** Every non-overlapping match, left to right, as `re.sub` visits them (empty matches included). */
function* matches(p: PyPattern, text: string): Generator<FoundMatch> {
  // matchAll steps past an empty match as the loop below does (by a code point: the v flag).
  if (p.timeLimit) return yield* p.timeLimit.matchAll(p.regex, text);
  const re = p.regex;
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(text);
    if (!m) return;
    yield m;
    if (m[0].length === 0) {
      const cp = text.codePointAt(re.lastIndex);
      re.lastIndex += cp !== undefined && cp > 0xffff ? 2 : 1;
      if (re.lastIndex > text.length) return;
    }
  }
}

/** `re.sub(pattern, lambda m: replacement, text)`: every match replaced by a literal. */
export function pySubLiteral(p: PyPattern, replacement: string, text: string): string {
  let out = '';
  let last = 0;
  let any = false;
  for (const m of matches(p, text)) {
    any = true;
    out += text.slice(last, m.index) + replacement;
    last = m.index + m[0].length;
  }
  return any ? out + text.slice(last) : text;
}

/** A parsed replacement template: literal text and group references (Python numbers). */
export type Template = ReadonlyArray<string | number>;

const TEMPLATE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isOctDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';

/**
 * Parse a `re.sub` replacement template as Python does: `\1`..`\99`, `\g<n>`, `\g<name>`,
 * octal escapes, `\n`-style escapes; other ASCII-letter escapes are errors, other escapes stay
 * as written. Error messages are Python's.
 */
export function parseTemplate(template: string, p: PyPattern): Template {
  const out: Array<string | number> = [];
  let literal = '';
  const fail = (msg: string, pos: number): never => {
    throw new PatternError(`${msg} at position ${pos}`);
  };
  const addGroup = (index: number, pos: number) => {
    if (index > p.groups) fail(`invalid group reference ${index}`, pos);
    if (index > 0 && !p.sameNumbering) {
      throw new PatternError('group references in the replacement cannot be used with atomic groups or possessive quantifiers in the pattern');
    }
    if (literal) out.push(literal);
    literal = '';
    out.push(index);
  };
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '\\') {
      literal += ch;
      continue;
    }
    const start = i;
    if (i + 1 >= template.length) fail('bad escape (end of pattern)', start);
    const c = template[++i]!;
    if (c === 'g') {
      if (template[i + 1] !== '<') fail('missing <', i + 1);
      const nameStart = i + 2;
      const end = template.indexOf('>', nameStart);
      if (end < 0) fail('missing >, unterminated name', nameStart);
      const name = template.slice(nameStart, end);
      if (name === '') fail('missing group name', nameStart);
      i = end;
      if (/^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u.test(name)) {
        const index = p.groupNames.get(name);
        if (index === undefined) throw new PatternError(`unknown group name ${pyStrRepr(name)}`);
        addGroup(index, nameStart);
      } else if (/^[0-9]+$/.test(name)) {
        addGroup(Number(name), nameStart);
      } else {
        fail(`bad character in group name ${pyStrRepr(name)}`, nameStart);
      }
    } else if (c === '0') {
      let digits = '0';
      if (isOctDigit(template[i + 1])) {
        digits += template[++i];
        if (isOctDigit(template[i + 1])) digits += template[++i];
      }
      literal += String.fromCharCode(parseInt(digits, 8) & 0xff);
    } else if (isDigit(c)) {
      let digits = c;
      let octal = false;
      if (isDigit(template[i + 1])) {
        digits += template[++i];
        if (isOctDigit(c) && isOctDigit(digits[1]) && isOctDigit(template[i + 1])) {
          digits += template[++i];
          octal = true;
          const value = parseInt(digits, 8);
          if (value > 0o377) fail(`octal escape value \\${digits} outside of range 0-0o377`, start);
          literal += String.fromCharCode(value);
        }
      }
      if (!octal) addGroup(Number(digits), start + 1);
    } else if (c in TEMPLATE_ESCAPES) {
      literal += TEMPLATE_ESCAPES[c];
    } else if (/[a-zA-Z]/.test(c)) {
      fail(`bad escape \\${c}`, start);
    } else {
      literal += '\\' + c;
    }
  }
  if (literal) out.push(literal);
  return out;
}

/** `re.sub(pattern, template, text)` with a template from `parseTemplate`; unmatched groups are empty. */
export function pySub(p: PyPattern, template: Template, text: string): string {
  let out = '';
  let last = 0;
  let any = false;
  for (const m of matches(p, text)) {
    any = true;
    out += text.slice(last, m.index);
    for (const part of template) out += typeof part === 'string' ? part : (m[part] ?? '');
    last = m.index + m[0].length;
  }
  return any ? out + text.slice(last) : text;
}
