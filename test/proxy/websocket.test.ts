/**
 * WebSocket interception end to end: real `ws` clients and servers, an in-process proxy between
 * them (CONNECT tunnels, plain and TLS-intercepted, and reverse mode).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { testProxy } from '../helpers/proxy.js';
import { HTTPFlow, type Addon } from '../../src/index.js';
import { Opcode } from '../../src/websocket.js';
import type { TCPFlow } from '../../src/tcp.js';
import { encodeFlow, readFlows } from '../../src/io/index.js';
import { injectWebSocketMessage, websocketLimits } from '../../src/proxy/websocket.js';
import { FrameParser, encodeFrame, parseClosePayload } from '../../src/proxy/websocket/frame.js';
import {
  RawPeer,
  closeOf,
  nextMessage,
  proxyCaPem,
  rawWsClientViaProxy,
  rawWsServer,
  wsClient,
  wsClientViaProxy,
  wsServer,
  type WsTestServer,
} from './websocket-helpers.js';

/** Records the WebSocket hooks and their flows. */
let recorders = 0;

function recorder() {
  const events: string[] = [];
  let flow: HTTPFlow | null = null;
  let resolveEnd!: (f: HTTPFlow) => void;
  const ended = new Promise<HTTPFlow>((r) => (resolveEnd = r));
  let resolveStart!: (f: HTTPFlow) => void;
  const started = new Promise<HTTPFlow>((r) => (resolveStart = r));
  const addon: Addon = {
    name: `ws-recorder-${++recorders}`,
    response(f: HTTPFlow) {
      if (f.response?.statusCode === 101) events.push(`response websocket=${f.websocket !== null}`);
    },
    websocket_start(f: HTTPFlow) {
      flow = f;
      events.push('websocket_start');
      resolveStart(f);
    },
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      events.push(`websocket_message ${m.fromClient ? '->' : '<-'} ${m.isText ? 'text' : 'binary'} ${m.content.toString('latin1')}`);
    },
    websocket_end(f: HTTPFlow) {
      events.push('websocket_end');
      resolveEnd(f);
    },
    error() {
      events.push('error');
    },
  };
  return {
    addon,
    events,
    started,
    ended,
    get flow() {
      return flow;
    },
  };
}

async function server(t: TestContext, opts: Parameters<typeof wsServer>[0] = {}): Promise<WsTestServer> {
  const s = await wsServer(opts);
  t.after(() => s.close());
  return s;
}

function closeClient(t: TestContext, ws: WebSocket): void {
  t.after(() => ws.terminate());
}

for (const useTls of [false, true]) {
  test(`${useTls ? 'wss (TLS intercepted)' : 'ws (plain)'} through a CONNECT tunnel: text and binary both ways, close code and reason recorded`, async (t) => {
    const rec = recorder();
    const up = await server(t, { tls: useTls });
    const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
    const ws = await wsClientViaProxy(proxy.port, { port: up.port, tls: useTls, path: '/chat?room=1', caPem: await proxyCaPem(proxy) });
    closeClient(t, ws);

    ws.send('hello');
    assert.deepEqual(await nextMessage(ws), [Buffer.from('hello'), false]);
    ws.send(Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await nextMessage(ws), [Buffer.from([0, 1, 2, 255]), true]);

    const serverSide = up.clients[0]!;
    const serverClosed = closeOf(serverSide);
    const clientClosed = closeOf(ws);
    ws.close(1000, 'bye');
    assert.deepEqual(await serverClosed, { code: 1000, reason: 'bye' });
    assert.deepEqual(await clientClosed, { code: 1000, reason: 'bye' });

    const flow = await rec.ended;
    assert.equal(flow.request.path, '/chat?room=1');
    assert.equal(flow.response!.statusCode, 101);
    const wsd = flow.websocket!;
    assert.deepEqual(
      wsd.messages.map((m) => [m.type, m.fromClient, m.content.toString('hex'), m.dropped, m.injected]),
      [
        [Opcode.TEXT, true, Buffer.from('hello').toString('hex'), false, false],
        [Opcode.TEXT, false, Buffer.from('hello').toString('hex'), false, false],
        [Opcode.BINARY, true, '000102ff', false, false],
        [Opcode.BINARY, false, '000102ff', false, false],
      ],
    );
    for (const m of wsd.messages) assert.ok(m.timestamp > flow.request.timestampStart! && m.timestamp <= wsd.timestampEnd!);
    assert.equal(wsd.closedByClient, true);
    assert.equal(wsd.closeCode, 1000);
    assert.equal(wsd.closeReason, 'bye');
    assert.equal(flow.live, false);
    assert.equal(flow.error, null);
    assert.deepEqual(rec.events, [
      'response websocket=true',
      'websocket_start',
      'websocket_message -> text hello',
      'websocket_message <- text hello',
      'websocket_message -> binary \x00\x01\x02\xff',
      'websocket_message <- binary \x00\x01\x02\xff',
      'websocket_end',
    ]);
  });
}

test('reverse proxy mode: a ws client talks to the proxy as if it were the server', async (t) => {
  const rec = recorder();
  const up = await server(t);
  const proxy = await testProxy(t, { addons: [rec.addon], options: { mode: [`reverse:http://127.0.0.1:${up.port}`] } });
  const ws = await wsClient(`ws://127.0.0.1:${proxy.port}/r`);
  closeClient(t, ws);
  ws.send('via reverse');
  assert.deepEqual(await nextMessage(ws), [Buffer.from('via reverse'), false]);
  const closed = closeOf(ws);
  ws.close(4001, 'done');
  assert.deepEqual(await closed, { code: 4001, reason: 'done' });
  const flow = await rec.ended;
  assert.equal(flow.websocket!.messages.length, 2);
  assert.equal(flow.websocket!.closeCode, 4001);
});

