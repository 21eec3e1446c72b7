import type { Loader } from '../addonmanager.js';
import { CommandError } from '../command.js';
import type { Flow } from '../flow.js';
import { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError } from '../optmanager.js';
import { readFlowFiles } from './util/flowfiles.js';
import { replayRequest } from './util/replay.js';

/**
 * Client replay (`-C file`, `replay.client`): send saved requests again, one at a time
 * (`client_replay_concurrency` 1) or all at once (-1). A queued flow is backed up (so
 * `replay.client.stop` can revert it), marked `is_replay = "request"` and its old response and
 * error are cleared; it then goes through the addon hooks like a live flow.
 */
export class ClientPlayback {
  readonly name = 'clientplayback';
  private master!: Master;
  private queue: HTTPFlow[] = [];
  private readonly inflight = new Set<HTTPFlow>();
  private readonly tasks = new Set<Promise<void>>();
  /** Replays start once the proxy runs (`running`), and stop at shutdown. */
  private started = false;
  private stopped = false;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('client_replay', 'sequence of str', [], 'Replay client requests from a saved file.');
    loader.addOption(
      'client_replay_concurrency',
      'int',
      1,
      'Concurrency limit on in-flight client replay requests. Currently the only valid values are 1 and -1 (no limit).',
    );
    const add = loader.addCommand.bind(loader);
    add('replay.client.count', { help: 'Approximate number of flows queued for replay.', returns: 'int' }, () => this.count());
    add('replay.client.stop', { help: 'Clear the replay queue.' }, () => this.stopReplay());
    add(
      'replay.client',
      { help: "Add flows to the replay queue, skipping flows that can't be replayed.", params: [{ name: 'flows', type: 'flow[]' }] },
      (flows: Flow[]) => this.startReplay(flows),
    );
    add(
      'replay.client.file',
      { help: 'Load flows from file, and add them to the replay queue.', params: [{ name: 'path', type: 'path' }] },
      (path: string) => this.loadFile(path),
    );
  }

  async configure(updated: Set<string>): Promise<void> {
    const o = this.master.options;
    if (updated.has('client_replay_concurrency') && ![-1, 1].includes(o.get<number>('client_replay_concurrency'))) {
      throw new OptionsError('Currently the only valid client_replay_concurrency values are -1 and 1.');
    }
    if (updated.has('client_replay') && o.get<string[]>('client_replay').length) {
      await this.startReplay(await readFlowFiles(o.get<string[]>('client_replay'), OptionsError));
    }
  }

  running(): void {
    this.started = true;
    this.pump();
  }

  async done(): Promise<void> {
    this.stopped = true;
    for (const f of this.inflight) if (f.killable) f.kill();
    await Promise.allSettled([...this.tasks]);
  }

  /** Why a flow cannot be replayed, or null when it can (mitmproxy's messages). */
  check(f: Flow): string | null {
    if (f.live || this.inflight.has(f as HTTPFlow)) return "Can't replay live flow.";
    if (f.intercepted) return "Can't replay intercepted flow.";
    if (!(f instanceof HTTPFlow)) return 'Can only replay HTTP flows.';
    if (f.request.rawContent === null) return "Can't replay flow with missing content.";
    if (f.websocket !== null) return "Can't replay WebSocket flows.";
    return null;
  }

  /** Flows queued plus flows being replayed. */
  count(): number {
    return this.queue.length + this.inflight.size;
  }

  async startReplay(flows: readonly Flow[]): Promise<void> {
    const updated: HTTPFlow[] = [];
    for (const f of flows) {
      const err = this.check(f);
      if (err) {
        this.master.log.warn(err);
        continue;
      }
      const flow = f as HTTPFlow;
      flow.backup();
      flow.isReplay = 'request';
      flow.response = null;
      flow.error = null;
      this.queue.push(flow);
      updated.push(flow);
    }
    await this.master.addons.trigger('update', updated);
    this.pump();
  }

  async stopReplay(): Promise<void> {
    const dropped = this.queue.splice(0);
    for (const f of dropped) f.revert();
    await this.master.addons.trigger('update', dropped);
    this.master.log.alert('Client replay queue cleared.');
  }

  async loadFile(path: string): Promise<void> {
    await this.startReplay(await readFlowFiles([path], CommandError));
  }

  /** Start as many queued replays as the concurrency limit allows. */
  private pump(): void {
    if (!this.started || this.stopped) return;
    const unlimited = this.master.options.get<number>('client_replay_concurrency') === -1;
    while (this.queue.length && (unlimited || this.inflight.size === 0)) {
      const flow = this.queue.shift()!;
      this.inflight.add(flow);
      const p = this.replayOne(flow).finally(() => {
        this.inflight.delete(flow);
        this.tasks.delete(p);
        this.pump();
      });
      this.tasks.add(p);
    }
  }

  private async replayOne(flow: HTTPFlow): Promise<void> {
    try {
      await replayRequest(this.master, flow);
    } catch (e) {
      this.master.log.error(`Client replay has crashed!\n${(e as Error).stack ?? String(e)}`);
    }
  }
}
