/**
 * A small block-style YAML writer that reproduces the two YAML dumpers mitmproxy's views use:
 * ruamel.yaml (round-trip dumper, the Python views: forms, query, image, DNS, zip) and
 * serde_yaml (the Rust views: msgpack, protobuf, gRPC). Both descend from libyaml's emitter, so
 * they share the rules for when a string may be written plain, single-quoted or double-quoted
 * and how long lines fold at 80 columns; they differ in a few choices listed in `Flavor`.
 *
 * The `yaml` package is not used here because its quoting and folding rules differ from both,
 * and mitmproxy users compare this text with what mitmproxy shows.
 */
import { serdeYamlFloat } from './rust-floats.js';
import { pyFloatRepr } from '../util/pyfloat.js';

/**
 * A mapping with keys in insertion order; keys may be any scalar (protobuf uses numbers) or a
 * collection (MessagePack allows arrays and maps as keys).
 */
export class YamlMap {
  constructor(public readonly entries: Array<[YamlKey, YamlNode]> = []) {}
  set(key: YamlKey, value: YamlNode): this {
    this.entries.push([key, value]);
    return this;
  }
}

/** Text written exactly as given in a value position (for values that carry a comment). */
export class YamlRaw {
  constructor(public readonly text: string) {}
}

/** A string with a local tag, e.g. `!binary 0102`. */
export class YamlTagged {
  constructor(
    public readonly tag: string,
    public readonly value: string,
  ) {}
}

/** A float, kept distinct from integers so that 1.0 prints as "1.0". */
export class YamlFloat {
  constructor(public readonly value: number) {}
}

export type YamlScalar = string | number | bigint | boolean | null | YamlFloat;
export type YamlNode = YamlScalar | YamlRaw | YamlTagged | YamlMap | YamlNode[];
export type YamlKey = YamlScalar | YamlMap | YamlNode[];

/**
 * - `ruamel`: null is written as nothing; strings with line breaks are double-quoted; YAML 1.2
 *   resolution decides which plain strings need quotes ("yes" stays plain); floats as Python.
 * - `serde`: null is `null`; strings with line breaks are literal blocks (`|-`); YAML 1.1 booleans
 *   ("yes", "on", ...) are quoted too; floats as ryu.
 */
export type Flavor = 'ruamel' | 'serde';

const BEST_WIDTH = 80;
const BREAKS = '\n\x85\u2028\u2029';
const WHITESPACE_OR_END = '\0 \t\r\n\x85\u2028\u2029';

const RESOLVE_COMMON: RegExp[] = [
  /^(?:true|True|TRUE|false|False|FALSE)$/,
  /^(?:~|null|Null|NULL)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$/,
];
const RESOLVE_RUAMEL: RegExp[] = [
  ...RESOLVE_COMMON,
  /^(?:<<)$/,
  /^(?:=)$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])$/,
];
const RESOLVE_SERDE: RegExp[] = [...RESOLVE_COMMON, /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/];

/** Would this text, written plain, be read back as something other than a string? */
function resolvesToNonString(text: string, flavor: Flavor): boolean {
  if (text === '') return true;
  const rules = flavor === 'ruamel' ? RESOLVE_RUAMEL : RESOLVE_SERDE;
  return rules.some((r) => r.test(text));
}

function isPrintable(cp: number): boolean {
  return (
    (cp >= 0x20 && cp <= 0x7e) ||
    cp === 0x0a ||
    cp === 0x85 ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

interface Analysis {
  empty: boolean;
  multiline: boolean;
  allowPlain: boolean;
  allowSingle: boolean;
  allowBlock: boolean;
}

/** Which scalar styles can carry `chars` unchanged (libyaml's analysis, block context). */
function analyze(chars: string[], flavor: Flavor): Analysis {
  if (chars.length === 0) return { empty: true, multiline: false, allowPlain: false, allowSingle: true, allowBlock: false };
  const text = chars.join('');
  let blockIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  if (text.startsWith('---') || text.startsWith('...')) blockIndicators = true;
  let precededByWs = true;
  let followedByWs = chars.length === 1 || WHITESPACE_OR_END.includes(chars[1]!);
  let prevSpace = false;
  let prevBreak = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true;
      if ((ch === '?' || ch === ':') && followedByWs) blockIndicators = true;
      if (ch === '-' && followedByWs) blockIndicators = true;
    } else {
      if (ch === ':' && followedByWs) blockIndicators = true;
      if (ch === '#' && precededByWs) blockIndicators = true;
    }
    if (BREAKS.includes(ch)) lineBreaks = true;
    if (!isPrintable(ch.codePointAt(0)!)) special = true;
    if (ch === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (BREAKS.includes(ch)) {
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = prevBreak = false;
    }
    precededByWs = WHITESPACE_OR_END.includes(ch);
    followedByWs = i + 2 >= chars.length || WHITESPACE_OR_END.includes(chars[i + 2]!);
  }
  let allowPlain = true;
  let allowSingle = true;
  let allowBlock = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) allowPlain = false;
  if (trailingSpace) allowBlock = false;
  if (breakSpace) allowPlain = allowSingle = false;
  if (spaceBreak || special) allowPlain = allowSingle = allowBlock = false;
  if (lineBreaks) allowPlain = false;
  if (blockIndicators) allowPlain = false;
  return { empty: false, multiline: lineBreaks, allowPlain, allowSingle, allowBlock };
}

