import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { ConnectionHooks } from './connection-hooks.js';
import type { HTTPFlow } from '../http.js';
import { pyBytesRepr, pyStrRepr } from '../io/pyrepr.js';
import { now } from '../util/time.js';
import { Opcode, WebSocketMessage, type WebSocketData } from '../websocket.js';
import { payloadToKeep } from '../websocket-message-log.js';
import type { ConnectionContext } from './context.js';
import { describeNetworkError } from './error-page.js';
import type { SocketReader } from './socket-reader.js';
import { waitForDrain } from './wait-for-drain.js';
import {
  CloseCode,
  FrameParser,
  WebSocketProtocolError,
  closePayload,
  encodeFrame,
  isControlOpcode,
  parseClosePayload,
  type Frame,
} from './websocket/frame.js';
import { MessageDeflater, MessageInflater, parseNegotiatedExtensions, type DeflateParams } from './websocket/permessage-deflate.js';
import { TaskQueue, type MaybePromise } from './websocket/task-queue.js';
import { addFragment, joinFragments, type FragmentedPayload } from './websocket/fragments.js';

/** One side of a WebSocket connection: the byte stream and the reader that owns its incoming bytes. */
export interface WebSocketPeer {
  socket: Duplex;
  reader: SocketReader;
}

/** Limits of the WebSocket relay. mitmproxy has none; an unbounded message could exhaust memory. */
export interface WebSocketLimits {
  /**
   * Largest message (after permessage-deflate decompression) the proxy accepts from either side,
   * in bytes. A bigger frame or message closes the connection with 1009 (message too big).
   */
  maxMessageSize: number;
  /**
   * How many times its compressed size a peer's conversation may grow by decompression, once
   * more than `maxMessageSize` has been decompressed in all. Every message is recorded, so a
   * peer sending zeros (compressed a thousandfold) would otherwise make the proxy hold gigabytes
   * for a few megabytes sent. Real traffic (JSON, text) compresses well under this.
   */
  maxInflationRatio: number;
}

/** The defaults; change them here to raise or lower the limits for every new connection. */
export const websocketLimits: WebSocketLimits = { maxMessageSize: 64 * 1024 * 1024, maxInflationRatio: 100 };

/**
 * Frame size for a forwarded message whose length changed (an addon modified it) and that came in
 * several frames: some servers refuse big frames, others refuse continuation frames, so a message
 * keeps its original framing when it can, one frame when it was one frame, and ~4 kB frames otherwise.
 */
const FRAGMENT_SIZE = 4000;

/** How long a closing connection may take to flush and close before it is destroyed. */
const CLOSE_TIMEOUT_MS = 5000;

/** The live relays, so `inject.websocket` can reach a flow's connection. */
const liveRelays = new WeakMap<HTTPFlow, WebSocketRelay>();

/**
 * Send a message into a live WebSocket flow, as the `inject.websocket` command does: it goes
 * through `websocket_message` (recorded with `injected = true`) and is then written to the
 * chosen side. Returns false when the flow has no live WebSocket connection.
 */
export function injectWebSocketMessage(flow: HTTPFlow, toClient: boolean, content: Buffer, isText: boolean): boolean {
  const relay = liveRelays.get(flow);
  return relay ? relay.inject(toClient, content, isText) : false;
}

/**
 * Relay a WebSocket connection after its 101 response: frames are parsed on both sides, messages
 * reassembled (and decompressed), recorded in `flow.websocket`, passed through `websocket_message`
 * and written to the other side (compressed and framed again); `websocket_start` and
 * `websocket_end` bracket the conversation (a killed one too). Resolves after `websocket_end`; by then
 * both sockets have been ended (closing frames flushed) or destroyed.
 */
export async function relayWebSocket(
  ctx: ConnectionContext,
  flow: HTTPFlow,
  client: WebSocketPeer,
  server: WebSocketPeer,
  limits: WebSocketLimits = websocketLimits,
): Promise<void> {
  await new WebSocketRelay(ctx, flow, client, server, limits).run();
}

/** A data message collected from frames (or injected), before it is recorded. */
/** A message as received: its payload (the wire payload, compressed when `compressed`) and how it was framed. */
interface IncomingMessage extends FragmentedPayload {
  opcode: number;
  /** permessage-deflate compressed (RSV1 on its first frame). */
  compressed: boolean;
  /** A message of one frame that arrived in one chunk: that frame as received (Frame.raw). */
  raw: Buffer | null;
}


