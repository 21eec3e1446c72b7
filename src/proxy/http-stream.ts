import { FlowError } from '../flow.js';
import type { HTTPFlow, Response } from '../http.js';
import { BodyRecorder, EMPTY_BODY, StreamFunctionError, streamBody } from './streamed-body.js';
import { StreamedRequest } from './streamed-request.js';
import { WebSocketData } from '../websocket.js';
import { now } from '../util/time.js';
import { prettySize } from '../util/human.js';
import type { ConnectionContext } from './context.js';
import type { Headers } from '../headers.js';
import { ConnectError } from './upstream-pool.js';
import { describeNetworkError } from './error-page.js';
import { OutgoingMessageError } from './http1/assemble.js';
import { FramingError, validateFraming } from './http1/framing.js';
import { HttpSyntaxError } from './http1/parse.js';
import { ConnectionClosedError } from './socket-reader.js';
import { watchSocketClose } from './socket-close-watch.js';
import { proxyDebug } from './debug.js';

/**
 * The life of one HTTP flow, shared by every client protocol (HTTP/1 today, HTTP/2 via the same
 * interfaces): requestheaders -> request body -> request -> upstream -> responseheaders ->
 * response body -> response -> client, with `error` on failure (spec core.md a.2 and a.4).
 * A streamed request body goes to the server while the response is read (StreamedRequest): its
 * `request` hook then fires when its body has ended, which may be after `response`.
 * The protocol-specific parts are behind ClientExchange (the client's side of this one
 * request) and UpstreamExchange (one request to the server).
 */

/** The client side of one request/response exchange. */
export interface ClientExchange {
  /** The announced request body size, 0 for none, null when unknown (chunked). */
  readonly expectedBodySize: number | null;
  /** Read the request body chunk by chunk; trailers (if any) arrive through `onTrailers`. */
  requestBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer>;
  /** Send `100 Continue`. */
  sendContinue(): void;
  /** Send a complete response (head and body). */
  sendResponse(response: Response): Promise<void>;
  /** Start a streamed response: send its head. */
  startResponse(response: Response, bodySize: number | null): Promise<void>;
  writeResponseData(chunk: Buffer): Promise<void>;
  endResponse(trailers: Headers | null): Promise<void>;
  /** Answer with mitmproxy's error page and give up on the connection (HTTP/1) or stream (HTTP/2). */
  sendError(statusCode: number, message: string): Promise<void>;
  /**
   * The response is complete but the rest of the request body will not be read (the server
   * answered without it): HTTP/1 closes the connection after the response, HTTP/2 ends the
   * stream with NO_ERROR once the response is out (RFC 9113 §8.1).
   */
  discardRequestBody(): void;
  /** Drop the exchange without an answer (a killed flow): HTTP/1 closes the connection. */
  abort(): void;
  /**
   * The response may end while the request body is still coming in: HTTP/2 ends each direction
   * of a stream on its own (RFC 9113 §8.1). Without it the end waits for the request's.
   */
  readonly endsBeforeRequest?: boolean;
  /** Whether a response head was already sent (errors can then only abort). */
  readonly responseStarted: boolean;
  /**
   * Call `onGone` when the client gives up on this exchange (an HTTP/2 stream reset or closed);
   * returns the function that stops watching. Without it, the client connection closing counts.
   */
  watchGone?(onGone: (reason?: string) => void): () => void;
  /** Why this client cannot be sent `response` (a status its protocol cannot carry), or null. */
  responseProblem?(response: Response): string | null;
}

/** One request sent to the upstream server and its response. */
export interface UpstreamExchange {
  sendRequest(flow: HTTPFlow): Promise<void>;
  startRequest(flow: HTTPFlow, bodySize: number | null): Promise<void>;
  writeRequestData(chunk: Buffer): Promise<void>;
  endRequest(trailers: Headers | null): Promise<void>;
  readResponseHead(flow: HTTPFlow): Promise<Response>;
  /** The announced response body size, 0 for none, null when unknown. */
  responseBodySize(): number | null;
  responseBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer>;
  /** The exchange finished normally: the connection may be reused. */
  finish(): void;
  /** The exchange broke: close the connection. */
  abort(): void;
}

/**
 * Opens an upstream exchange for a flow (decides the server from the request). `cancelled`
 * aborts when the flow's client has gone: a connection being opened for it is dropped.
 */
