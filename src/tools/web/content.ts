/**
 * Message bodies over the API: download and upload (`content.data`) and rendering through the
 * content views (`content/<view>`), web-api.md §3.19–3.20.
 */
import { getView, prettifyMessage, prettifyMessages, contentViewResultJson } from '../../contentviews/index.js';
import { DNSFlow, type DNSMessage } from '../../dns.js';
import type { AnyFlow } from '../../flows.js';
import { HTTPFlow, type Message } from '../../http.js';
import { TCPFlow } from '../../tcp.js';
import { bytesToText, textToBytes } from '../../util/bytes.js';
import type { RequestContext } from './context.js';
import { ApiError } from './errors.js';
import type { JsonValue } from './json.js';

/** The HTTP message a route names, or a 400 saying why there is none. */
function httpMessage(flow: AnyFlow, part: string): Message {
  if (part === 'messages') throw new ApiError(400, 'Use /content/<view> to read the messages of a flow.');
  if (!(flow instanceof HTTPFlow)) throw new ApiError(400, `This flow has no HTTP ${part}.`);
  const m = part === 'request' ? flow.request : flow.response;
  if (!m) throw new ApiError(400, 'This flow has no response.');
  return m;
}

const FILENAME_CHARS = /[^-\p{L}\p{N}_" .()]/gu;

/** `attachment; filename=...` from the message's Content-Disposition or the request path. */
export function downloadDisposition(flow: HTTPFlow, message: Message): string {
  let filename: string | null = null;
  const cd = message.headers.get('content-disposition');
  if (cd) {
    const m = /filename=([-\p{L}\p{N}_" .()]+)/u.exec(cd);
    if (m) filename = m[1]!;
  }
  if (!filename) filename = bytesToText(flow.request.path).split('?')[0]!.split('/').pop() ?? '';
  filename = filename.replace(FILENAME_CHARS, '');
  return `attachment; filename=${filename}`;
}

/** GET content.data: the decoded body (the raw bytes when decoding fails) as a download. */
export function getContentData(ctx: RequestContext): void {
  const flow = ctx.flow();
  const message = httpMessage(flow, ctx.params.message!);
  const content = message.getContent(false);
  if (content === null) throw new ApiError(400, 'Content is missing.');
  ctx.setHeader('Content-Disposition', textToBytes(downloadDisposition(flow as HTTPFlow, message)));
  ctx.setHeader('Content-Type', 'application/text');
  ctx.setHeader('X-Content-Type-Options', 'nosniff');
  ctx.setHeader('X-Frame-Options', 'DENY');
  ctx.write(content);
}

/** POST content.data: replace the body (decoded bytes; re-encoded per Content-Encoding). */
export function postContentData(ctx: RequestContext): void {
  const flow = ctx.flow();
  const message = httpMessage(flow, ctx.params.message!);
  flow.backup();
  message.content = ctx.fileContents();
  ctx.app.view.update([flow]);
}

/** The `lines` argument: a positive number of lines, 0/absent for no limit. */
function linesArgument(ctx: RequestContext): number {
  const raw = ctx.query.getAll('lines')[0] ?? ctx.formData().fields.get('lines')?.[0];
  if (raw === undefined || raw === '') return 0;
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) throw new ApiError(400, `Invalid lines argument: ${raw}`);
  const n = Number(raw);
  if (n < 0) throw new ApiError(400, `Invalid lines argument: ${raw}`);
  return n;
}

/** GET content/<view>: the rendered body, or for `messages` the rendered messages. */
export function getContentView(ctx: RequestContext): void {
  const flow = ctx.flow();
  const part = ctx.params.message!;
  let viewName = ctx.params.content_view ?? 'auto';
  if (viewName.toLowerCase() === 'auto') viewName = 'auto';
  else if (!getView(viewName)) ctx.app.master.log.warn(`Unknown contentview '${viewName}', selecting best match instead.`);
  const lines = linesArgument(ctx);
  const log = (level: 'warn' | 'info' | 'debug', message: string) => ctx.app.master.log.add(level, message);
  const protobufDefinitions = ctx.app.master.options.has('protobuf_definitions') ? ctx.app.master.options.get<string | null>('protobuf_definitions') : null;
  const opts = { linesCutoff: lines, log, protobufDefinitions };

  if (part === 'messages') {
    let messages;
    if (flow instanceof HTTPFlow && flow.websocket) messages = flow.websocket.readMessages();
    else if (flow instanceof TCPFlow) messages = flow.messages;
    else throw new ApiError(400, 'This flow has no messages.');
    const out = prettifyMessages(messages, flow, viewName, opts).map((r) =>
      contentViewResultJson(r.result, { fromClient: r.fromClient, timestamp: r.timestamp }),
    );
    ctx.write(out as unknown as JsonValue);
    return;
  }
  let message: Message | DNSMessage | null;
  if (flow instanceof HTTPFlow) message = part === 'request' ? flow.request : flow.response;
  else if (flow instanceof DNSFlow) message = part === 'request' ? flow.request : flow.response;
  else throw new ApiError(400, `This flow has no ${part}.`);
  if (!message) throw new ApiError(400, `This flow has no ${part}.`);
  ctx.write(contentViewResultJson(prettifyMessage(message, flow, viewName, opts)) as unknown as JsonValue);
}
