import { fileURLToPath } from 'node:url';
import type { Addon } from './hooks.js';
import { FLOW_HOOKS } from './hooks.js';
import type { Master } from './master.js';
import { OptionsError, type OptionType, type OptionValueOf } from './optmanager.js';
import type { CommandFunction, CommandSpec } from './command.js';
import type { Flow } from './flow.js';

/** Throw this from a hook to stop the dispatch of that one event to the remaining addons. */
export class AddonHalt extends Error {
  constructor() {
    super('AddonHalt');
    this.name = 'AddonHalt';
  }
}

/** Given to `load(loader)`: how an addon declares its options and commands. */
export class Loader {
  constructor(readonly master: Master) {}

  /**
   * Declare an option (`choices` restricts a str option). Re-declaring it identically is a no-op.
   * The default must be of the type (`addOption('n', 'int', 'ten', ...)` does not compile).
   */
  addOption<T extends OptionType>(name: string, type: T, defaultValue: OptionValueOf<T>, help: string, choices?: readonly string[]): void {
    const replaced = this.master.options.add(name, type, defaultValue, help, choices ?? null);
    if (replaced) this.master.log.warn(`Over-riding existing option ${name}`);
  }

  /** Declare a command. */
  addCommand(name: string, spec: CommandSpec, fn: CommandFunction): void {
    this.master.commands.add(name, spec, fn);
  }
}

type HookFn = (...args: unknown[]) => unknown;

/** The name an addon is registered under: its `name`, else its lower-cased class name. */
export function addonName(addon: Addon): string | undefined {
  if (typeof addon.name === 'string' && addon.name !== '') return addon.name;
  const ctor = (addon as { constructor?: { name?: string } }).constructor;
  if (ctor && ctor !== Object && ctor.name) return ctor.name.toLowerCase();
  return undefined;
}

/**
 * Keeps the ordered chain of addons and dispatches hooks to them. Hooks may be async and are
 * awaited one after the other in chain order (each addon, then its children). An addon that
 * throws is reported in the event log and the dispatch continues with the next one.
 */
export class AddonManager {
  /** Top-level addons in registration order. */
  private chain: Addon[] = [];
  private readonly byName = new Map<string, Addon>();
  /** Per hook: the functions to call, in order. Rebuilt whenever the chain changes. */
  private handlerCache = new Map<string, Array<[Addon, HookFn]>>();
  /** Bumped whenever the chain changes, so a dispatch in progress can tell that its list is stale. */
  private generation = 0;
  /** Every addon in the chain, built on demand when a dispatch has to check a stale list. */
  private live: Set<Addon> | null = null;
  private anonymousCount = 0;

  constructor(private readonly master: Master) {}

  /** Every addon, depth-first in dispatch order. */
  flatten(): Addon[] {
    const out: Addon[] = [];
    const walk = (a: Addon) => {
      out.push(a);
      if (Array.isArray(a.addons)) for (const c of a.addons) walk(c);
    };
    for (const a of this.chain) walk(a);
    return out;
  }

  get(name: string): Addon | undefined {
    return this.byName.get(name);
  }

  /** The registered name of an addon object. */
  nameOf(addon: Addon): string | undefined {
    for (const [n, a] of this.byName) if (a === addon) return n;
    return undefined;
  }

  private register(addon: Addon): void {
    const walk = (a: Addon) => {
      let name = addonName(a);
      if (name === undefined) name = `addon${++this.anonymousCount}`;
      if (this.byName.has(name) && this.byName.get(name) !== a) throw new Error(`An addon called '${name}' already exists.`);
      this.byName.set(name, a);
      if (Array.isArray(a.addons)) for (const c of a.addons) walk(c);
    };
    walk(addon);
  }

  private unregister(addon: Addon): void {
    const walk = (a: Addon) => {
      for (const [n, x] of this.byName) if (x === a) this.byName.delete(n);
      if (Array.isArray(a.addons)) for (const c of a.addons) walk(c);
    };
    walk(addon);
  }

  /** Invalidate the per-hook handler lists (after adding, removing or changing nested addons). */
  invalidate(): void {
    this.handlerCache.clear();
    this.generation++;
    this.live = null;
  }

  private isLive(addon: Addon): boolean {
    return (this.live ??= new Set(this.flatten())).has(addon);
  }

  /**
   * Add addons to the end of the chain and run their `load`. When the master is already running,
   * they also get `configure` with every option and `running`, as a script loaded later does.
   */
  add(...addons: Addon[]): Promise<void> {
    return this.attach(this.chain, null, addons);
  }

  /** Add addons to the chain right after `anchor` (at the end when `anchor` is not in the chain), as `add` does. */
  addAfter(anchor: Addon, ...addons: Addon[]): Promise<void> {
    const i = this.chain.indexOf(anchor);
    return this.attach(this.chain, i < 0 ? null : i + 1, addons);
  }