export type UpstreamOpener = (flow: HTTPFlow, cancelled: AbortSignal) => Promise<UpstreamExchange>;

/**
 * Waits for a streamed request to end before the end of its response goes to the client; false
 * when the flow was killed meanwhile (in the request's hook, or from outside as by mitmweb).
 */
type RequestEndWait = () => Promise<boolean>;

/** How the connection should go on after a flow. */
export type FlowOutcome = 'keep-alive' | 'close' | { upgrade: HTTPFlow };

class BodyLimitError extends Error {}

/**
 * Server-sent events (`text/event-stream`) are streamed to the client as they arrive, and kept up
 * to this size for the flow. mitmproxy buffers them until the server ends the stream, so a client
 * gets nothing in the meantime (mitmproxy issue 4469): a live feed never arrives at all, and an
 * LLM's streamed answer arrives in one piece at the end.
 */
const EVENT_STREAM_RECORD_LIMIT = 32 * 1024 * 1024;

/** How often, at most, a flow shows the events it has relayed so far (see liveEvents). */
const LIVE_EVENTS_INTERVAL_MS = 500;

/**
 * How much recorded body the refreshes of one event stream copy per second, at most. Each
 * refresh makes the whole recording into a new body (which mitmweb then hashes): at a fixed pace a
 * feed open for hours costs more with every event, 32 MiB copied a second per stream once 16 MiB
 * are recorded. Past 1 MiB, a recording is refreshed less often instead (every 16 s at 32 MiB).
 */
const LIVE_EVENTS_BYTES_PER_SECOND = 2 * 1024 * 1024;

/**
 * While an event stream is relayed, its flow shows the events so far: its body is refreshed and
 * `update` fired (mitmweb then shows them) at most every LIVE_EVENTS_INTERVAL_MS (longer for a
 * large recording, see LIVE_EVENTS_BYTES_PER_SECOND), and once more after the last event of a
 * burst. `stop` ends it when the stream does.
 */
function liveEvents(ctx: ConnectionContext, flow: HTTPFlow, recorder: BodyRecorder): { progressed: () => void; stop: () => void } {
  let last = 0;
  let trailing: NodeJS.Timeout | null = null;
  const publish = () => {
    trailing = null;
    last = Date.now();
    if (!flow.response || flow.response.timestampEnd !== null) return;
    const content = recorder.content();
    // Nothing new (the stream is past its record limit): no update, and no body to hash again.
    if (content === flow.response.rawContent) return;
    flow.response.rawContent = content;
    ctx.master.addons.trigger('update', [flow]).catch(() => undefined);
  };
  return {
    progressed: () => {
      if (trailing) return;
      const shown = flow.response?.rawContent?.length ?? 0;
      const interval = Math.max(LIVE_EVENTS_INTERVAL_MS, (shown / LIVE_EVENTS_BYTES_PER_SECOND) * 1000);
      const wait = last + interval - Date.now();
      if (wait <= 0) publish();
      else trailing = setTimeout(publish, wait);
    },
    stop: () => {
      if (trailing) clearTimeout(trailing);
      trailing = null;
    },
  };
}

function isEventStream(resp: Response): boolean {
  const type = resp.headers.get('content-type');
  return type !== undefined && type.trimStart().toLowerCase().startsWith('text/event-stream');
}

/** A buffered body from the chunks it arrived in: the chunk itself when there was one, no copy. */
function joinBody(chunks: Buffer[], size: number): Buffer {
  return chunks.length === 1 ? chunks[0]! : size === 0 ? EMPTY_BODY : Buffer.concat(chunks, size);
}

/**
 * The response has been read in full: let go of the server's side, now or (for a request still
 * being streamed) once the request has ended. Returns what the client's end of the response
 * waits for then, as in mitmproxy (which sends the response and holds back its end): a server
 * that answered early may still be reading (it said 200 and takes the rest), or stop and reset
 * the stream, which ends the request too. An error status says the server does not want the
 * rest (a 413): it is dropped at once (RFC 9112 §9.5). A request that ended without its whole
 * body leaves neither connection fit for another request (their framing is cut short).
 * Module-level rather than a closure of runHttpFlow: that would be made for every flow.
 */
