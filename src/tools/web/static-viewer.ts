/**
 * `web_static_viewer`: write the flows of `rfile` as a static site the web front end can show
 * without a running mitmweb (mitmproxy's StaticViewer): the front end's files with a
 * `MITMWEB_STATIC = true` flag, `flows.json` (the API's flow JSON), `filter-help.json`,
 * `settings.json`, and per HTTP message its decoded body (`content.data`) and its Auto content
 * view (`content/Auto.json`).
 *
 * The front end itself is not part of this package: its files are copied from the directory
 * mitmweb serves (MITMWEB_STATIC_DIR); without one only the data is written, and a warning says so.
 */
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Loader } from '../../addonmanager.js';
import { contentViewResultJson, prettifyMessage } from '../../contentviews/index.js';
import { FILTER_HELP } from '../../flowfilter/index.js';
import type { AnyFlow } from '../../flows.js';
import { HTTPFlow, type Message } from '../../http.js';
import { readFlowsFromPaths } from '../../io/flowreader.js';
import type { Master } from '../../master.js';
import { expandHome, OptionsError } from '../../optmanager.js';
import { MITMPROXY_COMPAT_VERSION } from '../../version.js';
import { flowToJson } from './flowjson.js';

export class StaticViewer {
  readonly name = 'staticviewer';
  private master!: Master;

  /** `frontEndDir`: a built front end (index.html and static/), or null. */
  constructor(private readonly frontEndDir: string | null) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('web_static_viewer', 'optional str', '', 'The path to output a static viewer.');
  }

  async configure(updated: Set<string>): Promise<void> {
    const target = this.master.options.get<string | null>('web_static_viewer');
    if (!updated.has('web_static_viewer') || !target) return;
    const rfile = this.master.options.has('rfile') ? this.master.options.get<string | null>('rfile') : null;
    if (!rfile) throw new OptionsError('web_static_viewer writes the flows of a flow file: set rfile (-r) too.');
    let flows: AnyFlow[];
    try {
      flows = await readFlowsFromPaths([rfile]);
    } catch (e) {
      throw new OptionsError(`web_static_viewer: cannot read ${rfile}: ${(e as Error).message}`);
    }
    this.export(resolve(expandHome(target)), flows);
  }

  export(path: string, flows: readonly AnyFlow[]): void {
    mkdirSync(path, { recursive: true });
    this.saveFrontEnd(path);
    writeFileSync(join(path, 'filter-help.json'), JSON.stringify({ commands: FILTER_HELP.map(([a, b]) => [a, b]) }));
    writeFileSync(join(path, 'settings.json'), JSON.stringify({ version: MITMPROXY_COMPAT_VERSION }));
    writeFileSync(join(path, 'flows.json'), JSON.stringify(flows.map((f) => flowToJson(f))));
    for (const f of flows) if (f instanceof HTTPFlow) this.saveContent(path, f);
    this.master.log.info(`Static viewer of ${flows.length} flows written to ${path}.`);
  }

  private saveFrontEnd(path: string): void {
    const dir = this.frontEndDir;
    if (!dir || !existsSync(join(dir, 'index.html'))) {
      this.master.log.warn('web_static_viewer: no web front end to copy (set MITMWEB_STATIC_DIR to a built one); only the flow data was written.');
      return;
    }
    // The front end is replaced as a whole, so an updated one leaves no stale files behind.
    rmSync(join(path, 'static'), { recursive: true, force: true });
    cpSync(join(dir, 'static'), join(path, 'static'), { recursive: true });
    cpSync(join(dir, 'index.html'), join(path, 'index.html'));
    writeFileSync(join(path, 'static', 'static.js'), 'MITMWEB_STATIC = true;');
  }

  private saveContent(path: string, flow: HTTPFlow): void {
    for (const part of ['request', 'response'] as const) {
      const message: Message | null = part === 'request' ? flow.request : flow.response;
      const dir = join(path, 'flows', flow.id, part);
      mkdirSync(join(dir, 'content'), { recursive: true });
      // As the web API's content.data: decoded, or as sent when it cannot be.
      writeFileSync(join(dir, 'content.data'), message ? (message.getContent(false) ?? Buffer.alloc(0)) : 'No content.');
      const view = message
        ? contentViewResultJson(prettifyMessage(message, flow, 'auto', {}))
        : { text: 'No content.', syntax_highlight: 'none', view_name: '/', description: '' };
      writeFileSync(join(dir, 'content', 'Auto.json'), JSON.stringify(view));
    }
  }
}

