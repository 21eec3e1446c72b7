/**
 * The filter grammar, as mitmproxy's pyparsing grammar behaves (PEG: ordered choice, greedy
 * repetition, backtracking only inside one alternative):
 *
 *   filter  := expr+                  several top-level expressions are ANDed (juxtaposition)
 *   expr    := and ( '|' and )*
 *   and     := not ( '&' not )*
 *   not     := '!' not | primary      when `!` is not followed by an operand it is a bare word
 *   primary := atom | '(' expr ')'    no juxtaposition inside parentheses
 *   atom    := ~flag | ~regexop ARG | ~c DIGITS | ARG (a bare ARG is a URL regex)
 *
 * An operator or operand that cannot be read makes its alternative fail softly, so `&`, `|` and
 * `!` fall back to being bare words (`~q |` is `~q` AND url `/|/`). A regex that does not compile
 * ends the parse at once, as in mitmproxy (its parse action raises).
 */
import { Lexer, expandTabs } from './lexer.js';
import { FilterError } from './errors.js';
import { pyStrRepr } from '../io/pyrepr.js';
import { PyRegexError } from './pyregex.js';
import type { FilterNode } from './operators/node.js';
import { And, Not, Or } from './operators/logic.js';
import { OPERATORS_BY_KEYWORD } from './operators/registry.js';
import { UrlMatches, type RegexOperatorOptions } from './operators/regex.js';

export type ParseOptions = RegexOperatorOptions;

type Parsed = { node: FilterNode; end: number } | null;

class Parser {
  private readonly lx: Lexer;
  /** The furthest offset where something failed, and what was expected or went wrong there. */
  private failPos = -1;
  private readonly expected: string[] = [];
  private reason: string | null = null;

  constructor(
    /** The text as read (tabs expanded). */
    private readonly text: string,
    private readonly options: ParseOptions,
    /** The text as given, for error messages. */
    private readonly original: string,
    /** Offset in `original` of each offset in `text` (null when they are the same). */
    private readonly origin: number[] | null,
  ) {
    this.lx = new Lexer(text);
  }

  private invalid(pos: number | null, reason: string): FilterError {
    const where = pos === null || this.origin === null ? pos : this.origin[pos]!;
    return FilterError.invalid(this.original, where, reason);
  }

  parse(): FilterNode {
    const items: FilterNode[] = [];
    let pos = 0;
    for (;;) {
      const r = this.parseOr(pos);
      if (!r) break;
      items.push(r.node);
      pos = r.end;
    }
    const end = this.lx.skipWhitespace(pos);
    if (items.length === 0 || end !== this.text.length) throw this.error();
    return items.length === 1 ? items[0]! : new And(items);
  }

  private parseOr(pos: number): Parsed {
    const first = this.parseAnd(pos);
    if (!first) return null;
    const nodes = [first.node];
    let end = first.end;
    for (;;) {
      const q = this.lx.skipWhitespace(end);
      if (this.text[q] !== '|') {
        this.expect(q, "'|'");
        break;
      }
      const r = this.parseAnd(q + 1);
      if (!r) break;
      nodes.push(r.node);
      end = r.end;
    }
    return { node: nodes.length === 1 ? nodes[0]! : new Or(nodes), end };
  }

  private parseAnd(pos: number): Parsed {
    const first = this.parseNot(pos);
    if (!first) return null;
    const nodes = [first.node];
    let end = first.end;
    for (;;) {
      const q = this.lx.skipWhitespace(end);
      if (this.text[q] !== '&') {
        this.expect(q, "'&'");
        break;
      }
      const r = this.parseNot(q + 1);
      if (!r) break;
      nodes.push(r.node);
      end = r.end;
    }
    return { node: nodes.length === 1 ? nodes[0]! : new And(nodes), end };
  }

  private parseNot(pos: number): Parsed {
    const q = this.lx.skipWhitespace(pos);
    if (this.text[q] === '!') {
      const r = this.parseNot(q + 1);
      if (r) return { node: new Not(r.node), end: r.end };
    }
    return this.parsePrimary(q);
  }

  private parsePrimary(q: number): Parsed {
    if (this.text[q] !== '(') return this.parseAtom(q);
    const inner = this.parseOr(q + 1);
    if (!inner) return null;
    const close = this.lx.skipWhitespace(inner.end);
    if (this.text[close] === ')') return { node: inner.node, end: close + 1 };
    this.expect(close, "')'");
    return null;
  }

