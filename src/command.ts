import { expandHome } from './optmanager.js';
import { wrapWords } from './util/wrap.js';
import { unescapeBytes, unescapeText } from './util/escapes.js';
import type { AnyFlow } from './flows.js';
import { Flow } from './flow.js';
import { isKnownMarker } from './util/markers.js';

/** Parameter and return types, by the display names mitmproxy's command API uses. */
export type CommandType =
  | 'str'
  | 'int'
  | 'bool'
  | 'bytes'
  | 'path'
  | 'cmd'
  | 'arg'
  | 'str[]'
  | 'cut[]'
  | 'flow'
  | 'flow[]'
  | 'data[][]'
  | 'marker'
  | 'choice'
  | 'unknown';

export interface CommandParam {
  name: string;
  type: CommandType;
  /** Collects all remaining arguments (`*name` in signatures). */
  varargs?: boolean;
  /** For `choice`: the command that lists the valid values. */
  choicesFrom?: string;
  /** Used when the argument is left out. */
  default?: unknown;
}

export interface CommandSpec {
  help?: string;
  params?: CommandParam[];
  returns?: CommandType | null;
}

/**
 * A command implementation. It receives arguments already converted to the types its spec
 * declares; `never[]` lets any parameter list be registered.
 */
export type CommandFunction = (...args: never[]) => unknown;
type AnyArgsFunction = (...args: unknown[]) => unknown;

/** A command failed: bad arguments, unknown name, or an error in the command itself. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** A registered command. */
export class Command {
  readonly params: CommandParam[];
  readonly returns: CommandType | null;
  readonly help: string | null;

  constructor(
    readonly name: string,
    spec: CommandSpec,
    readonly fn: CommandFunction,
  ) {
    this.params = spec.params ?? [];
    this.returns = spec.returns ?? null;
    // Kept wrapped at 70 columns, lines joined by "\n": what mitmproxy's /commands serves (it wraps
    // each docstring so) and what --commands prints as comment lines.
    this.help = spec.help ? wrapWords(spec.help.trim(), 70).join('\n') : null;
  }

  /** `name p1 p2 *rest -> type`: one space after the name even without parameters, as mitmproxy. */
  signatureHelp(): string {
    const params = this.params.map((p) => (p.varargs ? `*${p.name}` : p.name)).join(' ');
    const ret = this.returns ? ` -> ${this.returns}` : '';
    return `${this.name} ${params}${ret}`;
  }

  /** The web API's `/commands` entry. */
  toJSON(): { help: string | null; parameters: Array<{ name: string; type: string; kind: string }>; return_type: string | null; signature_help: string } {
    return {
      help: this.help,
      parameters: this.params.map((p) => ({ name: p.name, type: p.type, kind: p.varargs ? 'VAR_POSITIONAL' : 'POSITIONAL_OR_KEYWORD' })),
      return_type: this.returns,
      signature_help: this.signatureHelp(),
    };
  }
}

/**
 * Split a command line into tokens: whitespace separates, "..." or '...' quote (the quotes are
 * removed, nothing inside is unescaped).
 */
export function lexCommand(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let tok = '';
    while (i < line.length && !/\s/.test(line[i]!)) {
      const c = line[i]!;
      if (c === '"' || c === "'") {
        const end = line.indexOf(c, i + 1);
        if (end < 0) {
          tok += line.slice(i + 1);
          i = line.length;
        } else {
          tok += line.slice(i + 1, end);
          i = end + 1;
        }
      } else {
        tok += c;
        i++;
      }
    }
    out.push(tok);
  }
  return out;
}