const DOUBLE_ESCAPES: Record<string, string> = {
  '\0': '0', '\x07': 'a', '\x08': 'b', '\x09': 't', '\x0a': 'n', '\x0b': 'v', '\x0c': 'f', '\x0d': 'r',
  '\x1b': 'e', '"': '"', '\\': '\\', '\x85': 'N', '\u2028': 'L', '\u2029': 'P',
};

class Emitter {
  private out = '';
  private column = 0;
  /** The last thing written was whitespace (start of line, or a space). */
  whitespace = true;

  constructor(private readonly flavor: Flavor) {}

  result(): string {
    return this.out;
  }

  write(s: string): void {
    this.out += s;
    this.column += s.length;
  }

  newline(): void {
    this.out += '\n';
    this.column = 0;
    this.whitespace = true;
  }

  indentTo(indent: number): void {
    if (this.column > indent || (this.column === indent && !this.whitespace && indent > 0)) this.newline();
    if (this.column < indent) this.write(' '.repeat(indent - this.column));
    this.whitespace = true;
  }

  private breakAndIndent(indent: number): void {
    this.newline();
    if (indent > 0) this.write(' '.repeat(indent));
    this.whitespace = true;
  }

  /** Write one scalar text at the current position; `indent` is where continuation lines start. */
  scalarText(text: string, indent: number, isKey: boolean, forceQuote = false): void {
    const chars = Array.from(text);
    const a = analyze(chars, this.flavor);
    const simpleKey = isKey;
    let style: 'plain' | 'single' | 'double' | 'literal';
    if (!forceQuote && !resolvesToNonString(text, this.flavor) && a.allowPlain && !(simpleKey && (a.empty || a.multiline))) {
      style = 'plain';
    } else if (this.flavor === 'serde' && a.multiline && !simpleKey && a.allowBlock) {
      style = 'literal';
    } else if (this.flavor === 'ruamel' && (text.includes("'") || text.includes('\n'))) {
      // ruamel prefers double quotes over doubling single quotes or folding line breaks.
      style = 'double';
    } else if (a.allowSingle && !(simpleKey && a.multiline)) {
      style = 'single';
    } else {
      style = 'double';
    }
    if (!this.whitespace) this.write(' ');
    if (style === 'plain') this.writePlain(chars, indent);
    else if (style === 'single') this.writeSingle(chars, indent);
    else if (style === 'double') this.writeDouble(chars, indent);
    else this.writeLiteral(chars, indent);
    this.whitespace = false;
  }