  private parseAtom(q: number): Parsed {
    if (this.text[q] !== '~') {
      const arg = this.parseArgument(q, null);
      if (!arg) return null;
      return { node: this.compile(arg.start, arg.value, () => new UrlMatches(arg.value, this.options)), end: arg.end };
    }
    const { word, end } = this.lx.keywordAt(q);
    const op = OPERATORS_BY_KEYWORD.get(word);
    if (!op) {
      this.badKeyword(q, word);
      return null;
    }
    switch (op.kind) {
      case 'flag':
        return { node: op.make(), end };
      case 'regex': {
        const arg = this.parseArgument(end, word);
        if (!arg) return null;
        return { node: this.compile(arg.start, arg.value, () => op.make(arg.value, this.options)), end: arg.end };
      }
      case 'int': {
        const p = this.lx.skipWhitespace(end);
        const digits = this.lx.digitsAt(p);
        if (!digits) {
          this.fail(p, `${word} needs a status code (digits), found ${this.found(p)}`);
          return null;
        }
        return { node: op.make(digits.value), end: digits.end };
      }
    }
  }

  /** A quoted or unquoted regex argument at or after `pos`. */
  private parseArgument(pos: number, keyword: string | null): { value: string; start: number; end: number } | null {
    const q = this.lx.skipWhitespace(pos);
    const c = this.text[q];
    if (c === '"' || c === "'") {
      const r = this.lx.quotedAt(q);
      if (r.ok) return { value: r.value, start: q, end: r.end };
      this.fail(r.at, r.reason);
      return null;
    }
    const w = this.lx.wordAt(q);
    if (w) return { value: w.value, start: q, end: w.end };
    if (keyword === null) {
      this.expect(q, 'a filter expression');
    } else {
      const hint = q < this.text.length ? " (quote a regex that contains spaces or ( ) ~ ' \")" : '';
      this.fail(q, `${keyword} needs a regex argument, found ${this.found(q)}${hint}`);
    }
    return null;
  }

  private compile(start: number, expr: string, make: () => FilterNode): FilterNode {
    try {
      return make();
    } catch (e) {
      if (!(e instanceof PyRegexError)) throw e;
      const reason = e.unsupported
        ? `regex ${pyStrRepr(expr)} cannot be used: ${e.message}`
        : `invalid regex ${pyStrRepr(expr)}: ${e.message}`;
      throw this.invalid(start, reason);
    }
  }

  private badKeyword(q: number, word: string): void {
    if (word === '~') {
      this.fail(q, "'~' must start an operator such as ~u or ~q");
      return;
    }
    let known = '';
    for (const k of OPERATORS_BY_KEYWORD.keys()) if (word.startsWith(k) && k.length > known.length) known = k;
    const next = word[known.length];
    if (known && next !== undefined && !/[A-Za-z]/.test(next)) {
      this.fail(q + known.length, `${known} must be followed by whitespace or the end of the expression, found ${pyStrRepr(next)}`);
    } else {
      this.fail(q, `unknown operator ${word}`);
    }
  }

  private found(pos: number): string {
    return pos < this.text.length ? pyStrRepr(this.text[pos]!) : 'end of expression';
  }

  /** Record a generic expectation (`'&'`, `')'` ...) at `pos`. */
  private expect(pos: number, what: string): void {
    if (pos > this.failPos) {
      this.failPos = pos;
      this.expected.length = 0;
      this.reason = null;
    }
    if (pos === this.failPos && !this.expected.includes(what)) this.expected.push(what);
  }

  /** Record a specific reason at `pos`; it wins over generic expectations there. */
  private fail(pos: number, reason: string): void {
    if (pos > this.failPos) {
      this.failPos = pos;
      this.expected.length = 0;
      this.reason = null;
    }
    if (pos === this.failPos && this.reason === null) this.reason = reason;
  }

  private error(): FilterError {
    const pos = Math.max(this.failPos, 0);
    if (this.reason !== null) return this.invalid(pos, this.reason);
    const exp = this.expected.length ? this.expected : ['a filter expression'];
    const list = exp.length === 1 ? exp[0]! : `${exp.slice(0, -1).join(', ')} or ${exp[exp.length - 1]}`;
    let reason = `expected ${list}, found ${this.found(pos)}`;
    if (exp.includes("')'") && pos < this.text.length && this.text[pos] !== ')') {
      reason += '; inside parentheses, expressions must be joined with & or |';
    }
    return this.invalid(pos, reason);
  }
}

/** Parse a filter expression into its tree. Throws FilterError. */
export function parseFilter(text: string, options: ParseOptions): FilterNode {
  if (typeof text !== 'string' || text === '') throw FilterError.empty();
  const expanded = expandTabs(text);
  try {
    return new Parser(expanded.text, options, text, expanded.origin).parse();
  } catch (e) {
    if (e instanceof RangeError) throw FilterError.invalid(text, null, 'the expression is nested too deeply');
    throw e;
  }
}
