import http from 'node:http';
import { Duplex } from 'node:stream';
import type { Addon } from '../hooks.js';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { Headers } from '../headers.js';
import { Response, hostport, type HTTPFlow } from '../http.js';
import { untilAborted } from '../util/until-aborted.js';

/**
 * Hosting a web app inside the proxy, as mitmproxy's `asgiapp.ASGIApp`/`WSGIApp` addons do:
 * requests for the app's host (and port, when one is given) are answered by the app in the
 * `request` hook, and never reach the network. The flow records them like any other.
 *
 *   new FetchApp((req) => new Response('Hello World!'), 'example.com', 80)   // fetch-style handler (Hono's app.fetch, ...)
 *   new NodeApp(expressApp, 'example.com', 80)                                // node:http handler (Express, Koa's app.callback(), ...)
 *
 * The whole request body is handed to the app and its whole response is collected before it is
 * sent on (as mitmproxy does). An app that throws, or fails to answer, gets the client a 500.
 */
abstract class HostedApp implements Addon {
  readonly name: string;
  protected master: Master | null = null;

  constructor(
    /** Served when the request's host (the Host header's, as `prettyHost`) is this. */
    readonly host: string,
    /** And its port is this; null serves every port. */
    readonly port: number | null,
  ) {
    this.name = `hostedapp:${host}:${port ?? '*'}`;
  }

  load(loader: Loader): void {
    this.master = loader.master;
  }

  /** A live request for this app that nobody has answered or failed yet. */
  shouldServe(flow: HTTPFlow): boolean {
    return flow.request.prettyHost === this.host && (this.port === null || flow.request.port === this.port) && flow.live && !flow.error && !flow.response;
  }

