/**
 * JSON read and written the way Python's `json.loads` / `json.dumps(indent=N)` do, which is what
 * mitmproxy's JSON and GraphQL views print. JSON.parse/JSON.stringify differ in ways users see:
 * JS moves integer-like keys to the front of an object, turns 1.0 into 1, loses precision of big
 * integers and rejects NaN/Infinity (which Python accepts).
 */
import { pyFloatRepr } from '../util/pyfloat.js';
import { pyJsonString } from '../util/pyjson-string.js';
import { decodeCharset } from '../io/text.js';

/** A number kept as the text Python would print for it. */
export class JsonNumber {
  constructor(public readonly text: string) {}
}

export type JsonValue = string | boolean | null | JsonNumber | JsonValue[] | Map<string, JsonValue>;

export class JsonSyntaxError extends Error {
  constructor(message: string, pos: number) {
    super(`${message}: char ${pos}`);
    this.name = 'JsonSyntaxError';
  }
}

// Python's int() refuses to convert strings longer than this (sys.int_info.default_max_str_digits).
const MAX_INT_DIGITS = 4300;
// Python's JSON decoder fails with RecursionError around its recursion limit of 1000.
const MAX_DEPTH = 990;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex
const ESCAPE_OR_CONTROL = /[\\\x00-\x1f]/;

class Parser {
  private pos = 0;
  constructor(private readonly s: string) {}

  parseDocument(): JsonValue {
    this.skipWs();
    const v = this.value(0);
    this.skipWs();
    if (this.pos !== this.s.length) throw new JsonSyntaxError('Extra data', this.pos);
    return v;
  }

  private skipWs(): void {
    const s = this.s;
    let p = this.pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('maximum recursion depth exceeded', this.pos);
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    switch (c) {
      case 0x22: // "
        return this.string();
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      case 0x4e: // N
        return this.literal('NaN', new JsonNumber('NaN'));
      case 0x49: // I
        return this.literal('Infinity', new JsonNumber('Infinity'));
      default:
        if (c === 0x2d && s.startsWith('-Infinity', this.pos)) return this.literal('-Infinity', new JsonNumber('-Infinity'));
        return this.number();
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) throw new JsonSyntaxError('Expecting value', this.pos);
    this.pos += word.length;
    return v;
  }

  private number(): JsonNumber {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.s);
    if (!m) throw new JsonSyntaxError('Expecting value', this.pos);
    const text = m[0];
    this.pos += text.length;
    if (m[1] === undefined && m[2] === undefined) {
      const digits = text.startsWith('-') ? text.slice(1) : text;
      if (digits.length > MAX_INT_DIGITS) throw new JsonSyntaxError('Exceeds the limit for integer string conversion', this.pos);
      return new JsonNumber(text === '-0' ? '0' : text);
    }
    const f = Number(text);
    if (!Number.isFinite(f)) return new JsonNumber(f > 0 ? 'Infinity' : '-Infinity');
    const abs = Math.abs(f);
    // Where both languages print plain decimals (1e-4 <= |x| < 1e16) JS and Python agree on the digits.
    if (abs >= 1e-4 && abs < 1e16) {
      const js = String(f);
      return new JsonNumber(js.includes('.') ? js : js + '.0');
    }
    return new JsonNumber(pyFloatRepr(f));
  }

  private string(): string {
    const s = this.s;
    // Fast path: no escapes or control characters before the closing quote.
    const close = s.indexOf('"', this.pos + 1);
    if (close >= 0) {
      const chunk = s.slice(this.pos + 1, close);
      if (!ESCAPE_OR_CONTROL.test(chunk)) {
        this.pos = close + 1;
        return chunk;
      }
    }
    let p = this.pos + 1;
    let out = '';
    let chunkStart = p;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x22) {
        out += s.slice(chunkStart, p);
        this.pos = p + 1;
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(chunkStart, p);
        const e = s.charCodeAt(p + 1);
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            const hex = s.slice(p + 2, p + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonSyntaxError('Invalid \\uXXXX escape', p);
            out += String.fromCharCode(parseInt(hex, 16));
            p += 4;
            break;
          }
          default:
            throw new JsonSyntaxError('Invalid \\escape', p);
        }
        p += 2;
        chunkStart = p;
        continue;
      }
      if (c < 0x20 || Number.isNaN(c)) throw new JsonSyntaxError(Number.isNaN(c) ? 'Unterminated string' : 'Invalid control character', p);
      p++;
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.value(depth + 1));
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) throw new JsonSyntaxError("Expecting ',' delimiter", this.pos - 1);
    }
  }

  private object(depth: number): Map<string, JsonValue> {
    const out = new Map<string, JsonValue>();
    this.pos++;
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== 0x22) throw new JsonSyntaxError('Expecting property name enclosed in double quotes', this.pos);
      const key = this.string();
      this.skipWs();
      if (this.s.charCodeAt(this.pos++) !== 0x3a) throw new JsonSyntaxError("Expecting ':' delimiter", this.pos - 1);
      this.skipWs();
      // Map.set keeps the first position of a repeated key and takes the last value, as a Python dict does.
      out.set(key, this.value(depth + 1));
      this.skipWs();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) throw new JsonSyntaxError("Expecting ',' delimiter", this.pos - 1);
    }
  }
}