  /**
   * Add `child` to `parent`'s children at `index` (default: last) and run its `load` (and, when
   * the master runs, `configure` and `running`). Its hooks then run at the parent's place in the
   * chain: scripts sit under the script loader, before save and the dumper, as in mitmproxy.
   */
  addChild(parent: Addon, child: Addon, index?: number): Promise<void> {
    return this.attach((parent.addons ??= []), index ?? null, [child]);
  }

  /** Take `child` out of `parent`'s children, calling `done` on it (and its children). */
  removeChild(parent: Addon, child: Addon): Promise<void> {
    return this.detach(parent.addons ?? [], child);
  }

  /** Remove an addon (and its children), calling `done` on them. */
  remove(addon: Addon): Promise<void> {
    return this.detach(this.chain, addon);
  }

  /** Put `addons` into `list` (the chain or an addon's children) from `index` (null: at the end), and bring them up. */
  private async attach(list: Addon[], index: number | null, addons: Addon[]): Promise<void> {
    for (const [k, addon] of addons.entries()) {
      this.register(addon);
      try {
        await this.invokeAddonTree(addon, 'load', new Loader(this.master));
        // Values set before the addon declared its options (--set, config.yaml) apply now. As in
        // mitmproxy, the addon joins the chain only afterwards: the other addons get configure with
        // those names, while the new one gets its single configure with every option (below, from
        // the script loader, or from run()), not this partial one as well.
        await this.master.options.processDeferred();
      } catch (e) {
        this.unregister(addon);
        throw e;
      }
      list.splice(index === null ? list.length : index + k, 0, addon);
      this.invalidate();
    }
    if (this.master.isRunning) {
      for (const addon of addons) {
        await this.invokeAddonTree(addon, 'configure', new Set(this.master.options.names()));
        await this.invokeAddonTree(addon, 'running');
      }
    }
  }

  /** Take `addon` out of `list` (the chain or an addon's children), calling `done` on it. */
  private async detach(list: Addon[], addon: Addon): Promise<void> {
    const i = list.indexOf(addon);
    if (i < 0) return;
    list.splice(i, 1);
    this.unregister(addon);
    this.invalidate();
    await this.invokeAddonTree(addon, 'done');
  }

  /** Run one hook on one addon and its children only. */
  async invokeAddonTree(addon: Addon, hook: string, ...args: unknown[]): Promise<void> {
    const walk = async (a: Addon): Promise<void> => {
      await this.invokeOne(a, hook, args);
      if (Array.isArray(a.addons)) for (const c of a.addons) await walk(c);
    };
    await walk(addon);
    // load() may have changed the children; dispatch lists must see them.
    if (hook === 'load') {
      this.unregister(addon);
      this.register(addon);
      this.invalidate();
    }
  }

  private handlers(hook: string): Array<[Addon, HookFn]> {
    let list = this.handlerCache.get(hook);
    if (!list) {
      list = [];
      for (const a of this.flatten()) {
        const fn = (a as unknown as Record<string, unknown>)[hook];
        if (typeof fn === 'function') list.push([a, fn as HookFn]);
      }
      this.handlerCache.set(hook, list);
    }
    return list;
  }

  /**
   * Whether firing flow hook `hook` (and the `update` after it) can only read the flow: every
   * handler's addon declares `readsOnly(hook)` (see Addon.readsOnly). Asked per message, so it
   * reflects the current options (an intercept filter set a moment ago counts).
   */
  onlyReads(hook: string): boolean {
    for (const [addon] of this.handlers(hook)) if (addon.readsOnly?.(hook) !== true) return false;
    for (const [addon] of this.handlers('update')) if (addon.readsOnly?.('update') !== true) return false;
    return true;
  }

  /** Whether any addon implements `hook` (lets hot paths skip work nobody listens to). */
  hasHandlers(hook: string): boolean {
    return this.handlers(hook).length > 0;
  }

  private async invokeOne(addon: Addon, hook: string, args: unknown[]): Promise<void> {
    const fn = (addon as unknown as Record<string, unknown>)[hook];
    if (typeof fn !== 'function') return;
    try {
      await (fn as HookFn).apply(addon, args);
    } catch (e) {
      this.stopsDispatch(addon, hook, e);
    }
  }

  /**
   * mitmproxy's line, `Addon error: <message>`, with the traceback after it. The traceback ends
   * with a frame naming the addon and hook, where mitmproxy's shows the script's hook function.
   */
  private reportError(addon: Addon, hook: string, e: unknown): void {
    const name = this.nameOf(addon) ?? addonName(addon) ?? 'addon';
    const message = e instanceof Error ? e.message : String(e);
    const stack = e instanceof Error ? `${userStack(e)}\n` : '';
    this.master.log.error(`Addon error: ${message}\n${stack}    at ${name}.${hook} (addon hook)`, undefined, e);
  }