  private writePlain(chars: string[], indent: number): void {
    let spaces = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : undefined;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > BEST_WIDTH) this.breakAndIndent(indent);
          else this.write(chars.slice(start, end).join(''));
          start = end;
        }
      } else if (ch === undefined || ch === ' ') {
        this.write(chars.slice(start, end).join(''));
        start = end;
      }
      if (ch !== undefined) spaces = ch === ' ';
    }
  }

  private writeSingle(chars: string[], indent: number): void {
    this.write("'");
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : undefined;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > BEST_WIDTH && start !== 0 && end !== chars.length) {
            this.breakAndIndent(indent);
          } else {
            this.write(chars.slice(start, end).join(''));
          }
          start = end;
        }
      } else if (breaks) {
        if (ch === undefined || !BREAKS.includes(ch)) {
          if (chars[start] === '\n') this.newline();
          for (const br of chars.slice(start, end)) {
            this.out += br === '\n' ? '\n' : br;
            this.column = 0;
          }
          this.breakAndIndent(indent);
          start = end;
        }
      } else if (ch === undefined || ch === ' ' || BREAKS.includes(ch) || ch === "'") {
        if (start < end) {
          this.write(chars.slice(start, end).join(''));
          start = end;
        }
      }
      if (ch === "'") {
        this.write("''");
        start = end + 1;
      }
      if (ch !== undefined) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
    this.write("'");
  }

  private writeDouble(chars: string[], indent: number): void {
    this.write('"');
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : undefined;
      const cp = ch === undefined ? -1 : ch.codePointAt(0)!;
      if (ch === undefined || '"\\\x85\u2028\u2029\ufeff'.includes(ch) || !(isPrintable(cp) && cp !== 0x0a && cp < 0x10000)) {
        if (start < end) {
          this.write(chars.slice(start, end).join(''));
          start = end;
        }
        if (ch !== undefined) {
          let esc: string;
          if (ch in DOUBLE_ESCAPES) esc = '\\' + DOUBLE_ESCAPES[ch]!;
          else if (cp <= 0xff) esc = '\\x' + cp.toString(16).toUpperCase().padStart(2, '0');
          else if (cp <= 0xffff) esc = '\\u' + cp.toString(16).toUpperCase().padStart(4, '0');
          else esc = '\\U' + cp.toString(16).toUpperCase().padStart(8, '0');
          this.write(esc);
          start = end + 1;
        }
      }
      if (end > 0 && end < chars.length - 1 && (ch === ' ' || start >= end) && this.column + (end - start) > BEST_WIDTH) {
        this.write(chars.slice(start, end).join('') + '\\');
        if (start < end) start = end;
        this.breakAndIndent(indent);
        if (chars[start] === ' ') this.write('\\');
      }
    }
    this.write('"');
  }

  private writeLiteral(chars: string[], indent: number): void {
    const text = chars.join('');
    let hints = '';
    if (chars[0] === ' ' || chars[0] === '\n') hints += '2';
    if (!text.endsWith('\n')) hints += '-';
    else if (text.length === 1 || text.endsWith('\n\n')) hints += '+';
    this.write('|' + hints);
    const lines = text.split('\n');
    if (text.endsWith('\n')) lines.pop();
    for (const line of lines) {
      this.newline();
      if (line !== '') this.write(' '.repeat(indent) + line);
    }
    // The caller ends the line; a non-zero column makes sure it does.
    if (this.column === 0) this.column = 1;
  }

  /** A scalar value formatted per flavor. */
  scalar(value: YamlScalar | YamlRaw | YamlTagged, indent: number, isKey: boolean): void {
    if (value instanceof YamlRaw) {
      if (!this.whitespace) this.write(' ');
      this.write(value.text);
      this.whitespace = false;
      return;
    }
    if (value instanceof YamlTagged) {
      if (!this.whitespace) this.write(' ');
      this.write(value.tag);
      this.whitespace = false;
      this.scalarText(value.value, indent, false);
      return;
    }
    if (typeof value === 'string') {
      this.scalarText(value, indent, isKey);
      return;
    }
    let text: string;
    if (value === null) {
      if (this.flavor === 'ruamel') return; // `key:` with nothing after it
      text = 'null';
    } else if (typeof value === 'boolean') text = value ? 'true' : 'false';
    else if (value instanceof YamlFloat) text = this.flavor === 'ruamel' ? pythonYamlFloat(value.value) : serdeYamlFloat(value.value);
    else text = value.toString();
    if (!this.whitespace) this.write(' ');
    this.write(text);
    this.whitespace = false;
  }
}

/** ruamel writes Python floats as repr, with special values in YAML spelling. */
function pythonYamlFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  return pyFloatRepr(x);
}

function isCollection(node: YamlNode): node is YamlMap | YamlNode[] {
  return node instanceof YamlMap || Array.isArray(node);
}

function isEmptyCollection(node: YamlMap | YamlNode[]): boolean {
  return node instanceof YamlMap ? node.entries.length === 0 : node.length === 0;
}

