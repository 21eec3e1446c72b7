import { createHash } from 'node:crypto';
import type { Loader } from '../addonmanager.js';
import { CommandError } from '../command.js';
import type { Flow } from '../flow.js';
import { HTTPFlow, Response, type Request } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError } from '../optmanager.js';
import { decodeMultipart } from '../util/multipart.js';
import { now } from '../util/time.js';
import { refreshSetCookieHeader } from './util/cookies.js';
import { readFlowFiles } from './util/flowfiles.js';
import { formatHttpDate, parseHttpDate } from './util/httpdate.js';

/** Options that change how requests are matched: changing one re-indexes the saved flows. */
const HASH_OPTIONS = [
  'server_replay_ignore_content',
  'server_replay_ignore_host',
  'server_replay_ignore_params',
  'server_replay_ignore_payload_params',
  'server_replay_ignore_port',
  'server_replay_use_headers',
];

/**
 * A replayed response as if it had been sent now: Date, Expires and Last-Modified and cookie
 * expiry dates move forward by the time since it was recorded (mitmproxy's Response.refresh).
 */
export function refreshResponse(resp: Response, nowSeconds = now()): void {
  const delta = nowSeconds - resp.timestampStart;
  for (const name of ['date', 'expires', 'last-modified']) {
    const v = resp.headers.get(name);
    if (v === undefined) continue;
    const t = parseHttpDate(v);
    if (t !== null) resp.headers.set(name, formatHttpDate(t + delta));
  }
  const cookies = resp.headers.getAll('set-cookie');
  if (cookies.length) resp.headers.setAll('set-cookie', cookies.map((c) => refreshSetCookieHeader(c, delta) ?? c));
}

/** The path of a URL as Python's urlparse sees it: no query, no `;params` of the last segment. */
function urlPath(url: string): string {
  let rest = url.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '');
  rest = rest.split('#')[0]!.split('?')[0]!;
  const lastSlash = rest.lastIndexOf('/');
  const semi = rest.indexOf(';', Math.max(lastSlash, 0));
  return semi >= 0 ? rest.slice(0, semi) : rest;
}

/**
 * Server replay (`-S file`, `replay.server*`): answer requests with saved responses instead of
 * asking the server. A request matches a saved flow by a loose key (scheme, method, path, body
 * or chosen form fields, host, port, query, chosen headers: see the server_replay_* options).
 * Each saved response is used once unless `server_replay_reuse`. Requests without a match go
 * upstream, or are killed or answered with an empty status per `server_replay_extra`.
 */
export class ServerPlayback {
  readonly name = 'serverplayback';
  private master!: Master;
  /** Match key -> saved flows, oldest first. */
  private flowmap = new Map<string, HTTPFlow[]>();

