/**
 * WebSockets over HTTP/2 (RFC 8441 extended CONNECT): a node http2 client through the proxy opens
 * an extended CONNECT stream and speaks RFC 6455 frames on it (framed with the project's own
 * encoder); the proxy records the handshake and the messages and talks HTTP/1.1 Upgrade to a
 * real `ws` server.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { proxyCa, tlsThroughProxy } from '../helpers/tunnel.js';
import { rawServer } from '../helpers/servers.js';
import type { Addon, HTTPFlow } from '../../src/index.js';
import { Opcode } from '../../src/websocket.js';
import { encodeFlow, readFlows } from '../../src/io/index.js';
import { FrameParser, encodeFrame, parseClosePayload, closePayload, type Frame } from '../../src/proxy/websocket/frame.js';
import { EXTENDED_CONNECT_METADATA } from '../../src/proxy/websocket-h2.js';
import { acceptKey, selfSignedCert, wsServer, type WsTestServer } from './websocket-helpers.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

async function server(t: TestContext, opts: Parameters<typeof wsServer>[0] = {}): Promise<WsTestServer> {
  const s = await wsServer({ tls: true, ...opts });
  t.after(() => s.close());
  return s;
}

/** An HTTP/2 client session through the proxy (CONNECT, then TLS with ALPN h2), once the proxy's SETTINGS arrived. */
async function h2Through(t: TestContext, proxyPort: number, target: string): Promise<http2.ClientHttp2Session> {
  const socket = await tlsThroughProxy(proxyPort, target, { ca: proxyCa(testConfdir()), servername: 'localhost', alpn: ['h2'] });
  assert.equal(socket.alpnProtocol, 'h2');
  const session = http2.connect(`https://${target}`, { createConnection: () => socket });
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  await once(session, 'remoteSettings');
  return session;
}

/** The client end of a WebSocket on an HTTP/2 stream: frames out masked, frames in parsed. */
class H2WebSocket {
  private readonly parser = new FrameParser({ fromClient: false, allowRsv1: true, maxPayload: 1 << 24 });
  private frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  ended = false;
  /** The peer ended its side of the stream (END_STREAM). */
  readonly endOfStream: Promise<void>;
  readonly closed: Promise<void>;

  constructor(readonly stream: http2.ClientHttp2Stream) {
    stream.on('data', (chunk: Buffer) => {
      this.frames.push(...this.parser.push(chunk));
      this.wake();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.endOfStream = new Promise((r) => stream.once('end', () => r()));
    this.closed = new Promise((r) => stream.once('close', () => r()));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(opcode: number, payload: Buffer | string, rsv1 = false): void {
    for (const b of encodeFrame(opcode, Buffer.from(payload), { fin: true, rsv1, mask: true })) this.stream.write(b);
  }

  async next(): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.ended) throw new Error('stream ended before a frame arrived');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

/** An extended CONNECT stream for a WebSocket (RFC 8441 §4). */
function extendedConnectStream(
  session: http2.ClientHttp2Session,
  authority: string,
  path: string,
  extra: http2.OutgoingHttpHeaders = {},
  scheme = 'https',
): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': scheme,
    ':path': path,
    ':authority': authority,
    'sec-websocket-version': '13',
    ...extra,
  });
  stream.on('error', () => undefined);
  return stream;
}

/** Send an extended CONNECT for a WebSocket; resolves with the stream and the response head. */
async function extendedConnect(
  session: http2.ClientHttp2Session,
  authority: string,
  path: string,
  extra: http2.OutgoingHttpHeaders = {},
  scheme = 'https',
): Promise<{ stream: http2.ClientHttp2Stream; status: number; headers: http2.IncomingHttpHeaders }> {
  const stream = extendedConnectStream(session, authority, path, extra, scheme);
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  return { stream, status: Number(headers[':status']), headers };
}

/** Open a WebSocket on an extended CONNECT stream (the proxy must answer 200). */
async function openWebSocket(...args: Parameters<typeof extendedConnect>): Promise<{ ws: H2WebSocket; headers: http2.IncomingHttpHeaders }> {
  const { stream, status, headers } = await extendedConnect(...args);
  assert.equal(status, 200);
  return { ws: new H2WebSocket(stream), headers };
}

