import type { Writable } from 'node:stream';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import type { AnyFlow } from '../flows.js';
import type { HTTPFlow } from '../http.js';
import { CommandError } from '../command.js';
import { prettySize } from '../util/human.js';
import type { Filter } from '../flowfilter/index.js';
import { harPieces, writeHarFile } from '../io/har.js';
import { filterOption } from './util/filteroption.js';

/**
 * `hardump`: collect HTTP flows as they finish (matching `save_stream_filter`) and write them as
 * a HAR file on shutdown (`-` prints it; a `.zhar` name is zlib-compressed). Also the
 * `save.har` command.
 */
export class SaveHar {
  readonly name = 'savehar';
  private master!: Master;
  private filter: Filter | null = null;
  /** The flows collected for `hardump` (kept in memory until shutdown, as in mitmproxy). */
  flows: HTTPFlow[] = [];

  constructor(private readonly stdout: Writable = process.stdout) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'hardump',
      'str',
      '',
      'Save a HAR file with all flows on exit. You may select particular flows by setting save_stream_filter. For mitmdump, enabling this option will mean that flows are kept in memory.',
    );
    loader.addCommand(
      'save.har',
      {
        help: 'Export flows to an HAR (HTTP Archive) file.',
        params: [
          { name: 'flows', type: 'flow[]' },
          { name: 'path', type: 'path' },
        ],
      },
      (flows: AnyFlow[], path: string) => this.exportHar(flows, path),
    );
  }

  configure(updated: Set<string>): void {
    const o = this.master.options;
    // save_stream_filter belongs to the save addon; it is read here too, as mitmproxy does.
    if (updated.has('save_stream_filter') && o.has('save_stream_filter')) this.filter = filterOption(o.get<string | null>('save_stream_filter'));
    if (updated.has('hardump') && !o.get<string>('hardump')) this.flows = [];
  }

  private harOptions() {
    return { onSkipped: (n: number) => this.master.log.info(`Skipped ${n} flows that weren't HTTP flows.`) };
  }

  /** `save.har flows path`. */
  async exportHar(flows: readonly AnyFlow[], path: string): Promise<void> {
    let size: number;
    try {
      size = await writeHarFile(path, flows, this.harOptions());
    } catch (e) {
      throw new CommandError(e instanceof Error ? e.message : String(e));
    }
    this.master.log.alert(`HAR file saved (${prettySize(size)} bytes).`);
  }

  private saveFlow(flow: HTTPFlow): void {
    if (!this.master.options.get<string>('hardump')) return;
    if (this.filter === null || this.filter.match(flow)) this.flows.push(flow);
  }

  response(flow: HTTPFlow): void {
    // WebSocket flows are collected at websocket_end, with their messages.
    if (flow.websocket === null) this.saveFlow(flow);
  }

  error(flow: HTTPFlow): void {
    this.response(flow);
  }

  websocket_end(flow: HTTPFlow): void {
    this.saveFlow(flow);
  }

  async done(): Promise<void> {
    const hardump = this.master.options.get<string>('hardump');
    if (!hardump) return;
    if (hardump === '-') {
      // Entry by entry: the whole document as one string can exceed V8's longest string.
      for (const piece of harPieces(this.flows, this.harOptions())) this.stdout.write(piece);
      this.stdout.write('\n');
      return;
    }
    try {
      await this.exportHar(this.flows, hardump);
    } catch (e) {
      this.master.log.error(`Could not write HAR file ${hardump}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
