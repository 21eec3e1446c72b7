import { statSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SCRIPT_MARK, installScriptLoaderHooks, syntaxErrorLocation } from './script-modules.js';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Loader } from '../addonmanager.js';
import type { Flow } from '../flow.js';
import type { Addon } from '../hooks.js';
import { FLOW_HOOKS } from '../hooks.js';
import type { Master } from '../master.js';
import { OptionsError, expandHome } from '../optmanager.js';

const require = createRequire(import.meta.url);

/** How often scripts are checked for changes (mitmproxy: once a second). */
const RELOAD_INTERVAL_MS = 1000;

/** "path:line:column: message" for an error raised while importing a script. */
async function describeScriptError(e: unknown, path: string): Promise<string> {
  const err = e as Error;
  const text = `${err?.stack ?? ''}\n${err?.message ?? String(e)}`;
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // esbuild (TypeScript) reports "path:line:col: ERROR: text"; runtime errors have the location in the stack.
  const m = new RegExp(`${escaped}(?:\\?[^:\\s]*)?:(\\d+):(\\d+)(?::\\s*(?:ERROR:\\s*)?(.*))?`).exec(text);
  if (m) return `${path}:${m[1]}:${m[2]}: ${m[3]?.trim() || firstLine(err)}`;
  if (err instanceof SyntaxError || err?.name === 'SyntaxError') {
    const loc = await syntaxErrorLocation(path);
    if (loc) return `${path}:${loc.line}:${loc.column}: ${loc.text}`;
  }
  return `${path}: ${firstLine(err)}`;
}

function firstLine(e: Error): string {
  return (e?.message ?? String(e)).split('\n')[0]!;
}

/** Import a script module fresh (a new module instance each time, so edits take effect). */
async function importFresh(path: string, version: number): Promise<Record<string, unknown>> {
  installScriptLoaderHooks();
  if (!/\.[cm]?ts$/.test(path)) {
    // CommonJS scripts are cached by file name, not URL: forget the old instance first.
    try {
      delete require.cache[require.resolve(path)];
    } catch {
      // not loaded as CommonJS before
    }
  }
  return (await import(`${pathToFileURL(path).href}?${SCRIPT_MARK}=${version}`)) as Record<string, unknown>;
}

/**
 * The addon a script module becomes: its exported hook functions, its `addons` list, and its
 * default export (an addon object or class instance) as a child.
 */
function moduleToAddon(path: string, ns: Record<string, unknown>): Addon {
  const addon: Record<string, unknown> = { name: `script:${path}` };
  const children: Addon[] = [];
  for (const [k, v] of Object.entries(ns)) {
    if (k === 'default' || k === 'addons' || k === 'name') continue;
    if (typeof v === 'function') addon[k] = v;
  }
  const def = ns.default as unknown;
  if (Array.isArray(ns.addons)) children.push(...(ns.addons as Addon[]));
  if (def && typeof def === 'object') {
    const d = def as Record<string, unknown>;
    if (Array.isArray(d.addons) && Object.keys(d).length === 1) children.push(...(d.addons as Addon[]));
    else children.push(def as Addon);
  }
  addon.addons = children;
  return addon as Addon;
}

/** One loaded script: its file, its current addon, and the mtime it was loaded at. */
class Script {
  addon: Addon | null = null;
  mtimeMs = 0;
  version = 0;

  constructor(readonly path: string) {}
}

/**
 * Loads the `scripts` option: each file becomes an addon; edited files are reloaded (`done` on
 * the old module, `load`/`configure`/`running` on the new one); a script with an error is
 * reported with file and line while the proxy keeps running.
 */
