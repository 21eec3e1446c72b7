import type { Loader } from '../addonmanager.js';
import type { LogEntry } from '../log.js';

/** Remembers errors logged during startup so the tool can refuse to run with a broken configuration. */
export class ErrorCheck {
  readonly name = 'errorcheck';
  readonly errors: LogEntry[] = [];
  private unsubscribe: (() => void) | null = null;

  load(loader: Loader): void {
    this.unsubscribe = loader.master.log.subscribe((e) => {
      if (e.level === 'error') this.errors.push(e);
    });
  }

  /**
   * Startup is over once every addon's `running` has run; this addon comes last in the tools'
   * chains, so here. Errors logged later are not startup errors, and an embedded master that runs
   * for days must not keep collecting them.
   */
  running(): void {
    this.finish();
  }

  /** Stop watching. */
  finish(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  get hasErrored(): boolean {
    return this.errors.length > 0;
  }

  /** The line mitmdump prints before exiting with status 1. */
  message(): string {
    return `Error${this.errors.length > 1 ? 's' : ''} logged during startup, exiting...`;
  }
}