/** An extended CONNECT the proxy answers with something else than 200: its status and body. */
async function refusedWebSocket(...args: Parameters<typeof extendedConnect>): Promise<{ status: number; body: string }> {
  const { stream, status } = await extendedConnect(...args);
  stream.setEncoding('utf8');
  let body = '';
  stream.on('data', (d: string) => (body += d));
  await once(stream, 'end');
  stream.close();
  return { status, body };
}

function wsRecorder() {
  const events: string[] = [];
  let resolveEnd!: (f: HTTPFlow) => void;
  const ended = new Promise<HTTPFlow>((r) => (resolveEnd = r));
  const addon: Addon = {
    name: 'h2-ws-recorder',
    requestheaders(f: HTTPFlow) {
      events.push(`requestheaders ${f.request.method} ${f.request.httpVersion}`);
    },
    request() {
      events.push('request');
    },
    responseheaders(f: HTTPFlow) {
      events.push(`responseheaders ${f.response!.statusCode}`);
    },
    response(f: HTTPFlow) {
      events.push(`response websocket=${f.websocket !== null}`);
    },
    websocket_start() {
      events.push('websocket_start');
    },
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      events.push(`websocket_message ${m.fromClient ? '->' : '<-'} ${m.isText ? 'text' : 'binary'} ${m.content.toString('hex')}`);
    },
    websocket_end(f: HTTPFlow) {
      events.push('websocket_end');
      resolveEnd(f);
    },
    error() {
      events.push('error');
    },
  };
  return { addon, events, ended };
}

test('extended CONNECT to a ws server over HTTPS: text and binary both ways, hooks, close code, flow recorded as the handshake', async (t) => {
  const seen: Array<{ url: string; headers: Record<string, string | string[] | undefined> }> = [];
  const up = await server(t, {
    ws: { handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) },
    onConnection: (ws, req) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    },
  });
  const rec = wsRecorder();
  // lazy: the client gets h2 from the proxy although the server speaks HTTP/1.1 only.
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const authority = `localhost:${up.port}`;
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  assert.equal(session.remoteSettings.enableConnectProtocol, true, 'the proxy advertises RFC 8441');

  const { ws, headers } = await openWebSocket(session, authority, '/chat?room=1', { 'sec-websocket-protocol': 'chat, superchat', origin: 'https://example.com' });
  assert.equal(headers['sec-websocket-protocol'], 'chat');
  assert.equal(headers['sec-websocket-accept'], undefined, 'no HTTP/1.1 handshake fields reach the HTTP/2 client');
  assert.equal(headers['upgrade'], undefined);

  ws.send(Opcode.TEXT, 'hello');
  let f = await ws.next();
  assert.deepEqual([f.opcode, f.payload.toString()], [Opcode.TEXT, 'hello']);
  ws.send(Opcode.BINARY, Buffer.from([0, 1, 2, 255]));
  f = await ws.next();
  assert.deepEqual([f.opcode, f.payload.toString('hex')], [Opcode.BINARY, '000102ff']);

  // The server saw an ordinary HTTP/1.1 Upgrade with the client's fields passed on.
  assert.equal(seen[0]!.url, '/chat?room=1');
  assert.equal(seen[0]!.headers['sec-websocket-protocol'], 'chat, superchat');
  assert.equal(seen[0]!.headers['origin'], 'https://example.com');
  assert.equal(seen[0]!.headers['host'], authority);

  const serverClosed = new Promise<[number, string]>((r) => up.clients[0]!.once('close', (code, reason) => r([code, reason.toString()])));
  ws.send(Opcode.CLOSE, closePayload(1000, 'bye'));
  f = await ws.next();
  assert.equal(f.opcode, Opcode.CLOSE);
  assert.deepEqual(parseClosePayload(f.payload), { code: 1000, reason: 'bye' });
  assert.deepEqual(await serverClosed, [1000, 'bye']);
  // The proxy ends its side of the stream after the close frame (END_STREAM, no reset).
  await ws.endOfStream;
  ws.stream.end();
  await ws.closed;
  assert.equal(ws.stream.rstCode, NGHTTP2_NO_ERROR);

  const flow = await rec.ended;
  assert.deepEqual(rec.events, [
    'requestheaders GET HTTP/2.0',
    'request',
    'responseheaders 101',
    'response websocket=true',
    'websocket_start',
    `websocket_message -> text ${Buffer.from('hello').toString('hex')}`,
    `websocket_message <- text ${Buffer.from('hello').toString('hex')}`,
    'websocket_message -> binary 000102ff',
    'websocket_message <- binary 000102ff',
    'websocket_end',
  ]);
  const req = flow.request;
  assert.equal(req.method, 'GET');
  assert.equal(req.httpVersion, 'HTTP/2.0');
  // In a tunnel the request goes to the tunnel's server (mitmproxy's transparent HTTP mode);
  // :authority is what pretty_url shows.
  assert.equal(req.url, `https://127.0.0.1:${up.port}/chat?room=1`);
  assert.equal(req.prettyUrl, `https://${authority}/chat?room=1`);
  assert.equal(req.headers.get('upgrade'), 'websocket');
  assert.equal(req.headers.get('connection'), 'Upgrade');
  assert.equal(req.headers.get('sec-websocket-version'), '13');
  assert.match(req.headers.get('sec-websocket-key') ?? '', /^[A-Za-z0-9+/]{22}==$/);
  assert.equal(flow.response!.statusCode, 101);
  assert.equal(flow.response!.httpVersion, 'HTTP/1.1');
  assert.equal(flow.response!.headers.get('sec-websocket-accept'), acceptKey(req.headers.get('sec-websocket-key')!));
  assert.equal(flow.metadata[EXTENDED_CONNECT_METADATA], 'websocket');
  const wsd = flow.websocket!;
  assert.deepEqual(
    wsd.messages.map((m) => [m.type, m.fromClient, m.content.toString('hex')]),
    [
      [Opcode.TEXT, true, Buffer.from('hello').toString('hex')],
      [Opcode.TEXT, false, Buffer.from('hello').toString('hex')],
      [Opcode.BINARY, true, '000102ff'],
      [Opcode.BINARY, false, '000102ff'],
    ],
  );
  assert.equal(wsd.closedByClient, true);
  assert.equal(wsd.closeCode, 1000);
  assert.equal(wsd.closeReason, 'bye');
  assert.equal(flow.live, false);

  // The flow file keeps all of it.
  const [back] = (await readFlows(encodeFlow(flow))) as HTTPFlow[];
  assert.equal(back!.request.method, 'GET');
  assert.equal(back!.request.httpVersion, 'HTTP/2.0');
  assert.equal(back!.metadata[EXTENDED_CONNECT_METADATA], 'websocket');
  assert.deepEqual(
    back!.websocket!.messages.map((m) => m.content.toString('hex')),
    wsd.messages.map((m) => m.content.toString('hex')),
  );
  assert.equal(back!.websocket!.closeCode, 1000);
});

