import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';

/** How often we check whether reading and replays are finished. */
const POLL_MS = 100;

/**
 * mitmdump exits once `-r` files are read and client/server replays are done, unless
 * `keepserving` is set (or none of these was requested).
 */
export class KeepServing {
  readonly name = 'keepserving';
  private master!: Master;
  private timer: NodeJS.Timeout | null = null;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'keepserving',
      'bool',
      false,
      'Continue serving after client playback, server playback or file read. This option is ignored by interactive tools, which always keep serving.',
    );
  }

  private optionSet(name: string): boolean {
    const o = this.master.options;
    if (!o.has(name)) return false;
    const v = o.get(name);
    return Array.isArray(v) ? v.length > 0 : Boolean(v);
  }

  /**
   * mitmproxy's keepgoing(): still reading, replays left, or client connections open (whichever
   * of -r, -C and -S was given: a client still being served keeps the proxy up after a file read too).
   */
  private async stillBusy(): Promise<boolean> {
    const c = this.master.commands;
    if (c.has('readfile.reading') && (await c.call('readfile.reading'))) return true;
    if (c.has('replay.client.count') && ((await c.call('replay.client.count')) as number) > 0) return true;
    if (c.has('replay.server.count') && ((await c.call('replay.server.count')) as number) > 0) return true;
    if (c.has('proxyserver.active_connections') && ((await c.call('proxyserver.active_connections')) as number) > 0) return true;
    return false;
  }

  running(): void {
    if (this.master.options.get<boolean>('keepserving')) return;
    if (!['client_replay', 'server_replay', 'rfile'].some((n) => this.optionSet(n))) return;
    this.timer = setInterval(() => {
      void this.stillBusy().then((busy) => {
        if (!busy && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
          void this.master.shutdown();
        }
      });
    }, POLL_MS);
  }

  done(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