function releaseUpstream(flow: HTTPFlow, client: ClientExchange, request: StreamedRequest | null, up: UpstreamExchange, resp: Response): RequestEndWait | null {
  // Not streamed, or streamed and already ended (the usual case: the server read it all first).
  if (!request || request.sent) {
    up.finish();
    return null;
  }
  if (!request.bodyRead && resp.statusCode >= 400) {
    // A cancelled request may be stuck writing to a server that stopped reading: not waited for.
    request.cancel();
    client.discardRequestBody();
    up.abort();
    return null;
  }
  return async () => {
    const end = await request.ended;
    // A kill from outside the hooks (mitmweb) while the request was still going out ends it as
    // a server that stopped reading (the kill dropped that connection): it is still the kill.
    if (end.kind === 'killed' || flow.killed) return false;
    if (end.kind === 'sent') {
      up.finish();
      return true;
    }
    if (!request.bodyRead) client.discardRequestBody();
    up.abort();
    return true;
  };
}

/**
 * Run one flow. `flow.request` holds the parsed request head. Returns how the client connection
 * continues. Never throws for network or protocol problems: they become `flow.error`, an `error`
 * hook, an error reply and a log line.
 */
export async function runHttpFlow(ctx: ConnectionContext, flow: HTTPFlow, client: ClientExchange, openUpstream: UpstreamOpener): Promise<FlowOutcome> {
  const hooks = ctx.hooks;
  const opts = ctx.options;
  const req = flow.request;
  let upstream: UpstreamExchange | null = null;
  /** The request body being streamed to the server, when it is. */
  let streamed: StreamedRequest | null = null;
  /** How that body failed on the client's side while the response was read (see below). */
  let requestFailure: unknown = null;
  const unsubscribeKill = flow.onKill(() => {
    client.abort();
    upstream?.abort();
  });
  // A flow paused by interception must not wait forever for a client that is gone (or for a
  // proxy that is shutting down and closed the connection).
  let clientGone = false;
  const gone = new AbortController();
  const onClientGone = (reason = CLIENT_DISCONNECTED) => {
    if (flow.intercepted) flow.kill();
    else if (flow.live && !flow.response?.timestampEnd) {
      // Nobody is left to answer: stop waiting for the server (the pending read fails at once),
      // and send nothing to a server not reached yet (a client resetting streams at once must
      // not make us open a connection for each; one being opened is dropped).
      clientGone = true;
      flow.error ??= new FlowError(reason);
      gone.abort(new ClientGoneError());
      upstream?.abort();
    }
  };
  const stopWatchingClient = client.watchGone ? client.watchGone(onClientGone) : watchSocketClose(ctx.rawSocket, () => onClientGone());
  /** The upstream exchange for the flow, unless the client has gone meanwhile. */
  const connectUpstream = async (): Promise<UpstreamExchange> => {
    if (clientGone) throw new ClientGoneError();
    let u: UpstreamExchange;
    try {
      u = await openUpstream(flow, gone.signal);
    } catch (e) {
      // Opening failed because the client left (its connection was dropped half-open): say that.
      throw clientGone ? new ClientGoneError() : e;
    }
    if (clientGone) {
      u.abort();
      throw new ClientGoneError();
    }
    return u;
  };

  /** End the flow with an error reply; `cause` is what failed, when its own line is in the event log already. */
  const fail = async (status: number, message: string, cause?: unknown): Promise<FlowOutcome> => {
    flow.error ??= new FlowError(message);
    streamed?.cancel();
    // The flow is still live in its `error` hook, as in mitmproxy, so an addon can kill it there:
    // the client then gets no error reply, just the dropped connection (or reset stream).
    await hooks.triggerFlow('error', flow);
    flow.live = false;
    if (!(cause instanceof ConnectError && cause.logged)) ctx.master.log.info(`${flowLabel(flow)}: ${flow.error.msg}`, ctx.clientLabel);
    upstream?.abort();
    await replyToFailure(flow, client, status, message, clientGone);
    return 'close';
  };

  const killed = (fireError: boolean): Promise<FlowOutcome> => endKilledFlow(ctx, flow, client, upstream, streamed, fireError);

  // Per request: guarded here so that no closure is made while the option is off.
  if (ctx.options.proxyDebug) proxyDebug(ctx, `[http] request ${req.method} ${req.prettyUrl} (${req.httpVersion})`);
  try {
    // --- request headers ------------------------------------------------------------------
    const expected = client.expectedBodySize;
    if (opts.bodySizeLimit !== null && expected !== null && expected > opts.bodySizeLimit) {
      await hooks.triggerFlow('requestheaders', flow);
      return await fail(413, "Request body exceeds mitmproxy's body_size_limit.");
    }
    // A body announced larger than stream_large_bodies is streamed: set before the hook, as in
    // mitmproxy (and as for responses below), so an addon sees it and may change it there.
    if (opts.streamLargeBodies !== null && expected !== null && expected > opts.streamLargeBodies) req.stream = true;
    await hooks.triggerFlow('requestheaders', flow);
    if (flow.killed) return await killed(true);

    // An HTTP/1.0 client cannot know 100 Continue: its expectation is ignored (RFC 9110 §10.1.1).
    if (req.httpVersion !== 'HTTP/1.0' && (req.headers.get('expect') ?? '').toLowerCase() === '100-continue') {
      client.sendContinue();
      req.headers.delete('expect');
    }

    let streamRequest = req.stream !== false;

    // --- request body -----------------------------------------------------------------------
    let prefix: Buffer[] = [];
    let prefixSize = 0;
    let trailersSeen = false;
    const bodyIter = client.requestBody((t) => {
      req.trailers = t;
      trailersSeen = true;
    })[Symbol.asyncIterator]();
    if (!streamRequest) {
      // Buffer, switching to streaming if the body turns out larger than stream_large_bodies.
      for (;;) {
        const r = await bodyIter.next();
        if (r.done) break;
        prefix.push(r.value);
        prefixSize += r.value.length;
        if (opts.bodySizeLimit !== null && prefixSize > opts.bodySizeLimit) {
          return await fail(413, "Request body exceeds mitmproxy's body_size_limit.");
        }
        if (opts.streamLargeBodies !== null && prefixSize > opts.streamLargeBodies) {
          streamRequest = true;
          req.stream = true;
          break;
        }
      }
    } else {
      req.stream = req.stream || true;
    }

    if (!streamRequest) {
      req.rawContent = joinBody(prefix, prefixSize);
      prefix = [];
      req.timestampEnd = now();
      await hooks.triggerFlow('request', flow);
      if (flow.killed) return await killed(true);
      if (flow.response) {
        // An addon answered: act as if the response headers had arrived from a server.
        flow.response.timestampStart = now();
        await hooks.triggerFlow('responseheaders', flow);
        if (flow.killed) return await killed(true);
        return await sendResponse(ctx, flow, client, null, false);
      }
      try {
        upstream = await connectUpstream();
        await upstream.sendRequest(flow);
      } catch (e) {
        if (e instanceof ClientGoneError) throw e;
        return await fail(502, upstreamErrorMessage(e), e);
      }
    } else {
      if (flow.response) {
        return await fail(502, "Can't set a response and enable streaming at the same time.");
      }
      try {
        upstream = await connectUpstream();
        await upstream.startRequest(flow, expected);
      } catch (e) {
        if (e instanceof ClientGoneError) throw e;
        return await fail(502, upstreamErrorMessage(e), e);
      }
      ctx.master.log.info(`Streaming request to ${req.host}.`, ctx.clientLabel);
      // The body goes on in the background while the response is awaited (full duplex).
      streamed = new StreamedRequest(hooks, flow, upstream, prefix, bodyIter, opts.storeStreamedBodies, () => (trailersSeen ? req.trailers : null));
    }

    // --- response headers ---------------------------------------------------------------------
    let resp: Response;
    const head = upstream.readResponseHead(flow);
    if (streamed) {
      // Whichever comes first: the response head (even while the body is still going out), or
      // the request's end. A failure on the client's side ends the flow as it did while the
      // body was read, and a kill in the request hook ends it; a server that stopped taking the
      // body may still have answered, so its head is awaited then.
      head.catch(() => undefined);
      const first = await Promise.race([
        head.then(
          () => null,
          () => null,
        ),
        streamed.ended.catch((e: unknown) => ({ kind: 'client-failed' as const, e })),
      ]);
      if (first?.kind === 'client-failed') throw first.e;
      if (first?.kind === 'killed') return await killed(true);
      // The head came while the `request` hook runs (a flow intercepted there): the flow's hooks
      // go one after the other, as in mitmproxy, so `responseheaders` waits for it.
      if (first === null && streamed.bodyRead) {
        const end = await streamed.ended.catch((e: unknown) => ({ kind: 'client-failed' as const, e }));
        if (end.kind === 'client-failed') throw end.e;
        if (end.kind === 'killed') return await killed(true);
      }
      // From here on the response is read while the body may still fail on the client's side
      // (cut short, badly framed, a stream function that threw): the server, waiting for the
      // rest, would never end its response, so it is dropped and the flow fails with that cause.
      streamed.ended.catch((e: unknown) => {
        requestFailure = e;
        upstream?.abort();
      });
    }
    try {
      resp = await head;
    } catch (e) {
      return await fail(502, upstreamErrorMessage(e), e);
    }
    flow.response = resp;
    if (ctx.options.proxyDebug) proxyDebug(ctx, `[http] response ${resp.statusCode} ${resp.reason} (${resp.httpVersion}) for ${req.method} ${req.prettyUrl}`);
    const unsendable = client.responseProblem?.(resp);
    if (unsendable) {
      upstream.abort();
      return await fail(502, unsendable);
    }
    if (opts.validateInboundHeaders) {
      try {
        validateFraming(resp.headers, { isRequest: false, httpVersion: resp.httpVersion, statusCode: resp.statusCode });
      } catch (e) {
        upstream.abort();
        return await fail(
          502,
          `Received ${(e as Error).message} from server, refusing to prevent request smuggling attacks. Disable the validate_inbound_headers option to skip this security check.`,
        );
      }
    }
    const respExpected = upstream.responseBodySize();
    if (opts.bodySizeLimit !== null && respExpected !== null && respExpected > opts.bodySizeLimit) {
      await hooks.triggerFlow('responseheaders', flow);
      return await fail(502, "Response body exceeds mitmproxy's body_size_limit.");
    }
    if (opts.streamLargeBodies !== null && respExpected !== null && respExpected > opts.streamLargeBodies) resp.stream = true;
    // An addon may still set `stream = false` in responseheaders to buffer an event stream.
    const eventStream = respExpected !== 0 && isEventStream(resp);
    if (eventStream) resp.stream = true;
    await (streamed ? streamed.runHook('responseheaders') : hooks.triggerFlow('responseheaders', flow));
    if (flow.killed) return await killed(true);

    // --- response body ------------------------------------------------------------------------
    let respTrailers: Headers | null = null;
    const respIter = upstream.responseBody((t) => (respTrailers = t))[Symbol.asyncIterator]();
    let respPrefix: Buffer[] = [];
    let respSize = 0;
    // A head that ends the response (END_STREAM, a zero length) is not streamed, as in mitmproxy:
    // the response is complete, and goes out as such (over HTTP/2 a gRPC Trailers-Only answer
    // stays one HEADERS frame that ends the stream, which is where gRPC looks for its status).
    let streamResponse = resp.stream !== false && respExpected !== 0;
    if (!streamResponse) {
      try {
        for (;;) {
          const r = await respIter.next();
          if (r.done) break;
          respPrefix.push(r.value);
          respSize += r.value.length;
          if (opts.bodySizeLimit !== null && respSize > opts.bodySizeLimit) throw new BodyLimitError();
          if (opts.streamLargeBodies !== null && respSize > opts.streamLargeBodies) {
            streamResponse = true;
            resp.stream = true;
            break;
          }
        }
      } catch (e) {
        if (e instanceof BodyLimitError) return await fail(502, "Response body exceeds mitmproxy's body_size_limit.");
        if (requestFailure !== null) throw requestFailure;
        return await fail(502, upstreamErrorMessage(e), e);
      }
    }
    if (!streamResponse) {
      resp.rawContent = joinBody(respPrefix, respSize);
      respPrefix = [];
      if (respTrailers) resp.trailers = respTrailers;
      return await sendResponse(ctx, flow, client, upstream, false, releaseUpstream(flow, client, streamed, upstream, resp), streamed);
    }

    // Streamed response: the head goes out now, the body as it arrives.
    await client.startResponse(resp, respExpected);
    ctx.master.log.info(`Streaming response from ${req.host}.`, ctx.clientLabel);
    // An event stream is also recorded (its events are what one looks at), within its limit;
    // what came before a failure (the client leaving a live feed, say) stays in the flow.
    // (body_size_limit, when lower, caps what is kept of an event stream; the client gets it all.)
    const eventStreamLimit = Math.min(EVENT_STREAM_RECORD_LIMIT, opts.bodySizeLimit ?? Infinity);
    const recorder = new BodyRecorder(opts.storeStreamedBodies ? Infinity : eventStream ? eventStreamLimit : 0);
    const live = eventStream && resp.stream === true ? liveEvents(ctx, flow, recorder) : null;
    let failure: unknown = null;
    try {
      await streamBody(respPrefix, respIter, resp.stream, recorder, async (b) => {
        await client.writeResponseData(b);
        live?.progressed();
      });
    } catch (e) {
      failure = e;
    }
    live?.stop();
    resp.rawContent = recorder.content();
    if (failure !== null && requestFailure !== null) throw requestFailure;
    if (failure !== null) return await fail(502, failure instanceof StreamFunctionError ? failure.message : upstreamErrorMessage(failure), failure);
    if (recorder.truncated) ctx.master.log.info(`Recorded only the first ${prettySize(eventStreamLimit)} of the event stream from ${req.host}.`, ctx.clientLabel);
    if (respTrailers) resp.trailers = respTrailers;
    return await sendResponse(ctx, flow, client, upstream, true, releaseUpstream(flow, client, streamed, upstream, resp), streamed);
  } catch (e) {
    // A kill from outside the flow's hooks (mitmweb) dropped both sides: whatever failed then
    // (reading an HTTP/2 client's body fails with our own abort) is the kill.
    if (flow.killed) return await killed(true);
    // The client went away, reset its stream, or broke the protocol in the middle of its body.
    const clientProblem = clientFailure(e, clientGone);
    if (clientProblem) {
      flow.error ??= new FlowError(clientProblem);
      flow.live = false;
      upstream?.abort();
      ctx.master.log.info(`${flowLabel(flow)}: ${flow.error.msg}`, ctx.clientLabel);
      await hooks.triggerFlow('error', flow);
      client.abort();
      return 'close';
    }
    if (e instanceof HttpSyntaxError || e instanceof FramingError) return await fail(400, e.message);
    // The server connection broke while a streamed request body was being sent to it.
    if (e instanceof ConnectError) return await fail(502, e.message, e);
    if (e instanceof StreamFunctionError) return await fail(502, e.message);
    if (e instanceof OutgoingMessageError) return await fail(502, e.message);
    throw e;
  } finally {
    unsubscribeKill();
    stopWatchingClient();
  }
}