/** Total length of the first frame in `b`, or null if it is not complete yet. */
function frameLength(b: Buffer): number | null {
  if (b.length < 2) return null;
  let len = b[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (b.length < 4) return null;
    len = b.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (b.length < 10) return null;
    len = Number(b.readBigUInt64BE(2));
    off = 10;
  }
  if (b[1]! & 0x80) off += 4;
  return b.length >= off + len ? off + len : null;
}

/** Read one frame from a hand-written peer; `fromClient` frames must be masked (the parser checks). */
async function readFrame(peer: RawPeer, fromClient: boolean): Promise<{ fin: boolean; rsv1: boolean; opcode: number; text: string; payload: Buffer; maskKey: string | null }> {
  const raw = await peer.take(frameLength, 'a frame');
  const [f] = new FrameParser({ fromClient, allowRsv1: true, maxPayload: 1 << 24 }).push(Buffer.from(raw));
  const masked = (raw[1]! & 0x80) !== 0;
  const keyAt = (raw[1]! & 0x7f) === 126 ? 4 : (raw[1]! & 0x7f) === 127 ? 10 : 2;
  return { fin: f!.fin, rsv1: f!.rsv1, opcode: f!.opcode, text: f!.payload.toString('latin1'), payload: f!.payload, maskKey: masked ? raw.subarray(keyAt, keyAt + 4).toString('hex') : null };
}

/** A hand-written WebSocket server for the test; `nextPeer` resolves with each connection after its handshake. */
async function rawServer(t: TestContext, extensions?: string, withHandshake?: Buffer): Promise<{ port: number; nextPeer(): Promise<RawPeer> }> {
  const peers: RawPeer[] = [];
  const waiting: Array<(p: RawPeer) => void> = [];
  const s = await rawWsServer((peer) => {
    const w = waiting.shift();
    if (w) w(peer);
    else peers.push(peer);
  }, extensions, withHandshake);
  t.after(() => s.close());
  return {
    port: s.port,
    nextPeer: () => {
      const p = peers.shift();
      return p ? Promise.resolve(p) : new Promise<RawPeer>((resolve) => waiting.push(resolve));
    },
  };
}

function frame(opcode: number, payload: string | Buffer, fin = true, mask = false): Buffer {
  return Buffer.concat(encodeFrame(opcode, Buffer.from(payload), { fin, rsv1: false, mask }));
}

test('fragmented messages are reassembled into one message each way, keep their framing, and interleaved pings are forwarded, not recorded', async (t) => {
  const rec = recorder();
  const serverFrames: Array<Awaited<ReturnType<typeof readFrame>>> = [];
  const up = await rawServer(t);
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const serverPeer = await up.nextPeer();

  // Client -> server: a text message in two fragments with a ping between them.
  ws.send('abc', { fin: false });
  ws.ping('between');
  ws.send('def', { fin: true });
  for (let i = 0; i < 3; i++) serverFrames.push(await readFrame(serverPeer, true));
  // The ping overtakes the held fragments; the message keeps its two frames.
  assert.deepEqual(
    serverFrames.map((f) => [f.opcode, f.fin, f.text]),
    [
      [Opcode.PING, true, 'between'],
      [Opcode.TEXT, false, 'abc'],
      [Opcode.CONTINUATION, true, 'def'],
    ],
  );
  const keys = new Set(serverFrames.map((f) => f.maskKey));
  assert.ok(!keys.has(null), 'every frame to the server is masked');
  assert.equal(keys.size, 3, 'with a fresh key each');

  // Server -> client: binary in three fragments, a ping in the middle; the client answers the ping.
  const clientPing = new Promise<Buffer>((resolve) => ws.once('ping', resolve));
  const clientMessage = nextMessage(ws);
  serverPeer.socket.write(Buffer.concat([frame(Opcode.BINARY, 'xy', false), frame(Opcode.CONTINUATION, 'z', false), frame(Opcode.PING, 'mid'), frame(Opcode.CONTINUATION, '!', true)]));
  assert.deepEqual(await clientPing, Buffer.from('mid'));
  assert.deepEqual(await clientMessage, [Buffer.from('xyz!'), true]);
  const pong = await readFrame(serverPeer, true);
  assert.deepEqual([pong.opcode, pong.text], [Opcode.PONG, 'mid'], "the client's pong reaches the server");

  const closed = closeOf(ws);
  serverPeer.socket.write(frame(Opcode.CLOSE, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('server bye')])));
  assert.deepEqual(await closed, { code: 4000, reason: 'server bye' });
  const flow = await rec.ended;
  assert.deepEqual(
    flow.websocket!.messages.map((m) => [m.type, m.fromClient, m.content.toString('latin1')]),
    [
      [Opcode.TEXT, true, 'abcdef'],
      [Opcode.BINARY, false, 'xyz!'],
    ],
  );
  assert.equal(flow.websocket!.closedByClient, false);
  assert.equal(flow.websocket!.closeCode, 4000);
  assert.equal(flow.websocket!.closeReason, 'server bye');
  assert.ok(proxy.logs.some((e) => e.message === "Received WebSocket ping from client (payload: b'between')"), 'pings are logged as mitmproxy does');
});

