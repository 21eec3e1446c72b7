/**
 * Rendering a body with a content view: view selection, the fallback to Raw when a view fails,
 * control-character escaping and the line cutoff. This is what both the dumper (flow_detail >= 3)
 * and mitmweb's content route call, so they show the same text.
 */
import { Message, Request } from '../http.js';
import { TCPMessage, UDPMessage } from '../tcp.js';
import { WebSocketMessage } from '../websocket.js';
import { DNSMessage } from '../dns.js';
import type { AnyFlow } from '../flows.js';
import { ContentViewRegistry, type ContentViewLogger } from './registry.js';
import { countNewlines, cutAfterNLines, escapeControlCharacters } from './text.js';
import type { ContentView, ContentViewMetadata, SyntaxHighlight } from './types.js';

export interface ContentViewResult {
  /** The rendered text, control characters escaped, cut when a cutoff was given. */
  text: string;
  /** Display name of the view actually used ("JSON", "Raw", ...); null when there was no content. */
  viewName: string | null;
  syntaxHighlight: SyntaxHighlight;
  /** "", "[decoded gzip]", "[cannot decode]", with "[failed to parse as X]" appended on fallback. */
  description: string;
  /** True when `linesCutoff` removed lines (the dumper then prints "(cut off)"). */
  cut: boolean;
}

export interface PrettifyOptions {
  /** Keep only this many lines (content_view_lines_cutoff; the web route's `lines`). 0 or absent: all. */
  linesCutoff?: number;
  /** Written in front of any failure note in `description` (the decoding note of a message). */
  description?: string;
  /** Receives the registry's warnings (unknown view name, failing view). */
  log?: ContentViewLogger;
}

/** Text shown for a message whose body was not kept. */
export const CONTENT_MISSING = 'Content is missing.';

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n`;
  return `Error: ${String(e)}\n`;
}

function finish(
  text: string,
  view: { name: string | null; syntaxHighlight: SyntaxHighlight },
  description: string,
  linesCutoff: number | undefined,
): ContentViewResult {
  let cut = false;
  if (linesCutoff && linesCutoff > 0) {
    const shortened = cutAfterNLines(text, linesCutoff);
    cut = shortened.length < text.length;
    text = shortened;
  }
  return { text: escapeControlCharacters(text), viewName: view.name, syntaxHighlight: view.syntaxHighlight, description, cut };
}

/**
 * Render `data` with the view named `viewName` ("auto" picks the best one). Never throws for bad
 * data: in auto mode a failing view falls back to Raw with "[failed to parse as X]" in the
 * description; a view chosen by name that fails gives "Couldn't parse as X:" and the error, with
 * syntax highlight "error".
 */
export function prettifyWith(
  registry: ContentViewRegistry,
  viewName: string,
  data: Buffer,
  metadata: ContentViewMetadata,
  opts: PrettifyOptions = {},
): ContentViewResult {
  const enc = opts.description ?? '';
  const isAuto = viewName.toLowerCase() === 'auto';
  const view = registry.pick(data, metadata, viewName);
  const hints = opts.linesCutoff && opts.linesCutoff > 0 ? { maxLines: opts.linesCutoff } : {};
  try {
    return finish(view.render(data, metadata, hints), view, enc, opts.linesCutoff);
  } catch (e) {
    opts.log?.('debug', `Contentview '${view.name}' failed: ${e instanceof Error ? e.message : String(e)}`);
    if (isAuto) {
      const raw: ContentView | undefined = registry.get('raw');
      const text = raw ? safeRender(raw, data, metadata) : data.toString('latin1');
      return finish(text, { name: raw?.name ?? 'Raw', syntaxHighlight: 'none' }, `${enc}[failed to parse as ${view.name}]`, opts.linesCutoff);
    }
    return finish(`Couldn't parse as ${view.name}:\n${errorText(e)}`, { name: view.name, syntaxHighlight: 'error' }, enc, opts.linesCutoff);
  }
}

function safeRender(view: ContentView, data: Buffer, metadata: ContentViewMetadata): string {
  try {
    return view.render(data, metadata);
  } catch {
    return data.toString('latin1');
  }
}

/** Anything a content view can be asked to show. */
export type ContentViewMessage = Message | TCPMessage | UDPMessage | WebSocketMessage | DNSMessage;

/**
 * The body of `message` and the note about its Content-Encoding: decoded content and
 * "[decoded gzip]", or the raw bytes and "[cannot decode]" when decoding fails. null when the
 * body was not kept.
 */
export function getMessageData(message: ContentViewMessage): { data: Buffer | null; description: string } {
  if (message instanceof Message) {
    let content: Buffer | null;
    try {
      content = message.getContent(true);
    } catch {
      return { data: message.rawContent, description: '[cannot decode]' };
    }
    if (content !== null && message.rawContent !== null && content !== message.rawContent && !content.equals(message.rawContent)) {
      return { data: content, description: `[decoded ${message.headers.get('content-encoding') ?? ''}]` };
    }
    return { data: content, description: '' };
  }
  if (message instanceof DNSMessage) return { data: message.pack(), description: '' };
  return { data: message.content, description: '' };
}