/**
 * After a failed flow's `error` hook (run while the flow is live, as in mitmproxy, so an addon can
 * kill it there): the client gets the error reply, or its connection or stream dropped when the
 * response has started, the hook killed the flow, or the client is gone (writing an error page to
 * its closed HTTP/2 stream would throw and end the flow a second time).
 */
async function replyToFailure(flow: HTTPFlow, client: ClientExchange, status: number, message: string, clientGone = false): Promise<void> {
  if (client.responseStarted || flow.killed || clientGone) client.abort();
  else await client.sendError(status, message);
}

/**
 * A killed flow ends: nothing more of its streamed request goes out, the `error` hook fires when
 * `fireError` (not for a flow killed in the `response` hook), and both sides are dropped.
 */
async function endKilledFlow(
  ctx: ConnectionContext,
  flow: HTTPFlow,
  client: ClientExchange,
  upstream: UpstreamExchange | null,
  streamed: StreamedRequest | null,
  fireError: boolean,
): Promise<FlowOutcome> {
  flow.live = false;
  streamed?.cancel();
  if (fireError) await ctx.hooks.triggerFlow('error', flow);
  upstream?.abort();
  client.abort();
  return 'close';
}

/**
 * The `response` hook and the write to the client (head and body unless already streamed); with
 * `requestEnd`, the response's end waits for a streamed request still going out.
 */
