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

  /** Stop watching once startup is over. */
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