/** `type/subtype` of a Content-Type header value, lowercased; undefined when it does not parse. */
export function parseContentTypeEssence(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const main = value.split(';', 1)[0]!.trim();
  const slash = main.indexOf('/');
  if (slash < 0) return undefined;
  const type = main.slice(0, slash).trim().toLowerCase();
  const subtype = main.slice(slash + 1).trim().toLowerCase();
  if (!type || !subtype) return undefined;
  return `${type}/${subtype}`;
}

/** The metadata mitmproxy passes to views for a message of a flow. */
export function makeMetadata(message: ContentViewMessage, flow: AnyFlow | undefined, protobufDefinitions?: string | null): ContentViewMetadata {
  const metadata: ContentViewMetadata = {};
  if (flow) metadata.flow = flow;
  if (protobufDefinitions) metadata.protobufDefinitions = protobufDefinitions;
  if (message instanceof Message) {
    metadata.httpMessage = message as Request;
    const ct = parseContentTypeEssence(message.headers.get('content-type'));
    if (ct) metadata.contentType = ct;
  } else if (message instanceof UDPMessage) metadata.udpMessage = message;
  else if (message instanceof TCPMessage) metadata.tcpMessage = message;
  else if (message instanceof WebSocketMessage) metadata.websocketMessage = message;
  else if (message instanceof DNSMessage) metadata.dnsMessage = message;
  return metadata;
}

export interface PrettifyMessageOptions extends Omit<PrettifyOptions, 'description'> {
  /** The protobuf_definitions option (a .proto file path). */
  protobufDefinitions?: string | null;
}

/** Render a message of a flow (mitmproxy's prettify_message), with decoding notes. */
export function prettifyMessageWith(
  registry: ContentViewRegistry,
  message: ContentViewMessage,
  flow: AnyFlow | undefined,
  viewName = 'auto',
  opts: PrettifyMessageOptions = {},
): ContentViewResult {
  const { data, description } = getMessageData(message);
  if (data === null) return { text: CONTENT_MISSING, viewName: null, syntaxHighlight: 'error', description: '', cut: false };
  const metadata = makeMetadata(message, flow, opts.protobufDefinitions);
  const po: PrettifyOptions = { description };
  if (opts.linesCutoff !== undefined) po.linesCutoff = opts.linesCutoff;
  if (opts.log) po.log = opts.log;
  return prettifyWith(registry, viewName, data, metadata, po);
}

/**
 * mitmweb's JSON object for a rendered message, keys in mitmproxy's order. `from_client` and
 * `timestamp` are added for WebSocket/TCP/UDP messages.
 */
export function contentViewResultJson(
  r: ContentViewResult,
  extra?: { fromClient: boolean; timestamp: number },
): { text: string; view_name: string | null; syntax_highlight: SyntaxHighlight; description: string; from_client?: boolean; timestamp?: number } {
  const out: { text: string; view_name: string | null; syntax_highlight: SyntaxHighlight; description: string; from_client?: boolean; timestamp?: number } = {
    text: r.text,
    view_name: r.viewName,
    syntax_highlight: r.syntaxHighlight,
    description: r.description,
  };
  if (extra) {
    out.from_client = extra.fromClient;
    out.timestamp = extra.timestamp;
  }
  return out;
}

/**
 * Render the messages of a WebSocket/TCP/UDP flow for mitmweb's `messages` route: the line budget
 * is shared, each message using its newline count plus one, and rendering stops when it is spent.
 */
export function prettifyMessagesWith(
  registry: ContentViewRegistry,
  messages: Iterable<TCPMessage | UDPMessage | WebSocketMessage>,
  flow: AnyFlow | undefined,
  viewName = 'auto',
  opts: PrettifyMessageOptions = {},
): Array<{ result: ContentViewResult; fromClient: boolean; timestamp: number }> {
  const out: Array<{ result: ContentViewResult; fromClient: boolean; timestamp: number }> = [];
  let budget = opts.linesCutoff && opts.linesCutoff > 0 ? opts.linesCutoff : 0;
  for (const m of messages) {
    const o: PrettifyMessageOptions = { ...opts };
    if (budget > 0) o.linesCutoff = budget;
    else delete o.linesCutoff;
    const result = prettifyMessageWith(registry, m, flow, viewName, o);
    out.push({ result, fromClient: m.fromClient, timestamp: m.timestamp });
    if (budget > 0) {
      budget -= countNewlines(result.text) + 1;
      if (budget <= 0) break;
    }
  }
  return out;
}