async function sendResponse(
  ctx: ConnectionContext,
  flow: HTTPFlow,
  client: ClientExchange,
  upstream: UpstreamExchange | null,
  alreadyStreamed: boolean,
  requestEnd: RequestEndWait | null = null,
  /** A request streamed in the background: its `request` hook and our `response` take turns. */
  streamed: StreamedRequest | null = null,
): Promise<FlowOutcome> {
  const resp = flow.response!;
  resp.timestampEnd = now();
  const isWebSocket =
    resp.statusCode === 101 &&
    (resp.headers.get('upgrade') ?? '').toLowerCase() === 'websocket' &&
    flow.request.headers.get('sec-websocket-version') === '13' &&
    ctx.options.websocket;
  if (isWebSocket) flow.websocket = new WebSocketData();
  await (streamed ? streamed.runHook('response') : ctx.hooks.triggerFlow('response', flow));
  if (flow.killed) return await endKilledFlow(ctx, flow, client, upstream, null, false);
  // A status the client's protocol cannot carry (101 or 600 over HTTP/2, made by an addon) fails the flow.
  const unsendable = alreadyStreamed ? null : client.responseProblem?.(resp);
  if (unsendable) {
    flow.error = new FlowError(unsendable);
    ctx.master.log.warn(`${flowLabel(flow)}: ${unsendable}`, ctx.clientLabel);
    await ctx.hooks.triggerFlow('error', flow);
    flow.live = false;
    await replyToFailure(flow, client, 502, unsendable);
    return 'close';
  }
  try {
    if (requestEnd) {
      // The request is still going out: the response goes to the client, its end once the
      // request has ended. Except, as in mitmproxy, over HTTP/2 for a response that ends with
      // trailers or has no body: those end the client's stream at once. That is how a gRPC
      // server ends a call the client is still streaming (its status in the trailers, or in a
      // Trailers-Only head), and the client waits for that status before it ends its side.
      const endNow = client.endsBeforeRequest === true && (Boolean(resp.trailers?.length) || (!alreadyStreamed && !resp.rawContent?.length));
      if (endNow) {
        if (alreadyStreamed) await client.endResponse(resp.trailers);
        else await client.sendResponse(resp);
      } else if (!alreadyStreamed) {
        const body = resp.rawContent ?? EMPTY_BODY;
        // Trailers need a body of unknown length over HTTP/1 (chunked), as sendResponse keeps them.
        await client.startResponse(resp, resp.trailers?.length ? null : body.length);
        if (body.length) await client.writeResponseData(body);
      }
      // Killed meanwhile: in the request's hook, or from outside (mitmweb).
      if (!(await requestEnd())) return await endKilledFlow(ctx, flow, client, upstream, null, true);
      if (!endNow) await client.endResponse(resp.trailers);
    } else if (!alreadyStreamed) await client.sendResponse(resp);
    else await client.endResponse(resp.trailers);
  } catch (e) {
    if (e instanceof OutgoingMessageError) {
      flow.error = new FlowError(e.message);
      ctx.master.log.warn(`${flowLabel(flow)}: cannot send response: ${e.message}`, ctx.clientLabel);
      await ctx.hooks.triggerFlow('error', flow);
      flow.live = false;
      // Nothing went out yet when the head failed its checks: the client gets a 502 saying why.
      await replyToFailure(flow, client, 502, `Cannot send the response: ${e.message}`);
      return 'close';
    }
    throw e;
  }
  if (resp.statusCode === 101) return { upgrade: flow };
  flow.live = false;
  return 'keep-alive';
}