  /**
   * Call `hook` on every addon in chain order, awaiting each. Errors are logged with the addon's
   * name and the dispatch continues; `AddonHalt` stops it.
   */
  async trigger(hook: string, ...args: unknown[]): Promise<void> {
    const pending = this.dispatch(hook, args);
    if (pending) await pending;
  }

  /**
   * Fire a flow hook the way the proxy does: the hook, then `update([flow])`, then wait while the
   * flow is intercepted (until an addon, command or the web API resumes or kills it).
   */
  async triggerFlow(hook: string, flow: Flow): Promise<void> {
    const pending = this.triggerFlowFast(hook, flow);
    if (pending) await pending;
  }

  /**
   * `triggerFlow` for per-message hot paths (WebSocket and TCP messages): it stays synchronous
   * while every handler does, and returns a promise only when something has to be awaited (an
   * async handler, an intercepted flow). Saves a chain of promises per message.
   */
  triggerFlowFast(hook: string, flow: Flow): Promise<void> | undefined {
    const pending = this.dispatch(hook, [flow]);
    if (pending) return pending.then(() => this.afterFlowHook(hook, flow));
    return this.afterFlowHook(hook, flow);
  }

  /** What follows a flow hook: `update([flow])` for the hooks the UI shows, then an interception. */
  private afterFlowHook(hook: string, flow: Flow): Promise<void> | undefined {
    if (FLOW_HOOKS.has(hook) && this.handlers('update').length > 0) {
      const pending = this.dispatch('update', [[flow]]);
      if (pending) return pending.then(() => (flow.intercepted ? flow.waitForResume() : undefined));
    }
    return flow.intercepted ? flow.waitForResume() : undefined;
  }

  /**
   * Run the handlers of `hook`, synchronously until one returns a promise; the rest then run after
   * it, and the returned promise says when all are done.
   *
   * The handlers are the ones there were when the dispatch began: an addon added while an earlier
   * handler was awaited (a script the script loader loads in `configure`) is left out, as it gets
   * its own `configure`/`running` when it is added, and one removed meanwhile (an unloaded script,
   * already told `done`) is skipped. Re-reading the rebuilt list by index instead would call a
   * newly inserted addon twice, or skip the one after a removed addon.
   */
  private dispatch(hook: string, args: unknown[]): Promise<void> | undefined {
    return this.runHandlers(hook, args, this.handlers(hook), this.generation, 0);
  }

  private runHandlers(hook: string, args: unknown[], list: Array<[Addon, HookFn]>, generation: number, start: number): Promise<void> | undefined {
    for (let i = start; i < list.length; i++) {
      const [addon, fn] = list[i]!;
      if (generation !== this.generation && !this.isLive(addon)) continue;
      let result: unknown;
      try {
        result = fn.apply(addon, args);
      } catch (e) {
        if (this.stopsDispatch(addon, hook, e)) return undefined;
        continue;
      }
      if (result !== undefined && result !== null && typeof (result as Promise<unknown>).then === 'function') {
        return this.continueAfter(result as Promise<unknown>, addon, hook, args, list, generation, i + 1);
      }
    }
    return undefined;
  }

  private async continueAfter(
    result: Promise<unknown>,
    addon: Addon,
    hook: string,
    args: unknown[],
    list: Array<[Addon, HookFn]>,
    generation: number,
    next: number,
  ): Promise<void> {
    try {
      await result;
    } catch (e) {
      if (this.stopsDispatch(addon, hook, e)) return;
    }
    const pending = this.runHandlers(hook, args, list, generation, next);
    if (pending) await pending;
  }

  /**
   * A handler threw: `AddonHalt` stops the dispatch (true), an invalid option found in
   * `configure` is rethrown so the option change rolls back (see OptManager.update), anything
   * else is logged with the addon's name and the dispatch goes on (false).
   */
  private stopsDispatch(addon: Addon, hook: string, e: unknown): boolean {
    if (e instanceof AddonHalt) return true;
    if (e instanceof OptionsError) throw e;
    this.reportError(addon, hook, e);
    return false;
  }
}

/** Where this package's own code lives (dist/src when built, src under tsx). */
const OWN_CODE_DIR = fileURLToPath(new URL('.', import.meta.url));

/**
 * An addon's error as its author needs it, as mitmproxy cuts tracebacks to the script's frames:
 * the message and the frames in the addon's code, without the proxy's own and node's internal
 * frames that called it. An error raised inside the proxy's code keeps its whole stack.
 */
export function userStack(e: Error): string {
  const stack = e.stack ?? e.message;
  const lines = stack.split('\n');
  const frames = lines.filter((l) => /^\s+at /.test(l));
  const own = (l: string) => l.includes(OWN_CODE_DIR) || /\(node:|at node:/.test(l);
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  if (frames.length === 0 || own(frames[0]!)) return stack;
  return [...lines.slice(0, firstFrame), ...frames.filter((l) => !own(l))].join('\n');
}
