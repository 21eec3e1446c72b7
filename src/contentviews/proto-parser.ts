/**
 * A small parser for .proto files (proto2 and proto3 syntax, editions files read the same way),
 * enough to name the fields of wire data: packages, imports, messages, enums, fields with their
 * labels, maps, oneofs and services. Options, reserved ranges, extension ranges and `extend`
 * blocks are read and dropped: none of them changes how a message is decoded for display.
 *
 * It is written here instead of depending on protobufjs because only the declarations are needed
 * and the parser stays small; type names are left as written and resolved by proto-definitions.ts.
 */

class ProtoSyntaxError extends Error {
  override name = 'ProtoSyntaxError';
}

export type FieldLabel = 'optional' | 'required' | 'repeated' | undefined;

export interface ProtoField {
  name: string;
  number: number;
  /** undefined: a proto3 field without a label (or one in a oneof). */
  label: FieldLabel;
  /** A scalar type name (`int32`, `string`, ...) or a message/enum name as written. */
  type: string;
  /** For `map<K, V>`: the key and value types (the field is then repeated on the wire). */
  map?: { key: string; value: string };
  /** proto2 groups are recognised so the file parses; their data is not decoded. */
  group?: boolean;
}

export interface ProtoEnum {
  name: string;
  values: Array<{ name: string; number: number }>;
}

export interface ProtoMessage {
  name: string;
  /** In declaration order, oneof members where the oneof stands (as protoc orders them). */
  fields: ProtoField[];
  messages: ProtoMessage[];
  enums: ProtoEnum[];
}

export interface ProtoMethod {
  name: string;
  inputType: string;
  outputType: string;
}

export interface ProtoService {
  name: string;
  methods: ProtoMethod[];
}

export interface ProtoFileAst {
  package: string;
  imports: Array<{ path: string; public: boolean }>;
  messages: ProtoMessage[];
  enums: ProtoEnum[];
  services: ProtoService[];
}

type TokenKind = 'ident' | 'int' | 'float' | 'string' | 'symbol';
interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

function unescapeString(body: string, line: number): string {
  // Only what import paths and option values use in practice; other escapes keep their letter.
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/gs, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
    if (e in simple) return simple[e]!;
    if (e === '\n') throw new ProtoSyntaxError(`line ${line}: line break in string literal`);
    return e;
  });
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\ufeff') {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new ProtoSyntaxError(`line ${line}: unterminated comment`);
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENT_PART.test(text[j]!)) j++;
      out.push({ kind: 'ident', text: text.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/.exec(text.slice(i))!;
      const t = m[0];
      const isFloat = !/^0[xX]/.test(t) && /[.eE]/.test(t);
      out.push({ kind: isFloat ? 'float' : 'int', text: t, line });
      i += t.length;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') throw new ProtoSyntaxError(`line ${line}: unterminated string literal`);
        j += text[j] === '\\' ? 2 : 1;
      }
      if (j >= text.length) throw new ProtoSyntaxError(`line ${line}: unterminated string literal`);
      out.push({ kind: 'string', text: unescapeString(text.slice(i + 1, j), line), line });
      i = j + 1;
    } else if ('{}[]()<>;=,:.-+/'.includes(c)) {
      out.push({ kind: 'symbol', text: c, line });
      i++;
    } else {
      throw new ProtoSyntaxError(`line ${line}: unexpected character ${JSON.stringify(c)}`);
    }
  }
  // Adjacent string literals concatenate, as in C.
  const merged: Token[] = [];
  for (const t of out) {
    const prev = merged[merged.length - 1];
    if (t.kind === 'string' && prev?.kind === 'string') prev.text += t.text;
    else merged.push(t);
  }
  return merged;
}

const SCALAR_TYPES = [
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
] as const;

/** A protobuf scalar type name. */
export type ScalarType = (typeof SCALAR_TYPES)[number];

