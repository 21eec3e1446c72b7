import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { LOG_LEVELS, logLevelShown, type LogEntry, type LogLevel } from '../log.js';

const COLORS: Partial<Record<LogLevel, string>> = { error: '\x1b[31m', warn: '\x1b[33m', alert: '\x1b[35m', debug: '\x1b[2m' };

/** "HH:MM:SS.mmm" in local time, as mitmproxy's log formatter. */
function clock(ts: number): string {
  const d = new Date(ts * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Format a log line: `[HH:MM:SS.mmm][client] message`, coloured on terminals. */
export function formatLogLine(e: LogEntry, color: boolean): string {
  const time = color ? `\x1b[2;36m[${clock(e.timestamp)}]\x1b[0m` : `[${clock(e.timestamp)}]`;
  const c = color ? COLORS[e.level] : undefined;
  const msg = c ? `${c}${e.message}\x1b[0m` : e.message;
  // A replayed flow's connection has no client address; mitmproxy writes "[replay] message".
  if (e.client === '[replay]') return `${time} ${e.client} ${msg}`;
  const client = e.client ? (color ? `\x1b[2;33m[${e.client}]\x1b[0m` : `[${e.client}]`) : '';
  return `${time}${client} ${msg}`;
}

/** Prints the event log to the terminal (mitmdump's log lines), filtered by termlog_verbosity. */
export class TermLog {
  readonly name = 'termlog';
  private verbosity: LogLevel = 'info';
  private unsubscribe: (() => void) | null = null;
  private master!: Master;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('termlog_verbosity', 'str', 'info', 'Log verbosity.', LOG_LEVELS);
    const color = Boolean((this.out as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;
    this.unsubscribe = this.master.log.subscribe((e) => {
      if (logLevelShown(e.level, this.verbosity)) this.out.write(formatLogLine(e, color) + '\n');
    });
  }

  configure(updated: Set<string>): void {
    if (updated.has('termlog_verbosity')) this.verbosity = this.master.options.get<LogLevel>('termlog_verbosity');
  }

  /** Stop printing (after everything else has shut down). */
  uninstall(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