test('a modified fragmented message keeps its frames when its length is unchanged, else goes out in 4000-byte frames', async (t) => {
  const up = await rawServer(t);
  const addon: Addon = {
    name: 'rewrite',
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      if (m.text.startsWith('a')) m.text = m.text.toUpperCase();
      else m.content = Buffer.concat([m.content, Buffer.from('!')]);
    },
  };
  const proxy = await testProxy(t, { addons: [addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const peer = await up.nextPeer();

  ws.send('a'.repeat(3000), { fin: false });
  ws.send('a'.repeat(3000), { fin: true });
  const same = [await readFrame(peer, true), await readFrame(peer, true)];
  assert.deepEqual(same.map((f) => [f.opcode, f.fin, f.payload.length, f.text[0]]), [
    [Opcode.TEXT, false, 3000, 'A'],
    [Opcode.CONTINUATION, true, 3000, 'A'],
  ]);

  ws.send('b'.repeat(3000), { fin: false });
  ws.send('b'.repeat(3000), { fin: true });
  const longer = [await readFrame(peer, true), await readFrame(peer, true)];
  assert.deepEqual(longer.map((f) => [f.opcode, f.fin, f.payload.length]), [
    [Opcode.TEXT, false, 4000],
    [Opcode.CONTINUATION, true, 2001],
  ]);
  assert.equal(longer.map((f) => f.text).join(''), 'b'.repeat(6000) + '!');
});

for (const variant of ['context takeover', 'no context takeover'] as const) {
  test(`permessage-deflate (${variant}): messages recorded decompressed, forwarded compressed, modified ones re-compressed`, async (t) => {
    const rec = recorder();
    const modifier: Addon = {
      name: 'modifier',
      websocket_message(f: HTTPFlow) {
        const m = f.websocket!.messages.at(-1)!;
        if (m.fromClient && m.text === 'modify me') m.text = 'modified: ' + 'z'.repeat(500);
      },
    };
    const noTakeover = variant === 'no context takeover';
    const received: string[] = [];
    const up = await server(t, {
      ws: { perMessageDeflate: { threshold: 0, serverNoContextTakeover: noTakeover, clientNoContextTakeover: noTakeover } },
      onConnection(sws) {
        sws.on('message', (data, isBinary) => {
          received.push(String(data));
          sws.send(data, { binary: isBinary });
        });
      },
    });
    const proxy = await testProxy(t, { addons: [rec.addon, modifier] });
    const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: { threshold: 0 } });
    closeClient(t, ws);
    assert.equal(ws.extensions, 'permessage-deflate', 'the client negotiated compression');
    assert.equal(up.clients[0]!.extensions, 'permessage-deflate', 'so did the server');
    const agreed = (await rec.started).response!.headers.get('sec-websocket-extensions') ?? '';
    if (noTakeover) assert.match(agreed, /server_no_context_takeover.*client_no_context_takeover|client_no_context_takeover.*server_no_context_takeover/);
    else assert.doesNotMatch(agreed, /no_context_takeover/);

    const text = 'the same long text again and again, '.repeat(20);
    const sent = [text, text, 'modify me', text, '', Buffer.alloc(3000, 7).toString('latin1')];
    const echoes: string[] = [];
    for (const m of sent) {
      ws.send(m);
      echoes.push((await nextMessage(ws))[0].toString('latin1'));
    }
    const expected = sent.map((m) => (m === 'modify me' ? 'modified: ' + 'z'.repeat(500) : m));
    assert.deepEqual(received, expected.map((m) => Buffer.from(m, 'latin1').toString()), 'the server got every message, the modified one changed');
    assert.deepEqual(echoes, expected);

    const flow = rec.flow!;
    const contents = flow.websocket!.messages.map((m) => m.content.toString('latin1'));
    assert.deepEqual(contents.filter((_, i) => i % 2 === 1), expected, 'server messages recorded as plain content');
    assert.equal(contents[0], text, 'client messages recorded as plain content');
    const closed = closeOf(ws);
    ws.close(1000);
    assert.equal((await closed).code, 1000);
    await rec.ended;
  });
}

test('permessage-deflate on the wire: forwarded messages are compressed (RSV1) with the negotiated window, injected ones are not', async (t) => {
  const up = await rawServer(t, 'permessage-deflate; client_max_window_bits=10');
  const rewrite: Addon = {
    name: 'rewrite',
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      if (m.text === 'second') m.text = 'second, rewritten by an addon';
    },
  };
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon, rewrite] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: { threshold: 0 } });
  closeClient(t, ws);
  const peer = await up.nextPeer();
  // The server side of the test inflates with a 10-bit window: a proxy compressing with a
  // bigger window than negotiated would produce distances it cannot resolve.
  const inflater = zlib.createInflateRaw({ windowBits: 10 });
  t.after(() => inflater.close());
  const inflated: Buffer[] = [];
  inflater.on('data', (c: Buffer) => inflated.push(c));
  const inflate = async (payload: Buffer): Promise<string> => {
    inflated.length = 0;
    inflater.write(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]));
    await new Promise<void>((r) => inflater.flush(() => r()));
    return Buffer.concat(inflated).toString();
  };
  // Incompressible on its own, so the repeat can only shrink through a back-reference, which a
  // 10-bit window limits to 1024 bytes back.
  const long = randomBytes(1500).toString('base64');
  const sizes: number[] = [];
  for (const text of [long, 'second', long, long.slice(0, 500) + long.slice(0, 500)]) {
    ws.send(text);
    const f = await readFrame(peer, true);
    assert.equal(f.rsv1, true, 'compressed');
    sizes.push(f.payload.length);
    assert.equal(await inflate(f.payload), text === 'second' ? 'second, rewritten by an addon' : text);
  }
  assert.ok(sizes[3]! < 700, `within the window, repeats shrink (${sizes.join(', ')})`);
  // Server to client: compressed by the server (sync deflate of one message), plain in the flow.
  const serverDeflate = zlib.deflateRawSync(Buffer.from('from the server'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const toClient = nextMessage(ws);
  peer.socket.write(Buffer.concat(encodeFrame(Opcode.TEXT, serverDeflate, { fin: true, rsv1: true, mask: false })));
  assert.equal(String((await toClient)[0]), 'from the server');
  assert.equal(rec.flow!.websocket!.messages.at(-1)!.text, 'from the server');

  await proxy.master.commands.call('inject.websocket', rec.flow!, false, Buffer.from('injected'), true);
  const injected = await readFrame(peer, true);
  assert.deepEqual([injected.rsv1, injected.text], [false, 'injected']);
});

