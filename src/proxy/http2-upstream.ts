import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { Response, hostport, type HTTPFlow } from '../http.js';
import { Headers } from '../headers.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import type { UpstreamExchange } from './http-stream.js';
import { OutgoingMessageError } from './http1/assemble.js';
import { isToken } from './http1/parse.js';
import { addHttp2Headers, splitPseudoHeaders } from './http2-headers.js';
import { ConnectionClosedError } from './socket-reader.js';
import type { ServerConnection } from './upstream-pool.js';
import { readableChunks } from './readable-chunks.js';
import { waitForDrain } from './wait-for-drain.js';

const { NGHTTP2_CANCEL, NGHTTP2_DEFAULT_WEIGHT } = http2.constants;

/**
 * Node 20 adds its default stream priority fields to its copy of every request's options, which
 * costs ~4% of the proxy's CPU under HTTP/2 load; given them up front, it only checks them. Later
 * versions warn (DEP0194: priority signaling is deprecated) when they are given at all.
 */
const PRIORITY_DEFAULTS = process.versions.node.startsWith('20.') ? { weight: NGHTTP2_DEFAULT_WEIGHT, parent: 0, exclusive: false, silent: false } : {};

/** The HTTP/2 client session on an upstream connection, created on first use and shared by streams. */
export function sessionFor(ctx: ConnectionContext, conn: ServerConnection): http2.ClientHttp2Session {
  if (conn.h2 && !conn.h2.closed && !conn.h2.destroyed) return conn.h2;
  const socket: Duplex = conn.reader.handOver();
  const [host, port] = conn.target.address;
  const session = http2.connect(`https://${hostport('https', host, port)}`, {
    createConnection: () => socket,
    settings: { enablePush: false },
    maxSessionMemory: 64,
    // An upstream may announce a huge header table or stream count; bound what we keep (Node 20 CVEs).
    maxHeaderListPairs: 4000,
  });
  process.nextTick(() => socket.resume());
  session.on('error', (e) => ctx.master.log.debug(`HTTP/2 upstream session error: ${e.message}`, ctx.clientLabel));
  // A GOAWAY or a closed session means new streams need a new connection.
  session.on('goaway', () => (conn.reusable = false));
  session.on('close', () => {
    conn.reusable = false;
    if (!conn.socket.destroyed) conn.socket.destroy();
  });
  const interval = ctx.master.options.has('http2_ping_keepalive') ? ctx.master.options.get<number>('http2_ping_keepalive') : 58;
  if (interval > 0) {
    const timer = setInterval(() => {
      if (!session.closed && !session.destroyed) session.ping(() => undefined);
    }, interval * 1000);
    timer.unref();
    session.once('close', () => clearInterval(timer));
  }
  conn.h2 = session;
  conn.multiplexed = true;
  return session;
}

function resetMessage(code: number): string {
  const names: Record<number, string> = {
    0: 'NO_ERROR', 1: 'PROTOCOL_ERROR', 2: 'INTERNAL_ERROR', 3: 'FLOW_CONTROL_ERROR', 5: 'STREAM_CLOSED', 6: 'FRAME_SIZE_ERROR',
    7: 'REFUSED_STREAM', 8: 'CANCEL', 9: 'COMPRESSION_ERROR', 10: 'CONNECT_ERROR', 11: 'ENHANCE_YOUR_CALM', 12: 'INADEQUATE_SECURITY', 13: 'HTTP_1_1_REQUIRED',
  };
  return `stream reset by server (${names[code] ?? code})`;
}

