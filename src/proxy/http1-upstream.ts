import { Response, hostport, type HTTPFlow } from '../http.js';
import type { Headers, HeaderField } from '../headers.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import type { UpstreamExchange } from './http-stream.js';
import { assembleRequestHead, chunkHeader, framedFields, lastChunk, type OutgoingFraming } from './http1/assemble.js';
import { readBody } from './http1/body.js';
import { expectedSize, keepAlive, responseBodyFraming, type BodyFraming } from './http1/framing.js';
import { parseResponseHead } from './http1/parse.js';
import { writeHttp1Message } from './http1/write.js';
import { ConnectionClosedError, HeadTooLargeError } from './socket-reader.js';
import { ConnectError, type ServerConnection } from './upstream-pool.js';
import { waitForDrain } from './wait-for-drain.js';
import { absoluteRequestTarget } from './upstream-proxy.js';

const CRLF = Buffer.from('\r\n');

/** The request target to send: origin-form, or absolute-form when the request kept its authority (upstream proxies). */
function requestTarget(flow: HTTPFlow): string {
  const r = flow.request;
  if (r.method === 'CONNECT') return r.authority || `${r.host}:${r.port}`;
  // HTTP/2 requests always carry an authority; over HTTP/1 it becomes the Host header instead.
  if (r.authority && r.path !== '*' && !(r.isHttp2 || r.isHttp3)) return `${r.scheme}://${r.authority}${r.path}`;
  return r.path;
}

/**
 * The header fields of a request as HTTP/1 needs them: an HTTP/2 or HTTP/3 request gets a Host
 * header from its :authority and its cookie fields joined (HTTP/1 allows only one Cookie header).
 */
function http1Fields(flow: HTTPFlow): HeaderField[] {
  const r = flow.request;
  if (!(r.isHttp2 || r.isHttp3)) return r.headers.fields;
  let fields = r.headers.fields;
  const cookies = fields.filter(([n]) => n.toLowerCase() === 'cookie');
  if (cookies.length > 1) {
    const joined = cookies.map(([, v]) => v).join('; ');
    let placed = false;
    fields = fields.flatMap((f): HeaderField[] => (f[0].toLowerCase() !== 'cookie' ? [f] : placed ? [] : ((placed = true), [[f[0], joined]])));
  }
  if (!fields.some(([n]) => n.toLowerCase() === 'host')) fields = [['Host', r.authority || hostport(r.scheme, r.host, r.port)], ...fields];
  return fields;
}

/** Methods whose request may be sent again after a failure (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** HTTP/2 and HTTP/3 requests are sent upstream as HTTP/1.1. */
function wireVersion(v: string): string {
  return v === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
}

/** A request over an HTTP/1 connection to the server. */
export class Http1UpstreamExchange implements UpstreamExchange {
  private chunked = false;
  private framing: BodyFraming = { kind: 'none' };
  private requestComplete = false;
  private responseKeepAlive = true;
  private done = false;
  /** Whether the connection had carried a request before (a failure then may just be a stale connection). */
  private readonly reused: boolean;
  private sentBuffered = false;
  private upgraded = false;

  constructor(
    private readonly ctx: ConnectionContext,
    private conn: ServerConnection,
  ) {
    this.reused = conn.exchanges > 0;
    conn.exchanges++;
  }

  get server() {
    return this.conn.server;
  }

  /** The request head for this connection (which it marks when the request authenticates the connection itself). */
  private head(flow: HTTPFlow, framing: OutgoingFraming): string {
    const r = flow.request;
    noteConnectionAuth(this.conn, r.headers.get('authorization'));
    const { fields, chunked } = framedFields(http1Fields(flow), framing, true);
    this.chunked = chunked;
    // A connection to an upstream proxy that carries plain requests needs them in absolute form.
    const target = this.conn.target.forwardPlain ? absoluteRequestTarget(flow) : requestTarget(flow);
    return assembleRequestHead(r.method, target, wireVersion(r.httpVersion), fields);
  }

  async sendRequest(flow: HTTPFlow): Promise<void> {
    const body = flow.request.rawContent ?? Buffer.alloc(0);
    const head = this.head(flow, { kind: 'buffered', length: body.length });
    this.sentBuffered = true;
    // The whole message is handed to the socket now; its drain is not awaited before the response
    // is read: a server may answer before it has read the body (a 413) and never read the rest.
    // Until it has drained the request is not complete, and the connection is not reused.
    this.writeBuffered(head, body, flow.request.trailers).then(
      () => (this.requestComplete = true),
      () => undefined,
    );
  }

  private async writeBuffered(head: string, body: Buffer, trailers: Headers | null): Promise<void> {
    const s = this.conn.socket;
    if (writeHttp1Message(s, head, body, this.chunked, trailers?.fields ?? null)) await waitForDrain(s);
  }

