import { Master } from '../master.js';
import type { OptManager } from '../optmanager.js';
import { defaultAddons } from '../addons/index.js';
import { TermLog } from '../addons/termlog.js';
import { Dumper } from '../addons/dumper.js';
import { ErrorCheck } from '../addons/errorcheck.js';
import { KeepServing } from '../addons/keepserving.js';
import { ReadFile } from '../addons/readfile.js';

export interface DumpMasterOptions {
  options?: OptManager;
  /** Print log lines (default true). */
  withTermlog?: boolean;
  /** Print flows (default true). */
  withDumper?: boolean;
  /** Where log lines and flows go (default stdout). */
  out?: NodeJS.WritableStream;
}

/** mitmdump: the proxy with terminal logging and flow output, no interactive parts. */
export class DumpMaster extends Master {
  readonly errorcheck = new ErrorCheck();
  termlog: TermLog | null = null;

  /** Create a DumpMaster with mitmdump's addon chain loaded. */
  static async create(opts: DumpMasterOptions = {}): Promise<DumpMaster> {
    const m = new DumpMaster(opts.options);
    if (opts.withTermlog ?? true) {
      m.termlog = new TermLog(opts.out);
      await m.addons.add(m.termlog);
    }
    await m.addons.add(...defaultAddons());
    if (opts.withDumper ?? true) await m.addons.add(new Dumper(opts.out));
    await m.addons.add(new KeepServing(), new ReadFile(), m.errorcheck);
    return m;
  }
}
