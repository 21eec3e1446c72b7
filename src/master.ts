import { AddonManager } from './addonmanager.js';
import { CommandManager } from './command.js';
import { EventLog } from './log.js';
import { OptManager } from './optmanager.js';
import { declareCoreOptions } from './options.js';
import type { Addon } from './hooks.js';

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
    this.configured = true;
    await this.addons.trigger('configure', new Set(this.options.names()));
    await this.addons.trigger('running');
    this.isRunning = true;
  }

  /** Stop: every addon gets `done` (listeners close, files are flushed). Safe to call twice. */
  shutdown(): Promise<void> {
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