function upstreamErrorMessage(e: unknown): string {
  if (e instanceof ConnectError) return e.message;
  if (e instanceof ConnectionClosedError) return e.message === 'peer closed connection' ? 'server closed connection' : e.message;
  if (e instanceof FramingError) {
    return `Received ${e.message} from server, refusing to prevent request smuggling attacks. Disable the validate_inbound_headers option to skip this security check.`;
  }
  if (e instanceof HttpSyntaxError || e instanceof OutgoingMessageError) return e.message;
  return describeNetworkError(e);
}

/** mitmproxy's flow error for a client that went away. */
const CLIENT_DISCONNECTED = 'Client disconnected.';

/** The client left before the flow reached its server. */
class ClientGoneError extends Error {
  constructor() {
    super(CLIENT_DISCONNECTED);
  }
}

/** What went wrong on the client's side of a flow, as the flow's error says it; null if `e` is something else. */
function clientFailure(e: unknown, clientGone: boolean): string | null {
  // Whatever failed once the client had left (its body cut short, a write to the server
  // connection we dropped for it) is that.
  if (clientGone || e instanceof ClientGoneError || e instanceof ConnectionClosedError) return CLIENT_DISCONNECTED;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return CLIENT_DISCONNECTED;
  }
  // node's HTTP/2 server reset the stream (a body longer or shorter than its content-length, ...);
  // Node 24 ends the whole session for some of these (ERR_HTTP2_ERROR).
  if (code === 'ERR_HTTP2_STREAM_ERROR' || code === 'ERR_HTTP2_ERROR') return `HTTP/2 protocol error in the client's stream: ${(e as Error).message}`;
  return null;
}

function flowLabel(flow: HTTPFlow): string {
  return `${flow.request.method} ${flow.request.prettyUrl}`;
}
