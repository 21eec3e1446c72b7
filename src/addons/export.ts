import { writeFileSync } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import type { AnyFlow } from '../flows.js';
import { CommandError } from '../command.js';
import { copyOrLog } from '../util/clipboard.js';
import { EXPORT_FORMATS, exportToBytes, exportToString, isExportFormat, type ExportFormat, type ExportOptions } from '../io/export.js';


/**
 * Export flows as curl / httpie command lines or raw HTTP (`export`, `export.file`,
 * `export.clip`, `export.formats`).
 */
export class Export {
  readonly name = 'export';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'export_preserve_original_ip',
      'bool',
      false,
      'When exporting a request as an external command, make an effort to connect to the same IP as in the original request. This helps with reproducibility in cases where the behaviour depends on the particular host we are connecting to. Currently this only affects curl exports.',
    );
    loader.addCommand('export.formats', { help: 'Return a list of the supported export formats.', returns: 'str[]' }, () => this.formats());
    loader.addCommand(
      'export.file',
      {
        help: 'Export a flow to path.',
        params: [
          { name: 'format', type: 'str' },
          { name: 'flow', type: 'flow' },
          { name: 'path', type: 'path' },
        ],
      },
      (format: string, flow: AnyFlow, path: string) => this.file(format, flow, path),
    );
    loader.addCommand(
      'export.clip',
      {
        help: 'Export a flow to the system clipboard.',
        params: [
          { name: 'format', type: 'str' },
          { name: 'f', type: 'flow' },
        ],
      },
      (format: string, flow: AnyFlow) => this.clip(format, flow),
    );
    loader.addCommand(
      'export',
      {
        help: 'Export a flow and return the result.',
        params: [
          { name: 'format', type: 'str' },
          { name: 'f', type: 'flow' },
        ],
        returns: 'str',
      },
      (format: string, flow: AnyFlow) => this.exportStr(format, flow),
    );
  }

  private options(): ExportOptions {
    const o = this.master.options;
    return { preserveOriginalIp: o.has('export_preserve_original_ip') && o.get<boolean>('export_preserve_original_ip') };
  }

  formats(): string[] {
    return [...EXPORT_FORMATS].sort();
  }

  private check(format: string): ExportFormat {
    if (!isExportFormat(format)) throw new CommandError(`No such export format: ${format}`);
    return format;
  }

  /** `export.file`: bytes as they are, text as UTF-8. A write error is logged, as in mitmproxy. */
  file(format: string, flow: AnyFlow, path: string): void {
    const data = exportToBytes(this.check(format), flow, this.options());
    try {
      writeFileSync(path, data);
    } catch (e) {
      this.master.log.error(e instanceof Error ? e.message : String(e));
    }
  }

  async clip(format: string, flow: AnyFlow): Promise<void> {
    const text = exportToString(this.check(format), flow, this.options());
    await copyOrLog(this.master.log, Buffer.from(text, 'utf8'));
  }

  exportStr(format: string, flow: AnyFlow): string {
    return exportToString(this.check(format), flow, this.options());
  }
}