test('compressed messages with read-only hooks are recorded without an object each, and echo intact', async (t) => {
  let flow: HTTPFlow | null = null;
  let seen = 0;
  const observer: Addon = {
    name: 'counting-observer',
    readsOnly: () => true,
    websocket_start: (f: HTTPFlow) => void (flow = f),
    websocket_message: (f: HTTPFlow) => void (seen = f.websocket!.messageCount),
  };
  const up = await server(t, { ws: { perMessageDeflate: { threshold: 0 } } });
  const proxy = await testProxy(t, { addons: [observer] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: { threshold: 0 } });
  closeClient(t, ws);
  assert.match(String(ws.extensions), /permessage-deflate/);
  const sent = Array.from({ length: 50 }, (_, i) => (i % 2 ? randomBytes(100 + i * 50) : Buffer.from(`text ${i} `.repeat(i + 1))));
  for (const [i, b] of sent.entries()) {
    const echo = nextMessage(ws);
    ws.send(b, { binary: i % 2 === 1 });
    assert.ok((await echo)[0].equals(b), `message ${i} comes back intact`);
  }
  const data = flow!.websocket!;
  assert.equal(data.messageCount, 100);
  assert.equal(seen, 100, 'every message went through the hook');
  assert.notEqual(data.messageAt(0), data.messageAt(0), 'recorded in the log, not as objects');
  const fromClient = data.messages.filter((m) => m.fromClient);
  assert.deepEqual(
    fromClient.map((m) => m.content.toString('hex')),
    sent.map((b) => b.toString('hex')),
    'recorded decompressed',
  );
  assert.deepEqual(
    fromClient.map((m) => m.type),
    sent.map((_, i) => (i % 2 ? Opcode.BINARY : Opcode.TEXT)),
  );
});

test('an addon can modify and drop messages in both directions', async (t) => {
  const rec = recorder();
  const got: string[] = [];
  const up = await server(t, {
    onConnection(sws) {
      sws.on('message', (data) => {
        got.push(String(data));
        sws.send(`echo ${String(data)}`);
        if (String(data) === 'plain') sws.send('secret');
      });
    },
  });
  const editor: Addon = {
    name: 'editor',
    websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1)!;
      if (m.text === 'drop me') m.drop();
      else if (m.text === 'modify me') m.text = 'modified and longer';
      else if (m.text === 'secret') m.content = Buffer.from('redacted');
      else if (m.text === 'echo plain') m.dropped = true;
    },
  };
  const proxy = await testProxy(t, { addons: [editor, rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  ws.send('drop me');
  ws.send('modify me');
  assert.equal(String((await nextMessage(ws))[0]), 'echo modified and longer');
  ws.send('plain');
  assert.equal(String((await nextMessage(ws))[0]), 'redacted', "the server's echo of 'plain' was dropped, 'secret' rewritten");
  assert.deepEqual(got, ['modified and longer', 'plain']);
  const closed = closeOf(ws);
  ws.close();
  assert.deepEqual(await closed, { code: 1005, reason: '' });
  const flow = await rec.ended;
  assert.deepEqual(
    flow.websocket!.messages.map((m) => [m.fromClient, m.text, m.dropped]),
    [
      [true, 'drop me', true],
      [true, 'modified and longer', false],
      [false, 'echo modified and longer', false],
      [true, 'plain', false],
      [false, 'echo plain', true],
      [false, 'redacted', false],
    ],
  );
  assert.equal(flow.websocket!.closeCode, 1005, 'a close without a code is recorded as 1005');
  assert.equal(flow.websocket!.closeReason, '');
});

test('inject.websocket sends messages to either side; they go through websocket_message and are recorded as injected', async (t) => {
  const rec = recorder();
  const got: Array<[string, boolean]> = [];
  const up = await server(t, { onConnection: (sws) => sws.on('message', (d, isBinary) => got.push([Buffer.from(d as Buffer).toString('hex'), isBinary])) });
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  const flow = await rec.started;

  const toClient = nextMessage(ws);
  await proxy.master.commands.call('inject.websocket', flow, true, Buffer.from('hello client'), true);
  assert.deepEqual(await toClient, [Buffer.from('hello client'), false]);
  await proxy.master.commands.call('inject.websocket', flow, false, Buffer.from([1, 2, 3]), false);
  for (let i = 0; i < 100 && got.length < 1; i++) await sleep(20);
  assert.deepEqual(got, [['010203', true]]);
  const injected = flow.websocket!.messages.filter((m) => m.injected);
  assert.deepEqual(
    injected.map((m) => [m.fromClient, m.type, m.content.toString('hex')]),
    [
      [false, Opcode.TEXT, Buffer.from('hello client').toString('hex')],
      [true, Opcode.BINARY, '010203'],
    ],
  );
  assert.ok(rec.events.includes('websocket_message <- text hello client'), 'injected messages fire websocket_message');

  const closed = closeOf(ws);
  ws.close(1000, 'done');
  await closed;
  await rec.ended;
  await proxy.master.commands.call('inject.websocket', flow, true, Buffer.from('too late'), true);
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === 'Flow is not from a live connection.'));
  const plain = new HTTPFlow();
  await proxy.master.commands.call('inject.websocket', plain, true, Buffer.from('x'));
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === 'Cannot inject WebSocket messages into non-WebSocket flows.'));
});

