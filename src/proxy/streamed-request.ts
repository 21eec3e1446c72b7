import type { ConnectionHooks } from './connection-hooks.js';
import type { Headers } from '../headers.js';
import type { HTTPFlow } from '../http.js';
import { now } from '../util/time.js';
import type { UpstreamExchange } from './http-stream.js';
import { BodyRecorder, streamBody } from './streamed-body.js';

/** How a streamed request ended, unless it failed on the client's side. */
export type StreamedRequestEnd =
  /** The whole body went out, the `request` hook ran, and the request was ended. */
  | { kind: 'sent' }
  /** An addon killed the flow in its `request` hook. */
  | { kind: 'killed' }
  /** The server stopped taking the body (a write to it failed): its response, if any, says why. */
  | { kind: 'server-stopped'; cause: unknown }
  /** The flow ended first (see `cancel`). */
  | { kind: 'cancelled' };

/** A write to the server failed (as opposed to reading the client's body). */
class UpstreamWriteError extends Error {
  constructor(readonly failure: unknown) {
    super('upstream write failed');
  }
}

/** The flow ended before its request did (see StreamedRequest.cancel). */
class CancelledError extends Error {}

/**
 * A request body streamed to its server while the flow reads the response: full duplex, as in
 * mitmproxy, whose client and server sides of an exchange run independently. A server may answer
 * before it has the whole body: a 413 for an upload it refuses (after which it reads no more), or
 * a gRPC bidirectional call (which answers while it waits for more). Reading the response only
 * once the body had gone out would leave the first waiting out the flow's timeout and deadlock
 * the second.
 */
export class StreamedRequest {
  /**
   * Settles once the request is done with; rejects with a failure on the client's side (its body
   * cut short or badly framed, a stream function that threw), which is the flow's failure.
   */
  readonly ended: Promise<StreamedRequestEnd>;
  /** The client's body has been read to its end: what remains is the `request` hook and the request's end. */
  bodyRead = false;
  /** The request has ended whole (`ended` resolved with `sent`): nothing of it is left to wait for. */
  sent = false;
  private cancelled = false;
  private readonly recorder: BodyRecorder;
  /** The flow's hook running now (or the last one), for `runHook`. */
  private hookChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly hooks: ConnectionHooks,
    private readonly flow: HTTPFlow,
    private readonly upstream: UpstreamExchange,
    prefix: Buffer[],
    body: AsyncIterator<Buffer>,
    storeBody: boolean,
    /** The request's trailers once its body has ended (they arrive with its end). */
    private readonly trailers: () => Headers | null,
  ) {
    this.recorder = new BodyRecorder(storeBody ? Infinity : 0);
    this.ended = this.run(prefix, body);
    // The flow looks at the outcome only when it needs it (a response may come first).
    this.ended.catch(() => undefined);
  }

  private async run(prefix: Buffer[], body: AsyncIterator<Buffer>): Promise<StreamedRequestEnd> {
    const req = this.flow.request;
    try {
      await streamBody(prefix, body, req.stream, this.recorder, async (chunk) => {
        if (this.cancelled) throw new CancelledError();
        try {
          await this.upstream.writeRequestData(chunk);
        } catch (e) {
          throw new UpstreamWriteError(e);
        }
      });
    } catch (e) {
      if (this.cancelled) return { kind: 'cancelled' };
      if (e instanceof UpstreamWriteError) {
        // The flow keeps what went out, as a cancelled request does.
        req.rawContent = this.recorder.content();
        return { kind: 'server-stopped', cause: e.failure };
      }
      throw e;
    }
    this.bodyRead = true;
    if (this.cancelled) return { kind: 'cancelled' };
    req.rawContent = this.recorder.content();
    req.timestampEnd = now();
    await this.runHook('request');
    if (this.flow.killed) return { kind: 'killed' };
    try {
      await this.upstream.endRequest(this.trailers());
    } catch (e) {
      return { kind: 'server-stopped', cause: e };
    }
    this.sent = true;
    return { kind: 'sent' };
  }

  /**
   * Fire one of the flow's hooks once the one running has returned. The `request` hook runs here
   * in the background while the flow reads the response; mitmproxy runs a flow's hooks one at a
   * time (a flow intercepted in `request` gets no `responseheaders` until it is resumed), and so
   * do `request`, `responseheaders` and `response` when they all go through here.
   */
  runHook(name: 'request' | 'responseheaders' | 'response'): Promise<void> {
    const run = this.hookChain.then(() => this.hooks.triggerFlow(name, this.flow));
    this.hookChain = run.catch(() => undefined);
    return run;
  }

  /**
   * The flow ended (answered, failed or killed) before the request did: send no more of it and
   * fire no hook for it. The flow keeps what was sent so far.
   */
  cancel(): void {
    if (this.cancelled || this.bodyRead) return;
    this.cancelled = true;
    this.flow.request.rawContent = this.recorder.content();
  }
}
