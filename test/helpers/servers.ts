import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { TestContext } from 'node:test';

export interface TestServer {
  port: number;
  /** "http://127.0.0.1:port" */
  url: string;
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** Close a server and every connection it still has, so tests never leave sockets behind. */
function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** A node:http server on 127.0.0.1:0, stopped when the test ends. */
export async function httpServer(t: TestContext | null, handler: http.RequestListener): Promise<TestServer & { server: http.Server }> {
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, handler);
  const sockets = new Set<net.Socket>();
  const info = { connections: 0 };
  server.on('connection', (s) => {
    info.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const close = closer(server, sockets);
  t?.after(close);
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return info.connections;
    },
    close,
  };
}

/**
 * A raw TCP server: `onConnection` gets each socket; everything received is recorded in
 * `received` (per connection, in order) so tests can check exact bytes.
 */
export async function rawServer(t: TestContext | null, onConnection: (socket: net.Socket, index: number) => void): Promise<TestServer & { received: Buffer[][] }> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    const idx = received.length;
    received.push([]);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (d) => received[idx]!.push(d));
    onConnection(s, idx);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const close = closer(server, sockets);
  t?.after(close);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return received.length;
    },
    received,
    close,
  };
}

/**
 * A server refusing uploads early: it reads a request head, answers `413` with the body
 * "too big!", and reads nothing more (its connection stays open, the body fills the buffers).
 */
export function refusingUploadServer(t: TestContext | null): Promise<TestServer & { received: Buffer[][] }> {
  return rawServer(t, (s) => {
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!');
      s.pause();
    };
    s.on('data', onData);
  });
}

/** An echo-ish upstream: replies with JSON describing the request it got (method, url, raw headers, body). */
export async function echoServer(t: TestContext | null): Promise<TestServer & { server: http.Server }> {
  return httpServer(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const out = JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: body.toString('latin1'), httpVersion: req.httpVersion });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
}

/** A port on 127.0.0.1 that refuses connections (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A TLS server on 127.0.0.1:0 with `options` (key, cert, ALPN...) that answers any HTTP request
 * with `body` and closes; its open sockets are destroyed at teardown. Resolves with the port.
 */
export async function tlsOrigin(t: TestContext, options: tls.TlsOptions, body: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(options, (s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`));
  });
  server.on('tlsClientError', () => undefined);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return (server.address() as net.AddressInfo).port;
}