test('a server that vanishes without a close frame: 1006 recorded, the client gets a normal close', async (t) => {
  const rec = recorder();
  const up = await server(t, { onConnection: (sws) => sws.on('message', () => sws.terminate()) });
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  const closed = closeOf(ws);
  ws.send('bye');
  assert.equal((await closed).code, 1000);
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closeCode, 1006);
  assert.equal(flow.websocket!.closedByClient, false);
  assert.equal(flow.websocket!.closeReason, null);
  assert.equal(flow.error, null, 'like mitmproxy, the close code tells what happened; the flow has no error');
  assert.ok(proxy.logs.some((e) => /WebSocket connection closed abnormally: the server disconnected/.test(e.message)));
});

test('frames that arrive together with the handshake (pipelined by the client, in the 101 packet from the server) are relayed', async (t) => {
  const up = await rawServer(t, undefined, frame(Opcode.TEXT, 'server spoke first'));
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const { peer, response } = await rawWsClientViaProxy(proxy.port, up.port, { pipelined: frame(Opcode.TEXT, 'client spoke early', true, true) });
  t.after(() => peer.socket.destroy());
  assert.match(response, /^HTTP\/1\.1 101 /);
  const fromServer = await readFrame(peer, false);
  assert.deepEqual([fromServer.opcode, fromServer.text, fromServer.maskKey], [Opcode.TEXT, 'server spoke first', null]);
  const server = await up.nextPeer();
  const fromClient = await readFrame(server, true);
  assert.deepEqual([fromClient.opcode, fromClient.text], [Opcode.TEXT, 'client spoke early']);
  peer.socket.write(frame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]), true, true));
  await rec.ended;
  assert.deepEqual(rec.flow!.websocket!.messages.map((m) => [m.fromClient, m.text]).sort(), [
    [false, 'server spoke first'],
    [true, 'client spoke early'],
  ]);
});

test('an addon can inject a message from websocket_start (a greeting before anything else)', async (t) => {
  const greeter: Addon = {
    name: 'greeter',
    websocket_start(f: HTTPFlow) {
      injectWebSocketMessage(f, true, Buffer.from('welcome'), true);
    },
  };
  const up = await server(t);
  const proxy = await testProxy(t, { addons: [greeter] });
  const raw = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => raw.peer.socket.destroy());
  const first = await readFrame(raw.peer, false);
  assert.deepEqual([first.opcode, first.text], [Opcode.TEXT, 'welcome']);
});

test('text an addon made invalid UTF-8 is sent with replacement characters; unknown extensions are logged and ignored', async (t) => {
  const up = await rawServer(t, 'x-unknown-ext; param=1');
  const breaker: Addon = {
    name: 'breaker',
    websocket_message(f: HTTPFlow) {
      f.websocket!.messages.at(-1)!.content = Buffer.from([0x61, 0xff, 0x62]);
    },
  };
  const proxy = await testProxy(t, { addons: [breaker] });
  const { peer } = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => peer.socket.destroy());
  peer.socket.write(frame(Opcode.TEXT, 'valid', true, true));
  const server = await up.nextPeer();
  const got = await readFrame(server, true);
  assert.deepEqual(got.payload, Buffer.from('a\ufffdb'));
  assert.ok(proxy.logs.some((e) => e.message === "Ignoring unknown WebSocket extension 'x-unknown-ext'."));
});

test('a message in the same chunk as a bad frame still goes out before the 1002 close', async (t) => {
  const rec = recorder();
  const up = await rawServer(t);
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const { peer } = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => peer.socket.destroy());
  const server = await up.nextPeer();
  peer.socket.write(Buffer.concat([frame(Opcode.TEXT, 'last words', true, true), frame(0x3, '', true, true)]));
  const first = await readFrame(server, true);
  assert.equal(first.opcode, Opcode.TEXT);
  assert.equal(first.text, 'last words');
  const close = await readFrame(server, true);
  assert.deepEqual(parseClosePayload(close.payload), { code: 1002, reason: 'Invalid opcode 0x3' });
  const flow = await rec.ended;
  assert.deepEqual(
    flow.websocket!.messages.map((m) => m.text),
    ['last words'],
  );
});

test('a message held by an async addon goes out before a protocol error from the other side ends the conversation', async (t) => {
  let started!: () => void;
  const inHook = new Promise<void>((r) => (started = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const holder: Addon = {
    name: 'holder',
    async websocket_message(f: HTTPFlow) {
      if (f.websocket!.messages.at(-1)!.fromClient) return;
      started();
      await gate;
    },
  };
  const up = await rawServer(t);
  const proxy = await testProxy(t, { addons: [holder] });
  const { peer } = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => peer.socket.destroy());
  const server = await up.nextPeer();
  server.socket.write(frame(Opcode.TEXT, 'held'));
  await inHook;
  // The client breaks the protocol (an unmasked frame) while the server's message is in its hook.
  peer.socket.write(frame(Opcode.TEXT, 'not masked', true, false));
  await sleep(300);
  release();
  const first = await readFrame(peer, false);
  assert.equal(first.opcode, Opcode.TEXT, 'the held message first');
  assert.equal(first.text, 'held');
  const close = await readFrame(peer, false);
  assert.deepEqual(parseClosePayload(close.payload), { code: 1002, reason: 'server received unexpected unmasked frame' });
});

test('a client breaking the protocol: both sides get a 1002 close with the reason, and the flow records it', async (t) => {
  const rec = recorder();
  let serverClose: Promise<{ code: number; reason: string }> | null = null;
  const up = await server(t, { onConnection: (sws) => (serverClose = closeOf(sws)) });
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const { peer, response } = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => peer.socket.destroy());
  assert.match(response, /^HTTP\/1\.1 101 /);
  peer.socket.write(frame(Opcode.TEXT, 'not masked', true, false));
  const close = await readFrame(peer, false);
  assert.equal(close.opcode, Opcode.CLOSE);
  assert.deepEqual(parseClosePayload(close.payload), { code: 1002, reason: 'server received unexpected unmasked frame' });
  for (let i = 0; i < 100 && !serverClose; i++) await sleep(20);
  assert.deepEqual(await serverClose, { code: 1002, reason: 'server received unexpected unmasked frame' });
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closeCode, 1002);
  assert.equal(flow.websocket!.closedByClient, true);
  assert.equal(flow.websocket!.closeReason, 'server received unexpected unmasked frame');
  assert.deepEqual(flow.websocket!.messages, []);
});