export function isScalarType(t: string): t is ScalarType {
  return (SCALAR_TYPES as readonly string[]).includes(t);
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private fail(message: string, tok = this.peek()): never {
    const where = tok ? `line ${tok.line}` : 'end of file';
    throw new ProtoSyntaxError(`${where}: ${message}${tok ? `, found ${JSON.stringify(tok.text)}` : ''}`);
  }

  private next(): Token {
    const t = this.tokens[this.pos];
    if (!t) this.fail('unexpected end of file');
    this.pos++;
    return t;
  }

  private is(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.kind !== 'string' && t.text === text;
  }

  private accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(text: string): void {
    if (!this.accept(text)) this.fail(`expected ${JSON.stringify(text)}`);
  }

  private ident(): string {
    const t = this.peek();
    if (!t || t.kind !== 'ident') this.fail('expected an identifier');
    this.pos++;
    return t.text;
  }

  /** A possibly dotted, possibly fully-qualified (leading dot) name. */
  private typeName(): string {
    let name = this.accept('.') ? '.' : '';
    name += this.ident();
    while (this.is('.')) {
      this.pos++;
      name += '.' + this.ident();
    }
    return name;
  }

  private intValue(): number {
    const neg = this.accept('-');
    if (!neg) this.accept('+');
    const t = this.next();
    if (t.kind !== 'int') this.fail('expected an integer', t);
    const n = t.text.startsWith('0x') || t.text.startsWith('0X') ? parseInt(t.text, 16) : /^0[0-7]+$/.test(t.text) ? parseInt(t.text, 8) : Number(t.text);
    return neg ? -n : n;
  }

  /** Skip to the end of a statement, over balanced brackets (aggregate option values use braces). */
  private skipStatement(): void {
    let depth = 0;
    for (;;) {
      const t = this.next();
      if (t.kind !== 'symbol') continue;
      if (t.text === '{' || t.text === '[' || t.text === '(') depth++;
      else if (t.text === '}' || t.text === ']' || t.text === ')') depth--;
      else if (t.text === ';' && depth === 0) return;
      if (depth < 0) this.fail('unbalanced brackets', t);
    }
  }

  /** Skip a `{ ... }` block, the opening brace not yet read. */
  private skipBlock(): void {
    this.expect('{');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind !== 'symbol') continue;
      if (t.text === '{') depth++;
      else if (t.text === '}') depth--;
    }
  }

  /** `[packed = true, (custom) = {...}]`: field options do not change decoding. */
  private skipFieldOptions(): void {
    if (!this.is('[')) return;
    let depth = 0;
    do {
      const t = this.next();
      if (t.kind !== 'symbol') continue;
      if (t.text === '[' || t.text === '{' || t.text === '(') depth++;
      else if (t.text === ']' || t.text === '}' || t.text === ')') depth--;
    } while (depth > 0);
  }

  parseFile(): ProtoFileAst {
    const file: ProtoFileAst = { package: '', imports: [], messages: [], enums: [], services: [] };
    while (this.peek()) {
      if (this.accept(';')) continue;
      const kw = this.peek()!;
      if (kw.kind !== 'ident') this.fail('expected a top-level declaration');
      switch (kw.text) {
        case 'syntax':
        case 'edition':
        case 'option':
          this.skipStatement();
          break;
        case 'package':
          this.pos++;
          file.package = this.typeName();
          this.expect(';');
          break;
        case 'import': {
          this.pos++;
          const isPublic = this.accept('public');
          if (!isPublic) this.accept('weak');
          const p = this.next();
          if (p.kind !== 'string') this.fail('expected the imported file name', p);
          file.imports.push({ path: p.text, public: isPublic });
          this.expect(';');
          break;
        }
        case 'message':
          this.pos++;
          file.messages.push(this.message());
          break;
        case 'enum':
          this.pos++;
          file.enums.push(this.enumBody());
          break;
        case 'service':
          this.pos++;
          file.services.push(this.service());
          break;
        case 'extend':
          // Extensions are not named in the decoded output (mitmproxy does not show them either).
          this.pos++;
          this.typeName();
          this.skipBlock();
          break;
        default:
          this.fail('expected a top-level declaration');
      }
    }
    return file;
  }

  /** A message body; `name` is given for a group, whose name came before its field number. */
  private message(name = this.ident()): ProtoMessage {
    const msg: ProtoMessage = { name, fields: [], messages: [], enums: [] };
    this.expect('{');
    while (!this.accept('}')) {
      if (this.accept(';')) continue;
      const t = this.peek();
      if (!t) this.fail('unterminated message');
      const nextIsName = this.peek(1)?.kind === 'ident';
      if (t.text === 'message' && nextIsName) {
        this.pos++;
        msg.messages.push(this.message());
      } else if (t.text === 'enum' && nextIsName) {
        this.pos++;
        msg.enums.push(this.enumBody());
      } else if (t.text === 'oneof' && nextIsName) {
        this.pos++;
        this.ident();
        this.expect('{');
        while (!this.accept('}')) {
          if (this.accept(';')) continue;
          if (this.is('option')) this.skipStatement();
          else this.field(msg, undefined);
        }
      } else if (t.text === 'extend' && (nextIsName || this.is('.', 1))) {
        this.pos++;
        this.typeName();
        this.skipBlock();
      } else if (t.text === 'option' || t.text === 'reserved' || t.text === 'extensions') {
        this.skipStatement();
      } else if (t.text === 'optional' || t.text === 'required' || t.text === 'repeated') {
        // A label, unless it is itself the type of a field (`optional optional = 1;` is legal).
        if (this.is('=', 2)) this.field(msg, undefined);
        else {
          this.pos++;
          this.field(msg, t.text);
        }
      } else {
        this.field(msg, undefined);
      }
    }
    return msg;
  }

  private field(msg: ProtoMessage, label: FieldLabel): void {
    if (this.is('map') && this.is('<', 1)) {
      this.pos += 2;
      const key = this.typeName();
      this.expect(',');
      const value = this.typeName();
      this.expect('>');
      const name = this.ident();
      this.expect('=');
      const number = this.intValue();
      this.skipFieldOptions();
      this.expect(';');
      msg.fields.push({ name, number, label: 'repeated', type: 'map', map: { key, value } });
      return;
    }
    if (this.is('group') && this.peek(1)?.kind === 'ident' && this.is('=', 2)) {
      this.pos++;
      const groupName = this.ident();
      this.expect('=');
      const number = this.intValue();
      this.skipFieldOptions();
      // The group's body declares a message of the same name.
      msg.messages.push(this.message(groupName));
      msg.fields.push({ name: groupName.toLowerCase(), number, label, type: groupName, group: true });
      return;
    }
    const type = this.typeName();
    const name = this.ident();
    this.expect('=');
    const number = this.intValue();
    this.skipFieldOptions();
    this.expect(';');
    msg.fields.push({ name, number, label, type });
  }

  private enumBody(): ProtoEnum {
    const e: ProtoEnum = { name: this.ident(), values: [] };
    this.expect('{');
    while (!this.accept('}')) {
      if (this.accept(';')) continue;
      if ((this.is('option') || this.is('reserved')) && !this.is('=', 1)) {
        this.skipStatement();
        continue;
      }
      const name = this.ident();
      this.expect('=');
      const number = this.intValue();
      this.skipFieldOptions();
      this.expect(';');
      e.values.push({ name, number });
    }
    return e;
  }

  private service(): ProtoService {
    const s: ProtoService = { name: this.ident(), methods: [] };
    this.expect('{');
    while (!this.accept('}')) {
      if (this.accept(';')) continue;
      if (this.is('option')) {
        this.skipStatement();
        continue;
      }
      if (!this.accept('rpc')) this.fail('expected "rpc"');
      const name = this.ident();
      this.expect('(');
      if (this.is('stream') && !this.is(')', 1)) this.pos++;
      const inputType = this.typeName();
      this.expect(')');
      this.expect('returns');
      this.expect('(');
      if (this.is('stream') && !this.is(')', 1)) this.pos++;
      const outputType = this.typeName();
      this.expect(')');
      if (this.is('{')) this.skipBlock();
      else this.expect(';');
      s.methods.push({ name, inputType, outputType });
    }
    return s;
  }
}

/** Parse the text of one .proto file. Throws ProtoSyntaxError with a line number. */
export function parseProto(text: string): ProtoFileAst {
  return new Parser(tokenize(text)).parseFile();
}