/**
 * One direction of the relay: reading one peer, writing the other. Reading is event driven (the
 * socket's own 'data' events, no promise per chunk): frames are handled synchronously as long as
 * nothing needs to wait, and the source socket is paused while a message waits for a hook, zlib,
 * its turn, or a full send buffer on the other side, which is the backpressure.
 */
class Direction {
  readonly parser: FrameParser;
  /** The message whose frames are being collected. */
  pending: IncomingMessage | null = null;
  /** Parsed frames not handled yet (they pile up only while `blocked`). */
  frames: Frame[] = [];
  frameIndex = 0;
  /** A frame is being handled asynchronously; the source is paused until it is done. */
  blocked = false;
  /** The source ended (null: cleanly, at EOF) once this is not undefined. */
  ended: Error | null | undefined = undefined;
  /**
   * The direction is over: its source broke the protocol or went away, and the end of the
   * conversation waits its turn in the relay's queue. Nothing more is read from it.
   */
  endQueued = false;
  readonly maxMessageSize: number;
  private readonly maxInflationRatio: number;
  listeners: { data: (b: Buffer) => void; end: () => void; error: (e: Error) => void } | null = null;
  private inflater: MessageInflater | null = null;
  private deflater: MessageDeflater | null = null;

  constructor(
    readonly fromClient: boolean,
    readonly src: WebSocketPeer,
    readonly dst: WebSocketPeer,
    private readonly deflate: DeflateParams | null,
    limits: WebSocketLimits,
  ) {
    this.maxMessageSize = limits.maxMessageSize;
    this.maxInflationRatio = limits.maxInflationRatio;
    this.parser = new FrameParser({ fromClient, allowRsv1: deflate !== null, maxPayload: limits.maxMessageSize });
  }

  get label(): string {
    return this.fromClient ? 'client' : 'server';
  }

  /** Frames we write to a server are masked (we are its client); frames to a client are not. */
  get maskOutgoing(): boolean {
    return this.fromClient;
  }

  inflate(payload: Buffer): Promise<Buffer> {
    this.inflater ??= new MessageInflater(this.maxMessageSize, this.maxInflationRatio);
    return this.inflater.inflate(payload);
  }

  /** Compress for the receiving peer with the parameters it agreed to (its own side of the negotiation). */
  deflateFor(content: Buffer): Promise<Buffer> {
    const d = this.deflate!;
    // Towards the server we are the client, so the client_* parameters govern what we send.
    this.deflater ??= this.fromClient
      ? new MessageDeflater(d.clientMaxWindowBits, d.clientNoContextTakeover)
      : new MessageDeflater(d.serverMaxWindowBits, d.serverNoContextTakeover);
    return this.deflater.deflate(content);
  }

  closeZlib(): void {
    this.inflater?.close();
    this.deflater?.close();
  }
}

function needsDrain(socket: Duplex): boolean {
  return socket.writableNeedDrain && !socket.destroyed;
}