test('a text message that is not UTF-8 closes with 1007; a message over the size limit with 1009', async (t) => {
  const up = await rawServer(t);
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const port = up.port;

  const ws = await wsClientViaProxy(proxy.port, { port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const closed = closeOf(ws);
  const peer = await up.nextPeer();
  peer.socket.write(frame(Opcode.TEXT, Buffer.from([0x68, 0xff, 0x69])));
  assert.equal((await closed).code, 1007);
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closeCode, 1007);
  assert.equal(flow.websocket!.closedByClient, false);
  const toServer = await readFrame(peer, true);
  assert.deepEqual(parseClosePayload(toServer.payload), { code: 1007, reason: 'Invalid UTF-8 in text message' });

  const saved = websocketLimits.maxMessageSize;
  websocketLimits.maxMessageSize = 1000;
  t.after(() => (websocketLimits.maxMessageSize = saved));
  const rec2 = recorder();
  proxy.master.addons.add(rec2.addon);
  const ws2 = await wsClientViaProxy(proxy.port, { port }, { perMessageDeflate: false });
  closeClient(t, ws2);
  const closed2 = closeOf(ws2);
  ws2.send(Buffer.alloc(600), { fin: false });
  ws2.send(Buffer.alloc(600), { fin: true });
  const c2 = await closed2;
  assert.equal(c2.code, 1009);
  assert.match(c2.reason, /^Message too big/);
  const flow2 = await rec2.ended;
  assert.equal(flow2.websocket!.closeCode, 1009);
  assert.deepEqual(flow2.websocket!.messages, []);
});

test('a decompression bomb closes with 1009 once the conversation inflates past its ratio; ordinary compressed traffic does not', async (t) => {
  const saved = { ...websocketLimits };
  Object.assign(websocketLimits, { maxMessageSize: 100_000, maxInflationRatio: 100 });
  t.after(() => Object.assign(websocketLimits, saved));
  const received: number[] = [];
  const up = await server(t, {
    ws: { perMessageDeflate: { threshold: 0 } },
    onConnection: (sws) => sws.on('message', (data: Buffer) => void received.push(data.length)),
  });
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [rec.addon] });

  // Text that compresses a few times, as JSON does: 400 KB in all, four times the floor, goes through.
  const ordinary = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: { threshold: 0 } });
  closeClient(t, ordinary);
  const words = Array.from({ length: 4000 }, (_, i) => `{"id":${i},"v":"${(i * 7919).toString(36)}"}`).join(',');
  for (let i = 0; i < 10; i++) ordinary.send(words.slice(0, 40_000));
  for (let i = 0; i < 100 && received.length < 10; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(received.length, 10, 'ordinary messages arrive');
  assert.equal(ordinary.readyState, ordinary.OPEN);

  // Zeros compress a thousandfold: the second message passes the floor at ~1000x, and the connection closes.
  const bomb = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: { threshold: 0 } });
  closeClient(t, bomb);
  const closed = closeOf(bomb);
  for (let i = 0; i < 5; i++) bomb.send(Buffer.alloc(90_000));
  const c = await closed;
  assert.equal(c.code, 1009);
  assert.match(c.reason, /^Message too big: \d+ bytes decompressed from \d+/);
});

test('the websocket option off: no WebSocket data, the upgraded connection is relayed as a TCP flow', async (t) => {
  const rec = recorder();
  const tcpMessages: number[] = [];
  const tcp: Addon = { name: 'tcp', tcp_message: (f: TCPFlow) => void tcpMessages.push(f.messages.length) };
  const up = await server(t);
  const proxy = await testProxy(t, { addons: [rec.addon, tcp], options: { websocket: false } });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  ws.send('still works');
  assert.deepEqual(await nextMessage(ws), [Buffer.from('still works'), false]);
  const closed = closeOf(ws);
  ws.close(1000, 'x');
  assert.deepEqual(await closed, { code: 1000, reason: 'x' });
  assert.deepEqual(rec.events, ['response websocket=false']);
  assert.ok(tcpMessages.length >= 2, 'the bytes went through tcp_message');
});

test('websocket and rawtcp both off: the upgrade is refused with mitmproxy\'s warning', async (t) => {
  const up = await server(t);
  const proxy = await testProxy(t, { options: { websocket: false, rawtcp: false } });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  assert.equal((await closeOf(ws)).code, 1006);
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message === 'Sent HTTP 101 response, but no protocol is enabled to upgrade to.'));
});

