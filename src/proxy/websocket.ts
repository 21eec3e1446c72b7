import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { HTTPFlow } from '../http.js';
import { pyBytesRepr } from '../io/pyrepr.js';
import { now } from '../util/time.js';
import { Opcode, WebSocketMessage, type WebSocketData } from '../websocket.js';
import type { ConnectionContext } from './context.js';
import { describeNetworkError } from './error-page.js';
import type { SocketReader } from './socket-reader.js';
import { waitForDrain } from './upstream-pool.js';
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
}

/** The defaults (64 MiB per message); change `maxMessageSize` here to raise or lower it for every new connection. */
export const websocketLimits: WebSocketLimits = { maxMessageSize: 64 * 1024 * 1024 };

/**
 * Frame size for a forwarded message whose length changed (an addon modified it) and that came in
 * several frames: some servers refuse big frames, others refuse continuation frames, so a message
 * keeps its original framing when it can, one frame when it was one frame, and ~4 kB frames otherwise.
 */
const FRAGMENT_SIZE = 4000;

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
 * `websocket_end` bracket the conversation. Resolves when both sides are done.
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
interface IncomingMessage {
  opcode: number;
  parts: Buffer[];
  /** Sum of the parts' lengths (the wire payload, compressed when `compressed`). */
  length: number;
  /** Payload length of each frame it arrived in, to frame it the same way when forwarding. */
  frameLengths: number[];
  /** permessage-deflate compressed (RSV1 on its first frame). */
  compressed: boolean;
}

/** One direction of the relay: reading one peer, writing the other, strictly one message at a time. */
class Direction {
  readonly parser: FrameParser;
  /** The message whose frames are being collected. */
  pending: IncomingMessage | null = null;
  private inflater: MessageInflater | null = null;
  private deflater: MessageDeflater | null = null;
  /** A message is being delivered; others wait in `waiting`, in order. */
  private busy = false;
  private waiting: Array<() => void> = [];

  readonly maxMessageSize: number;

  constructor(
    readonly fromClient: boolean,
    readonly src: WebSocketPeer,
    readonly dst: WebSocketPeer,
    private readonly deflate: DeflateParams | null,
    limits: WebSocketLimits,
  ) {
    this.maxMessageSize = limits.maxMessageSize;
    this.parser = new FrameParser({ fromClient, allowRsv1: deflate !== null, maxPayload: limits.maxMessageSize });
  }

  get label(): string {
    return this.fromClient ? 'client' : 'server';
  }

  /** Frames we write to a server are masked (we are its client); frames to a client are not. */
  get maskOutgoing(): boolean {
    return this.fromClient;
  }

  /** Resolves when every queued message has been delivered. */
  idle(): Promise<void> {
    return this.serial(async () => undefined);
  }

