import { now } from './util/time.js';

/**
 * Event log levels in mitmproxy's order (its termlog_verbosity choices, so the web UI lists them
 * alike). Not by severity: alert ranks between warn and info (see SEVERITY).
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'alert', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SEVERITY: Record<LogLevel, number> = { error: 40, warn: 30, alert: 21, info: 20, debug: 10 };

/** Whether an entry of `level` is shown at `verbosity`. */
export function logLevelShown(level: LogLevel, verbosity: LogLevel): boolean {
  return SEVERITY[level] >= SEVERITY[verbosity];
}

/** One line of the event log. */
export interface LogEntry {
  /** Increasing number, unique per process (the web API's event id). */
  id: number;
  message: string;
  level: LogLevel;
  timestamp: number;
  /** "host:port" of the client the entry is about, when there is one. */
  client?: string;
}

export type LogListener = (entry: LogEntry) => void;

/**
 * The event log: what mitmdump prints and mitmweb serves at /events. Entries go to listeners
 * (the termlog and eventstore addons); the log itself keeps nothing.
 */
export class EventLog {
  private listeners: LogListener[] = [];
  private nextId = 1;

  /** Subscribe; returns an unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  add(level: LogLevel, message: string, client?: string): LogEntry {
    const entry: LogEntry = { id: this.nextId++, message, level, timestamp: now() };
    if (client !== undefined) entry.client = client;
    for (const l of this.listeners) {
      try {
        l(entry);
      } catch {
        // A broken log listener must never take the proxy down; there is nowhere left to report it.
      }
    }
    return entry;
  }

  debug(message: string, client?: string): void {
    this.add('debug', message, client);
  }
  info(message: string, client?: string): void {
    this.add('info', message, client);
  }
  alert(message: string, client?: string): void {
    this.add('alert', message, client);
  }
  warn(message: string, client?: string): void {
    this.add('warn', message, client);
  }
  error(message: string, client?: string): void {
    this.add('error', message, client);
  }
}
