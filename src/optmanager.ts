import type { KnownOptions } from './option-types.js';
import { readFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { wrapWords } from './util/wrap.js';

/** Option type names, spelled as mitmproxy's web API reports them. */
export type OptionType = 'bool' | 'str' | 'int' | 'optional str' | 'optional int' | 'sequence of str';

/** A value an option can hold. */
export type OptionValue = boolean | string | number | null | string[];

/** The values an option of type `T` holds (every option value for the `OptionType` union). */
export type OptionValueOf<T extends OptionType> = T extends 'bool'
  ? boolean
  : T extends 'str'
    ? string
    : T extends 'int'
      ? number
      : T extends 'optional str'
        ? string | null
        : T extends 'optional int'
          ? number | null
          : string[];

/**
 * Option values by name: the built-in options with their own types (a typo'd value type is a
 * compile error), any other name (a script's option) with any option value.
 */
export type OptionValues = Partial<KnownOptions> & { [name: string]: OptionValue | undefined };

/** An invalid option value, unknown option or failed configure hook. The message is shown to users as is. */
export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

/** One declared option. */
export class OptionDef {
  value: OptionValue;

  constructor(
    readonly name: string,
    readonly type: OptionType,
    readonly defaultValue: OptionValue,
    readonly help: string,
    readonly choices: readonly string[] | null = null,
  ) {
    checkType(name, type, defaultValue, choices);
    this.value = cloneValue(defaultValue);
  }

  get isDefault(): boolean {
    return sameValue(this.value, this.defaultValue);
  }

  sameDefinition(o: OptionDef): boolean {
    return (
      o.type === this.type &&
      sameValue(o.defaultValue, this.defaultValue) &&
      o.help === this.help &&
      JSON.stringify(o.choices) === JSON.stringify(this.choices)
    );
  }
}

function cloneValue(v: OptionValue): OptionValue {
  return Array.isArray(v) ? [...v] : v;
}

function sameValue(a: OptionValue, b: OptionValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** Throw an OptionsError unless `value` fits the option's type and choices. */
function checkType(name: string, type: OptionType, value: unknown, choices: readonly string[] | null): void {
  const fail = (what: string) => {
    throw new OptionsError(`Option ${name} expects ${what}, got ${describeValue(value)}.`);
  };
  switch (type) {
    case 'bool':
      if (typeof value !== 'boolean') fail('a boolean (true or false)');
      break;
    case 'str':
      if (typeof value !== 'string') fail('a string');
      break;
    case 'optional str':
      if (value !== null && typeof value !== 'string') fail('a string or null');
      break;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) fail('an integer');
      break;
    case 'optional int':
      if (value !== null && (typeof value !== 'number' || !Number.isInteger(value))) fail('an integer or null');
      break;
    case 'sequence of str':
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) fail('a list of strings');
      break;
  }
  if (choices && value !== null) {
    const vals = Array.isArray(value) ? value : [value];
    for (const v of vals) {
      if (!choices.includes(String(v))) {
        throw new OptionsError(`Invalid value ${describeValue(v)} for option ${name}. Valid choices: ${choices.join(', ')}.`);
      }
    }
  }
}

/** Called after options changed, with the names that changed; may reject to roll the change back. */
export type ChangeListener = (updated: Set<string>) => void | Promise<void>;

/** Told of an `options.name = value` assignment a change listener refused (and so rolled back). */
export type AssignmentRefusedListener = (name: string, value: OptionValue, error: unknown) => void;

/**
 * The typed option registry: declarations, current values, validation, `--set` parsing,
 * config.yaml loading, and change notification (which the master turns into `configure` hooks).
 * Values for options nobody has declared yet are kept ("deferred") until an addon declares them.
 */
export class OptManager {
  private readonly defs = new Map<string, OptionDef>();
  /** Values given before their option was declared, applied when it is. */
  private deferred = new Map<string, unknown>();
  private listeners: ChangeListener[] = [];
  private refusedListeners: AssignmentRefusedListener[] = [];

