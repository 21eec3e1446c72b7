/**
 * Sending a saved request again from the proxy itself (client replay). The flow goes through the
 * proxy core's own HTTP flow lifecycle (proxy/http-stream.ts) with a stand-in for the client
 * side that supplies the saved request body and discards the answer, and the core's upstream
 * machinery (pooled connections, server_connect hooks, TLS towards https servers). So a replayed
 * flow sees requestheaders, request, responseheaders and response (or error) like a live one, and
 * map_remote, modify_headers, upstream_auth... apply to it.
 */
import { PassThrough } from 'node:stream';
import { Client, Server } from '../../connection.js';
import type { Headers } from '../../headers.js';
import type { HTTPFlow, Response } from '../../http.js';
import type { Master } from '../../master.js';
import type { ConnectionContext } from '../../proxy/context.js';
import { runHttpFlow, type ClientExchange } from '../../proxy/http-stream.js';
import { openUpstreamExchange } from '../../proxy/upstream-exchange.js';
import { ProxyMode } from '../../proxy/modes.js';
import { OwnAddresses } from '../../proxy/own-addresses.js';
import { readProxyOptions } from '../../proxy/proxy-options.js';
import { SocketReader } from '../../proxy/socket-reader.js';
import { UpstreamPool } from '../../proxy/upstream-pool.js';
import { ConnectionHooks } from '../../proxy/connection-hooks.js';
import { now } from '../../util/time.js';

/** The client side of a replay: the saved body goes in, whatever comes back is already on the flow. */
class ReplayClientExchange implements ClientExchange {
  readonly expectedBodySize: number;
  responseStarted = false;

  constructor(
    private readonly body: Buffer,
    private readonly trailers: Headers | null,
  ) {
    this.expectedBodySize = body.length;
  }

  async *requestBody(onTrailers: (t: Headers) => void): AsyncGenerator<Buffer> {
    if (this.body.length) yield this.body;
    if (this.trailers) onTrailers(this.trailers);
  }

  sendContinue(): void {}

  discardRequestBody(): void {}

  async sendResponse(_response: Response): Promise<void> {
    this.responseStarted = true;
  }

  async startResponse(_response: Response, _bodySize: number | null): Promise<void> {
    this.responseStarted = true;
  }

  async writeResponseData(_chunk: Buffer): Promise<void> {}

  async endResponse(_trailers: Headers | null): Promise<void> {}

  async sendError(_statusCode: number, _message: string): Promise<void> {
    this.responseStarted = true;
  }

  abort(): void {}
}

/** The proxy's own listening addresses (so a replay cannot loop into the proxy), when it runs. */
function ownAddresses(master: Master): OwnAddresses {
  const ps = master.addons.get('proxyserver') as { servers?: { own?: OwnAddresses } | null } | undefined;
  return ps?.servers?.own ?? new OwnAddresses();
}

/** The first configured mode (mitmproxy replays according to it); regular when it does not parse. */
function firstMode(master: Master): ProxyMode {
  const specs = master.options.has('mode') ? master.options.get<string[]>('mode') : [];
  try {
    return ProxyMode.parse(specs[0] ?? 'regular');
  } catch {
    return ProxyMode.parse('regular');
  }
}

/**
 * Replay `flow.request` to the server it names. Resolves when the flow has its response or its
 * error (never rejects for network or protocol trouble: that becomes `flow.error`).
 */
export async function replayRequest(master: Master, flow: HTTPFlow): Promise<void> {
  const req = flow.request;
  const body = req.rawContent ?? Buffer.alloc(0);
  // A copy of the original client, open again, stands for the connection the request came from.
  const client = Client.fromState(flow.clientConn.getState());
  client.timestampEnd = null;
  client.error = null;
  const nothing = new PassThrough();
  const ctx: ConnectionContext = {
    master,
    hooks: new ConnectionHooks(master.addons),
    mode: firstMode(master),
    client,
    server: new Server({ address: [req.host, req.port] }),
    socket: nothing,
    reader: new SocketReader(nothing),
    rawSocket: nothing,
    upstream: undefined as unknown as UpstreamPool,
    options: readProxyOptions(master.options),
    own: ownAddresses(master),
    clientLabel: '[replay]',
    closed: false,
  };
  ctx.upstream = new UpstreamPool(ctx);
  req.timestampStart = now();
  req.timestampEnd = req.timestampStart;
  flow.live = true;
  try {
    await runHttpFlow(ctx, flow, new ReplayClientExchange(body, req.trailers), (f, cancelled) => openUpstreamExchange(ctx, f, cancelled));
  } finally {
    flow.live = false;
    ctx.closed = true;
    await ctx.upstream.closeAll();
    nothing.destroy();
  }
}