  async startRequest(flow: HTTPFlow, bodySize: number | null): Promise<void> {
    const transforming = typeof flow.request.stream === 'function';
    const framing: OutgoingFraming = bodySize !== null && !transforming ? { kind: 'stream-length', length: bodySize } : { kind: 'stream-chunked' };
    await this.conn.write(this.head(flow, framing));
  }

  async writeRequestData(chunk: Buffer): Promise<void> {
    if (this.chunked) {
      this.conn.socket.cork();
      this.conn.socket.write(chunkHeader(chunk.length), 'latin1');
      this.conn.socket.write(chunk);
      const w = this.conn.write(CRLF);
      this.conn.socket.uncork();
      await w;
    } else {
      await this.conn.write(chunk);
    }
  }

  async endRequest(trailers: Headers | null): Promise<void> {
    if (this.chunked) await this.conn.write(lastChunk(trailers?.fields ?? null));
    this.requestComplete = true;
  }

  async readResponseHead(flow: HTTPFlow): Promise<Response> {
    try {
      return await this.readHeadOnce(flow);
    } catch (e) {
      // A keep-alive connection the server closed while idle fails at once; retry once on a
      // fresh connection when nothing of the response arrived and the request can be resent.
      // Only an idempotent one: the server may have acted on it before it closed, and a proxy
      // must not send a POST twice (RFC 9110 §9.2.2).
      if (
        this.reused &&
        this.sentBuffered &&
        IDEMPOTENT_METHODS.has(flow.request.method) &&
        (e instanceof ConnectionClosedError || (e as NodeJS.ErrnoException).code === 'ECONNRESET')
      ) {
        this.conn.close();
        this.ctx.upstream.release(this.conn);
        this.conn = await this.ctx.upstream.open(this.conn.target);
        this.conn.inUse = true;
        this.conn.exchanges++;
        flow.serverConn = this.conn.server;
        await this.sendRequest(flow);
        return await this.readHeadOnce(flow);
      }
      throw e;
    }
  }

  private async readHeadOnce(flow: HTTPFlow): Promise<Response> {
    const reader = this.conn.reader;
    for (;;) {
      let raw: Buffer | null;
      try {
        raw = await reader.readHead(this.ctx.options.maxResponseHeadSize);
      } catch (e) {
        if (e instanceof HeadTooLargeError) throw new ConnectError(`Cannot parse HTTP response: headers exceed ${e.limit} bytes`);
        throw e;
      }
      const ts = now();
      if (raw === null) throw new ConnectionClosedError('server closed connection');
      const head = parseResponseHead(raw);
      // Interim responses (103 Early Hints, a stray 100) are not forwarded; 101 is final.
      if (head.statusCode >= 100 && head.statusCode < 200 && head.statusCode !== 101) continue;
      const resp = new Response({
        statusCode: head.statusCode,
        reason: head.reason,
        httpVersion: head.httpVersion,
        headers: head.headers,
        content: null,
        timestampStart: ts,
      });
      for (const challenge of resp.headers.getAll('www-authenticate')) noteConnectionAuth(this.conn, challenge);
      this.framing = responseBodyFraming(flow.request.method, head.statusCode, head.headers, this.ctx.options.validateInboundHeaders);
      this.upgraded = head.statusCode === 101;
      this.responseKeepAlive = keepAlive(head.httpVersion, head.headers) && this.framing.kind !== 'close' && !this.upgraded;
      return resp;
    }
  }

  responseBodySize(): number | null {
    return expectedSize(this.framing);
  }

  responseBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer> {
    return readBody(this.conn.reader, this.framing, onTrailers);
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    // After 101 the connection carries another protocol; the upgrade code takes it over.
    if (this.upgraded) return;
    if (!this.responseKeepAlive || !this.requestComplete) this.conn.reusable = false;
    this.ctx.upstream.release(this.conn);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.conn.close();
    this.ctx.upstream.release(this.conn);
  }

  /** The raw connection, for protocol upgrades (WebSocket, 101 to raw TCP). */
  takeConnection(): ServerConnection {
    this.done = true;
    return this.conn;
  }
}

/** Authentication schemes whose state the server ties to the TCP connection (RFC 4559, MS-NTHT). */
const CONNECTION_BOUND_AUTH = /^\s*(ntlm|negotiate|kerberos)\b/i;

/** Mark `conn` as carrying connection-bound authentication when an Authorization or WWW-Authenticate value uses such a scheme. */
function noteConnectionAuth(conn: ServerConnection, value: string | undefined): void {
  if (value !== undefined && CONNECTION_BOUND_AUTH.test(value)) conn.authBound = true;
}