/** Quote a token for display when it contains whitespace or quotes. */
export function quoteToken(s: string): string {
  if (!/[\s"']/.test(s) && s !== '') return s;
  return s.includes('"') ? `'${s}'` : `"${s}"`;
}

/**
 * The command registry: addons add commands with typed parameters; commands run by name with
 * typed values (`call`) or strings (`callStrings`, `execute`), as mitmproxy's CommandManager.
 */
export class CommandManager {
  private readonly commands = new Map<string, Command>();

  add(name: string, spec: CommandSpec, fn: CommandFunction): Command {
    const c = new Command(name, spec, fn);
    this.commands.set(name, c);
    return c;
  }

  remove(name: string): void {
    this.commands.delete(name);
  }

  has(name: string): boolean {
    return this.commands.has(name);
  }

  get(name: string): Command | undefined {
    return this.commands.get(name);
  }

  all(): Command[] {
    return [...this.commands.keys()].sort().map((n) => this.commands.get(n)!);
  }

  /** Call a command with already-typed arguments. */
  async call(name: string, ...args: unknown[]): Promise<unknown> {
    const c = this.commands.get(name);
    if (!c) throw new CommandError(`Unknown command: ${name}`);
    return (c.fn as AnyArgsFunction)(...args);
  }

  /** Call a command with string arguments, converting each to its parameter type. */
  async callStrings(name: string, args: readonly string[]): Promise<unknown> {
    const c = this.commands.get(name);
    if (!c) throw new CommandError(`Unknown command: ${name}`);
    const typed: unknown[] = [];
    let i = 0;
    for (const p of c.params) {
      if (p.varargs) {
        for (; i < args.length; i++) typed.push(await this.parseArg(p, args[i]!));
        break;
      }
      if (i < args.length) typed.push(await this.parseArg(p, args[i++]!));
      else if ('default' in p) typed.push(p.default);
      else throw new CommandError(`Command argument mismatch: ${c.signatureHelp().trim()} (missing ${p.name})`);
    }
    if (i < args.length) throw new CommandError(`Command argument mismatch: ${c.signatureHelp().trim()} (too many arguments)`);
    const result = await (c.fn as AnyArgsFunction)(...typed);
    // An addon's command may return anything; what it declared is what callers (the web API, a
    // command line) rely on, so a mismatch is the command's error, as in mitmproxy.
    if (c.returns !== null && !this.fitsType(c.returns, result)) throw new CommandError(`${name} returned unexpected data - expected ${c.returns}`);
    return result;
  }

  /** Whether a command's result is of its declared return type (mitmproxy's is_valid per type). */
  private fitsType(type: CommandType, v: unknown): boolean {
    const strings = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string');
    switch (type) {
      case 'str':
      case 'path':
      case 'arg':
      case 'choice':
        return typeof v === 'string';
      case 'int':
        return typeof v === 'number' && Number.isInteger(v);
      case 'bool':
        return typeof v === 'boolean';
      case 'bytes':
        return Buffer.isBuffer(v);
      case 'cmd':
        return typeof v === 'string' && this.commands.has(v);
      case 'str[]':
      case 'cut[]':
        return strings(v);
      case 'flow':
        return v instanceof Flow;
      case 'flow[]':
        return Array.isArray(v) && v.every((f) => f instanceof Flow);
      case 'data[][]':
        return Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((cell) => typeof cell === 'string' || Buffer.isBuffer(cell)));
      case 'marker':
        return typeof v === 'string' && (v === 'true' || v === 'false' || isKnownMarker(v));
      case 'unknown':
        return false;
    }
  }

  /** Run a command line such as `flow.mark @all true`. */
  async execute(line: string): Promise<unknown> {
    const tokens = lexCommand(line);
    if (tokens.length === 0) throw new CommandError('Empty command');
    const [name, ...args] = tokens;
    return this.callStrings(name!, args);
  }

  /** Convert one string argument to a parameter's type. */
  async parseArg(p: CommandParam, s: string): Promise<unknown> {
    switch (p.type) {
      case 'str':
        return unescapeText(s);
      case 'bytes':
        return unescapeBytes(s);
      case 'int': {
        if (!/^[+-]?\d+$/.test(s.trim())) throw new CommandError(`Invalid int argument for ${p.name}: ${JSON.stringify(s)}`);
        return Number(s);
      }
      case 'bool':
        if (s === 'true') return true;
        if (s === 'false') return false;
        throw new CommandError(`Booleans are 'true' or 'false', got ${JSON.stringify(s)}`);
      case 'path':
        return expandHome(s);
      case 'cmd':
        if (!this.commands.has(s)) throw new CommandError(`Unknown command: ${s}`);
        return s;
      case 'str[]':
      case 'cut[]':
        return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
      case 'marker':
        // mitmproxy's wording; its table has every accepted value (GitHub's emoji shortcodes,
        // ":default:", single letters and digits), so "" (unmark with false) is refused too.
        if (s === 'true') return ':default:';
        if (s === 'false') return '';
        if (!isKnownMarker(s)) throw new CommandError('Invalid choice.');
        return s;
      case 'choice': {
        if (p.choicesFrom) {
          const valid = (await this.call(p.choicesFrom)) as string[];
          if (!valid.includes(s)) throw new CommandError(`Invalid choice ${JSON.stringify(s)}. Valid choices: ${valid.join(', ')}`);
        }
        return s;
      }
      case 'flow': {
        const flows = await this.resolveFlows(s);
        if (flows.length !== 1) throw new CommandError(`Command requires one flow, specification matched ${flows.length}.`);
        return flows[0];
      }
      case 'flow[]':
        return this.resolveFlows(s);
      default:
        return s;
    }
  }

  /** Flow selectors (`@all`, `@marked`, a filter, ...) are resolved by whoever holds the flows (the view addon). */
  private async resolveFlows(spec: string): Promise<AnyFlow[]> {
    if (!this.commands.has('view.flows.resolve')) {
      throw new CommandError(`Cannot resolve flow specification ${JSON.stringify(spec)}: no flow view is loaded (view.flows.resolve).`);
    }
    return (await this.call('view.flows.resolve', spec)) as AnyFlow[];
  }

  /** The web API's `/commands` listing. */
  toJSON(): Record<string, ReturnType<Command['toJSON']>> {
    const out: Record<string, ReturnType<Command['toJSON']>> = {};
    for (const c of this.all()) out[c.name] = c.toJSON();
    return out;
  }
}