  async request(flow: HTTPFlow): Promise<void> {
    if (!this.shouldServe(flow)) return;
    // A flow killed while the app works on it (from mitmweb, say, when the app hangs) stops
    // waiting for it: the app is told through `signal`, and its answer no longer matters.
    const killed = new AbortController();
    const unsubscribe = flow.onKill(() => killed.abort(new Error('the flow was killed')));
    try {
      const answer = await untilAborted(this.respond(flow, killed.signal), killed.signal);
      flow.response = withLength(answer, flow.request.method);
    } catch (e) {
      if (flow.killed) return;
      this.master?.log.error(`Error in hosted app ${this.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      flow.response = Response.make(500, 'Hosted app error.', { 'Content-Type': 'text/plain' });
    } finally {
      unsubscribe();
    }
  }

  /** The app's answer to the flow's request; throws when the app fails. `signal` aborts when the flow is killed. */
  protected abstract respond(flow: HTTPFlow, signal: AbortSignal): Promise<Response>;
}

/**
 * What a fetch-style app is given besides the request (whose `signal` aborts when the flow is
 * killed): the flow it answers and the proxy.
 */
export interface HostedAppContext {
  flow: HTTPFlow;
  master: Master | null;
}

/** A web-standard handler, as Hono's `app.fetch` or a Worker's `fetch`. */
export type FetchHandler = (request: globalThis.Request, context: HostedAppContext) => globalThis.Response | Promise<globalThis.Response>;

/** Hosts a fetch-style app (a function from a web-standard Request to a Response). */
export class FetchApp extends HostedApp {
  constructor(
    private readonly handler: FetchHandler,
    host: string,
    port: number | null = null,
  ) {
    super(host, port);
  }

  protected async respond(flow: HTTPFlow, signal: AbortSignal): Promise<Response> {
    const req = flow.request;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new globalThis.Request(req.prettyUrl, {
      method: req.method,
      headers: req.headers.fields.filter(([name]) => !FRAMING.has(name.toLowerCase())),
      body: hasBody ? (req.rawContent ?? Buffer.alloc(0)) : null,
      signal,
    });
    const answer = await this.handler(request, { flow, master: this.master });
    if (!(answer instanceof globalThis.Response)) throw new TypeError(`the app returned ${typeof answer}, not a Response`);
    const headers = new Headers();
    for (const [name, value] of answer.headers) {
      // Headers joins repeated fields with commas; Set-Cookie cannot be joined, so it comes one by one.
      if (name === 'set-cookie') continue;
      headers.add(name, value);
    }
    for (const cookie of answer.headers.getSetCookie()) headers.add('set-cookie', cookie);
    return appResponse(answer.status, answer.statusText, headers, Buffer.from(await answer.arrayBuffer()));
  }
}

/** Hosts a node:http request listener (what `http.createServer` takes: an Express app, Koa's `app.callback()`, ...). */
export class NodeApp extends HostedApp {
  private readonly server: http.Server;
  /** What the app threw, by the connection it was serving (the client side only sees the connection drop). */
  private readonly failures = new WeakMap<object, unknown>();

  constructor(listener: http.RequestListener, host: string, port: number | null = null) {
    super(host, port);
    // Never listens: each request comes in over an in-memory connection (node's documented way to
    // hand a server a connection), so the app is reachable only through the proxy.
    this.server = http.createServer((req, res) => {
      const fail = (e: unknown) => {
        this.failures.set(req.socket, e);
        res.destroy();
      };
      try {
        const result: unknown = listener(req, res);
        if (result instanceof Promise) result.catch(fail);
      } catch (e) {
        fail(e);
      }
    });
  }

  protected async respond(flow: HTTPFlow, signal: AbortSignal): Promise<Response> {
    const req = flow.request;
    const body = req.rawContent ?? Buffer.alloc(0);
    const headers: Array<[string, string]> = req.headers.fields.filter(([name]) => !FRAMING.has(name.toLowerCase()));
    // An HTTP/2 request has its authority instead of a Host header; the app expects one.
    if (!req.headers.has('host')) headers.unshift(['Host', hostport(req.scheme, req.prettyHost, req.port)]);
    if (body.length || (req.method !== 'GET' && req.method !== 'HEAD')) headers.push(['Content-Length', String(body.length)]);

    const [proxySide, appSide] = connectionPair();
    const appError = (fallback: Error) => this.failures.get(appSide) ?? fallback;
    // A killed flow drops the connection: the app's request sees 'close' (and its response cannot be sent).
    const dropOnKill = () => proxySide.destroy();
    signal.addEventListener('abort', dropOnKill, { once: true });
    this.server.emit('connection', appSide);
    try {
      const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const out = http.request({ createConnection: () => proxySide, method: req.method, path: req.path, headers: headers.flat(), setHost: false });
        out.on('response', resolve);
        out.on('error', (e) => reject(appError(e)));
        out.end(body);
      });
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of answer) chunks.push(chunk as Buffer);
      } catch (e) {
        throw appError(new Error(`the app ended its response early (${(e as Error).message})`));
      }
      if (!answer.complete) throw appError(new Error('the app ended its response early'));
      const fields = pairs(answer.rawHeaders).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()));
      return appResponse(answer.statusCode ?? 500, answer.statusMessage ?? '', new Headers(fields), Buffer.concat(chunks));
    } finally {
      signal.removeEventListener('abort', dropOnKill);
      proxySide.destroy();
    }
  }
}

/** Framing of the proxy's own connections, redone for the hop to the app. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);
/** Fields of the in-memory hop to a NodeApp, not of the response the client gets. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/**
 * The app's response as it gave it: headers untouched (a Content-Encoding stays with the bytes it
 * describes; Response.make would encode the body again and reset Content-Length).
 */
function appResponse(statusCode: number, reason: string, headers: Headers, body: Buffer): Response {
  return new Response({ statusCode, ...(reason ? { reason } : {}), headers, content: body });
}

/** Content-Length for a collected body, unless the response has none by its nature or already says. */
function withLength(response: Response, method: string): Response {
  const s = response.statusCode;
  const bodiless = method === 'HEAD' || s < 200 || s === 204 || s === 304;
  if (!bodiless && !response.headers.has('content-length')) response.headers.set('Content-Length', String(response.rawContent?.length ?? 0));
  return response;
}

/** node's rawHeaders ([name, value, name, value, ...]) as fields. */
function pairs(raw: string[]): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) fields.push([raw[i]!, raw[i + 1]!]);
  return fields;
}

/** Two connected in-memory streams: what one side writes, the other reads. */
function connectionPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const side = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        other().push(chunk);
        callback();
      },
      final(callback) {
        other().push(null);
        callback();
      },
      // A connection dropped on one side is dropped on the other (an app that failed mid-answer).
      destroy(error, callback) {
        const peer = other();
        if (!peer.destroyed) peer.destroy();
        callback(error);
      },
    });
  sides.push(side(() => sides[1]!), side(() => sides[0]!));
  return [sides[0]!, sides[1]!];
}
