/**
 * Helpers shared by the proxy mode tests (modes-*.test.ts) and others: an HTTPS origin with its
 * own CA, an HTTP/2 server over TLS, a flow recorder for the modes, a log recorder that sees the
 * startup lines, and a scripted raw TCP client.
 */
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type http from 'node:http';
import { CertStore } from '../../src/certs/index.js';
import type { Loader } from '../../src/addonmanager.js';
import type { HTTPFlow, TCPFlow } from '../../src/index.js';
import type { LogEntry } from '../../src/log.js';
import { testConfdir } from '../helpers/proxy.js';
import { flowRecorder } from '../helpers/recorder.js';
import { selfSignedCert } from './websocket-helpers.js';

let proxyCa: Promise<string> | null = null;

/**
 * Our proxies' CA certificate file (every test proxy of this process shares the confdir). The CA
 * is created here if no proxy has made it yet, so tests never depend on a background task's timing.
 */
export function proxyCaFile(): Promise<string> {
  proxyCa ??= CertStore.open({ confdir: testConfdir() }).then(() => join(testConfdir(), 'mitmproxy-ca-cert.pem'));
  return proxyCa;
}

let originCa: Promise<{ store: CertStore; caFile: string }> | null = null;

/** A second CA, standing for a private PKI the origin servers use (created once per process). */
function originPki(): Promise<{ store: CertStore; caFile: string }> {
  originCa ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-origin-ca-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const store = await CertStore.open({ confdir: dir, basename: 'origin' });
    const caFile = join(dir, 'origin-ca.pem');
    writeFileSync(caFile, store.caCertPem);
    return { store, caFile };
  })();
  return originCa;
}

export interface HttpsOrigin {
  port: number;
  /** "https://localhost:port" */
  url: string;
  /** PEM file of the CA that issued the origin's certificate (for ssl_verify_upstream_trusted_ca). */
  caFile: string;
  /** SNI values the origin received, in order ("" for none). */
  servernames: string[];
  server: https.Server;
}

/** An HTTPS server on 127.0.0.1:0 whose certificate names localhost and 127.0.0.1, issued by a CA of its own. */
export async function httpsOrigin(t: TestContext, handler: http.RequestListener): Promise<HttpsOrigin> {
  const { store, caFile } = await originPki();
  const leaf = await store.getCert({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
  const servernames: string[] = [];
  const server = https.createServer({ key: leaf.keyPem, cert: [leaf.certPem, ...leaf.chainPem].join('\n'), ALPNProtocols: ['http/1.1'] }, handler);
  server.on('secureConnection', (s: tls.TLSSocket) => servernames.push((s as tls.TLSSocket & { servername?: string | false }).servername || ''));
  server.on('tlsClientError', () => undefined);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port, url: `https://localhost:${port}`, caFile, servernames, server };
}

/** An HTTP/2 server over TLS on 127.0.0.1 (`opts` as node's, e.g. `allowHTTP1`); it and its sessions are closed after the test. */
export async function tlsH2Server(
  t: { after: (fn: () => void) => void },
  onRequest: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  opts: http2.SecureServerOptions = {},
): Promise<http2.Http2SecureServer> {
  return listenH2(t, http2.createSecureServer({ ...(await selfSignedCert()), ...opts }, onRequest));
}

/** A plain-text HTTP/2-only server (h2c with prior knowledge, as an insecure gRPC server) on 127.0.0.1, closed after the test. */
export function h2cServer(t: { after: (fn: () => void) => void }, onRequest: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void): Promise<http2.Http2Server> {
  return listenH2(t, http2.createServer(onRequest));
}

async function listenH2<S extends http2.Http2Server | http2.Http2SecureServer>(t: { after: (fn: () => void) => void }, server: S): Promise<S> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return server;
}

/** A flow recorder (finished HTTP flows) that also collects TCP flows, CONNECTs sent upstream and connect errors. */
export function recorder() {
  const base = flowRecorder();
  const tcp: TCPFlow[] = [];
  const connectsUpstream: HTTPFlow[] = [];
  const hooks: string[] = [];
  return {
    flows: base.flows,
    tcp,
    connectsUpstream,
    hooks,
    addon: {
      ...base.addon,
      http_connect_upstream(f: HTTPFlow) {
        connectsUpstream.push(f);
      },
      http_connect_error(f: HTTPFlow) {
        hooks.push(`http_connect_error ${f.response?.statusCode ?? ''}`);
      },
      server_connect_error(d: { server: { address: [string, number] | null; error: string | null } }) {
        hooks.push(`server_connect_error ${d.server.error ?? ''}`);
      },
      tcp_end(f: TCPFlow) {
        tcp.push(f);
      },
      tcp_error(f: TCPFlow) {
        tcp.push(f);
      },
    },
  };
}

/** An addon that records every log line from the moment it is loaded (so startup lines too). */
export function logRecorder() {
  const logs: LogEntry[] = [];
  return {
    logs,
    addon: {
      name: 'logrecorder',
      load(loader: Loader) {
        loader.master.log.subscribe((e) => logs.push(e));
      },
    },
  };
}

/** Wait until `cond` holds (polling), failing after `ms`. */
export async function waitFor(cond: () => boolean, ms = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP client that sends bytes and reads exactly what it expects, for scripted handshakes. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  static connect(port: number, t: TestContext): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
      t.after(() => s.destroy());
    });
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Read exactly n bytes; fewer if the peer closes first (within 10 s). */
  async read(n: number, ms = 10000): Promise<Buffer> {
    const end = Date.now() + ms;
    while (this.buf.length < n && !this.ended) {
      if (Date.now() > end) throw new Error(`timed out reading ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Resolve true once the peer closed the connection (false if it is still open after `ms`). */
  async closed(ms = 10000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.ended && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }
}