  /** Declare an option. Declaring the same option twice is fine; a different definition replaces the old one. */
  add<T extends OptionType>(name: string, type: T, defaultValue: OptionValueOf<T>, help: string, choices: readonly string[] | null = null): boolean {
    const def = new OptionDef(name, type, defaultValue, help, choices);
    const existing = this.defs.get(name);
    if (existing && existing.sameDefinition(def)) return false;
    if (existing && !existing.isDefault) {
      try {
        checkType(name, type, existing.value, choices);
        def.value = cloneValue(existing.value);
      } catch {
        // The old value does not fit the new definition: keep the new default.
      }
    }
    this.defs.set(name, def);
    this.defineAccessor(name);
    return existing !== undefined;
  }

  private defineAccessor(name: string): void {
    if (Object.prototype.hasOwnProperty.call(this, name) || name in OptManager.prototype) return;
    Object.defineProperty(this, name, {
      configurable: true,
      enumerable: false,
      get: () => this.get(name),
      // `options.name = value`, as scripts ported from Python write it: a value of the wrong type
      // fails at the assignment, as in mitmproxy, instead of in a promise nobody awaits.
      set: (v: unknown) => {
        const d = this.def(name);
        checkType(name, d.type, v, d.choices);
        // The change listeners (`configure`) run after the assignment has returned: one refusing
        // the value rolls it back, and is reported rather than left as an unhandled rejection.
        this.update({ [name]: v as OptionValue }).catch((e: unknown) => {
          for (const l of this.refusedListeners) l(name, v as OptionValue, e);
          if (this.refusedListeners.length === 0) throw e;
        });
      },
    });
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  /** The definition of an option (throws for unknown names). */
  def(name: string): OptionDef {
    const d = this.defs.get(name);
    if (!d) throw new OptionsError(`Unknown option: ${name}`);
    return d;
  }

  names(): string[] {
    return [...this.defs.keys()].sort();
  }

  definitions(): OptionDef[] {
    return this.names().map((n) => this.defs.get(n)!);
  }

  /** An option's value: typed by its name for the built-in options, by `T` for the others (scripts' options). */
  get<K extends keyof KnownOptions>(name: K): KnownOptions[K];
  get<T extends OptionValue = OptionValue>(name: string): T;
  get(name: string): OptionValue {
    return cloneValue(this.def(name).value);
  }

  /**
   * Listen for `options.name = value` assignments that a change listener refused (an addon's
   * `configure` threw), after they were rolled back; the master logs them. Returns an
   * unsubscribe function.
   */
  onAssignmentRefused(listener: AssignmentRefusedListener): () => void {
    this.refusedListeners.push(listener);
    return () => {
      this.refusedListeners = this.refusedListeners.filter((l) => l !== listener);
    };
  }

  /** Listen for changes (the master dispatches `configure` from here). Returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Set several options at once. Unknown names are an error unless `deferUnknown`. Values are
   * checked first; if a change listener fails, every value is rolled back and the error is
   * re-thrown. The built-in options are typed (`update({ ssl_insecure: 'yes' })` does not compile).
   */
  update(values: OptionValues, opts: { deferUnknown?: boolean } = {}): Promise<Set<string>> {
    return this.updateUnchecked(values, opts);
  }

  /**
   * `update` for values from outside the program (a config file, a JSON body, the command line),
   * whose types are known only once they are checked, here.
   */
  async updateUnchecked(values: Readonly<Record<string, unknown>>, opts: { deferUnknown?: boolean } = {}): Promise<Set<string>> {
    const updated = new Map<string, OptionValue>();
    for (const [name, value] of Object.entries(values)) {
      const d = this.defs.get(name);
      if (!d) {
        if (opts.deferUnknown) {
          this.deferred.set(name, value);
          continue;
        }
        throw new OptionsError(`Unknown option: ${name}`);
      }
      checkType(name, d.type, value, d.choices);
      updated.set(name, cloneValue(value as OptionValue));
    }
    return this.apply(updated);
  }

  private async apply(updated: Map<string, OptionValue>): Promise<Set<string>> {
    const old = new Map<string, OptionValue>();
    for (const [name, value] of updated) {
      const d = this.defs.get(name)!;
      old.set(name, d.value);
      d.value = value;
    }
    const names = new Set(updated.keys());
    if (names.size === 0) return names;
    try {
      await this.notify(names);
    } catch (e) {
      for (const [name, value] of old) this.defs.get(name)!.value = value;
      // Tell listeners about the rollback; their errors now would only hide the original one.
      await this.notify(names).catch(() => undefined);
      throw e;
    }
    return names;
  }

  private async notify(names: Set<string>): Promise<void> {
    for (const l of this.listeners) await l(names);
  }

  /** Apply values that were given before their option existed; call after options were declared. */
  async processDeferred(): Promise<void> {
    const ready: Record<string, unknown> = {};
    for (const [name, value] of this.deferred) {
      if (this.defs.has(name)) {
        ready[name] = value;
        this.deferred.delete(name);
      }
    }
    if (Object.keys(ready).length === 0) return;
    const parsed: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(ready)) parsed[name] = this.coerceLoose(name, value);
    await this.updateUnchecked(parsed);
  }

