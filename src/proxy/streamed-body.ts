import type { StreamChunks, StreamSetting } from '../http.js';

/**
 * Sending a streamed body on (`flow.request.stream` / `flow.response.stream`): chunk by chunk,
 * through an addon's stream function when there is one, keeping what the flow records of it.
 */

/** Shared by every empty body (a zero-length Buffer cannot be written to); each new one costs ~190 bytes. */
export const EMPTY_BODY = Buffer.alloc(0);

/** An addon's stream function threw or returned something that is not bytes: the flow fails with 502. */
export class StreamFunctionError extends Error {}

/** What a stream function gave back, in words for its error message. */
function kindOf(v: unknown): string {
  return typeof v === 'string' ? 'a string' : typeof v;
}

/**
 * Run a stream function on one chunk: the non-empty chunks it returned, in order (one Buffer, an
 * iterable of them, or nothing; see StreamSetting). Whatever goes wrong in the addon's code,
 * including in a generator while it is iterated, is a StreamFunctionError.
 */
function runStreamFunction(fn: (chunk: Buffer) => StreamChunks, chunk: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  try {
    const out = fn(chunk);
    if (out === null || out === undefined) return chunks;
    if (out instanceof Uint8Array) {
      if (out.length) chunks.push(asBuffer(out));
      return chunks;
    }
    if (typeof out === 'string' || typeof (out as Iterable<Uint8Array>)[Symbol.iterator] !== 'function') {
      throw new StreamFunctionError(`A stream function must return a Buffer, an iterable of Buffers, or nothing; it returned ${kindOf(out)}.`);
    }
    for (const c of out) {
      if (!(c instanceof Uint8Array)) throw new StreamFunctionError(`A stream function must return a Buffer, an iterable of Buffers, or nothing; it returned an iterable holding ${kindOf(c)}.`);
      if (c.length) chunks.push(asBuffer(c));
    }
    return chunks;
  } catch (e) {
    if (e instanceof StreamFunctionError) throw e;
    throw new StreamFunctionError(`Error in stream function: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** What a streamed body keeps of what was sent: everything up to `limit` bytes (0: nothing). */
export class BodyRecorder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** What `content` last returned, until a chunk is added. */
  private joined: Buffer | null = null;
  /** More was sent than kept. */
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    if (this.limit === 0 || this.truncated) return;
    if (this.size + chunk.length > this.limit) {
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.joined = null;
  }

  /**
   * The body as recorded so far; null when nothing is kept. The same buffer until more is added
   * (an event stream's live updates ask often), and the chunks it joins are let go.
   */
  content(): Buffer | null {
    if (this.limit === 0) return null;
    if (!this.joined) {
      this.joined = Buffer.concat(this.chunks, this.size);
      this.chunks = [this.joined];
    }
    return this.joined;
  }
}

/**
 * Send a streamed body on as it arrives: `prefix` (the chunks read before streaming was decided,
 * taken out of the array) then the rest of `body`, each through the stream function if there is
 * one, which gets one last empty chunk at the end (mitmproxy's rule; what it returns then goes out
 * as it is). What goes out is also handed to `recorder`, which keeps it even if the stream fails.
 */
export async function streamBody(
  prefix: Buffer[],
  body: AsyncIterator<Buffer>,
  stream: StreamSetting,
  recorder: BodyRecorder,
  write: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  const transform = typeof stream === 'function' ? stream : null;
  const forward = async (chunk: Buffer) => {
    const outs = transform ? runStreamFunction(transform, chunk) : chunk.length ? [chunk] : [];
    for (const out of outs) {
      recorder.add(out);
      await write(out);
    }
  };
  for (const c of prefix.splice(0)) await forward(c);
  for (;;) {
    const r = await body.next();
    if (r.done) break;
    await forward(r.value);
  }
  if (transform) await forward(EMPTY_BODY);
}