/** Parse JSON text with Python's rules. Throws JsonSyntaxError. */
export function parsePythonJson(text: string): JsonValue {
  return new Parser(text).parseDocument();
}

/**
 * The codec `json.loads(bytes)` picks: a UTF-32/UTF-16/UTF-8 BOM, else the pattern of NUL bytes
 * at the start (JSON text begins with an ASCII character), else UTF-8.
 */
function detectJsonEncoding(b: Uint8Array): string {
  const at = (i: number): number => b[i]!;
  if (b.length >= 4 && ((at(0) === 0 && at(1) === 0 && at(2) === 0xfe && at(3) === 0xff) || (at(0) === 0xff && at(1) === 0xfe && at(2) === 0 && at(3) === 0))) return 'utf-32';
  if (b.length >= 2 && ((at(0) === 0xfe && at(1) === 0xff) || (at(0) === 0xff && at(1) === 0xfe))) return 'utf-16';
  if (b.length >= 3 && at(0) === 0xef && at(1) === 0xbb && at(2) === 0xbf) return 'utf-8-sig';
  if (b.length >= 4) {
    if (at(0) === 0) return at(1) ? 'utf-16-be' : 'utf-32-be';
    if (at(1) === 0) return at(2) || at(3) ? 'utf-16-le' : 'utf-32-le';
  } else if (b.length === 2) {
    if (at(0) === 0) return 'utf-16-be';
    if (at(1) === 0) return 'utf-16-le';
  }
  return 'utf-8';
}

/** Decode JSON bytes as `json.loads(bytes)` does (see detectJsonEncoding), then parse. */
export function parsePythonJsonBytes(data: Uint8Array): JsonValue {
  return parsePythonJson(decodeCharset(data, detectJsonEncoding(data)));
}

export interface DumpOptions {
  indent: number;
  /** Escape non-ASCII characters as \uXXXX (Python's default); mitmproxy's JSON view turns this off. */
  ensureAscii: boolean;
  /** Stop once this many lines are written (the output is then incomplete, and `truncated` set). */
  maxLines?: number;
}

class LineBudgetExceeded extends Error {}

/** `json.dumps(value, indent=N, ensure_ascii=...)`. */
export function dumpPythonJson(value: JsonValue, opts: DumpOptions): { text: string; truncated: boolean } {
  // String concatenation (V8 ropes) is markedly faster here than collecting parts and joining.
  let out = '';
  let lines = 0;
  const maxLines = opts.maxLines ?? Infinity;
  const ensureAscii = opts.ensureAscii;
  const unit = ' '.repeat(opts.indent);
  const indents: string[] = ['\n'];
  const indent = (level: number): string => {
    let s = indents[level];
    if (s === undefined) {
      s = '\n' + unit.repeat(level);
      indents[level] = s;
    }
    return s;
  };
  const write = (v: JsonValue, level: number): void => {
    if (typeof v === 'string') out += pyJsonString(v, ensureAscii);
    else if (v instanceof JsonNumber) out += v.text;
    else if (v === null) out += 'null';
    else if (v === true) out += 'true';
    else if (v === false) out += 'false';
    else if (Array.isArray(v)) {
      if (v.length === 0) {
        out += '[]';
        return;
      }
      const inner = indent(level + 1);
      for (let i = 0; i < v.length; i++) {
        if (++lines > maxLines) throw new LineBudgetExceeded();
        out += (i === 0 ? '[' : ',') + inner;
        write(v[i]!, level + 1);
      }
      if (++lines > maxLines) throw new LineBudgetExceeded();
      out += indent(level) + ']';
    } else {
      if (v.size === 0) {
        out += '{}';
        return;
      }
      const inner = indent(level + 1);
      let first = true;
      for (const [k, item] of v) {
        if (++lines > maxLines) throw new LineBudgetExceeded();
        out += (first ? '{' : ',') + inner + pyJsonString(k, ensureAscii) + ': ';
        first = false;
        write(item, level + 1);
      }
      if (++lines > maxLines) throw new LineBudgetExceeded();
      out += indent(level) + '}';
    }
  };
  try {
    write(value, 0);
    return { text: out, truncated: false };
  } catch (e) {
    if (e instanceof LineBudgetExceeded) return { text: out, truncated: true };
    throw e;
  }
}