test('an addon modifies and drops messages; the server closes with its own code', async (t) => {
  const up = await server(t);
  const addon: Addon = {
    name: 'rewrite',
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      if (m.fromClient && m.text === 'drop me') m.drop();
      else if (m.fromClient) m.text = m.text.toUpperCase();
      else m.content = Buffer.concat([m.content, Buffer.from('!')]);
    },
  };
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [addon, rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  const { ws } = await openWebSocket(session, `localhost:${up.port}`, '/');

  ws.send(Opcode.TEXT, 'drop me');
  ws.send(Opcode.TEXT, 'shout');
  const f = await ws.next();
  assert.deepEqual([f.opcode, f.payload.toString()], [Opcode.TEXT, 'SHOUT!'], 'the dropped message never reached the server');

  up.clients[0]!.close(4001, 'server bye');
  const closeFrame = await ws.next();
  assert.equal(closeFrame.opcode, Opcode.CLOSE);
  assert.deepEqual(parseClosePayload(closeFrame.payload), { code: 4001, reason: 'server bye' });
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closedByClient, false);
  assert.equal(flow.websocket!.closeCode, 4001);
  assert.equal(flow.websocket!.closeReason, 'server bye');
  assert.deepEqual(
    flow.websocket!.messages.map((m) => [m.fromClient, m.text, m.dropped]),
    [
      [true, 'drop me', true],
      [true, 'SHOUT', false],
      [false, 'SHOUT!', false],
    ],
  );
});

