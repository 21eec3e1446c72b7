import { existsSync } from 'node:fs';
import { reasonPhrase } from '../status-codes.js';
import type { Loader } from '../addonmanager.js';
import { CommandError } from '../command.js';
import { ENCODINGS } from '../encoding.js';
import type { Flow } from '../flow.js';
import { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError, expandHome } from '../optmanager.js';

/**
 * Option checks that span several options, and the core commands: `set`, `options.*` and
 * `flow.*` (spec core.md d.2).
 */
export class Core {
  readonly name = 'core';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    const add = loader.addCommand.bind(loader);
    add(
      'set',
      {
        help: 'Set an option. When the value is omitted, booleans are set to true, strings and integers are set to None (if permitted), and sequences are emptied. Boolean values can be true, false or toggle. Multiple values are concatenated with a single space.',
        params: [
          { name: 'option', type: 'str' },
          { name: 'value', type: 'str', varargs: true },
        ],
      },
      (option: string, ...value: string[]) => this.set(option, value),
    );
    add('flow.resume', { help: 'Resume flows if they are intercepted.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) => this.resume(flows));
    add(
      'flow.mark',
      { help: 'Mark flows.', params: [{ name: 'flows', type: 'flow[]' }, { name: 'marker', type: 'marker' }] },
      (flows: Flow[], marker: string) => this.mark(flows, marker),
    );
    add('flow.mark.toggle', { help: 'Toggle mark for flows.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) => this.markToggle(flows));
    add('flow.kill', { help: 'Kill running flows.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) => this.kill(flows));
    add('flow.revert', { help: 'Revert flow changes.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) => this.revert(flows));
    add('flow.set.options', { returns: 'str[]' }, () => ['host', 'status_code', 'method', 'path', 'url', 'reason']);
    add(
      'flow.set',
      {
        help: 'Quickly set a number of common values on flows.',
        params: [
          { name: 'flows', type: 'flow[]' },
          { name: 'attr', type: 'choice', choicesFrom: 'flow.set.options' },
          { name: 'value', type: 'str' },
        ],
      },
      (flows: Flow[], attr: string, value: string) => this.flowSet(flows, attr, value),
    );
    add(
      'flow.decode',
      { help: 'Decode flows.', params: [{ name: 'flows', type: 'flow[]' }, { name: 'part', type: 'str' }] },
      (flows: Flow[], part: string) => this.decode(flows, part),
    );
    add(
      'flow.encode.toggle',
      { help: 'Toggle flow encoding on and off, using deflate for encoding.', params: [{ name: 'flows', type: 'flow[]' }, { name: 'part', type: 'str' }] },
      (flows: Flow[], part: string) => this.encodeToggle(flows, part),
    );
    add(
      'flow.encode',
      {
        help: 'Encode flows with a specified encoding.',
        params: [
          { name: 'flows', type: 'flow[]' },
          { name: 'part', type: 'str' },
          { name: 'encoding', type: 'choice', choicesFrom: 'flow.encode.options' },
        ],
      },
      (flows: Flow[], part: string, encoding: string) => this.encode(flows, part, encoding),
    );
    add('flow.encode.options', { help: 'The possible values for an encoding specification.', returns: 'str[]' }, () => [...ENCODINGS]);
    add('options.load', { help: 'Load options from a file.', params: [{ name: 'path', type: 'path' }] }, (path: string) => this.optionsLoad(path));
    add('options.save', { help: 'Save options to a file.', params: [{ name: 'path', type: 'path' }] }, (path: string) => this.optionsSave(path));
    add('options.reset', { help: 'Reset all options to defaults.' }, () => this.master.options.reset());
    add('options.reset.one', { help: 'Reset one option to its default value.', params: [{ name: 'name', type: 'str' }] }, (name: string) => this.resetOne(name));
  }

  configure(updated: Set<string>): void {
    const o = this.master.options;
    if (o.get<boolean>('add_upstream_certs_to_client_chain') && !o.get<boolean>('upstream_cert')) {
      throw new OptionsError('add_upstream_certs_to_client_chain requires the upstream_cert option to be enabled.');
    }
    if (updated.has('client_certs')) {
      const cc = o.get<string | null>('client_certs');
      if (cc && !existsSync(expandHome(cc))) throw new OptionsError(`Client certificate path does not exist: ${cc}`);
    }
  }

  private notifyUpdate(flows: Flow[]): Promise<void> {
    return this.master.addons.trigger('update', flows);
  }

  /** `option` may itself be `name=value` (one argument), as the specs are split on the first `=`. */
  private async set(option: string, value: string[]): Promise<void> {
    const specs = value.length ? value.map((v) => `${option}=${v}`) : [option];
    try {
      await this.master.options.setFromSpecs(specs, { defer: false });
    } catch (e) {
      throw new CommandError((e as Error).message);
    }
  }

  private async resume(flows: Flow[]): Promise<void> {
    const intercepted = flows.filter((f) => f.intercepted);
    for (const f of intercepted) f.resume();
    await this.notifyUpdate(intercepted);
  }

  private async mark(flows: Flow[], marker: string): Promise<void> {
    for (const f of flows) f.marked = marker;
    await this.notifyUpdate(flows);
  }

  private async markToggle(flows: Flow[]): Promise<void> {
    for (const f of flows) f.marked = f.marked ? '' : ':default:';
    await this.notifyUpdate(flows);
  }

  private async kill(flows: Flow[]): Promise<void> {
    const killed = flows.filter((f) => f.killable);
    for (const f of killed) f.kill();
    this.master.log.alert(`Killed ${killed.length} flows.`);
    await this.notifyUpdate(killed);
  }

  private async revert(flows: Flow[]): Promise<void> {
    const reverted = flows.filter((f) => f.modified());
    for (const f of reverted) f.revert();
    this.master.log.alert(`Reverted ${reverted.length} flows.`);
    await this.notifyUpdate(reverted);
  }

  private async flowSet(flows: Flow[], attr: string, value: string): Promise<void> {
    let status = 0;
    if (attr === 'status_code') {
      if (!/^\s*-?\d+\s*$/.test(value)) throw new CommandError(`Status code is not an integer: ${value}`);
      status = Number(value);
    }
    const updated: Flow[] = [];
    for (const f of flows) {
      if (!(f instanceof HTTPFlow)) continue;
      let changed = false;
      const req = f.request;
      if (attr === 'method') (req.method = value), (changed = true);
      else if (attr === 'host') (req.host = value), (changed = true);
      else if (attr === 'path') (req.path = value), (changed = true);
      else if (attr === 'url') {
        try {
          req.url = value;
        } catch (e) {
          throw new CommandError(`URL ${JSON.stringify(value)} is invalid: ${(e as Error).message}`);
        }
        changed = true;
      }
      const resp = f.response;
      if (resp) {
        if (attr === 'status_code') {
          resp.statusCode = status;
          if (reasonPhrase(status)) resp.reason = reasonPhrase(status);
          changed = true;
        } else if (attr === 'reason') {
          resp.reason = value;
          changed = true;
        }
      }
      if (changed) updated.push(f);
    }
    await this.notifyUpdate(updated);
    this.master.log.alert(`Set ${attr} on  ${updated.length} flows.`);
  }

  private part(f: Flow, part: string) {
    if (!(f instanceof HTTPFlow)) return null;
    if (part === 'request') return f.request;
    if (part === 'response') return f.response;
    return null;
  }

  /**
   * Change `part` of each flow with `change`. A body that cannot be decoded stops the command with
   * its error (mitmproxy decodes strictly here): that flow stays as it was, and the flows changed
   * before it are still announced with `update`.
   */
  private async changeParts(flows: Flow[], part: string, change: (p: NonNullable<ReturnType<Core['part']>>) => void): Promise<Flow[]> {
    const updated: Flow[] = [];
    try {
      for (const f of flows) {
        const p = this.part(f, part);
        if (p) {
          f.backup();
          change(p);
          updated.push(f);
        }
      }
    } catch (e) {
      if (updated.length) await this.notifyUpdate(updated);
      throw new CommandError((e as Error).message);
    }
    await this.notifyUpdate(updated);
    return updated;
  }

  private async decode(flows: Flow[], part: string): Promise<void> {
    const updated = await this.changeParts(flows, part, (p) => p.decode());
    this.master.log.alert(`Decoded ${updated.length} flows.`);
  }

  private async encodeToggle(flows: Flow[], part: string): Promise<void> {
    const updated = await this.changeParts(flows, part, (p) => {
      if ((p.headers.get('content-encoding') ?? 'identity') === 'identity') p.encode('deflate');
      else p.decode();
    });
    this.master.log.alert(`Toggled encoding on ${updated.length} flows.`);
  }

  private async encode(flows: Flow[], part: string, encoding: string): Promise<void> {
    const updated: Flow[] = [];
    for (const f of flows) {
      const p = this.part(f, part);
      if (p && (p.headers.get('content-encoding') ?? 'identity') === 'identity') {
        f.backup();
        try {
          p.encode(encoding);
        } catch (e) {
          throw new CommandError((e as Error).message);
        }
        updated.push(f);
      }
    }
    await this.notifyUpdate(updated);
    this.master.log.alert(`Encoded ${updated.length} flows.`);
  }

  private async optionsLoad(path: string): Promise<void> {
    try {
      await this.master.options.loadFile(path);
    } catch (e) {
      throw new CommandError(`Could not load options - ${(e as Error).message}`);
    }
  }

  private optionsSave(path: string): void {
    try {
      this.master.options.saveFile(path);
    } catch (e) {
      throw new CommandError(`Could not save options - ${(e as Error).message}`);
    }
  }

  private async resetOne(name: string): Promise<void> {
    if (!this.master.options.has(name)) throw new CommandError(`No such option: ${name}`);
    await this.master.options.reset([name]);
  }
}