/** One request as an HTTP/2 stream on a (shared) upstream connection. */
export class Http2UpstreamExchange implements UpstreamExchange {
  private stream: http2.ClientHttp2Stream | null = null;
  private responseHead: Promise<{ headers: http2.IncomingHttpHeaders; flags: number; raw: string[] }> | null = null;
  private bodySize: number | null = null;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly conn: ServerConnection,
  ) {
    conn.exchanges++;
  }

  private open(flow: HTTPFlow, endStream: boolean): http2.ClientHttp2Stream {
    const r = flow.request;
    if (!isToken(r.method)) throw new OutgoingMessageError(`Invalid request method: ${JSON.stringify(r.method)}`);
    const authority = r.authority || r.headers.get('host') || hostport(r.scheme, r.host, r.port);
    const headers: http2.OutgoingHttpHeaders = { ':method': r.method, ':scheme': r.scheme || 'https', ':authority': authority, ':path': r.path };
    const lowercased = addHttp2Headers(headers, r.headers.fields, { dropHost: true, checkNames: true });
    if (lowercased.length && this.ctx.master.options.has('normalize_outbound_headers') && this.ctx.master.options.get<boolean>('normalize_outbound_headers')) {
      for (const n of lowercased) this.ctx.master.log.debug(`Lowercased '${n}' header as uppercase is not allowed with HTTP/2.`, this.ctx.clientLabel);
    }
    const hasTrailers = Boolean(r.trailers && r.trailers.length);
    const trailers: http2.OutgoingHttpHeaders = {};
    if (hasTrailers) addHttp2Headers(trailers, r.trailers!.fields, { dropHost: false });
    const session = sessionFor(this.ctx, this.conn);
    const stream = session.request(headers, { endStream: endStream && !hasTrailers, waitForTrailers: hasTrailers, ...PRIORITY_DEFAULTS });
    stream.on('error', () => undefined);
    if (hasTrailers) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    this.responseHead = new Promise((resolve, reject) => {
      let answered = false;
      stream.once('response', (h: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
        answered = true;
        resolve({ headers: h, flags, raw: rawHeaders });
      });
      // Every stream closes; only one closed before its response is an error (and an error's
      // stack trace is too costly to build per request just to be ignored).
      stream.once('close', () => {
        if (!answered) reject(new ConnectionClosedError(stream.rstCode ? resetMessage(stream.rstCode) : 'server closed connection'));
      });
      stream.once('error', (e: Error) => reject(e));
    });
    this.responseHead.catch(() => undefined);
    this.stream = stream;
    return stream;
  }

  async sendRequest(flow: HTTPFlow): Promise<void> {
    const body = flow.request.rawContent ?? Buffer.alloc(0);
    const stream = this.open(flow, body.length === 0);
    if (body.length) stream.end(body);
    else if (flow.request.trailers?.length) stream.end();
  }

  async startRequest(flow: HTTPFlow): Promise<void> {
    this.open(flow, false);
  }

  async writeRequestData(chunk: Buffer): Promise<void> {
    const s = this.stream!;
    if (!s.write(chunk)) await waitForDrain(s);
  }

  async endRequest(): Promise<void> {
    this.stream!.end();
  }

  async readResponseHead(): Promise<Response> {
    const { flags, raw } = await this.responseHead!;
    const { pseudo, fields } = splitPseudoHeaders(raw);
    const h = new Headers();
    h.fields = fields;
    const resp = new Response({ statusCode: Number(pseudo.get(':status') ?? 0), reason: '', httpVersion: 'HTTP/2.0', headers: h, content: null, timestampStart: now() });
    const cl = h.get('content-length');
    this.bodySize = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 ? 0 : cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    return resp;
  }

  responseBodySize(): number | null {
    return this.bodySize;
  }

  async *responseBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer> {
    const stream = this.stream!;
    stream.once('trailers', (_h: http2.IncomingHttpHeaders, _f: number, raw: string[]) => onTrailers(Headers.fromRaw(raw)));
    if (this.bodySize === 0) return;
    for await (const chunk of readableChunks(stream)) yield chunk;
    if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) throw new ConnectionClosedError(resetMessage(stream.rstCode));
  }

  finish(): void {
    // The session stays open for other streams.
  }

  abort(): void {
    if (this.stream && !this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }
}