test('a client that resets its stream mid-conversation: 1006 recorded, the server gets a close frame; a killed handshake resets the stream', async (t) => {
  const up = await server(t);
  const rec = wsRecorder();
  const killer: Addon = {
    name: 'killer',
    response(f: HTTPFlow) {
      if (f.request.path === '/kill') f.kill();
    },
  };
  const proxy = await testProxy(t, { addons: [killer, rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  const { ws } = await openWebSocket(session, `localhost:${up.port}`, '/');
  ws.send(Opcode.TEXT, 'ping');
  assert.equal((await ws.next()).payload.toString(), 'ping');
  const serverClosed = new Promise<number>((r) => up.clients[0]!.once('close', (code) => r(code)));
  ws.stream.close(http2.constants.NGHTTP2_CANCEL);
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closeCode, 1006);
  assert.equal(flow.websocket!.closedByClient, true);
  // The server is told with a close frame (1006 never goes on the wire: it says 1000).
  assert.equal(await serverClosed, 1000);

  const killed = extendedConnectStream(session, `localhost:${up.port}`, '/kill');
  await new Promise<void>((r) => killed.once('close', () => r()));
  assert.equal(killed.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR, "a kill resets with INTERNAL_ERROR, as mitmproxy does");
  // The server's upgraded connection is closed too.
  const second = up.clients[1]!;
  if (second.readyState !== second.CLOSED) await once(second, 'close');
});

test('permessage-deflate is negotiated end to end and keeps working on the HTTP/2 side', async (t) => {
  const up = await server(t, { ws: { perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true } } });
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  const { ws, headers } = await openWebSocket(session, `localhost:${up.port}`, '/', {
    'sec-websocket-extensions': 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
  });
  assert.match(String(headers['sec-websocket-extensions']), /permessage-deflate/);
  assert.match(String(headers['sec-websocket-extensions']), /server_no_context_takeover/);

  const text = 'compress me '.repeat(50);
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  ws.send(Opcode.TEXT, deflated.subarray(0, deflated.length - 4), true);
  const f = await ws.next();
  assert.equal(f.rsv1, true, 'the echo comes back compressed');
  const inflated = zlib.inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.equal(inflated.toString(), text);

  ws.send(Opcode.CLOSE, closePayload(1000, ''));
  const flow = await rec.ended;
  assert.deepEqual(
    flow.websocket!.messages.map((m) => [m.fromClient, m.text]),
    [
      [true, text],
      [false, text],
    ],
    'messages are recorded decompressed',
  );
});

test('a refused upgrade reaches the HTTP/2 client as that status with its body', async (t) => {
  const up = await server(t, { ws: { verifyClient: () => false } });
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  const refused = await refusedWebSocket(session, `localhost:${up.port}`, '/private');
  assert.deepEqual(refused, { status: 401, body: 'Unauthorized' });
  assert.ok(rec.events.includes('response websocket=false'));
  assert.ok(!rec.events.includes('websocket_start'));
  // The session still serves other streams.
  const again = await refusedWebSocket(session, `localhost:${up.port}`, '/other');
  assert.equal(again.status, 401);
  assert.equal(rec.events.filter((e) => e === 'response websocket=false').length, 2);
});

test('with an h2 upstream (eager connection), the handshake still goes over a fresh HTTP/1.1 connection', async (t) => {
  const { key, cert } = await selfSignedCert();
  // A server that speaks h2 for requests and HTTP/1.1 for the Upgrade, as most do.
  const h2server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (_req, res) => res.end('h2 ok'));
  const up = await wsServer({ tls: false });
  t.after(() => up.close());
  h2server.on('upgrade', (req, socket, head) => up.wss.handleUpgrade(req, socket, head, (ws) => up.wss.emit('connection', ws, req)));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const upgradeSockets = new Set<net.Socket>();
  h2server.on('upgrade', (_req, socket: net.Socket) => upgradeSockets.add(socket));
  await new Promise<void>((r) => h2server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        for (const s of upgradeSockets) s.destroy();
        h2server.close(() => r());
      }),
  );
  const port = (h2server.address() as net.AddressInfo).port;
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${port}`);
  // A normal request first: it uses the h2 connection to the server.
  const plain = session.request({ ':path': '/' });
  plain.setEncoding('utf8');
  let text = '';
  plain.on('data', (d: string) => (text += d));
  await once(plain, 'end');
  assert.equal(text, 'h2 ok');

  const { ws } = await openWebSocket(session, `localhost:${port}`, '/ws');
  ws.send(Opcode.TEXT, 'over h1');
  const f = await ws.next();
  assert.equal(f.payload.toString(), 'over h1');
  ws.send(Opcode.CLOSE, closePayload(1000, ''));
  const flow = await rec.ended;
  assert.equal(flow.response!.httpVersion, 'HTTP/1.1');
  assert.equal(flow.serverConn.alpn, 'http/1.1');
});

test('h2c with prior knowledge to the proxy: ws:// upstream; a wrong Sec-WebSocket-Accept is refused with 502', async (t) => {
  const up = await wsServer();
  t.after(() => up.close());
  // A server that answers every Upgrade with a 101 carrying a made-up accept value.
  const liar = await rawServer(t, (s) => {
    s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n'));
  });
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  await once(session, 'remoteSettings');

  const { ws } = await openWebSocket(session, `127.0.0.1:${up.port}`, '/plain', {}, 'http');
  ws.send(Opcode.TEXT, 'plain');
  assert.equal((await ws.next()).payload.toString(), 'plain');
  ws.send(Opcode.CLOSE, closePayload(1000, ''));
  const flow = await rec.ended;
  assert.equal(flow.request.url, `http://127.0.0.1:${up.port}/plain`);

  const bad = await refusedWebSocket(session, `127.0.0.1:${liar.port}`, '/', {}, 'http');
  assert.equal(bad.status, 502);
  assert.match(bad.body, /invalid Sec-WebSocket-Accept/);
  assert.ok(rec.events.includes('error'));
});

