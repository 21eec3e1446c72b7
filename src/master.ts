import { AsyncLocalStorage } from 'node:async_hooks';
import { AddonManager } from './addonmanager.js';
import { CommandManager } from './command.js';
import { becomeCurrentMaster } from './ctx.js';
import { EventLog, type LogEntry } from './log.js';
import { OptManager } from './optmanager.js';
import { declareCoreOptions } from './options.js';
import type { Addon } from './hooks.js';

/** Set while `add_log` handlers run, through their awaits (see deliverLogEntry). */
const IN_ADD_LOG = new AsyncLocalStorage<boolean>();

/**
 * The centre of a running proxy: options, the addon chain, commands and the event log. The proxy
 * servers themselves are an addon (`proxyserver`), like every other feature.
 */
export class Master {
  readonly options: OptManager;
  readonly commands: CommandManager;
  readonly addons: AddonManager;
  readonly log: EventLog;
  /** True between `run()` having fired `running` and `shutdown()`. */
  isRunning = false;

  private exitResolve!: () => void;
  /** Resolves when `shutdown()` was requested. */
  readonly shouldExit: Promise<void>;
  private shuttingDown: Promise<void> | null = null;

  constructor(options?: OptManager) {
    this.log = new EventLog();
    this.options = options ?? new OptManager();
    if (!this.options.has('confdir')) declareCoreOptions(this.options);
    this.commands = new CommandManager();
    this.addons = new AddonManager(this);
    this.shouldExit = new Promise((resolve) => (this.exitResolve = resolve));
    // Once running, every option change becomes a `configure` hook; before that the changes are
    // collected and `run()` sends one `configure` with every option name.
    this.options.onChange(async (updated) => {
      if (this.configured) await this.addons.trigger('configure', updated);
    });
    // `options.name = value` in a script cannot wait for `configure`: a value an addon refuses
    // there is rolled back, and said here (in mitmproxy the assignment itself raises).
    this.options.onAssignmentRefused((name, value, e) => {
      this.log.error(`Cannot set option ${name} to ${JSON.stringify(value)}: ${e instanceof Error ? e.message : String(e)}`);
    });
    this.log.subscribe((entry) => this.deliverLogEntry(entry));
    becomeCurrentMaster(this);
  }

  /**
   * The `add_log` hook (deprecated in mitmproxy, still fired there): each log entry, after the
   * code that logged it has returned. What an `add_log` handler logs itself (before or after an
   * await: the dispatch's async context says so) and its failures are not sent back to it,
   * which would loop forever.
   */
  private deliverLogEntry(entry: LogEntry): void {
    if (!this.addons.hasHandlers('add_log') || IN_ADD_LOG.getStore()) return;
    queueMicrotask(() => {
      IN_ADD_LOG.run(true, () => {
        this.addons.trigger('add_log', entry).catch(() => undefined);
      });
    });
  }

  private configured = false;

  /** Add addons to the end of the chain (see AddonManager.add). */
  async addAddons(...addons: Addon[]): Promise<void> {
    await this.addons.add(...addons);
  }

  /**
   * Start: `configure` with every option (an invalid value throws here), then `running`. The
   * `proxyserver` addon starts its listeners in `running`.
   */
  async run(): Promise<void> {
    if (this.shuttingDown) throw new Error('This master has been shut down; create a new one to run again.');
    this.configured = true;
    await this.addons.trigger('configure', new Set(this.options.names()));
    await this.addons.trigger('running');
    this.isRunning = true;
  }

  /**
   * What the process running this master should exit with: 0, or 1 once a failure asked for the
   * shutdown (the command line tools return it; a program embedding the proxy may read it).
   */
  exitCode = 0;

  /**
   * Stop: every addon gets `done` (listeners close, files are flushed). Safe to call twice.
   * `exitCode` 1 says the proxy stops because something failed (see `Master.exitCode`).
   */
  shutdown(exitCode = 0): Promise<void> {
    this.exitCode = Math.max(this.exitCode, exitCode);
    if (!this.shuttingDown) {
      this.shuttingDown = (async () => {
        this.exitResolve();
        this.isRunning = false;
        await this.addons.trigger('done');
      })();
    }
    return this.shuttingDown;
  }
}
