/**
 * The mitmweb API server: plain node:http with the route table of routes.ts, and `ws` for the
 * `/updates` WebSocket.
 *
 * Every request goes through the same steps, in Tornado's order (web-api.md §1–2):
 *   static files (no auth) -> route match (404) -> supported
 *   method (405) -> XSRF double submit for unsafe methods (403) -> Sec-Fetch-Site (403) ->
 *   method implemented by the route (405) -> authentication (403) -> handler.
 * Answers get mitmweb's default security headers, an Etag (and 304) for GETs, and gzip when the
 * client accepts it. Handlers never see a request that failed an earlier step, and no route can
 * skip authentication: it is applied here, not by each handler.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';
import type { EventStore } from '../../addons/eventstore.js';
import type { View } from '../../addons/view.js';
import type { Master } from '../../master.js';
import { MITMPROXY_COMPAT_VERSION, SERVER_HEADER } from '../../version.js';
import type { WebAuth } from './auth.js';
import { RequestContext, type BodySink } from './context.js';
import { CookieSigner, XSRF_COOKIE, decodeXsrfToken, encodeXsrfToken, parseCookies, safeEqual, setCookieHeader } from './cookies.js';
import { ApiError, ClientGoneError, HttpError, errorPage, escapeHtml, reasonPhrase } from './errors.js';
import { indexPage, loginPage } from './pages.js';
import { matchRoute, type Method } from './routes.js';
import { UpdatesHub } from './updates.js';

const gzip = promisify(zlib.gzip);

/** Methods Tornado knows; anything else is a 405 before any other check. */
const SUPPORTED_METHODS = new Set(['GET', 'HEAD', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS']);
/** Methods exempt from the XSRF and Sec-Fetch-Site checks. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const DEFAULT_HEADERS: ReadonlyArray<[string, string]> = [
  ['Server', SERVER_HEADER],
  ['X-Frame-Options', 'DENY'],
  ['X-XSS-Protection', '1; mode=block'],
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'self'; connect-src 'self' ws:; img-src 'self' data:; style-src   'self' 'unsafe-inline'"],
];

/** Content types worth compressing (Tornado's list plus octet-stream for flow dumps). */
const COMPRESSIBLE = new Set([
  'application/javascript', 'application/x-javascript', 'application/xml', 'application/atom+xml', 'application/json',
  'application/xhtml+xml', 'image/svg+xml', 'application/octet-stream',
]);
const GZIP_MIN_LENGTH = 1024;

/** Whether a body of this type and length is gzipped for a client that accepts it (web-api.md §1.6). */
function isCompressible(contentType: string, length: number): boolean {
  return length >= GZIP_MIN_LENGTH && (contentType.startsWith('text/') || COMPRESSIBLE.has(contentType));
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return /\bgzip\b/.test(acceptEncoding ?? '');
}
/** How much of a streamed answer may wait in memory for the client before we pause producing it. */
const STREAM_BUFFER_BYTES = 512 * 1024;

/** Largest request body accepted (flow file uploads can be big). */
const MAX_BODY_BYTES = 1024 * 1024 * 1024;
/** Largest body of a request that has not shown credentials yet (the login form is tiny). */
const UNAUTHENTICATED_BODY_BYTES = 64 * 1024;

const STATIC_TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.html': 'text/html',
  '.json': 'application/json',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.eot': 'application/vnd.ms-fontobject',
  '.txt': 'text/plain',
};

export interface WebAppDeps {
  master: Master;
  view: View;
  events: EventStore;
  auth: WebAuth;
  /** A built front end (index.html and static/) to serve instead of the API landing page. */
  staticDir?: string | null;
}

/** Per-request XSRF state: the raw token, and whether it came from the request's cookie. */
interface XsrfState {
  token: Buffer;
  fromCookie: boolean;
  timestamp: number;
  cookieSet: boolean;
}

export class WebApp {
  readonly master: Master;
  readonly view: View;
  readonly events: EventStore;
  readonly auth: WebAuth;
  readonly hub: UpdatesHub;
  readonly server: http.Server;
  /** Signs the auth cookie; a new secret each process, so a restart logs everyone out. */
  readonly signer = new CookieSigner();
  staticDir: string | null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly sockets = new Set<net.Socket>();
  private readonly handshakeHeaders = new WeakMap<http.IncomingMessage, string[]>();
  private readonly xsrfStates = new WeakMap<RequestContext, XsrfState>();
  private readonly responses = new WeakMap<RequestContext, http.ServerResponse>();
  /** Where the server listens, once it does. */
  address: { host: string; port: number } | null = null;

  constructor(deps: WebAppDeps) {
    this.master = deps.master;
    this.view = deps.view;
    this.events = deps.events;
    this.auth = deps.auth;
    this.staticDir = deps.staticDir ?? null;
    this.hub = new UpdatesHub(this.master, this.view);
    this.server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, maxHeaderSize: 64 * 1024 }, (req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.handleUpgrade(req, socket, head));
    this.server.on('connection', (s: net.Socket) => {
      s.on('error', () => undefined);
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (_e, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    this.wss.on('headers', (headers, req) => {
      for (const h of this.handshakeHeaders.get(req) ?? []) headers.push(h);
    });
  }

  private get debug(): boolean {
    return this.master.options.has('web_debug') && this.master.options.get<boolean>('web_debug');
  }

  /** Listen; rejects with a message that suggests another port when this one is taken. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolvePromise, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        let message = `Web server failed to listen on ${host || '*'}:${port} with ${e.message}`;
        if (e.code === 'EADDRINUSE') message += `\nTry specifying a different port by using \`--set web_port=${port + 2}\`.`;
        reject(new Error(message));
      };
      this.server.once('error', onError);
      this.server.listen({ host: host || undefined, port }, () => {
        this.server.off('error', onError);
        this.server.on('error', (e) => this.master.log.error(`Web server: ${e.message}`));
        const a = this.server.address() as net.AddressInfo;
        this.address = { host: a.address, port: a.port };
        resolvePromise(this.address);
      });
    });
  }

  /** Stop listening, close every connection and WebSocket. */
  async close(): Promise<void> {
    this.hub.closeAll();
    for (const c of this.wss.clients) c.terminate();
    const closed = new Promise<void>((r) => (this.server.listening ? this.server.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.address = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Checks

  private xsrfState(ctx: RequestContext): XsrfState {
    let s = this.xsrfStates.get(ctx);
    if (!s) {
      const cookie = parseCookies(ctx.header('cookie')).get(XSRF_COOKIE);
      const decoded = cookie !== undefined ? decodeXsrfToken(cookie) : null;
      const ts = cookie !== undefined && /^2\|/.test(cookie) ? Number(cookie.split('|')[3]) : Math.floor(Date.now() / 1000);
      s = decoded && decoded.length ? { token: decoded, fromCookie: true, timestamp: ts, cookieSet: false } : { token: randomBytes(16), fromCookie: false, timestamp: Math.floor(Date.now() / 1000), cookieSet: false };
      this.xsrfStates.set(ctx, s);
    }
    return s;
  }

  /** The XSRF token for a form or page; sets the cookie when the request had none. */
  xsrfToken(ctx: RequestContext): string {
    const s = this.xsrfState(ctx);
    const masked = encodeXsrfToken(s.token, s.timestamp);
    if (!s.fromCookie && !s.cookieSet) {
      s.cookieSet = true;
      // As Tornado: a session cookie, unless the request is already signed in by its auth cookie.
      const expiresDays = this.hasAuthCookie(ctx) ? 30 : undefined;
      ctx.addHeader('Set-Cookie', setCookieHeader(XSRF_COOKIE, masked, { expiresDays, sameSite: 'Strict' }));
    }
    return masked;
  }

  /** Tornado's double-submit check: the submitted token must equal the cookie's. */
  private checkXsrf(ctx: RequestContext): void {
    const submitted = ctx.argument('_xsrf') || ctx.header('x-xsrftoken') || ctx.header('x-csrftoken');
    if (!submitted) throw new HttpError(403, "'_xsrf' argument missing from POST");
    const token = decodeXsrfToken(submitted);
    const expected = this.xsrfState(ctx).token;
    if (!token || token.length === 0) throw new HttpError(403, "'_xsrf' argument has invalid format");
    if (!safeEqual(token, expected)) throw new HttpError(403, 'XSRF cookie does not match POST argument');
  }

  /** Browsers say where a request comes from; refuse cross-site state changes. */
  private checkFetchSite(ctx: RequestContext): void {
    const site = ctx.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, `Refused cross-site ${ctx.method} (Sec-Fetch-Site: ${site})`);
  }

  /**
   * Authenticate by the signed cookie, `Authorization: Bearer <secret>` or `token=<secret>`.
   * A valid secret sets the cookie. Returns false (with ctx.status 403) otherwise.
   */
  async authenticate(ctx: RequestContext): Promise<{ ok: boolean; invalidPassword: boolean }> {
    if (this.hasAuthCookie(ctx)) return { ok: true, invalidPassword: false };
    const name = this.auth.authCookieName();
    let password = '';
    const authz = ctx.header('authorization');
    if (authz) {
      const sp = authz.indexOf(' ');
      const scheme = sp < 0 ? authz : authz.slice(0, sp);
      if (scheme === 'Bearer') password = sp < 0 ? '' : authz.slice(sp + 1);
    }
    if (!password) password = ctx.argument('token') ?? '';
    if (!(await this.auth.isValidPassword(password))) return { ok: false, invalidPassword: password !== '' };
    ctx.addHeader('Set-Cookie', setCookieHeader(name, this.signer.sign(name, 'y'), { expiresDays: 400, httpOnly: true, sameSite: 'Strict' }));
    return { ok: true, invalidPassword: false };
  }

  /** The request carries our signed auth cookie. */
  private hasAuthCookie(ctx: RequestContext): boolean {
    const name = this.auth.authCookieName();
    const cookie = parseCookies(ctx.header('cookie')).get(name);
    return cookie !== undefined && this.signer.verify(name, cookie) === 'y';
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  private async readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) throw new HttpError(413, 'Request body too large');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw new HttpError(413, 'Request body too large');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Whether the request carries valid credentials outside its body (cookie, Bearer, `?token=`).
   * Only such requests may send large bodies: nobody can make us buffer a gigabyte unauthenticated.
   */
  private async credentialsOutsideBody(req: http.IncomingMessage, query: URLSearchParams): Promise<boolean> {
    const ctx = new RequestContext(this, req, req.method ?? 'GET', '', query, {}, Buffer.alloc(0));
    return (await this.authenticate(ctx)).ok;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      await this.process(req, res);
    } catch (e) {
      // Only reachable for failures outside a handler (a broken socket while reading the body).
      if (!res.headersSent) {
        const status = e instanceof HttpError ? e.status : 500;
        // The rest of an unread body would be taken for the next request: close the connection.
        res.once('finish', () => req.socket.destroy());
        this.sendPage(res, status, e instanceof HttpError ? e.reason : undefined, [['Connection', 'close']]);
      } else {
        res.destroy();
      }
    }
  }

  private async process(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const path = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const query = new URLSearchParams(qi < 0 ? '' : rawUrl.slice(qi + 1));

    if (this.staticDir && (path.startsWith('/static/') || path === '/favicon.ico' || path === '/robots.txt')) {
      req.resume();
      await this.serveStatic(req, res, path === '/favicon.ico' || path === '/robots.txt' ? path.slice(1) : path.slice('/static/'.length));
      return;
    }
    const match = matchRoute(path);
    if (!match) {
      req.resume();
      this.sendPage(res, 404);
      return;
    }
    if (!SUPPORTED_METHODS.has(method)) {
      req.resume();
      this.sendPage(res, 405);
      return;
    }
    const limit = (await this.credentialsOutsideBody(req, query)) ? MAX_BODY_BYTES : UNAUTHENTICATED_BODY_BYTES;
    const body = await this.readBody(req, limit);
    const ctx = new RequestContext(this, req, method, path, query, match.params, body);
    this.responses.set(ctx, res);
    const route = match.route;
    try {
      if (!SAFE_METHODS.has(method)) {
        this.checkXsrf(ctx);
        if (!route.websocket) this.checkFetchSite(ctx);
      }
      // The WebSocket handler reads the XSRF token before anything else, which sets the cookie.
      if (route.websocket) this.xsrfToken(ctx);
      const handler = route.handlers[method as Method];
      if (!handler) throw new HttpError(405);
      const auth = await this.authenticate(ctx);
      if (!auth.ok) {
        ctx.status = 403;
        if (route.path === '/') {
          ctx.write(loginPage(auth.invalidPassword, this.xsrfToken(ctx)));
          ctx.setHeader('Content-Type', 'text/html; charset=UTF-8');
        }
        await this.finish(ctx, res, !route.websocket);
        return;
      }
      await handler(ctx);
      await this.finish(ctx, res, !route.websocket);
    } catch (e) {
      await this.finishError(ctx, res, e, !route.websocket);
    }
  }

  /**
   * The landing page, or the front end's index.html when one is configured. The file is read for
   * every page load, as mitmweb renders it per request: it names the hashed bundles of its build,
   * and a rebuild while we run (vite build --watch) replaces it and deletes the old bundles.
   */
  async serveIndex(ctx: RequestContext): Promise<void> {
    ctx.setHeader('Content-Type', 'text/html; charset=UTF-8');
    if (this.staticDir) ctx.write(await fsp.readFile(join(this.staticDir, 'index.html')));
    else ctx.write(indexPage({ version: MITMPROXY_COMPAT_VERSION, token: this.auth.token, webUrl: this.auth.webUrl }));
  }

  private async serveStatic(req: http.IncomingMessage, res: http.ServerResponse, rel: string): Promise<void> {
    const root = resolve(this.staticDir!, 'static');
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      this.sendPage(res, 400);
      return;
    }
    const file = resolve(root, decoded);
    if (!(file === root || file.startsWith(root + sep)) || decoded.includes('\0')) {
      this.sendPage(res, 403);
      return;
    }
    let data: Buffer;
    try {
      data = await fsp.readFile(file);
    } catch {
      this.sendPage(res, 404);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.sendPage(res, 405);
      return;
    }
    const etag = `"${createHash('sha1').update(data).digest('hex')}"`;
    const ctype = STATIC_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string> = { 'Content-Type': ctype, Etag: etag };
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    if (isCompressible(ctype, data.length)) {
      headers.Vary = 'Accept-Encoding';
      if (acceptsGzip(req.headers['accept-encoding'])) {
        data = await this.gzippedStatic(etag, data);
        headers['Content-Encoding'] = 'gzip';
      }
    }
    headers['Content-Length'] = String(data.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  /** Compressed front-end files by Etag: the bundles are large and never change while we run. */
  private readonly gzipCache = new Map<string, Promise<Buffer>>();
  private gzippedStatic(etag: string, data: Buffer): Promise<Buffer> {
    let cached = this.gzipCache.get(etag);
    if (!cached) {
      cached = gzip(data, { level: 9 });
      this.gzipCache.set(etag, cached);
    }
    return cached;
  }

  // ---------------------------------------------------------------------------------------------
  // Responses

  /** A framework page (`<html><title>404: Not Found</title>...`) with the default headers. */
  private sendPage(res: http.ServerResponse, status: number, reason?: string, extraHeaders: Array<[string, string | string[]]> = [], withDefaults = true, detail = ''): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = Buffer.from(errorPage(status, reason ?? reasonPhrase(status), detail), 'utf8');
    const headers: Array<[string, string | string[]]> = withDefaults ? [...DEFAULT_HEADERS] : [];
    headers.push(['Content-Type', 'text/html; charset=UTF-8'], ...extraHeaders, ['Content-Length', String(body.length)]);
    res.writeHead(status, reason ?? reasonPhrase(status), headers.flat() as unknown as http.OutgoingHttpHeaders);
    res.end(body);
  }

  private async finishError(ctx: RequestContext, res: http.ServerResponse, e: unknown, withDefaults: boolean): Promise<void> {
    if (e instanceof ClientGoneError) {
      res.destroy();
      return;
    }
    const cookies = ctx.headers.get('Set-Cookie');
    const keep: Array<[string, string | string[]]> = cookies ? [['Set-Cookie', cookies]] : [];
    if (e instanceof ApiError) {
      // The message is shown as plain text (mitmweb sends it as text/html, which would let a
      // reflected value be read as markup).
      const body = Buffer.from(e.message, 'utf8');
      const headers: Array<[string, string | string[]]> = withDefaults ? [...DEFAULT_HEADERS] : [];
      headers.push(['Content-Type', 'text/plain; charset=UTF-8'], ...keep, ['Content-Length', String(body.length)]);
      res.writeHead(e.status, reasonPhrase(e.status), headers.flat() as unknown as http.OutgoingHttpHeaders);
      res.end(body);
      return;
    }
    if (e instanceof HttpError) {
      if (e.logMessage && e.status >= 400 && e.status !== 404) this.master.log.debug(`${ctx.method} ${ctx.path}: ${e.status} ${e.logMessage}`);
      this.sendPage(res, e.status, e.reason, keep, withDefaults);
      return;
    }
    const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.master.log.error(`Uncaught exception in ${ctx.method} ${ctx.path}: ${stack}`);
    this.sendPage(res, 500, undefined, keep, withDefaults, this.debug ? `<pre>${escapeHtml(stack)}</pre>` : '');
  }

  /**
   * Switch a response to streaming (see RequestContext.writeJsonPiece): send the headers now,
   * without Etag and Content-Length, gzip on the fly when the client accepts it. Returns null
   * when this request cannot stream (then the body stays buffered).
   */
  startStreaming(ctx: RequestContext): BodySink | null {
    const res = this.responses.get(ctx);
    if (!res || res.headersSent || ctx.status !== 200 || ctx.method !== 'GET') return null;
    const headers = this.responseHeaders(ctx, true);
    headers.set('Vary', 'Accept-Encoding');
    const ctype = String(headers.get('Content-Type') ?? '').split(';', 1)[0]!.trim();
    let out: NodeJS.WritableStream & { write(c: Buffer | string): boolean; readonly writableLength: number } = res;
    let gz: zlib.Gzip | null = null;
    if (acceptsGzip(ctx.header('accept-encoding')) && isCompressible(ctype, Infinity)) {
      headers.set('Content-Encoding', 'gzip');
      gz = zlib.createGzip({ level: 1, chunkSize: 64 * 1024 });
      gz.on('error', () => res.destroy());
      gz.pipe(res);
      out = gz;
    }
    res.writeHead(200, reasonPhrase(200), flattenHeaders(headers));
    const drain = () =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          out.off('drain', done);
          res.off('close', closed);
          resolve();
        };
        const closed = () => {
          out.off('drain', done);
          reject(new ClientGoneError());
        };
        out.on('drain', done);
        res.once('close', closed);
      });
    return {
      write: async (chunk) => {
        if (res.destroyed) throw new ClientGoneError();
        // Keep producing while a few megabytes are in flight, so that serialising, compressing
        // (in the threadpool) and sending overlap instead of taking turns.
        out.write(chunk);
        if (out.writableLength > STREAM_BUFFER_BYTES) await drain();
      },
      end: () =>
        new Promise<void>((resolve) => {
          res.once('finish', () => resolve());
          res.once('close', () => resolve());
          out.end();
        }),
    };
  }

  /** Default headers, the framework's Content-Type, then what the handler set. */
  private responseHeaders(ctx: RequestContext, withDefaults: boolean): Map<string, string | string[]> {
    const headers = new Map<string, string | string[]>();
    if (withDefaults) for (const [k, v] of DEFAULT_HEADERS) headers.set(k, v);
    headers.set('Content-Type', 'text/html; charset=UTF-8');
    for (const [k, v] of ctx.headers) {
      for (const existing of headers.keys()) if (existing.toLowerCase() === k.toLowerCase()) headers.delete(existing);
      headers.set(k, v);
    }
    return headers;
  }

  /** Turn what the handler wrote into the response: headers, Etag/304, gzip, length. */
  private async finish(ctx: RequestContext, res: http.ServerResponse, withDefaults: boolean): Promise<void> {
    if (ctx.sink) {
      await ctx.sink.end();
      return;
    }
    // Bodies stay in chunks: no second full-size copy.
    let chunks: readonly Buffer[] = ctx.bodyChunks;
    let length = 0;
    for (const c of chunks) length += c.length;
    let status = ctx.status;
    const headers = this.responseHeaders(ctx, withDefaults);
    if (status === 200 && (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.getResponseHeader('Etag') === undefined) {
      const hash = createHash('sha1');
      for (const c of chunks) hash.update(c);
      const etag = `"${hash.digest('hex')}"`;
      headers.set('Etag', etag);
      if (etagMatches(ctx.header('if-none-match'), etag)) {
        status = 304;
        chunks = [];
        length = 0;
        headers.delete('Content-Type');
      }
    }
    headers.set('Vary', 'Accept-Encoding');
    const ctype = String(headers.get('Content-Type') ?? '').split(';', 1)[0]!.trim();
    if (
      status !== 304 &&
      isCompressible(ctype, length) &&
      acceptsGzip(ctx.header('accept-encoding')) &&
      ctx.getResponseHeader('Content-Encoding') === undefined
    ) {
      // Compressed in the threadpool; large bodies (a big flow list or dump) trade a little size for a lot of time.
      const body = await gzip(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[], length), { level: length > 8 * 1024 * 1024 ? 1 : 6 });
      chunks = [body];
      length = body.length;
      headers.set('Content-Encoding', 'gzip');
    }
    if (status !== 304) headers.set('Content-Length', String(length));
    res.writeHead(status, reasonPhrase(status), flattenHeaders(headers));
    if (status === 304 || ctx.method === 'HEAD') {
      res.end();
      return;
    }
    res.cork();
    for (const c of chunks) res.write(c);
    res.end();
    res.uncork();
  }

  // ---------------------------------------------------------------------------------------------
  // WebSocket

  private rawResponse(socket: Duplex, status: number, body: string, extra: string[] = [], reason = reasonPhrase(status)): void {
    const b = Buffer.from(body, 'utf8');
    const head = [`HTTP/1.1 ${status} ${reason}`, 'Content-Type: text/html; charset=UTF-8', `Content-Length: ${b.length}`, 'Connection: close', ...extra];
    socket.end(Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), b]));
  }

  private async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    try {
      const rawUrl = req.url ?? '/';
      const qi = rawUrl.indexOf('?');
      const path = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
      const query = new URLSearchParams(qi < 0 ? '' : rawUrl.slice(qi + 1));
      const match = matchRoute(path);
      if (!match) {
        this.rawResponse(socket, 404, errorPage(404));
        return;
      }
      if (!match.route.websocket) {
        this.rawResponse(socket, 400, 'WebSocket connections are accepted at /updates only.');
        return;
      }
      if (req.method !== 'GET') {
        this.rawResponse(socket, 405, errorPage(405));
        return;
      }
      const ctx = new RequestContext(this, req, 'GET', path, query, match.params, Buffer.alloc(0));
      this.xsrfToken(ctx);
      const auth = await this.authenticate(ctx);
      const cookies = ctx.headers.get('Set-Cookie');
      const cookieLines = (cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [cookies]).map((c) => `Set-Cookie: ${c}`);
      if (!auth.ok) {
        this.rawResponse(socket, 403, '', cookieLines);
        return;
      }
      const origin = req.headers.origin ?? (req.headers['sec-websocket-origin'] as string | undefined);
      if (origin !== undefined && !originMatchesHost(origin, req.headers.host)) {
        this.rawResponse(socket, 403, 'Cross origin websockets not allowed', cookieLines);
        return;
      }
      this.handshakeHeaders.set(req, cookieLines);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.hub.attach(ws, req));
    } catch (e) {
      this.master.log.error(`WebSocket handshake failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      socket.destroy();
    }
  }
}

/** A header map as node's flat [name, value, ...] list (keeps repeated Set-Cookie lines apart). */
function flattenHeaders(headers: Map<string, string | string[]>): http.OutgoingHttpHeaders {
  const flat: string[] = [];
  for (const [k, v] of headers) {
    if (Array.isArray(v)) for (const x of v) flat.push(k, x);
    else flat.push(k, v);
  }
  return flat as unknown as http.OutgoingHttpHeaders;
}

/** Tornado's `check_origin`: the Origin's host[:port] (lowercased) must equal the Host header. */
function originMatchesHost(origin: string, host: string | undefined): boolean {
  let netloc: string;
  try {
    const u = new URL(origin);
    netloc = u.host.toLowerCase();
    // URL drops default ports; Tornado compares the netloc as written.
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(origin);
    if (m) netloc = m[1]!.replace(/^[^@]*@/, '').toLowerCase();
  } catch {
    return false;
  }
  return host !== undefined && netloc === host;
}

/** Whether an If-None-Match header matches an Etag (weak comparison, `*` matches anything). */
function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (!header) return false;
  const h = Array.isArray(header) ? header.join(',') : header;
  const tags = h.match(/\*|(?:W\/)?"[^"]*"/g);
  if (!tags || tags.length === 0) return false;
  if (tags[0] === '*') return true;
  const strip = (t: string) => (t.startsWith('W/') ? t.slice(2) : t);
  return tags.some((t) => strip(t) === strip(etag));
}