test('an addon can intercept a message; it is forwarded, in order, after resume', async (t) => {
  let held: HTTPFlow | null = null;
  const interceptor: Addon = {
    name: 'interceptor',
    websocket_message(f: HTTPFlow) {
      if (f.websocket!.messages.at(-1)!.text === 'hold') {
        f.intercept();
        held = f;
      }
    },
  };
  const got: string[] = [];
  const up = await server(t, { onConnection: (sws) => sws.on('message', (d) => got.push(String(d))) });
  const proxy = await testProxy(t, { addons: [interceptor] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  ws.send('hold');
  ws.send('after');
  for (let i = 0; i < 100 && !held; i++) await sleep(20);
  await sleep(100);
  assert.deepEqual(got, [], 'nothing passes an intercepted message');
  held!.resume();
  for (let i = 0; i < 100 && got.length < 2; i++) await sleep(20);
  assert.deepEqual(got, ['hold', 'after']);
});

test('message hooks run one at a time per connection: messages[-1] stays the hook\'s message across awaits', async (t) => {
  const stable: boolean[] = [];
  const slow: Addon = {
    name: 'slow',
    async websocket_message(f: HTTPFlow) {
      const m = f.websocket!.messages.at(-1);
      await sleep(50);
      stable.push(m === f.websocket!.messages.at(-1));
    },
  };
  const up = await server(t, { onConnection: (sws) => sws.send('from server at once') });
  const proxy = await testProxy(t, { addons: [slow] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  const first = nextMessage(ws);
  ws.send('from client at once');
  await first;
  for (let i = 0; i < 100 && stable.length < 2; i++) await sleep(20);
  assert.deepEqual(stable, [true, true]);
});

test('a close from one side waits for a message of the other side that is intercepted; that message goes first', async (t) => {
  const up = await rawServer(t);
  let held: HTTPFlow | null = null;
  const interceptor: Addon = {
    name: 'interceptor',
    websocket_message(f: HTTPFlow) {
      f.intercept();
      held = f;
    },
  };
  const rec = recorder();
  const proxy = await testProxy(t, { addons: [interceptor, rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const peer = await up.nextPeer();
  const clientClosed = closeOf(ws);
  ws.send('hold');
  for (let i = 0; i < 100 && !held; i++) await sleep(20);
  peer.socket.write(frame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
  await sleep(100);
  held!.resume();
  const first = await readFrame(peer, true);
  const second = await readFrame(peer, true);
  assert.deepEqual([first.opcode, first.text], [Opcode.TEXT, 'hold']);
  assert.deepEqual([second.opcode, second.payload], [Opcode.CLOSE, Buffer.from([0x03, 0xe8])], 'then the close answer');
  assert.equal((await clientClosed).code, 1000);
  const flow = await rec.ended;
  assert.equal(flow.websocket!.closedByClient, false);
});

test('backpressure: a server that stops reading stops the proxy reading the client; everything arrives once it reads again', async (t) => {
  const up = await rawServer(t);
  const proxy = await testProxy(t);
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const peer = await up.nextPeer();
  peer.socket.pause();
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const count = 48;
  for (let i = 0; i < count; i++) ws.send(chunk);
  await sleep(500);
  const buffered = ws.bufferedAmount;
  // Kernel buffers on both hops absorb a few MiB; the rest must still be waiting in the client.
  assert.ok(buffered > 8 << 20, `the client still holds ${buffered} bytes`);
  peer.socket.resume();
  let total = 0;
  for (let i = 0; i < count; i++) total += (await readFrame(peer, true)).payload.length;
  assert.equal(total, count << 20);
});

test('killing the flow drops both connections; websocket_end still runs, once, so the flow is saved and let go', async (t) => {
  const rec = recorder();
  const killer: Addon = {
    name: 'killer',
    websocket_message(f: HTTPFlow) {
      if (f.websocket!.messages.at(-1)!.text === 'kill') f.kill();
    },
  };
  let serverClosed: Promise<{ code: number; reason: string }> | null = null;
  const up = await server(t, { onConnection: (sws) => (serverClosed = closeOf(sws)) });
  const proxy = await testProxy(t, { addons: [rec.addon, killer] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  const closed = closeOf(ws);
  ws.send('kill');
  assert.equal((await closed).code, 1006);
  for (let i = 0; i < 100 && !serverClosed; i++) await sleep(20);
  assert.equal((await serverClosed!).code, 1006);
  const ended = await rec.ended;
  await sleep(100);
  assert.equal(rec.events.filter((e) => e === 'websocket_end').length, 1, rec.events.join('\n'));
  assert.ok(!rec.events.includes('error'), 'a killed WebSocket flow gets websocket_end, not error');
  assert.equal(ended.error?.msg, 'Connection killed.');
  assert.equal(ended.live, false);
  assert.ok(ended.websocket!.timestampEnd, 'the end of the conversation is stamped');
});

test('a WebSocket flow survives a flow file round trip', async (t) => {
  const rec = recorder();
  const up = await server(t);
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  ws.send('text ✓');
  await nextMessage(ws);
  ws.send(Buffer.from([0, 255]));
  await nextMessage(ws);
  const closed = closeOf(ws);
  ws.close(4002, 'reason ✓');
  await closed;
  const flow = await rec.ended;
  const [back] = (await readFlows(encodeFlow(flow))) as HTTPFlow[];
  assert.ok(back instanceof HTTPFlow);
  assert.deepEqual(back.websocket!.getState(), flow.websocket!.getState());
  assert.equal(back.websocket!.messages[0]!.text, 'text ✓');
  assert.equal(back.websocket!.closeCode, 4002);
  assert.equal(back.websocket!.closeReason, 'reason ✓');
  assert.equal(back.response!.statusCode, 101);
});

test('a live WebSocket flow reverted (mitmweb\'s Revert, the flow.revert command) goes on recording its conversation', async (t) => {
  const rec = recorder();
  const up = await server(t);
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port });
  closeClient(t, ws);
  ws.send('before');
  await nextMessage(ws);
  const flow = await rec.started;
  flow.backup();
  flow.request.headers.set('x-edited', '1');
  flow.revert();
  assert.equal(flow.request.headers.get('x-edited'), undefined);
  ws.send('after');
  await nextMessage(ws);
  const closed = closeOf(ws);
  ws.close(4003, 'done');
  await closed;
  const ended = await rec.ended;
  assert.equal(ended, flow);
  assert.deepEqual(
    flow.websocket!.messages.map((m) => `${m.fromClient ? '->' : '<-'} ${m.text}`),
    ['-> before', '<- before', '-> after', '<- after'],
  );
  assert.equal(flow.websocket!.closeCode, 4003);
  assert.equal(flow.websocket!.closeReason, 'done');
});

for (const readsOnly of [true, false]) {
  test(`a message waits for its websocket_message hook ${readsOnly ? 'only when a handler may change it: with read-only handlers it goes out first' : 'when a handler may change it'}; hooks stay in order`, async (t) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    t.after(() => release());
    const hooked: string[] = [];
    const observer: Addon = {
      name: 'slow-observer',
      readsOnly: () => readsOnly,
      async websocket_message(f: HTTPFlow) {
        const m = f.websocket!.messages.at(-1)!;
        if (!m.fromClient) return;
        hooked.push(m.text);
        if (m.text === 'first') await released;
      },
    };
    const got: string[] = [];
    const up = await server(t, { onConnection: (sws) => sws.on('message', (d) => got.push(String(d))) });
    const proxy = await testProxy(t, { addons: [observer] });
    const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
    closeClient(t, ws);
    ws.send('first');
    for (let i = 0; i < 100 && hooked.length < 1; i++) await sleep(20);
    ws.send('second');
    await sleep(300);
    assert.deepEqual(hooked, ['first'], 'the second message waits for the first one\'s hook');
    assert.deepEqual(got, readsOnly ? ['first'] : [], readsOnly ? 'the server has the first message while its hook runs' : 'nothing passes before its hook');
    release();
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(20);
    assert.deepEqual(got, ['first', 'second']);
    assert.deepEqual(hooked, ['first', 'second']);
  });
}

test('with read-only hooks a text message that is not UTF-8 is still refused with 1007, not forwarded', async (t) => {
  const up = await rawServer(t);
  const observer: Addon = { name: 'observer', readsOnly: () => true, websocket_message: () => undefined };
  const proxy = await testProxy(t, { addons: [observer] });
  const { peer: client } = await rawWsClientViaProxy(proxy.port, up.port);
  t.after(() => client.socket.destroy());
  const server = await up.nextPeer();
  client.socket.write(frame(Opcode.TEXT, Buffer.from([0x68, 0xff, 0x69]), true, true));
  const toServer = await readFrame(server, true);
  assert.equal(toServer.opcode, Opcode.CLOSE, 'the server gets the close, not the invalid message');
  assert.deepEqual(parseClosePayload(toServer.payload), { code: 1007, reason: 'Invalid UTF-8 in text message' });
});

test('recorded messages share slabs and need no object each: hundreds of small messages hold a few buffers, and read back exactly', async (t) => {
  let flow: HTTPFlow | null = null;
  const observer: Addon = { name: 'flow-keeper', readsOnly: () => true, websocket_start: (f: HTTPFlow) => void (flow = f) };
  const up = await server(t, { onConnection: (sws) => sws.on('message', (d, isBinary) => sws.send(d, { binary: isBinary })) });
  const proxy = await testProxy(t, { addons: [observer] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  closeClient(t, ws);
  const sent = Array.from({ length: 400 }, (_, i) => randomBytes(1 + ((i * 37) % 3000)));
  sent.push(randomBytes(20_000)); // bigger than a slab takes: kept as it came
  let echoed = 0;
  const allEchoed = new Promise<void>((resolve) => ws.on('message', () => ++echoed === sent.length && resolve()));
  for (const b of sent) ws.send(b);
  await allEchoed;
  // With read-only hooks the relay records into the flow's message log: no object per message
  // until someone reads `messages` (each messageAt is a new look at the log).
  const ws2 = flow!.websocket!;
  assert.equal(ws2.messageCount, 2 * sent.length);
  assert.notEqual(ws2.messageAt(0), ws2.messageAt(0));
  assert.ok(ws2.messageAt(ws2.messageCount - 1)!.content.equals(sent.at(-1)!));
  const messages = ws2.messages;
  assert.equal(messages.length, 2 * sent.length);
  assert.equal(ws2.messageAt(0), messages[0], 'read once, the messages are objects from then on');
  const buffers = new Set<ArrayBufferLike>();
  for (const fromClient of [true, false]) {
    const side = messages.filter((m) => m.fromClient === fromClient);
    assert.equal(side.length, sent.length);
    side.forEach((m, i) => {
      assert.ok(m.content.equals(sent[i]!), `message ${i} (${fromClient ? 'client' : 'server'}) reads back as sent`);
      assert.equal(m.contentLength, sent[i]!.length);
      if (m.contentLength <= 4096) buffers.add(m.content.buffer);
    });
  }
  // 800 small messages of 1.5 kB on average: about 19 slabs of 64 KiB, where each used to hold its own socket chunk.
  assert.ok(buffers.size < 30, `${buffers.size} buffers behind 800 small messages`);
  const [m, other] = messages.filter((x) => x.content.equals(sent[5]!));
  m!.content[0] = m!.content[0]! ^ 0xff;
  assert.equal(m!.content[0], sent[5]![0]! ^ 0xff, 'an edit in place is kept');
  assert.ok(other!.content.equals(sent[5]!), 'and touches no other message');
  m!.content = Buffer.from('replaced');
  assert.equal(m!.text, 'replaced');
  assert.equal(m!.contentLength, 8);
  assert.deepEqual(messages.find((x) => x.contentLength === sent[6]!.length)!.getState()[2], sent[6], 'the saved state has the bytes');
});
