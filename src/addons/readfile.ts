import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import type { AnyFlow } from '../flows.js';
import { HTTPFlow } from '../http.js';
import { TCPFlow } from '../tcp.js';
import { DNSFlow } from '../dns.js';
import { expandHome } from '../optmanager.js';
import type { Filter } from '../flowfilter/index.js';
import { FlowReader, FlowReadError, type FlowSource } from '../io/flowreader.js';
import { ProxyMode } from '../proxy/modes.js';
import { filterOption } from './util/filteroption.js';
import { pyOsErrorText } from './util/pyoserror.js';

/** The hooks a loaded flow goes through, in order (mitmproxy's eventsequence). */
function* flowEvents(flow: AnyFlow): Generator<string> {
  if (flow instanceof HTTPFlow) {
    yield 'requestheaders';
    yield 'request';
    if (flow.response) {
      yield 'responseheaders';
      yield 'response';
    }
    if (flow.websocket) {
      // The messages are handed over one at a time, as if they were arriving.
      const queue = flow.websocket.messages;
      flow.websocket.messages = [];
      yield 'websocket_start';
      for (const m of queue) {
        flow.websocket.messages.push(m);
        yield 'websocket_message';
      }
      yield 'websocket_end';
    } else if (flow.error) {
      yield 'error';
    }
  } else if (flow instanceof TCPFlow) {
    const kind = flow.type; // 'tcp' or 'udp'
    const queue = flow.messages;
    flow.messages = [];
    yield `${kind}_start`;
    for (const m of queue) {
      flow.messages.push(m);
      yield `${kind}_message`;
    }
    yield flow.error ? `${kind}_error` : `${kind}_end`;
  } else if (flow instanceof DNSFlow) {
    yield 'dns_request';
    if (flow.response) yield 'dns_response';
    if (flow.error) yield 'dns_error';
  }
}

/** Something that keeps flows for display (the view addon): loaded flows are offered to it. */
interface FlowStore {
  add(flows: Iterable<AnyFlow>): void;
}

function asFlowStore(addon: unknown): FlowStore | null {
  return addon && typeof (addon as FlowStore).add === 'function' ? (addon as FlowStore) : null;
}

/**
 * Run a loaded flow through the addon chain as if it were happening now (mitmproxy's
 * `master.load_flow`): with a single `reverse:` mode the request is re-targeted to that server;
 * then each hook fires, followed by `update`. A flow saved while intercepted does not block
 * loading (the hooks are not waited on for interception, as in mitmproxy).
 * Finally the flow is offered to the view (`view.add`), which ignores flows it already holds.
 */
export async function loadFlow(master: Master, flow: AnyFlow): Promise<void> {
  const modes = master.options.has('mode') ? master.options.get<string[]>('mode') : [];
  if (flow instanceof HTTPFlow && modes.length === 1 && modes[0]!.startsWith('reverse:')) {
    const server = ProxyMode.parse(modes[0]!).server;
    if (server) {
      flow.request.host = server.address[0];
      flow.request.port = server.address[1];
      flow.request.scheme = server.scheme;
    }
  }
  for (const hook of flowEvents(flow)) {
    await master.addons.trigger(hook, flow);
    await master.addons.trigger('update', [flow]);
  }
  // Hook point for flow stores: the view adds flows from the hooks above already; this covers
  // stores that only want finished flows.
  asFlowStore(master.addons.get('view'))?.add([flow]);
}

/**
 * `rfile` (`-r PATH`, `-` for stdin): read flows from a file at startup, as if they happened,
 * keeping only those matching `readfile_filter`. Reading runs in the background;
 * `readfile.reading` says whether it is still going.
 */
export class ReadFile {
  readonly name = 'readfile';
  private master!: Master;
  private filter: Filter | null = null;
  private task: Promise<void> | null = null;
  private busy = false;

  /** `stdin` replaces process.stdin for `-` (tests); process.stdin is only touched when `-` is read. */
  constructor(private readonly stdin?: Readable) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('rfile', 'optional str', null, 'Read flows from file.');
    loader.addOption('readfile_filter', 'optional str', null, 'Read only matching flows.');
    loader.addCommand('readfile.reading', { returns: 'bool' }, () => this.reading());
  }

  configure(updated: Set<string>): void {
    if (updated.has('readfile_filter')) this.filter = filterOption(this.master.options.get<string | null>('readfile_filter'));
  }

  /**
   * Load flows from a source through the addons; returns how many were loaded. On damage the
   * flows before it stay loaded, a warning/error is logged, and the FlowReadError is rethrown.
   */
  async loadFlows(source: FlowSource): Promise<number> {
    let count = 0;
    try {
      for await (const flow of new FlowReader(source)) {
        if (this.filter && !this.filter.match(flow)) continue;
        await loadFlow(this.master, flow);
        count++;
      }
    } catch (e) {
      if (count) this.master.log.warn(`Flow file corrupted - loaded ${count} flows.`);
      else this.master.log.error('Flow file corrupted.');
      throw e instanceof FlowReadError ? e : new FlowReadError(e instanceof Error ? e.message : String(e));
    }
    return count;
  }

  /** Load flows from a path (`-` is stdin). */
  async loadFlowsFromPath(path: string): Promise<number> {
    if (path === '-') return this.loadFlows(this.stdin ?? process.stdin);
    const p = expandHome(path);
    let fd: number;
    try {
      // Open first, so that a missing file is reported as such and not as a damaged one. At
      // once (synchronously): from `running`, that report is a startup error, which makes
      // mitmdump exit 1, as mitmproxy's open() does.
      fd = openSync(p, 'r');
      if (fstatSync(fd).isDirectory()) {
        closeSync(fd);
        throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      }
    } catch (e) {
      const msg = pyOsErrorText(e, p);
      this.master.log.error(`Cannot load flows: ${msg}`);
      throw new FlowReadError(msg);
    }
    // Read what was opened, not the path again: a pipe (`-r <(zcat flows.gz)`, a FIFO) can be
    // opened only once; its writer is gone when the first reader closes.
    return this.loadFlows(createReadStream('', { fd, highWaterMark: 256 * 1024 }));
  }

  private async doRead(path: string): Promise<void> {
    try {
      await this.loadFlowsFromPath(path);
    } catch (e) {
      this.master.log.error(`Failed to read ${path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.busy = false;
    }
  }

  running(): void {
    const rfile = this.master.options.get<string | null>('rfile');
    if (!rfile) return;
    this.busy = true;
    this.task = this.doRead(rfile);
  }

  /** Resolves when the background read started by `running` is finished. */
  async finished(): Promise<void> {
    await this.task;
  }

  reading(): boolean {
    return this.busy;
  }
}
