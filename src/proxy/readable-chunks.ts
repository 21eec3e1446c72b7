import type { Readable } from 'node:stream';

/**
 * The chunks of a Readable as an async iterable, lighter than the stream's own iterator: node's
 * builds end-of-stream tracking and a promise per chunk even when the chunk is already there,
 * which shows in profiles of HTTP/2, where every request and response body is a stream.
 *
 * Same contract as `for await (const chunk of stream)` as the proxy uses it: chunks in order,
 * an 'error' rejects with that error, a close before 'end' rejects with ERR_STREAM_PREMATURE_CLOSE,
 * and the stream is paused while no one asks for the next chunk (backpressure).
 */
export function readableChunks(stream: Readable): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => new ChunkIterator(stream) };
}

/** The chunks of a body that has none. */
export const NO_CHUNKS: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ value: undefined, done: true }) }) };

class PrematureCloseError extends Error {
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('Premature close');
  }
}

class ChunkIterator implements AsyncIterator<Buffer> {
  private readonly queue: Buffer[] = [];
  /** Set when the stream ended (null) or failed (the error). */
  private outcome: Error | null | undefined = undefined;
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void } | null = null;

  constructor(private readonly stream: Readable) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    if (stream.readableEnded) this.finish(null);
    else if (stream.destroyed) this.finish(stream.errored ?? new PrematureCloseError());
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) return Promise.resolve({ value: chunk, done: false });
    if (this.outcome === null) return Promise.resolve({ value: undefined, done: true });
    if (this.outcome) return Promise.reject(this.outcome);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.stream.resume();
    });
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.detach();
    return Promise.resolve({ value: undefined, done: true });
  }

  private readonly onData = (chunk: Buffer): void => {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w.resolve({ value: chunk, done: false });
    } else {
      this.queue.push(chunk);
    }
    // Read on only when asked for the next chunk.
    this.stream.pause();
  };

  private readonly onEnd = (): void => this.finish(null);
  private readonly onError = (e: Error): void => this.finish(e);
  private readonly onClose = (): void => {
    if (this.outcome === undefined) this.finish(this.stream.errored ?? new PrematureCloseError());
  };

  private finish(outcome: Error | null): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.detach();
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    if (outcome === null) w.resolve({ value: undefined, done: true });
    else w.reject(outcome);
  }

  private detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onClose);
    // The error listener stays (finish() ignores a second outcome): an error after we stop
    // listening must not crash the process.
  }
}
