import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { LOG_LEVELS, formatLogLine, logLevelShown, type LogLevel } from '../log.js';

/** Prints the event log to the terminal (mitmdump's log lines), filtered by termlog_verbosity. */
export class TermLog {
  readonly name = 'termlog';
  private master!: Master;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('termlog_verbosity', 'str', 'info', 'Log verbosity.', LOG_LEVELS);
    const color = Boolean((this.out as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;
    // The option is read per line, not kept from configure: lines logged at startup, before the
    // first configure, must already follow -q.
    this.master.log.subscribe((e) => {
      if (this.out.writable && logLevelShown(e.level, this.master.options.get<LogLevel>('termlog_verbosity'))) this.out.write(formatLogLine(e, color) + '\n');
    });
  }
}
