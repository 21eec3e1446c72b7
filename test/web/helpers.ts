/**
 * A running mitmweb (WebMaster in this process, API and proxy on 127.0.0.1 with free ports) and
 * real clients for it: node:http requests and `ws` WebSockets. Everything is closed when the test
 * ends.
 */
import http from 'node:http';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { WebMaster } from '../../src/tools/web/master.js';
import type { ProxyServer } from '../../src/addons/proxyserver.js';
import type { OptionValue } from '../../src/optmanager.js';
import { testConfdir } from '../helpers/proxy.js';

export interface HttpResult {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send a JSON body with `Content-Type: application/json`. */
  json?: unknown;
}

/** One HTTP request with node:http (no automatic headers beyond Host and framing). */
export function httpRequest(port: number, path: string, init: RequestInit = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['Content-Type'] ??= 'application/json';
    }
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          body: b,
          text: b.toString('utf8'),
          json: <T>() => JSON.parse(b.toString('utf8')) as T,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A WebSocket client that keeps every message and lets a test wait for the next ones. */
export class WsClient {
  readonly messages: Array<{ type: string; payload?: unknown }> = [];
  readonly raw: string[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | null = null;
  closeReason = '';
  private closed: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const s = String(d);
      this.raw.push(s);
      this.messages.push(JSON.parse(s) as { type: string; payload?: unknown });
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `pred` holds for the messages received so far (or time out). */
  async waitFor<T>(pred: (msgs: WsClient['messages']) => T | undefined | false, timeoutMs = 10_000, what = 'a message'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = pred(this.messages);
      if (r) return r;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first message of `type` after index `from`. */
  next(type: string, from = 0, timeoutMs?: number): Promise<{ type: string; payload?: unknown }> {
    return this.waitFor((m) => m.slice(from).find((x) => x.type === type), timeoutMs, type);
  }

  send(data: unknown): void {
    this.ws.send(typeof data === 'string' ? data : JSON.stringify(data));
  }

  waitClosed(): Promise<void> {
    return this.closed;
  }

  close(): Promise<void> {
    if (this.closeCode === null) this.ws.close();
    return this.closed;
  }
}

export interface TestWeb {
  master: WebMaster;
  /** API port. */
  port: number;
  base: string;
  token: string;
  /** First proxy listener port. */
  proxyPort: number;
  logs: string[];
  /** An authenticated request (Bearer token plus an XSRF cookie/header pair). */
  api(path: string, init?: RequestInit): Promise<HttpResult>;
  /** A request with only the headers given. */
  raw(path: string, init?: RequestInit): Promise<HttpResult>;
  /** Open `/updates` (authenticated by Bearer unless `headers` says otherwise). */
  ws(headers?: Record<string, string>): Promise<WsClient>;
}

/** Credentials and the XSRF pair every non-GET needs. */
export function authHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Cookie: '_mitmproxy_xsrf=x', 'X-XSRFToken': 'x' };
}

/** Start mitmweb in-process; closed when the test ends. */
export async function startWeb(t: TestContext, opts: { options?: Record<string, OptionValue>; staticDir?: string | null; proxy?: boolean } = {}): Promise<TestWeb> {
  const master = await WebMaster.create({ withTermlog: false, staticDir: opts.staticDir ?? null });
  const logs: string[] = [];
  master.log.subscribe((e) => logs.push(`${e.level}: ${e.message}`));
  await master.options.update({
    confdir: testConfdir(),
    web_port: 0,
    web_host: '127.0.0.1',
    web_open_browser: false,
    listen_host: '127.0.0.1',
    listen_port: 0,
    server: opts.proxy ?? true,
    ...opts.options,
  });
  t.after(() => master.shutdown());
  await master.run();
  const port = master.app.address!.port;
  const token = master.auth.token!;
  const ps = master.addons.get('proxyserver') as ProxyServer;
  const proxyPort = ps.listenAddresses()[0]?.port ?? 0;
  const sockets: WsClient[] = [];
  t.after(async () => {
    for (const s of sockets) s.ws.terminate();
  });
  return {
    master,
    port,
    base: `http://127.0.0.1:${port}`,
    token,
    proxyPort,
    logs,
    api: (path, init = {}) => httpRequest(port, path, { ...init, headers: { ...authHeaders(token), ...init.headers } }),
    raw: (path, init = {}) => httpRequest(port, path, init),
    ws: async (headers) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/updates`, { headers: headers ?? { Authorization: `Bearer ${token}` } });
      const c = new WsClient(ws);
      sockets.push(c);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: ${res.statusCode}`)));
        ws.once('error', reject);
      });
      return c;
    },
  };
}

/** Send a request through the proxy (absolute-form), returning status and body. */
export function viaProxy(proxyPort: number, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { Host: u.host, ...init.headers };
    if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, method: init.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: b, text: b.toString('utf8'), json: <T>() => JSON.parse(b.toString('utf8')) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Poll `fn` every 20 ms until it gives a value (not undefined or false); fails after `timeoutMs`. */
export async function waitUntil<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
