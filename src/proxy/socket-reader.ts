import type { Duplex } from 'node:stream';

/** The peer closed the connection while we still expected bytes. */
export class ConnectionClosedError extends Error {
  constructor(message = 'peer closed connection') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

/** A message (a request head, a handshake) that began arriving did not complete in time. */
export class MessageTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`incomplete message for more than ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'MessageTimeoutError';
  }
}

/** More bytes than allowed arrived before the end of a message head. */
export class HeadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`message head exceeds ${limit} bytes`);
    this.name = 'HeadTooLargeError';
  }
}

/** A line read with `readLine` ended in a bare LF (no CR before it). */
export class BareLineFeedError extends Error {
  constructor() {
    super('line ends in a bare LF');
    this.name = 'BareLineFeedError';
  }
}

const LF_CRLF = Buffer.from('\n\r\n');
const LF_LF = Buffer.from('\n\n');

/**
 * Where a message head ends (the offset after its blank line), or -1. The blank line is CRLF;
 * one written with a bare LF ends the head too, so the parser can refuse it with a 400 instead
 * of the connection waiting for a CRLF that will never come.
 */
function headEnd(data: Buffer, from: number): number {
  const crlf = data.indexOf(LF_CRLF, from);
  const lf = data.indexOf(LF_LF, from);
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  return lf < 0 || crlf < lf ? crlf + 3 : lf + 2;
}

/**
 * Pull-style reading from a socket: the protocol code awaits exactly what it needs next (a message
 * head, some body bytes), and unread bytes stay here, so a connection can be handed from one
 * protocol to the next (HTTP -> TLS -> HTTP, HTTP -> WebSocket) without losing a byte.
 *
 * Backpressure: the socket is paused while more than `highWaterMark` bytes wait unread.
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private endedFlag = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private detached = false;
  /**
   * How long a message head or handshake may take from its first byte to its last (null: no
   * limit). Without it a client sending one byte every few seconds (slowloris) holds a
   * connection for as long as it likes: every byte resets the idle timeout.
   */
  messageTimeoutMs: number | null = null;
  /** When the oldest unread byte arrived (null while nothing is unread). */
  private partialSince: number | null = null;

  constructor(
    readonly socket: Duplex,
    private readonly highWaterMark = 256 * 1024,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    // A socket that ended (or failed) before this reader was made, while a hook ran say, has
    // emitted its last event already: without this, every read would wait forever.
    if (socket.destroyed || socket.readableEnded) {
      this.endedFlag = true;
      this.failure = socket.errored;
    }
  }

  private onData = (chunk: Buffer): void => {
    if (this.buffered === 0 && this.messageTimeoutMs !== null) this.partialSince = Date.now();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.highWaterMark) this.socket.pause();
    this.notify();
  };

  private onEnd = (): void => {
    this.endedFlag = true;
    this.notify();
  };

  private onError = (err: Error): void => {
    this.failure ??= err;
    this.endedFlag = true;
    this.notify();
  };

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  /** Bytes received but not read yet. */
  get bufferedLength(): number {
    return this.buffered;
  }

  /** True once the peer finished sending (or the socket failed): no more bytes will arrive. */
  get ended(): boolean {
    return this.endedFlag;
  }

  /** True once the peer finished sending (or the socket failed) and every byte was read. */
  get atEnd(): boolean {
    return this.endedFlag && this.buffered === 0;
  }

  /** The socket error that ended the stream, if any. */
  get error(): Error | null {
    return this.failure;
  }

  /** Bytes were read: what is left unread is the start of the next message. */
  private consumed(): void {
    if (this.messageTimeoutMs !== null) this.partialSince = this.buffered ? Date.now() : null;
  }

  /**
   * Wait until more bytes arrive or the stream ends. `partialMessage`: the wait is for the rest of
   * a message that has begun, which fails with MessageTimeoutError past `messageTimeoutMs`.
   */
  private waitForData(partialMessage = false, notBefore = 0): Promise<void> {
    if (this.endedFlag) return Promise.resolve();
    // Someone needs more bytes right now, so buffering past the high-water mark is intended.
    if (this.socket.isPaused()) this.socket.resume();
    const limit = this.messageTimeoutMs;
    if (!partialMessage || limit === null || this.partialSince === null) return new Promise((resolve) => (this.wake = resolve));
    const left = Math.max(this.partialSince, notBefore) + limit - Date.now();
    if (left <= 0) return Promise.reject(new MessageTimeoutError(limit));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = null;
        reject(new MessageTimeoutError(limit));
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private merge(): Buffer {
    if (this.chunks.length === 0) return Buffer.alloc(0);
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const all = this.merge();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    this.consumed();
    if (this.socket.isPaused() && this.buffered <= this.highWaterMark && !this.detached) this.socket.resume();
    return out;
  }

  /**
   * Read up to and including the blank line that ends an HTTP head. Leading empty lines are
   * skipped (RFC 9112 §2.2). Returns null if the stream ends cleanly before any byte of a head.
   */
  async readHead(maxSize: number): Promise<Buffer | null> {
    // The clock runs from the head's first byte, but not before we started reading it: bytes of a
    // pipelined request that waited while the proxy was busy (an intercepted flow) do not count.
    const started = Date.now();
    let searchFrom = 0;
    for (;;) {
      if (this.buffered > 0) {
        let all = this.merge();
        // Skip CRLFs between pipelined messages.
        let skip = 0;
        while (skip + 1 < all.length && all[skip] === 0x0d && all[skip + 1] === 0x0a) skip += 2;
        if (skip > 0) {
          this.take(skip);
          all = this.merge();
          searchFrom = 0;
        }
        const end = headEnd(all, Math.max(0, searchFrom - 3));
        if (end >= 0) {
          if (end > maxSize) throw new HeadTooLargeError(maxSize);
          return this.take(end);
        }
        if (all.length > maxSize) throw new HeadTooLargeError(maxSize);
        searchFrom = all.length;
      }
      if (this.endedFlag) {
        if (this.failure && this.buffered === 0) throw this.failure;
        if (this.buffered === 0) return null;
        // Only stray CRLFs before EOF count as a clean end.
        const rest = this.merge();
        if (rest.every((b) => b === 0x0d || b === 0x0a)) return null;
        throw new ConnectionClosedError('peer closed connection before sending a complete message head');
      }
      await this.waitForData(true, started);
    }
  }

  /** Read whatever is available (at most `max` bytes), waiting if nothing is; null at end of stream. */
  async readSome(max = Infinity): Promise<Buffer | null> {
    for (;;) {
      if (this.buffered > 0) {
        if (this.chunks.length > 0 && this.chunks[0]!.length <= max) {
          const first = this.chunks.shift()!;
          this.buffered -= first.length;
          this.consumed();
          if (this.socket.isPaused() && this.buffered <= this.highWaterMark && !this.detached) this.socket.resume();
          return first;
        }
        return this.take(Math.min(max, this.buffered));
      }
      if (this.endedFlag) {
        if (this.failure) throw this.failure;
        return null;
      }
      await this.waitForData();
    }
  }

  /** Read exactly `n` bytes; throws ConnectionClosedError when the stream ends first. */
  async readExactly(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.endedFlag) {
        if (this.failure) throw this.failure;
        throw new ConnectionClosedError();
      }
      await this.waitForData();
    }
    return this.take(n);
  }

  /** Read a line ending in CRLF (returned without it); throws past `maxLength`. */
  async readLine(maxLength: number): Promise<Buffer> {
    let searchFrom = 0;
    for (;;) {
      if (this.buffered > 0) {
        const all = this.merge();
        // The first LF ends the line; without a CR before it the line is refused at once, rather
        // than waiting for a CRLF that a peer using bare LFs will never send.
        const lf = all.indexOf(0x0a, searchFrom);
        if (lf >= 0) {
          if (lf === 0 || all[lf - 1] !== 0x0d) throw new BareLineFeedError();
          const idx = lf - 1;
          if (idx > maxLength) throw new HeadTooLargeError(maxLength);
          const line = this.take(lf + 1);
          return line.subarray(0, idx);
        }
        if (all.length > maxLength + 2) throw new HeadTooLargeError(maxLength);
        searchFrom = all.length;
      }
      if (this.endedFlag) {
        if (this.failure) throw this.failure;
        throw new ConnectionClosedError();
      }
      await this.waitForData();
    }
  }

  /** Wait until at least `n` bytes are buffered (or the stream ends) and return a copy of the buffered bytes without consuming them. */
  async peek(n: number): Promise<Buffer> {
    while (this.buffered < n && !this.endedFlag) await this.waitForData(true);
    return this.unread();
  }

  /** A copy of the bytes received but not read yet (nothing is consumed). */
  unread(): Buffer {
    return Buffer.from(this.merge());
  }

  /** Put bytes back in front of the unread data. */
  unshift(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.unshift(data);
    this.buffered += data.length;
  }

  /**
   * Give the socket to a new owner (TLS, a WebSocket, a relay) with every unread byte back in
   * the socket's own buffer, paused until the new owner reads.
   */
  handOver(): Duplex {
    const socket = this.socket;
    socket.pause();
    const rest = this.detach();
    if (rest.length) socket.unshift(rest);
    return socket;
  }

  /**
   * Stop reading: remove our listeners and return the unread bytes. The socket keeps an error
   * listener so it can never crash the process; the new owner adds its own.
   */
  detach(): Buffer {
    this.detached = true;
    const rest = this.merge();
    this.chunks = [];
    this.buffered = 0;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.on('error', ignoreError);
    this.notify();
    return rest;
  }
}

function ignoreError(): void {
  // Errors after detaching are handled by the socket's next owner; this only keeps them from being fatal.
}