test('with the websocket option off, extended CONNECT is not advertised (and refused if a client tries anyway)', async (t) => {
  const up = await server(t);
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy', websocket: false } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  assert.equal(session.remoteSettings.enableConnectProtocol, false);
  // node sends it all the same; the proxy's HTTP/2 stack resets the stream, no flow is made.
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/', ':scheme': 'https', ':authority': `localhost:${up.port}` });
  let responded = false;
  stream.on('error', () => undefined);
  stream.on('response', () => (responded = true));
  await new Promise<void>((r) => stream.once('close', () => r()));
  assert.equal(responded, false);
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
  assert.deepEqual(rec.events, []);
});

test('the websocket option turned off while a session is open: an extended CONNECT gets 400', async (t) => {
  const up = await server(t);
  const rec = wsRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true, connection_strategy: 'lazy' } });
  const session = await h2Through(t, proxy.port, `127.0.0.1:${up.port}`);
  assert.equal(session.remoteSettings.enableConnectProtocol, true);
  await proxy.master.options.update({ websocket: false });
  const refused = await refusedWebSocket(session, `localhost:${up.port}`, '/');
  assert.equal(refused.status, 400);
  assert.match(refused.body, /WebSocket over HTTP\/2 is disabled/);
  assert.deepEqual(rec.events, ['requestheaders CONNECT HTTP/2.0', 'error']);
  assert.equal(up.clients.length, 0);
});

test('an addon that makes the handshake no WebSocket one: the client gets 502, the flow an error and the error hook fires', async (t) => {
  // A server that accepts any Upgrade correctly, whatever version the request names.
  const lenient = await rawServer(t, (s) => {
    s.once('data', (d: Buffer) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(d.toString('latin1'))?.[1] ?? '';
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    });
  });
  const rec = wsRecorder();
  let failed: HTTPFlow | null = null;
  const breaker: Addon = {
    name: 'version-breaker',
    request(f: HTTPFlow) {
      f.request.headers.set('sec-websocket-version', '8');
    },
    error(f: HTTPFlow) {
      failed = f;
    },
  };
  const proxy = await testProxy(t, { addons: [rec.addon, breaker] });
  const session = http2.connect(proxy.url);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  await once(session, 'remoteSettings');

  const port = lenient.port;
  const bad = await refusedWebSocket(session, `127.0.0.1:${port}`, '/', {}, 'http');
  assert.equal(bad.status, 502);
  assert.match(bad.body, /no valid WebSocket handshake/);
  assert.ok(rec.events.includes('response websocket=false'));
  assert.ok(rec.events.includes('error'));
  assert.ok(!rec.events.includes('websocket_start'));
  assert.match(failed!.error!.msg, /no valid WebSocket handshake/);
  assert.equal(failed!.live, false);
});