class WebSocketRelay {
  private readonly ws: WebSocketData;
  private readonly c2s: Direction;
  private readonly s2c: Direction;
  private readonly deflate: DeflateParams | null;
  private readonly hooks: ConnectionHooks;
  /**
   * Messages and close frames of both directions, read or injected, are handled one at a time in
   * arrival order (as mitmproxy does per connection): `messages[-1]` is the hook's message for the
   * whole hook, even for async addons, and a close waits for a message still in its hook.
   */
  private readonly queue = new TaskQueue();
  /** Set once a close frame, an error or a kill ended the conversation; nothing more is forwarded. */
  private closing = false;
  private stop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.stop = resolve));

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly flow: HTTPFlow,
    private readonly client: WebSocketPeer,
    private readonly server: WebSocketPeer,
    limits: WebSocketLimits,
  ) {
    this.ws = flow.websocket!;
    this.hooks = ctx.hooks;
    const ext = parseNegotiatedExtensions(flow.response?.headers.get('sec-websocket-extensions'));
    for (const name of ext.unknown) this.log(`Ignoring unknown WebSocket extension ${pyStrRepr(name)}.`);
    this.deflate = ext.deflate;
    this.c2s = new Direction(true, client, server, this.deflate, limits);
    this.s2c = new Direction(false, server, client, this.deflate, limits);
  }

  private log(message: string): void {
    this.ctx.master.log.info(message, this.ctx.clientLabel);
  }

  async run(): Promise<void> {
    const flow = this.flow;
    liveRelays.set(flow, this);
    const unsubscribeKill = flow.onKill(() => this.abort());
    try {
      await this.hooks.triggerFlow('websocket_start', flow);
      if (!flow.killed && !this.closing) {
        this.attach(this.c2s);
        this.attach(this.s2c);
        await this.stopped;
      }
      // A message still in its hook (read or injected before the end) finishes first.
      await this.queue.run(() => undefined);
    } finally {
      liveRelays.delete(flow);
      unsubscribeKill();
      this.detach(this.c2s);
      this.detach(this.s2c);
      this.c2s.closeZlib();
      this.s2c.closeZlib();
    }
    // A killed conversation ends too: its sockets were dropped, and websocket_end still runs.
    if (flow.killed) this.ws.timestampEnd ??= now();
    await this.hooks.triggerFlow('websocket_end', flow);
    flow.live = false;
  }

  /** Take the source socket over from its SocketReader: its unread bytes first, then its events. */
  private attach(d: Direction): void {
    const socket = d.src.socket;
    const leftover = d.src.reader.detach();
    const listeners = {
      data: (chunk: Buffer) => this.receive(d, chunk),
      end: () => this.receiveEnd(d, null),
      error: (e: Error) => this.receiveEnd(d, e),
    };
    d.listeners = listeners;
    socket.on('data', listeners.data);
    socket.on('end', listeners.end);
    socket.on('close', listeners.end);
    socket.on('error', listeners.error);
    if (leftover.length) this.receive(d, leftover);
    if (socket.readableEnded || socket.destroyed) this.receiveEnd(d, null);
    else if (!d.blocked) socket.resume();
  }

  private detach(d: Direction): void {
    const l = d.listeners;
    if (!l) return;
    d.listeners = null;
    const socket = d.src.socket;
    socket.off('data', l.data);
    socket.off('end', l.end);
    socket.off('close', l.end);
    socket.off('error', l.error);
    // Read on (and discard) so the peer's FIN is seen and the socket can close.
    if (!socket.destroyed) socket.resume();
  }

  private receive(d: Direction, chunk: Buffer): void {
    if (this.closing || d.endQueued) return;
    let frames: Frame[];
    try {
      frames = d.parser.push(chunk);
    } catch (e) {
      this.fail(d, e);
      return;
    }
    if (frames.length === 0 && d.parser.error === null) return;
    if (d.frameIndex === d.frames.length) {
      d.frames = frames;
      d.frameIndex = 0;
    } else {
      for (const f of frames) d.frames.push(f);
    }
    this.drain(d);
  }

  private receiveEnd(d: Direction, err: Error | null): void {
    if (d.ended !== undefined) return;
    d.ended = err;
    this.drain(d);
  }

  /**
   * Handle queued frames until one has to wait; then pause the source until it is done. Once they
   * are all handled, a framing error or the end of the source ends the conversation.
   */
  private drain(d: Direction): void {
    while (!d.blocked && !this.closing && !d.endQueued && d.frameIndex < d.frames.length) {
      const f = d.frames[d.frameIndex++]!;
      let r: MaybePromise;
      try {
        r = this.onFrame(d, f);
      } catch (e) {
        this.fail(d, e);
        return;
      }
      // A receiver that does not keep up slows this direction's reading down.
      if (!r && needsDrain(d.dst.socket)) r = waitForDrain(d.dst.socket);
      if (r) {
        this.block(d, r);
        return;
      }
    }
    if (d.blocked || d.frameIndex < d.frames.length) return;
    if (d.parser.error !== null) this.fail(d, d.parser.error);
    else if (d.ended !== undefined) this.finish(d, () => this.peerGone(d, d.ended));
  }

  /** Pause reading `d` until `r` settles (and the other side has drained), then go on. */
  private block(d: Direction, r: Promise<void>): void {
    d.blocked = true;
    d.src.socket.pause();
    r.then(
      () => {
        if (!this.closing && needsDrain(d.dst.socket)) {
          this.block(d, waitForDrain(d.dst.socket));
          return;
        }
        d.blocked = false;
        if (this.closing) return;
        if (d.ended === undefined) d.src.socket.resume();
        this.drain(d);
      },
      (e: unknown) => {
        d.blocked = false;
        this.fail(d, e);
      },
    );
  }

  private fail(d: Direction, e: unknown): void {
    if (e instanceof WebSocketProtocolError) {
      this.finish(d, () => this.protocolError(d, e));
      return;
    }
    // Not the peer's fault: a bug. Report it loudly, close both sides as an internal error.
    this.ctx.master.log.error(`WebSocket relay error: ${(e as Error)?.stack ?? String(e)}`, this.ctx.clientLabel);
    this.finish(d, () => this.protocolError(d, new WebSocketProtocolError('Internal proxy error', CloseCode.INTERNAL_ERROR)));
  }

  /**
   * End the conversation because of `d` (a protocol error, its peer gone), in turn: a message
   * of either direction still in its hook goes out first, as mitmproxy handles a connection's
   * events in order. `d` reads nothing more meanwhile.
   */
  private finish(d: Direction, end: () => void): void {
    if (d.endQueued) return;
    d.endQueued = true;
    this.queue
      .run(() => {
        end();
        return undefined;
      })
      ?.catch(() => undefined);
  }

  /** Handle one frame; returns a promise only when it has to wait (a hook, zlib, its turn). */
  private onFrame(d: Direction, f: Frame): MaybePromise {
    if (isControlOpcode(f.opcode)) {
      if (f.opcode === Opcode.CLOSE) {
        const { code, reason } = parseClosePayload(f.payload);
        return this.queue.run(() => {
          this.onCloseFrame(d, code, reason);
          return undefined;
        });
      }
      this.log(`Received WebSocket ${f.opcode === Opcode.PING ? 'ping' : 'pong'} from ${d.label} (payload: ${pyBytesRepr(f.payload)})`);
      // Pings and pongs are forwarded, not answered: the peers keep their own liveness checks.
      write(d.dst, encodeFrame(f.opcode, f.payload, { fin: true, rsv1: false, mask: d.maskOutgoing }));
      return undefined;
    }
    let msg = d.pending;
    if (f.opcode === Opcode.CONTINUATION) {
      if (!msg) throw new WebSocketProtocolError('unexpected CONTINUATION');
      if (f.rsv1) throw new WebSocketProtocolError('Reserved bit set unexpectedly');
    } else {
      if (msg) throw new WebSocketProtocolError(`expected CONTINUATION, got ${Opcode[f.opcode] ?? f.opcode}`);
      msg = d.pending = { opcode: f.opcode, parts: [], length: 0, frameLengths: [], slab: null, slabUsed: 0, slabPartStart: -1, compressed: f.rsv1, raw: f.fin ? f.raw : null };
    }
    if (msg.length + f.payload.length > d.maxMessageSize) {
      throw new WebSocketProtocolError(`Message too big: more than ${d.maxMessageSize} bytes`, CloseCode.MESSAGE_TOO_BIG);
    }
    addFragment(msg, f.payload);
    if (!f.fin) return undefined;
    d.pending = null;
    const complete = msg;
    return this.queue.run(() => this.deliver(d, complete, false));
  }

  /**
   * Record a complete message, run `websocket_message`, and forward it unless dropped. Runs in
   * the connection's queue; synchronous unless something (zlib, a hook) has to be awaited.
   */
  private deliver(d: Direction, incoming: IncomingMessage, injected: boolean): MaybePromise {
    if (this.closing) return undefined;
    const payload = joinFragments(incoming);
    if (incoming.compressed) return this.inflateAndDeliver(d, payload, incoming, injected);
    if (this.onlyReaders(injected)) return this.deliverReadOnly(d, payload, incoming);
    return this.record(d, payload, incoming, injected);
  }

  /**
   * A message no addon can change goes out before it is recorded and hooked: sequential
   * request/response traffic then does not wait for the hooks (a compressed message is
   * compressed again for the receiver while they run).
   */
  private deliverReadOnly(d: Direction, content: Buffer, incoming: IncomingMessage): MaybePromise {
    checkText(incoming.opcode, content);
    let sent: MaybePromise;
    // A frame that arrived whole goes on as it came (a client's masking key is as good as ours).
    if (incoming.raw && !incoming.compressed) write(d.dst, [incoming.raw]);
    else sent = this.send(d, incoming.opcode, content, incoming);
    const hooked = this.recordReadOnly(d, content, incoming);
    if (!sent) return hooked;
    return hooked ? Promise.all([sent, hooked]).then(() => undefined) : sent;
  }

  /** No addon can change, drop or hold this message: every `websocket_message` handler only reads. */
  private onlyReaders(injected: boolean): boolean {
    return !injected && !this.flow.intercepted && this.hooks.onlyReads('websocket_message');
  }

  private async inflateAndDeliver(d: Direction, payload: Buffer, incoming: IncomingMessage, injected: boolean): Promise<void> {
    const content = await d.inflate(payload);
    if (this.closing) return;
    const r = this.onlyReaders(injected) ? this.deliverReadOnly(d, content, incoming) : this.record(d, content, incoming, injected);
    if (r) await r;
  }

  /** Record a message no addon can change (no object for it: see MessageLog) and run `websocket_message`. */
  private recordReadOnly(d: Direction, content: Buffer, incoming: IncomingMessage): MaybePromise {
    this.ws.recordReadOnly(incoming.opcode, d.fromClient, content, now());
    // Synchronous handlers (the usual case) cost no promise; an async one is awaited.
    return this.hooks.triggerFlowFast('websocket_message', this.flow);
  }

  /** Record a message as an object addons may change or drop, run `websocket_message`, then forward what is left of it. */
  private record(d: Direction, content: Buffer, incoming: IncomingMessage, injected: boolean): MaybePromise {
    if (!injected) checkText(incoming.opcode, content);
    const kept = payloadToKeep(content);
    const message = new WebSocketMessage(incoming.opcode, d.fromClient, kept, now(), false, injected);
    this.ws.messages.push(message);
    const pending = this.hooks.triggerFlowFast('websocket_message', this.flow);
    if (pending) return pending.then(() => this.forwardUnlessDropped(d, message, incoming, kept));
    return this.forwardUnlessDropped(d, message, incoming, kept);
  }

  private forwardUnlessDropped(d: Direction, message: WebSocketMessage, incoming: IncomingMessage, received: Buffer): MaybePromise {
    if (this.closing || message.dropped) return undefined;
    return this.forward(d, message, incoming, received);
  }

  /** Write a (possibly modified) message to the receiving peer. */
  private forward(d: Direction, message: WebSocketMessage, original: IncomingMessage, received: Buffer): MaybePromise {
    const opcode = message.type === Opcode.TEXT ? Opcode.TEXT : Opcode.BINARY;
    let content = message.content;
    // Text an addon wrote (or injected) goes out as valid UTF-8, bad sequences replaced as
    // mitmproxy does, rather than making the receiver fail the connection with 1007.
    if (opcode === Opcode.TEXT && (content !== received || message.injected) && !isUtf8(content)) {
      content = Buffer.from(content.toString('utf8'), 'utf8');
    }
    return this.send(d, opcode, content, original);
  }

  /**
   * Write a message's content to the receiving peer, compressed and framed like the original
   * where possible. The write itself never waits: backpressure is the reader's business.
   */
  private send(d: Direction, opcode: number, content: Buffer, original: IncomingMessage): MaybePromise {
    if (original.compressed && this.deflate !== null) return this.compressAndWrite(d, opcode, content, original);
    this.writeMessage(d, opcode, content, false, original);
    return undefined;
  }

  private async compressAndWrite(d: Direction, opcode: number, content: Buffer, original: IncomingMessage): Promise<void> {
    const payload = await d.deflateFor(content);
    if (this.closing) return;
    this.writeMessage(d, opcode, payload, true, original);
  }

  private writeMessage(d: Direction, opcode: number, payload: Buffer, compressed: boolean, original: IncomingMessage): void {
    let lengths: number[];
    if (!compressed && payload.length === original.length && original.frameLengths) lengths = original.frameLengths;
    else if ((original.frameLengths && original.frameLengths.length <= 1) || payload.length <= FRAGMENT_SIZE) lengths = [payload.length];
    else {
      lengths = [];
      for (let left = payload.length; left > 0; left -= FRAGMENT_SIZE) lengths.push(Math.min(FRAGMENT_SIZE, left));
    }
    if (lengths.length === 1) {
      write(d.dst, encodeFrame(opcode, payload, { fin: true, rsv1: compressed, mask: d.maskOutgoing }));
      return;
    }
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      const frame = encodeFrame(i === 0 ? opcode : Opcode.CONTINUATION, payload.subarray(offset, offset + len), {
        fin: i === lengths.length - 1,
        rsv1: compressed && i === 0,
        mask: d.maskOutgoing,
      });
      offset += len;
      write(d.dst, frame);
    }
  }

  inject(toClient: boolean, content: Buffer, isText: boolean): boolean {
    if (this.closing) return false;
    // A message to the client travels as if the server had sent it, and the other way round.
    const d = toClient ? this.s2c : this.c2s;
    const msg: IncomingMessage = {
      opcode: isText ? Opcode.TEXT : Opcode.BINARY,
      parts: [content],
      length: content.length,
      frameLengths: [content.length],
      slab: null,
      slabUsed: 0,
      slabPartStart: -1,
      compressed: false,
      raw: null,
    };
    const report = (e: unknown) => this.ctx.master.log.warn(`Cannot inject WebSocket message: ${(e as Error)?.message ?? String(e)}`, this.ctx.clientLabel);
    try {
      this.queue.run(() => this.deliver(d, msg, true))?.catch(report);
    } catch (e) {
      report(e);
    }
    return true;
  }

  /** A close frame arrived from `d.src`: record it, pass it on, answer it, and end both connections. */
  private onCloseFrame(d: Direction, code: number, reason: string): void {
    // A close after ours is the peer's answer to it; nothing is left to do.
    if (this.closing) return;
    this.recordClose(d.fromClient, code, reason);
    const payload = closePayload(code, reason);
    write(d.dst, encodeFrame(Opcode.CLOSE, payload, { fin: true, rsv1: false, mask: d.maskOutgoing }));
    write(d.src, encodeFrame(Opcode.CLOSE, payload, { fin: true, rsv1: false, mask: !d.maskOutgoing }));
    this.shutdown();
  }

  /** `d.src` closed its connection (or it failed) without a close frame: 1006, as RFC 6455 §7.1.5 says. */
  private peerGone(d: Direction, err: unknown): void {
    if (this.closing) return;
    this.recordClose(d.fromClient, CloseCode.ABNORMAL_CLOSURE, null);
    const why = err ? `: ${describeNetworkError(err)}` : '';
    this.log(`WebSocket connection closed abnormally: the ${d.label} disconnected without a close frame${why}`);
    write(d.dst, encodeFrame(Opcode.CLOSE, closePayload(CloseCode.ABNORMAL_CLOSURE, null), { fin: true, rsv1: false, mask: d.maskOutgoing }));
    this.shutdown();
  }

  /** `d.src` broke the protocol: both sides get a close frame with the code and reason, which the flow records. */
  private protocolError(d: Direction, e: WebSocketProtocolError): void {
    if (this.closing) return;
    this.recordClose(d.fromClient, e.code, e.message);
    this.log(`WebSocket protocol error from ${d.label}: ${e.message}`);
    const payload = closePayload(e.code, e.message);
    write(d.src, encodeFrame(Opcode.CLOSE, payload, { fin: true, rsv1: false, mask: !d.maskOutgoing }));
    write(d.dst, encodeFrame(Opcode.CLOSE, payload, { fin: true, rsv1: false, mask: d.maskOutgoing }));
    this.shutdown();
  }

  private recordClose(byClient: boolean, code: number, reason: string | null): void {
    this.ws.timestampEnd = now();
    this.ws.closedByClient = byClient;
    this.ws.closeCode = code;
    this.ws.closeReason = reason;
  }

  /** Stop relaying and end both connections once what was written is flushed. */
  private shutdown(): void {
    this.closing = true;
    this.stop();
    for (const peer of [this.client, this.server]) {
      if (!peer.socket.destroyed && !peer.socket.writableEnded) peer.socket.end();
    }
    // A peer that neither reads nor closes must not keep the connection open. (The timer holds
    // the sockets only, not the relay: a finished flow must not stay in memory until it fires.)
    const sockets = [this.client.socket, this.server.socket];
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, CLOSE_TIMEOUT_MS);
    timer.unref();
    let open = sockets.length;
    for (const s of sockets) {
      if (s.destroyed) open--;
      else s.once('close', () => --open === 0 && clearTimeout(timer));
    }
    if (open === 0) clearTimeout(timer);
  }

  /** The flow was killed: drop both connections at once. */
  private abort(): void {
    this.closing = true;
    this.stop();
    this.client.socket.destroy();
    this.server.socket.destroy();
  }
}

/** A text message a peer sent must be UTF-8 (RFC 6455 §8.1); otherwise the connection fails with 1007. */
function checkText(opcode: number, content: Buffer): void {
  if (opcode === Opcode.TEXT && !isUtf8(content)) {
    throw new WebSocketProtocolError('Invalid UTF-8 in text message', CloseCode.INVALID_FRAME_PAYLOAD_DATA);
  }
}

/** Write a frame's buffers unless the peer is gone; false when the socket asks us to wait for drain. */
function write(peer: WebSocketPeer, buffers: Buffer[]): boolean {
  const s = peer.socket;
  if (s.destroyed || s.writableEnded) return true;
  if (buffers.length === 1) return s.write(buffers[0]!);
  let ok = true;
  s.cork();
  for (const b of buffers) ok = s.write(b);
  s.uncork();
  return ok;
}