function emitMap(e: Emitter, map: YamlMap, indent: number, firstOnCurrentLine: boolean): void {
  let first = true;
  for (const [key, value] of map.entries) {
    if (!(first && firstOnCurrentLine)) e.indentTo(indent);
    first = false;
    if (isCollection(key) && !isEmptyCollection(key)) {
      // A collection is never a simple key: libyaml writes "? " and the key as a block at
      // indent + 2 (its first line right after the "?"), then ": " and the value.
      e.scalar(new YamlRaw('?'), indent, false);
      e.write(' ');
      e.whitespace = true;
      if (key instanceof YamlMap) emitMap(e, key, indent + 2, true);
      else emitSeq(e, key, indent + 2, true);
      emitExplicitValue(e, value, indent);
      continue;
    }
    const keyText = typeof key === 'string' ? key : null;
    if (keyText !== null && (Array.from(keyText).length >= 128 || /[\n\x85\u2028\u2029]/.test(keyText))) {
      // Too long (or multi-line) for a simple key: the explicit "? key\n: value" form.
      e.scalar(new YamlRaw('?'), indent, false);
      e.scalarText(keyText, indent + 2, false);
      emitExplicitValue(e, value, indent);
    } else {
      e.scalar(isCollection(key) ? new YamlRaw(key instanceof YamlMap ? '{}' : '[]') : key, indent + 2, true);
      writeColon(e);
      emitValue(e, value, indent);
    }
  }
}

/**
 * The ": value" line after an explicit "? key". Unlike after a simple key, libyaml starts a
 * collection value on that same line, indented by two.
 */
function emitExplicitValue(e: Emitter, value: YamlNode, indent: number): void {
  e.indentTo(indent);
  e.scalar(new YamlRaw(':'), indent, false);
  if (isCollection(value) && !isEmptyCollection(value)) {
    e.write(' ');
    e.whitespace = true;
    if (value instanceof YamlMap) emitMap(e, value, indent + 2, true);
    else emitSeq(e, value, indent + 2, true);
  } else emitValue(e, value, indent);
}

function writeColon(e: Emitter): void {
  e.write(':');
}

/** The value of a mapping entry whose key starts at `indent`. */
function emitValue(e: Emitter, value: YamlNode, indent: number): void {
  if (isCollection(value)) {
    if (isEmptyCollection(value)) e.scalar(new YamlRaw(value instanceof YamlMap ? '{}' : '[]'), indent + 2, false);
    else if (value instanceof YamlMap) {
      e.newline();
      emitMap(e, value, indent + 2, false);
    } else {
      e.newline();
      emitSeq(e, value, indent, false);
    }
  } else {
    e.scalar(value, indent + 2, false);
  }
}

function emitSeq(e: Emitter, seq: YamlNode[], indent: number, firstOnCurrentLine: boolean): void {
  let first = true;
  for (const item of seq) {
    if (!(first && firstOnCurrentLine)) e.indentTo(indent);
    first = false;
    e.scalar(new YamlRaw('-'), indent, false);
    e.write(' ');
    e.whitespace = true;
    if (isCollection(item) && !isEmptyCollection(item)) {
      if (item instanceof YamlMap) emitMap(e, item, indent + 2, true);
      else emitSeq(e, item, indent + 2, true);
    } else if (isCollection(item)) {
      e.scalar(new YamlRaw(item instanceof YamlMap ? '{}' : '[]'), indent + 2, false);
    } else {
      e.scalar(item, indent + 2, false);
    }
  }
}

/** Dump a document in block style. Every line, including the last, ends with "\n". */
export function dumpYaml(node: YamlNode, flavor: Flavor): string {
  const e = new Emitter(flavor);
  if (isCollection(node)) {
    if (isEmptyCollection(node)) e.scalar(new YamlRaw(node instanceof YamlMap ? '{}' : '[]'), 0, false);
    else if (node instanceof YamlMap) emitMap(e, node, 0, true);
    else emitSeq(e, node, 0, true);
  } else {
    e.scalar(node, 0, false);
  }
  e.newline();
  return e.result();
}

/**
 * mitmproxy's `yaml_dumps` for the Python views: ruamel round-trip output, and "" for an empty
 * mapping or list.
 */
export function ruamelDump(node: YamlNode): string {
  if (isCollection(node) && isEmptyCollection(node)) return '';
  if (node === null || node === '') return '';
  return dumpYaml(node, 'ruamel');
}

/** Build a mapping from pairs, merging repeated keys into lists (mitmproxy's merge_repeated_keys). */
export function mergeRepeatedKeys(pairs: Iterable<readonly [string, string]>): YamlMap {
  const index = new Map<string, number>();
  const map = new YamlMap();
  for (const [k, v] of pairs) {
    const at = index.get(k);
    if (at === undefined) {
      index.set(k, map.entries.length);
      map.entries.push([k, v]);
    } else {
      const entry = map.entries[at]!;
      const existing = entry[1];
      // Python tests the existing value for truthiness: an empty first value is replaced, not merged.
      if (existing === '') entry[1] = v;
      else if (Array.isArray(existing)) existing.push(v);
      else entry[1] = [existing, v];
    }
  }
  return map;
}