  /** Names given by --set or config that no addon has declared. */
  unknownDeferred(): string[] {
    return [...this.deferred.keys()];
  }

  /** Config files and deferred `--set`s carry strings or raw YAML values; bring them to the option's type. */
  private coerceLoose(name: string, value: unknown): unknown {
    if (value instanceof DeferredSetValues) return this.parseSetValues(name, value.values);
    return value;
  }

  /** Reset every option (or the named ones) to its default. */
  async reset(names?: string[]): Promise<void> {
    const values: Record<string, unknown> = {};
    for (const n of names ?? this.names()) values[n] = cloneValue(this.def(n).defaultValue);
    await this.updateUnchecked(values);
  }

  /**
   * Turn the `--set` strings for one option into a value: `name` alone means true / null / []
   * depending on the type; a sequence collects every value; scalars accept one value only.
   */
  parseSetValues(name: string, values: Array<string | undefined>): OptionValue {
    const d = this.def(name);
    if (d.type === 'sequence of str') {
      const out: string[] = [];
      for (const v of values) if (v !== undefined) out.push(v);
      return out;
    }
    if (values.length > 1) {
      throw new OptionsError(`Received multiple values for ${name}: ${values.map((v) => v ?? '').join(', ')}`);
    }
    const v = values[0];
    switch (d.type) {
      case 'bool':
        // An empty value (`--set anticache=`) means true, as a value left out does.
        if (v === undefined || v === '' || v === 'true') return true;
        if (v === 'false') return false;
        if (v === 'toggle') return !d.value;
        throw new OptionsError(`Boolean option ${name} accepts true, false or toggle, got "${v}".`);
      case 'optional str':
        return v === undefined ? null : v;
      case 'optional int':
        if (v === undefined || v === '' || v === 'None' || v === 'null') return null;
        return parseIntStrict(name, v);
      case 'str':
        if (v === undefined) throw new OptionsError(`Option is required: ${name}`);
        return v;
      case 'int':
        if (v === undefined || v === '') throw new OptionsError(`Option is required: ${name}`);
        return parseIntStrict(name, v);
    }
    return v ?? null;
  }

