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
  /**
   * The exception this line reports, when it reports one (an addon hook that threw, a listener
   * that could not start), for programs that embed the proxy; the web API does not show it.
   */
  error?: unknown;
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

  add(level: LogLevel, message: string, client?: string, error?: unknown): LogEntry {
    const entry: LogEntry = { id: this.nextId++, message, level, timestamp: now() };
    if (client !== undefined) entry.client = client;
    if (error !== undefined) entry.error = error;
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
  /** An error line; `error` is the exception it reports, if any (see LogEntry.error). */
  error(message: string, client?: string, error?: unknown): void {
    this.add('error', message, client, error);
  }
}

const COLORS: Partial<Record<LogLevel, string>> = { error: '\x1b[31m', warn: '\x1b[33m', alert: '\x1b[35m', debug: '\x1b[2m' };

/** "HH:MM:SS.mmm" in local time, as mitmproxy's log formatter. */
function clock(ts: number): string {
  const d = new Date(ts * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * A log line as mitmdump prints it and mitmweb's event log shows it:
 * `[HH:MM:SS.mmm][client] message`, coloured for terminals when `color`.
 */
export function formatLogLine(e: LogEntry, color = false): string {
  const time = color ? `\x1b[2;36m[${clock(e.timestamp)}]\x1b[0m` : `[${clock(e.timestamp)}]`;
  const c = color ? COLORS[e.level] : undefined;
  const msg = c ? `${c}${e.message}\x1b[0m` : e.message;
  // A replayed flow's connection has no client address; mitmproxy writes "[replay] message".
  if (e.client === '[replay]') return `${time} ${e.client} ${msg}`;
  const client = e.client ? (color ? `\x1b[2;33m[${e.client}]\x1b[0m` : `[${e.client}]`) : '';
  return `${time}${client} ${msg}`;
}