  /**
   * Run `task` after every task queued before it (read messages and injected ones share the
   * order of one direction). A counter and a wait list, not a promise chain: most messages find
   * the queue empty and cost no extra promise.
   */
  async serial(task: () => Promise<void>): Promise<void> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy = true;
    try {
      await task();
    } finally {
      const next = this.waiting.shift();
      // The next task inherits `busy`, so nothing can slip in between.
      if (next) next();
      else this.busy = false;
    }
  }

  inflate(payload: Buffer): Promise<Buffer> {
    this.inflater ??= new MessageInflater(this.maxMessageSize);
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

class WebSocketRelay {
  private readonly ws: WebSocketData;
  private readonly c2s: Direction;
  private readonly s2c: Direction;
  private readonly deflate: DeflateParams | null;
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
    const ext = parseNegotiatedExtensions(flow.response?.headers.get('sec-websocket-extensions'));
    for (const name of ext.unknown) this.log(`Ignoring unknown WebSocket extension ${JSON.stringify(name)}.`);
    this.deflate = ext.deflate;
    this.c2s = new Direction(true, client, server, this.deflate, limits);
    this.s2c = new Direction(false, server, client, this.deflate, limits);
  }

  private log(message: string): void {
    this.ctx.master.log.info(message, this.ctx.clientLabel);
  }

  async run(): Promise<void> {
    const hooks = this.ctx.master.addons;
    const flow = this.flow;
    liveRelays.set(flow, this);
    const unsubscribeKill = flow.onKill(() => this.abort());
    try {
      await hooks.triggerFlow('websocket_start', flow);
      if (!flow.killed) {
        // Once the relay stops (close frame, error, kill), a pump may still wait for bytes the peer
        // never sends; it ends when the socket closes, but the flow is done now.
        await Promise.race([Promise.all([this.pump(this.c2s), this.pump(this.s2c)]), this.stopped]);
      }
      // Messages still in their hook (read or injected before the end) finish first.
      await Promise.all([this.c2s.idle(), this.s2c.idle()]);
    } finally {
      liveRelays.delete(flow);
      unsubscribeKill();
      this.c2s.closeZlib();
      this.s2c.closeZlib();
    }
    if (flow.killed) {
      this.ws.timestampEnd ??= now();
      return;
    }
    await hooks.triggerFlow('websocket_end', flow);
    flow.live = false;
  }

  /** Read one side until it closes, errs, or the relay stops. */
  private async pump(d: Direction): Promise<void> {
    try {
      while (!this.closing) {
        const chunk = await d.src.reader.readSome();
        if (this.closing) return;
        if (chunk === null) {
          this.peerGone(d, null);
          return;
        }
        const frames = d.parser.push(chunk);
        for (let i = 0; i < frames.length; i++) {
          const delivering = this.onFrame(d, frames[i]!);
          if (delivering) await delivering;
          if (this.closing) return;
        }
      }
    } catch (e) {
      if (e instanceof WebSocketProtocolError) this.protocolError(d, e);
      else this.peerGone(d, e);
    }
  }

  /** Handle one frame; returns a promise only when it completed a message (delivered in order). */
  private onFrame(d: Direction, f: Frame): Promise<void> | undefined {
    if (isControlOpcode(f.opcode)) {
      if (f.opcode === Opcode.CLOSE) {
        const { code, reason } = parseClosePayload(f.payload);
        this.onCloseFrame(d, code, reason);
        return undefined;
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
      msg = d.pending = { opcode: f.opcode, parts: [], length: 0, frameLengths: [], compressed: f.rsv1 };
    }
    msg.length += f.payload.length;
    if (msg.length > d.maxMessageSize) {
      throw new WebSocketProtocolError(`Message too big: more than ${d.maxMessageSize} bytes`, CloseCode.MESSAGE_TOO_BIG);
    }
    msg.parts.push(f.payload);
    msg.frameLengths.push(f.payload.length);
    if (!f.fin) return undefined;
    d.pending = null;
    const complete = msg;
    return d.serial(() => this.deliver(d, complete, false));
  }

  /** Record a complete message, run `websocket_message`, and forward it unless dropped. */
  private async deliver(d: Direction, incoming: IncomingMessage, injected: boolean): Promise<void> {
    if (this.closing) return;
    let content = incoming.parts.length === 1 ? incoming.parts[0]! : Buffer.concat(incoming.parts, incoming.length);
    if (incoming.compressed) content = await d.inflate(content);
    if (incoming.opcode === Opcode.TEXT && !injected && !isUtf8(content)) {
      throw new WebSocketProtocolError('Invalid UTF-8 in text message', CloseCode.INVALID_FRAME_PAYLOAD_DATA);
    }
    const message = new WebSocketMessage(incoming.opcode, d.fromClient, content, now(), false, injected);
    this.ws.messages.push(message);
    const hooks = this.ctx.master.addons;
    // Without listeners there is nothing to await; an intercepted flow still waits for its resume.
    if (hooks.hasHandlers('websocket_message') || hooks.hasHandlers('update') || this.flow.intercepted) {
      await hooks.triggerFlow('websocket_message', this.flow);
    }
    if (this.closing || message.dropped) return;
    await this.forward(d, message, incoming);
  }

  /** Write a (possibly modified) message to the receiving peer, compressed and framed like the original where possible. */
  private async forward(d: Direction, message: WebSocketMessage, original: IncomingMessage): Promise<void> {
    const opcode = message.type === Opcode.TEXT ? Opcode.TEXT : Opcode.BINARY;
    let payload = message.content;
    const compress = original.compressed && this.deflate !== null;
    if (compress) {
      payload = await d.deflateFor(payload);
      if (this.closing) return;
    }
    let lengths: number[];
    if (!compress && payload.length === original.length) lengths = original.frameLengths;
    else if (original.frameLengths.length <= 1 || payload.length <= FRAGMENT_SIZE) lengths = [payload.length];
    else {
      lengths = [];
      for (let left = payload.length; left > 0; left -= FRAGMENT_SIZE) lengths.push(Math.min(FRAGMENT_SIZE, left));
    }
    let ok = true;
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      const frame = encodeFrame(i === 0 ? opcode : Opcode.CONTINUATION, payload.subarray(offset, offset + len), {
        fin: i === lengths.length - 1,
        rsv1: compress && i === 0,
        mask: d.maskOutgoing,
      });
      offset += len;
      ok = write(d.dst, frame);
    }
    // Waiting here stops this direction's reading, so a slow receiver slows the sender down.
    if (!ok && !d.dst.socket.destroyed) await waitForDrain(d.dst.socket);
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
      compressed: false,
    };
    d.serial(() => this.deliver(d, msg, true)).catch((e: unknown) => {
      this.ctx.master.log.debug(`Cannot inject WebSocket message: ${(e as Error).message}`, this.ctx.clientLabel);
    });
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
  }

  /** The flow was killed: drop both connections at once. */
  private abort(): void {
    this.closing = true;
    this.stop();
    this.client.socket.destroy();
    this.server.socket.destroy();
  }
}

/** Write a frame's buffers unless the peer is gone; false when the socket asks us to wait for drain. */
function write(peer: WebSocketPeer, buffers: Buffer[]): boolean {
  const s = peer.socket;
  if (s.destroyed || s.writableEnded) return true;
  let ok = true;
  for (const b of buffers) ok = s.write(b);
  return ok;
}