  /**
   * Apply `--set` specs (`name=value` or bare `name`). Several specs for one sequence option build
   * a list. Unknown names are deferred until an addon declares them (the command line, where a
   * script may declare them later), or with `defer: false` (the `set` command) rejected.
   */
  async setFromSpecs(specs: readonly string[], opts: { defer?: boolean } = {}): Promise<void> {
    const grouped = new Map<string, Array<string | undefined>>();
    for (const spec of specs) {
      const eq = spec.indexOf('=');
      const name = (eq < 0 ? spec : spec.slice(0, eq)).trim();
      const value = eq < 0 ? undefined : spec.slice(eq + 1);
      if (!grouped.has(name)) grouped.set(name, []);
      grouped.get(name)!.push(value);
    }
    const values: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [name, vals] of grouped) {
      if (this.defs.has(name)) values[name] = this.parseSetValues(name, vals);
      else unknown.push(name);
    }
    if (unknown.length && opts.defer === false) throw new OptionsError(`Unknown option(s): ${unknown.join(', ')}`);
    for (const name of unknown) this.deferred.set(name, new DeferredSetValues(grouped.get(name)!));
    await this.updateUnchecked(values);
  }

  /**
   * Load a YAML options file (mitmproxy's config.yaml, `options.load`). Relative `scripts` paths
   * are resolved against the file's directory. Unknown keys are deferred. A path that is not a
   * file is skipped without a word, as mitmproxy's load_paths does.
   */
  async loadFile(path: string): Promise<void> {
    if (!existsSync(path) || !statSync(path).isFile()) return;
    const text = readFileSync(path, 'utf8');
    try {
      await this.loadYaml(text, dirname(path));
    } catch (e) {
      if (e instanceof OptionsError) throw new OptionsError(`Error reading ${path}: ${e.message}`);
      throw e;
    }
  }

  async loadYaml(text: string, baseDir = process.cwd()): Promise<void> {
    const data = parseConfig(text);
    const values: Record<string, unknown> = {};
    for (const [k, raw] of Object.entries(data)) {
      let v = raw;
      if (k === 'scripts' && Array.isArray(v)) v = v.map((p) => (typeof p === 'string' && !isAbsolute(p) ? resolve(baseDir, expandHome(p)) : p));
      const d = this.defs.get(k);
      if (d && (d.type === 'optional int' || d.type === 'int') && typeof v === 'string' && /^-?\d+$/.test(v)) v = Number(v);
      if (d && d.type === 'sequence of str' && typeof v === 'string') v = [v];
      values[k] = v;
    }
    await this.updateUnchecked(values, { deferUnknown: true });
  }

  /**
   * Save the non-default options to a YAML file (`options.save`), editing an existing file in
   * place as mitmproxy does: its keys that name declared options stay with their values, even
   * when the option is at its default now; keys no addon declares are dropped; options changed
   * from their default are written with their current value. Unlike mitmproxy, which truncates
   * the file before it finds an existing one unreadable, a broken file is left as it was.
   */
  saveFile(path: string): void {
    const previous = existsSync(path) && statSync(path).isFile() ? parseConfig(readFileSync(path, 'utf8')) : {};
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(previous)) if (this.defs.has(k)) data[k] = v;
    for (const d of this.definitions()) if (!d.isDefault) data[d.name] = d.value;
    writeFileSync(path, YAML.stringify(data, { nullStr: '', singleQuote: true }));
  }

  /** Every option with its default and help as commented YAML (`--options`). */
  toYaml(): string {
    const out: string[] = [];
    for (const d of this.definitions()) {
      // As mitmproxy's dump_defaults: a blank line, the help with the type or the valid values
      // appended, wrapped as Python's textwrap does at 70 columns.
      const suffix = d.choices ? ` Valid values are ${d.choices.map((c) => `'${c}'`).join(', ')}.` : ` Type ${d.type}.`;
      out.push('');
      for (const line of wrapWords(d.help.trim() + suffix, 70)) out.push(`# ${line}`);
      // None is an empty value, as ruamel writes it ("body_size_limit:").
      out.push(YAML.stringify({ [d.name]: d.defaultValue }, { nullStr: '', singleQuote: true }).trimEnd());
    }
    return out.join('\n') + '\n';
  }

  /** Options in the web API's `/options` shape: `{name: {type, default, value, help, choices}}`. */
  toJSON(): Record<string, { type: OptionType; default: OptionValue; value: OptionValue; help: string; choices: string[] | null }> {
    const out: Record<string, { type: OptionType; default: OptionValue; value: OptionValue; help: string; choices: string[] | null }> = {};
    for (const d of this.definitions()) {
      out[d.name] = { type: d.type, default: cloneValue(d.defaultValue), value: cloneValue(d.value), help: d.help, choices: d.choices ? [...d.choices] : null };
    }
    return out;
  }
}

/** A YAML options file's mapping of names to values (empty for an empty file). */
function parseConfig(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    const doc = YAML.parseDocument(text, { prettyErrors: false });
    if (doc.errors.length) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0]?.line ?? 1;
      throw new OptionsError(`Config error at line ${line}: ${err.message.split('\n')[0]}`);
    }
    data = doc.toJS();
  } catch (e) {
    if (e instanceof OptionsError) throw e;
    throw new OptionsError(`Config error: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new OptionsError('Config error - expected a mapping of option names to values.');
  return data as Record<string, unknown>;
}

/** `--set` strings kept for an option that is not declared yet. */
class DeferredSetValues {
  constructor(readonly values: Array<string | undefined>) {}
}

function parseIntStrict(name: string, v: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(v)) throw new OptionsError(`Not an integer: ${JSON.stringify(v)} (option ${name})`);
  return Number(v);
}

export function expandHome(p: string): string {
  if (p === '~' || p.startsWith('~/')) return (process.env.HOME ?? '') + p.slice(1);
  return p;
}

