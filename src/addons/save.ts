import { dirname } from 'node:path';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import type { AnyFlow } from '../flows.js';
import type { HTTPFlow } from '../http.js';
import type { TCPFlow, UDPFlow } from '../tcp.js';
import type { DNSFlow } from '../dns.js';
import { OptionsError, expandHome } from '../optmanager.js';
import { CommandError } from '../command.js';
import type { Filter } from '../flowfilter/index.js';
import { FlowWriter } from '../io/flowwriter.js';
import { strftime } from '../io/strftime.js';
import { filterOption } from './util/filteroption.js';
import { pyOsErrorText } from './util/pyoserror.js';

/** A `+path` spec appends; the path itself has `~` expanded. */
export function savePath(spec: string): { path: string; append: boolean } {
  const append = spec.startsWith('+');
  return { path: expandHome(append ? spec.slice(1) : spec), append };
}

function osMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An error from the file system (ENOSPC, EIO, EBADF, ...), as opposed to one encoding the flow. */
function isOsError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | null;
  return typeof err?.code === 'string' && typeof err.syscall === 'string';
}

/**
 * `save_stream_file`: write flows to a file as they finish (HTTP at response or error, WebSocket
 * at its end, TCP/UDP at end or error, DNS at response or error), only those matching
 * `save_stream_filter`. `+path` appends; strftime patterns in the path start a new file whenever
 * the formatted name changes. Flows still running at shutdown are written then.
 * Also the `save.file` command.
 */
export class Save {
  readonly name = 'save';
  private master!: Master;
  private writer: FlowWriter | null = null;
  private filter: Filter | null = null;
  /** Flows seen starting but not written yet (written at shutdown if they never finish). */
  private readonly activeFlows = new Set<AnyFlow>();
  private currentPath: string | null = null;
  private failed = false;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'save_stream_file',
      'optional str',
      null,
      'Stream flows to file as they arrive. Prefix path with + to append. The full path can use python strftime() formating, missing directories are created as needed. A new file is opened every time the formatted string changes.',
    );
    loader.addOption('save_stream_filter', 'optional str', null, 'Filter which flows are written to file.');
    loader.addCommand(
      'save.file',
      {
        help: 'Save flows to a file. If the path starts with a +, flows are appended to the file, otherwise it is over-written.',
        params: [
          { name: 'flows', type: 'flow[]' },
          { name: 'path', type: 'path' },
        ],
      },
      (flows: AnyFlow[], path: string) => this.saveFile(flows, path),
    );
  }

  configure(updated: Set<string>): void {
    const o = this.master.options;
    if (updated.has('save_stream_filter')) this.filter = filterOption(o.get<string | null>('save_stream_filter'));
    if (updated.has('save_stream_file') || updated.has('save_stream_filter')) {
      if (o.get<string | null>('save_stream_file')) {
        try {
          this.maybeRotate();
        } catch (e) {
          throw new OptionsError(pyOsErrorText(e, savePath(o.get<string>('save_stream_file')).path));
        }
      } else {
        this.done();
      }
    }
  }

  /** Open the file the (strftime-formatted) path names now, if it is not the one already open. */
  private maybeRotate(): void {
    const spec = this.master.options.get<string>('save_stream_file');
    const { path: pattern, append } = savePath(spec);
    const path = strftime(pattern);
    if (path === this.currentPath && this.writer) return;
    if (this.writer) {
      this.writer.close();
      this.writer = null;
    }
    this.writer = FlowWriter.open(path, { append, mkdirs: dirname(path) !== '.' });
    this.currentPath = path;
  }

  private write(flow: AnyFlow): void {
    if (!this.writer) return;
    if (this.filter && !this.filter.match(flow)) return;
    this.writer.add(flow);
  }

  private saveFlow(flow: AnyFlow): void {
    if (!this.writer || this.failed) return;
    try {
      this.maybeRotate();
      this.write(flow);
    } catch (e) {
      // A flow that cannot be encoded (an addon gave it a value of the wrong type, such as a plain
      // Error as its error) is that hook's error, as in mitmproxy: reported, and nothing was
      // written of it (nor tried again when the file closes). Only the file failing stops the proxy.
      if (!isOsError(e)) {
        this.activeFlows.delete(flow);
        throw e;
      }
      // Traffic must not go on unrecorded: report loudly and stop the proxy (mitmproxy exits).
      this.failed = true;
      this.master.log.error(`Error while writing to ${this.currentPath}: ${osMessage(e)}`);
      void this.master.shutdown(1);
      return;
    }
    this.activeFlows.delete(flow);
  }

  done(): void {
    if (!this.writer) return;
    // After a failed write the file is not written again (the failure was reported once).
    if (!this.failed) {
      for (const f of this.activeFlows) {
        try {
          this.write(f);
        } catch (e) {
          if (isOsError(e)) {
            this.master.log.error(`Error while writing to ${this.currentPath}: ${osMessage(e)}`);
            break;
          }
          // One flow an addon broke does not keep the others out of the file.
          this.master.log.error(`Cannot save flow ${f.id}: ${osMessage(e)}`);
        }
      }
    }
    this.activeFlows.clear();
    this.currentPath = null;
    this.writer.close();
    this.writer = null;
  }

  /** `save.file flows path`. */
  saveFile(flows: readonly AnyFlow[], spec: string): void {
    const { path, append } = savePath(spec);
    let fw: FlowWriter;
    try {
      fw = FlowWriter.open(path, { append, buffered: true });
    } catch (e) {
      throw new CommandError(pyOsErrorText(e, path));
    }
    try {
      for (const f of flows) fw.add(f);
      fw.close();
    } catch (e) {
      try {
        fw.close();
      } catch {
        /* already reporting the first error */
      }
      throw new CommandError(osMessage(e));
    }
    if (spec.endsWith('.har') || spec.endsWith('.zhar')) {
      this.master.log.alert('Saved as mitmproxy dump file. To save HAR files, use the `save.har` command.');
    } else {
      this.master.log.alert(`Saved ${flows.length} flows.`);
    }
  }

  private track(flow: AnyFlow): void {
    if (this.writer) this.activeFlows.add(flow);
  }

  request(flow: HTTPFlow): void {
    this.track(flow);
  }

  response(flow: HTTPFlow): void {
    // A WebSocket flow is written once, at websocket_end, with all its messages.
    if (flow.websocket === null) this.saveFlow(flow);
  }

  error(flow: HTTPFlow): void {
    this.response(flow);
  }

  websocket_end(flow: HTTPFlow): void {
    this.saveFlow(flow);
  }

  tcp_start(flow: TCPFlow): void {
    this.track(flow);
  }

  tcp_end(flow: TCPFlow): void {
    this.saveFlow(flow);
  }

  tcp_error(flow: TCPFlow): void {
    this.saveFlow(flow);
  }

  udp_start(flow: UDPFlow): void {
    this.track(flow);
  }

  udp_end(flow: UDPFlow): void {
    this.saveFlow(flow);
  }

  udp_error(flow: UDPFlow): void {
    this.saveFlow(flow);
  }

  dns_request(flow: DNSFlow): void {
    this.track(flow);
  }

  dns_response(flow: DNSFlow): void {
    this.saveFlow(flow);
  }

  dns_error(flow: DNSFlow): void {
    this.saveFlow(flow);
  }
}