  load(loader: Loader): void {
    this.master = loader.master;
    const opt = loader.addOption.bind(loader);
    opt(
      'server_replay_kill_extra',
      'bool',
      false,
      "Kill extra requests during replay (for which no replayable response was found).[Deprecated, prefer to use server_replay_extra='kill']",
    );
    opt(
      'server_replay_extra',
      'str',
      'forward',
      'Behaviour for extra requests during replay for which no replayable response was found. Setting a numeric string value will return an empty HTTP response with the respective status code.',
      ['forward', 'kill', '204', '400', '404', '500'],
    );
    opt('server_replay_reuse', 'bool', false, "Don't remove flows from server replay state after use. This makes it possible to replay same response multiple times.");
    opt('server_replay_nopop', 'bool', false, 'Deprecated alias for `server_replay_reuse`.');
    opt(
      'server_replay_refresh',
      'bool',
      true,
      'Refresh server replay responses by adjusting date, expires and last-modified headers, as well as adjusting cookie expiration.',
    );
    opt('server_replay_use_headers', 'sequence of str', [], 'Request headers that need to match while searching for a saved flow to replay.');
    opt('server_replay', 'sequence of str', [], 'Replay server responses from a saved file.');
    opt('server_replay_ignore_content', 'bool', false, 'Ignore request content while searching for a saved flow to replay.');
    opt('server_replay_ignore_params', 'sequence of str', [], 'Request parameters to be ignored while searching for a saved flow to replay.');
    opt(
      'server_replay_ignore_payload_params',
      'sequence of str',
      [],
      'Request payload parameters (application/x-www-form-urlencoded or multipart/form-data) to be ignored while searching for a saved flow to replay.',
    );
    opt('server_replay_ignore_host', 'bool', false, 'Ignore request destination host while searching for a saved flow to replay.');
    opt('server_replay_ignore_port', 'bool', false, 'Ignore request destination port while searching for a saved flow to replay.');

    const add = loader.addCommand.bind(loader);
    add('replay.server', { help: 'Replay server responses from flows.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) => this.loadFlows(flows));
    add('replay.server.add', { help: 'Add responses from flows to server replay list.', params: [{ name: 'flows', type: 'flow[]' }] }, (flows: Flow[]) =>
      this.addFlows(flows),
    );
    add('replay.server.file', { params: [{ name: 'path', type: 'path' }] }, (path: string) => this.loadFile(path));
    add('replay.server.stop', { help: 'Stop server replay.' }, () => this.clear());
    add('replay.server.count', { returns: 'int' }, () => this.count());
  }

  async loadFlows(flows: readonly Flow[]): Promise<void> {
    this.flowmap = new Map();
    await this.addFlows(flows);
  }

  async addFlows(flows: readonly Flow[]): Promise<void> {
    for (const f of flows) {
      if (!(f instanceof HTTPFlow)) continue;
      const key = this.matchKey(f);
      let list = this.flowmap.get(key);
      if (!list) this.flowmap.set(key, (list = []));
      list.push(f);
    }
    await this.master.addons.trigger('update', []);
  }

  async loadFile(path: string): Promise<void> {
    await this.loadFlows(await readFlowFiles([path], CommandError));
  }

  async clear(): Promise<void> {
    this.flowmap = new Map();
    await this.master.addons.trigger('update', []);
  }

  count(): number {
    let n = 0;
    for (const l of this.flowmap.values()) n += l.length;
    return n;
  }

  /** The loose match key of a flow's request, under the current options. */
  matchKey(flow: HTTPFlow): string {
    const o = this.master.options;
    const r: Request = flow.request;
    const key: unknown[] = [r.scheme, r.method, urlPath(r.url)];
    if (!o.get<boolean>('server_replay_ignore_content')) {
      const ignorePayload = o.get<string[]>('server_replay_ignore_payload_params');
      const ct = r.headers.get('content-type') ?? '';
      const multipart = ignorePayload.length && ct.toLowerCase().startsWith('multipart/form-data') ? this.multipartFields(r, ct) : [];
      const form = ignorePayload.length && !multipart.length ? r.urlencodedForm.fields : [];
      if (multipart.length) {
        for (const [k, v] of multipart) if (!ignorePayload.includes(k.toString('utf8'))) key.push([k.toString('latin1'), v.toString('latin1')]);
      } else if (form.length) {
        for (const [k, v] of form) if (!ignorePayload.includes(k)) key.push([k, v]);
      } else {
        key.push(r.rawContent === null ? null : r.rawContent.toString('base64'));
      }
    }
    if (!o.get<boolean>('server_replay_ignore_host')) key.push(r.prettyHost);
    if (!o.get<boolean>('server_replay_ignore_port')) key.push(r.port);
    const ignoreParams = o.get<string[]>('server_replay_ignore_params');
    for (const [k, v] of r.query.fields) if (!ignoreParams.includes(k)) key.push(k, v);
    const useHeaders = o.get<string[]>('server_replay_use_headers');
    if (useHeaders.length) key.push(useHeaders.map((h) => [h, r.headers.get(h) ?? null]));
    return createHash('sha256').update(JSON.stringify(key)).digest('base64');
  }

  private multipartFields(r: Request, contentType: string): Array<[Buffer, Buffer]> {
    try {
      const content = r.getContent(false);
      return content ? decodeMultipart(contentType, content) : [];
    } catch {
      return [];
    }
  }

  /** The saved flow to answer `flow` with (taken out of the set unless reuse is on), or null. */
  nextFlow(flow: HTTPFlow): HTTPFlow | null {
    const key = this.matchKey(flow);
    const list = this.flowmap.get(key);
    if (!list) return null;
    const o = this.master.options;
    if (o.get<boolean>('server_replay_reuse') || o.get<boolean>('server_replay_nopop')) return list.find((f) => f.response) ?? null;
    // Saved flows without a response (errors) are used up on the way.
    let ret = list.shift()!;
    while (!ret.response) {
      if (!list.length) {
        this.flowmap.delete(key);
        return null;
      }
      ret = list.shift()!;
    }
    if (!list.length) this.flowmap.delete(key);
    return ret;
  }

  async configure(updated: Set<string>): Promise<void> {
    const o = this.master.options;
    if (updated.has('server_replay_kill_extra') && o.get<boolean>('server_replay_kill_extra')) {
      this.master.log.warn("server_replay_kill_extra has been deprecated, please update your config to use server_replay_extra='kill'.");
    }
    if (updated.has('server_replay_nopop') && o.get<boolean>('server_replay_nopop')) {
      this.master.log.error('server_replay_nopop has been renamed to server_replay_reuse, please update your config.');
    }
    if (updated.has('server_replay') && o.get<string[]>('server_replay').length) {
      await this.loadFlows(await readFlowFiles(o.get<string[]>('server_replay'), OptionsError));
    } else if (HASH_OPTIONS.some((n) => updated.has(n))) {
      // The keys depend on these options: index the saved flows again.
      await this.loadFlows([...this.flowmap.values()].flat());
    }
  }

  request(flow: HTTPFlow): void {
    if (this.flowmap.size === 0) return;
    const saved = this.nextFlow(flow);
    const o = this.master.options;
    if (saved) {
      const response = Response.fromState(saved.response!.getState());
      if (o.get<boolean>('server_replay_refresh')) refreshResponse(response);
      flow.response = response;
      flow.isReplay = 'response';
      return;
    }
    const extra = o.get<string>('server_replay_extra');
    if (o.get<boolean>('server_replay_kill_extra') || extra === 'kill') {
      this.master.log.warn(`server_playback: killed non-replay request ${flow.request.url}`);
      flow.kill();
    } else if (extra !== 'forward') {
      this.master.log.warn(`server_playback: returned ${extra} non-replay request ${flow.request.url}`);
      flow.response = Response.make(Number(extra));
      flow.isReplay = 'response';
    }
  }
}