export class ScriptLoader {
  readonly name = 'scriptloader';
  /** The loaded scripts' addons, in `scripts` order: they run at the loader's place in the chain. */
  readonly addons: Addon[] = [];
  private master!: Master;
  private scripts = new Map<string, Script>();
  private timer: NodeJS.Timeout | null = null;
  private isRunning = false;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('scripts', 'sequence of str', [], 'Execute a script.');
    loader.addCommand(
      'script.run',
      { help: 'Run a script on the specified flows. The script is configured with the current options and all lifecycle events for each flow are simulated. Note that the load event is not invoked.', params: [{ name: 'flows', type: 'flow[]' }, { name: 'path', type: 'path' }] },
      (flows: Flow[], path: string) => this.scriptRun(flows, path),
    );
  }

  async configure(updated: Set<string>): Promise<void> {
    if (!updated.has('scripts')) return;
    const wanted = this.master.options.get<string[]>('scripts').map((p) => resolve(expandHome(p)));
    const seen = new Set<string>();
    for (const p of wanted) {
      if (seen.has(p)) throw new OptionsError(`Duplicate script: ${p}`);
      seen.add(p);
      if (!existsSync(p)) throw new OptionsError(`No such script: ${p}`);
    }
    for (const [p, s] of this.scripts) {
      if (!seen.has(p)) {
        this.master.log.info(`Un-loading script: ${p}`);
        this.scripts.delete(p);
        await this.unloadScript(s);
      }
    }
    for (const p of wanted) {
      if (!this.scripts.has(p)) {
        const s = new Script(p);
        this.scripts.set(p, s);
        await this.loadScript(s);
      }
    }
    this.ensureWatching();
  }

  running(): void {
    this.isRunning = true;
  }

  done(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private ensureWatching(): void {
    if (this.timer || this.scripts.size === 0) return;
    this.timer = setInterval(() => void this.checkForChanges(), RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  private async checkForChanges(): Promise<void> {
    const deleted = new Set<string>();
    for (const s of this.scripts.values()) {
      let mtime: number;
      try {
        mtime = statSync(s.path).mtimeMs;
      } catch {
        deleted.add(s.path);
        continue;
      }
      if (mtime !== s.mtimeMs) {
        this.master.log.info(`Reloading script ${s.path}`);
        await this.unloadScript(s);
        await this.loadScript(s);
      }
    }
    if (deleted.size) await this.forgetDeleted(deleted);
  }

  /**
   * A deleted script leaves the `scripts` option, as in mitmproxy: every addon is told by
   * `configure`, the web UI's options show it gone, and this loader's `configure` unloads it.
   * All deleted ones go in one change, as the option may not name a missing file.
   */
  private async forgetDeleted(deleted: Set<string>): Promise<void> {
    for (const p of deleted) this.master.log.info(`Removing script ${p}`);
    const scripts = this.master.options.get<string[]>('scripts');
    try {
      await this.master.options.update({ scripts: scripts.filter((e) => !deleted.has(resolve(expandHome(e)))) });
    } catch (e) {
      this.master.log.error(`Could not remove deleted scripts from the scripts option: ${(e as Error).message}`);
    }
  }

  private async unloadScript(s: Script): Promise<void> {
    if (s.addon) {
      const a = s.addon;
      s.addon = null;
      await this.master.addons.removeChild(this, a);
    }
  }

  /** Import and register a script; errors are logged, never thrown (the proxy keeps running). */
  private async loadScript(s: Script): Promise<void> {
    try {
      s.mtimeMs = statSync(s.path).mtimeMs;
    } catch {
      s.mtimeMs = 0;
    }
    s.version++;
    this.master.log.info(`Loading script ${s.path}`);
    let ns: Record<string, unknown>;
    try {
      ns = await importFresh(s.path, s.version);
    } catch (e) {
      this.master.log.error(`Script error: ${await describeScriptError(e, s.path)}`);
      return;
    }
    const addon = moduleToAddon(s.path, ns);
    try {
      // A reloaded script keeps its place among the others.
      const order = [...this.scripts.values()];
      const index = order.slice(0, order.indexOf(s)).filter((x) => x.addon).length;
      await this.master.addons.addChild(this, addon, index);
      s.addon = addon;
      // Before the master runs, the general configure reaches only addons that existed when it began.
      if (!this.master.isRunning) await this.master.addons.invokeAddonTree(addon, 'configure', new Set(this.master.options.names()));
      if (this.isRunning && !this.master.isRunning) await this.master.addons.invokeAddonTree(addon, 'running');
    } catch (e) {
      this.master.log.error(`Script error: ${await describeScriptError(e, s.path)}`);
    }
  }

  /**
   * Run a script's hooks over flows, simulating their lifecycle (no load event). As in mitmproxy,
   * a missing or broken script and a failing hook are logged, and the command itself succeeds.
   */
  private async scriptRun(flows: Flow[], path: string): Promise<void> {
    const p = resolve(expandHome(path));
    if (!existsSync(p) || !statSync(p).isFile()) {
      this.master.log.error(`No such script: ${p}`);
      return;
    }
    let ns: Record<string, unknown>;
    try {
      ns = await importFresh(p, Date.now());
    } catch (e) {
      this.master.log.error(`Script error: ${await describeScriptError(e, p)}`);
      return;
    }
    const addon = moduleToAddon(p, ns);
    const addons = this.master.addons;
    await addons.invokeAddonTree(addon, 'configure', new Set(this.master.options.names()));
    await addons.invokeAddonTree(addon, 'running');
    for (const f of flows) {
      for (const hook of lifecycleHooks(f)) if (FLOW_HOOKS.has(hook)) await addons.invokeAddonTree(addon, hook, f);
    }
    await addons.trigger('update', flows);
  }
}

/** The hooks a finished flow would have gone through. */
function lifecycleHooks(f: Flow): string[] {
  const x = f as Flow & { response?: unknown; websocket?: unknown };
  switch (f.type) {
    case 'http':
      return ['requestheaders', 'request', ...(x.response ? ['responseheaders', 'response'] : []), ...(f.error ? ['error'] : [])];
    case 'tcp':
      return ['tcp_start', 'tcp_message', f.error ? 'tcp_error' : 'tcp_end'];
    case 'udp':
      return ['udp_start', 'udp_message', f.error ? 'udp_error' : 'udp_end'];
    case 'dns':
      return ['dns_request', ...(x.response ? ['dns_response'] : []), ...(f.error ? ['dns_error'] : [])];
  }
}
