/**
 * Helpers for the WebSocket tests and the WebSocket benchmark: real `ws` servers (plain and TLS
 * with a self-signed certificate), and `ws` clients that reach them through the proxy with a
 * CONNECT tunnel, as browsers do for ws:// and wss:// behind an HTTP proxy.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { createHash, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as x509 from '@peculiar/x509';
import type { RunningProxy } from '../../src/start.js';
import type { TlsConfig } from '../../src/addons/tlsconfig.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { WebSocket, WebSocketServer, type ClientOptions, type ServerOptions } from 'ws';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface WsTestServer {
  port: number;
  wss: WebSocketServer;
  /** Server-side sockets, in connection order. */
  clients: WebSocket[];
  close(): Promise<void>;
}

let selfSigned: Promise<{ key: string; cert: string }> | null = null;

/** A self-signed certificate for localhost / 127.0.0.1 (made once per process). */
export function selfSignedCert(): Promise<{ key: string; cert: string }> {
  selfSigned ??= (async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=localhost',
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
    return { key, cert: cert.toString('pem') };
  })();
  return selfSigned;
}

/**
 * A `ws` server on 127.0.0.1:0 (TLS with a self-signed certificate when `tls`). `onConnection`
 * gets each server-side socket; by default every message is echoed back with its type.
 */
export async function wsServer(
  opts: { tls?: boolean; ws?: ServerOptions; onConnection?: (ws: WebSocket, req: http.IncomingMessage) => void } = {},
): Promise<WsTestServer> {
  const server = opts.tls ? https.createServer(await selfSignedCert()) : http.createServer();
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server, ...opts.ws });
  const clients: WebSocket[] = [];
  wss.on('connection', (ws, req) => {
    clients.push(ws);
    ws.on('error', () => undefined);
    if (opts.onConnection) opts.onConnection(ws, req);
    else ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    wss,
    clients,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * The proxy's CA certificate, as a client installs it (`<confdir>/mitmproxy-ca-cert.pem`); waits
 * for the tlsconfig addon, which creates the CA in the background when the proxy starts.
 */
export async function proxyCaPem(proxy: RunningProxy): Promise<string> {
  const tlsconfig = proxy.master.addons.get('tlsconfig') as TlsConfig;
  await tlsconfig.certStore();
  return readFileSync(join(proxy.master.options.get<string>('confdir'), 'mitmproxy-ca-cert.pem'), 'utf8');
}

/**
 * A `ws` client to `ws[s]://localhost:port/path` through the proxy: CONNECT, then (for wss) TLS
 * with the proxy's CA as the only trusted root, then the WebSocket handshake. Resolves once open.
 */
export async function wsClientViaProxy(
  proxyPort: number,
  target: { port: number; tls?: boolean; path?: string; caPem?: string },
  options: ClientOptions = {},
): Promise<WebSocket> {
  const raw = await connectTunnel(proxyPort, `127.0.0.1:${target.port}`);
  raw.setNoDelay(true);
  let socket: Duplex = raw;
  if (target.tls) {
    const t = tls.connect({ socket: raw, servername: 'localhost', ca: target.caPem, ALPNProtocols: ['http/1.1'] });
    await once(t, 'secureConnect');
    socket = t;
  }
  const url = `${target.tls ? 'wss' : 'ws'}://localhost:${target.port}${target.path ?? '/'}`;
  const ws = new WebSocket(url, { ...options, createConnection: () => socket as net.Socket });
  await openOf(ws);
  return ws;
}

/** A `ws` client connecting straight to `url` (for reverse proxy mode and for direct baselines). */
export async function wsClient(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await openOf(ws);
  return ws;
}

function openOf(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

/** The next message a `ws` socket receives, as [data, isBinary]. */
export function nextMessage(ws: WebSocket): Promise<[Buffer, boolean]> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('closed before a message arrived'));
    ws.once('message', (data: Buffer, isBinary: boolean) => {
      ws.off('close', onClose);
      resolve([Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), isBinary]);
    });
    ws.once('close', onClose);
  });
}

/** Resolves with the close code and reason a `ws` socket ends with. */
export function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('already closed'));
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2), for hand-written handshakes. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
}

/** A socket with a pull-style reader, for hand-written WebSocket peers in tests. */
export class RawPeer {
  /** Received, not yet taken; merged into one buffer only when a reader looks (no copy per chunk). */
  private chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];
  ended = false;

  constructor(readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private merged(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  /** Wait until `pred(buffered bytes)` returns a length to consume, then return those bytes. */
  async take(pred: (b: Buffer) => number | null, what: string): Promise<Buffer> {
    for (;;) {
      const buf = this.merged();
      const n = pred(buf);
      if (n !== null) {
        this.chunks = [buf.subarray(n)];
        return buf.subarray(0, n);
      }
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  readHead(): Promise<string> {
    return this.take((b) => {
      const i = b.indexOf('\r\n\r\n');
      return i < 0 ? null : i + 4;
    }, 'an HTTP head').then((b) => b.toString('latin1'));
  }

  /** Everything received until the peer closed the connection. */
  async rest(): Promise<Buffer> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    const out = this.merged();
    this.chunks = [];
    return out;
  }
}

/**
 * A hand-written WebSocket server (no `ws`): answers the handshake (echoing any
 * Sec-WebSocket-Extensions value given) and hands the connection to `onPeer`, to send and
 * inspect exact frames.
 */
export async function rawWsServer(
  onPeer: (peer: RawPeer, requestHead: string) => void,
  extensions?: string,
  /** Bytes sent in the same write as the 101 response. */
  withHandshake?: Buffer,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const peer = new RawPeer(s);
    void peer.readHead().then(
      (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
        const response =
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
          (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') +
          '\r\n';
        s.write(Buffer.concat([Buffer.from(response, 'latin1'), withHandshake ?? Buffer.alloc(0)]));
        onPeer(peer, head);
      },
      () => s.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A hand-written WebSocket client through the proxy (CONNECT, plain): resolves after the 101. */
export async function rawWsClientViaProxy(
  proxyPort: number,
  port: number,
  opts: { extraHeaders?: string; pipelined?: Buffer } = {},
): Promise<{ peer: RawPeer; response: string }> {
  const socket = await connectTunnel(proxyPort, `127.0.0.1:${port}`);
  socket.setNoDelay(true);
  const peer = new RawPeer(socket);
  const head =
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${opts.extraHeaders ?? ''}\r\n`;
  // `pipelined` bytes go out in the same write as the request, before any answer.
  socket.write(Buffer.concat([Buffer.from(head, 'latin1'), opts.pipelined ?? Buffer.alloc(0)]));
  const response = await peer.readHead();
  return { peer, response };
}
