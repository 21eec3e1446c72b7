/**
 * mitmweb: the proxy plus the web API (REST and the `/updates` WebSocket), the view of flows,
 * interception and the event store, in mitmproxy's addon order:
 *   termlog, the default addons, web, webauth, intercept, readfile, staticviewer, view, eventstore,
 *   errorcheck.
 */
import { Master } from '../../master.js';
import type { OptManager } from '../../optmanager.js';
import { defaultAddons } from '../../addons/index.js';
import { TermLog } from '../../addons/termlog.js';
import { ErrorCheck } from '../../addons/errorcheck.js';
import { EventStore } from '../../addons/eventstore.js';
import { Intercept } from '../../addons/intercept.js';
import { ReadFile } from '../../addons/readfile.js';
import { View } from '../../addons/view.js';
import { WebApp } from './app.js';
import { WebAuth } from './auth.js';
import { logEntryToJson, warmDigests } from './flowjson.js';
import type { JsonValue } from './json.js';
import { optionsJson } from './options-json.js';
import { StaticViewer } from './static-viewer.js';
import { WebAddon } from './webaddon.js';

export interface WebMasterOptions {
  options?: OptManager;
  /** Print log lines to the terminal (default true). */
  withTermlog?: boolean;
  /** Where log lines go (default stdout). */
  out?: NodeJS.WritableStream;
  /**
   * A built web front end (a directory with index.html and static/) to serve at `/`. Defaults to
   * the MITMWEB_STATIC_DIR environment variable; without one, `/` is a page about the API.
   */
  staticDir?: string | null;
}

export class WebMaster extends Master {
  readonly view = new View();
  readonly events = new EventStore();
  readonly auth = new WebAuth();
  readonly intercept = new Intercept();
  readonly errorcheck = new ErrorCheck();
  readonly app: WebApp;
  /** The front end's directory (MITMWEB_STATIC_DIR), served at `/` and copied by web_static_viewer. */
  readonly staticDir: string | null;

  private constructor(opts: WebMasterOptions) {
    super(opts.options);
    // Record log entries from the very start, so /events shows the startup lines too.
    this.events.attach(this);
    this.staticDir = opts.staticDir !== undefined ? opts.staticDir : (process.env.MITMWEB_STATIC_DIR ?? null);
    this.app = new WebApp({
      master: this,
      view: this.view,
      events: this.events,
      auth: this.auth,
      staticDir: this.staticDir,
    });
    const hub = this.app.hub;
    this.view.subscribe({
      add: (f) => {
        warmDigests(f);
        hub.broadcastFlow('flows/add', f);
      },
      update: (f) => {
        warmDigests(f);
        hub.broadcastFlow('flows/update', f);
      },
      remove: (f) => hub.broadcastFlow('flows/remove', f),
      refresh: () => hub.broadcastReset(),
    });
    this.events.subscribe({
      add: (e) => hub.broadcast('events/add', logEntryToJson(e)),
      refresh: () => hub.broadcastEventsReset(),
    });
    // Registered after the master's own listener, so it only runs once `configure` accepted the change.
    this.options.onChange((updated) => {
      const changed = [...updated].filter((n) => this.options.has(n));
      if (changed.length) hub.broadcast('options/update', optionsJson(this.options, changed) as unknown as JsonValue);
    });
  }

  /** Create a WebMaster with mitmweb's addon chain loaded. */
  static async create(opts: WebMasterOptions = {}): Promise<WebMaster> {
    const m = new WebMaster(opts);
    if (opts.withTermlog ?? true) await m.addons.add(new TermLog(opts.out));
    await m.addons.add(...defaultAddons());
    await m.addons.add(new WebAddon(m.app, m.auth), m.auth, m.intercept, new ReadFile(), new StaticViewer(m.staticDir), m.view, m.events, m.errorcheck);
    return m;
  }

  /**
   * Stop: flows still held by interception are killed first, so the connections waiting on them
   * end and the proxy can close (mitmproxy cancels them with its connection tasks).
   */
  override shutdown(exitCode = 0): Promise<void> {
    for (const f of this.view.storedFlows()) if (f.intercepted && f.killable) f.kill();
    return super.shutdown(exitCode);
  }

  /** The URL of the API with the token (`http://127.0.0.1:8081/?token=...`). */
  get webUrl(): string {
    return this.auth.webUrl;
  }
}

/** mitmweb's master, as `runTool('web', argv)` uses it. */
export async function createWebMaster(opts: WebMasterOptions = {}): Promise<WebMaster> {
  return WebMaster.create(opts);
}
