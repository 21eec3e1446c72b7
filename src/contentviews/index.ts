/**
 * Content views: turning message bodies into readable text, as mitmproxy's contentviews do.
 *
 *   prettify('auto', body, { contentType: 'application/json' }, { linesCutoff: 512 })
 *   prettifyMessage(flow.response, flow, 'auto')   // decodes Content-Encoding, notes it
 *
 * The dumper and mitmweb's content route both go through `prettifyMessage`, so they agree.
 */
import type { AnyFlow } from '../flows.js';
import type { TCPMessage, UDPMessage } from '../tcp.js';
import type { WebSocketMessage } from '../websocket.js';
import {
  prettifyMessagesWith,
  prettifyMessageWith,
  prettifyWith,
  type ContentViewMessage,
  type ContentViewResult,
  type PrettifyMessageOptions,
  type PrettifyOptions,
} from './prettify.js';
import { ContentViewRegistry } from './registry.js';
import type { ContentView, ContentViewMetadata, SyntaxHighlight } from './types.js';
import { css } from './views/css.js';
import { dns } from './views/dns.js';
import { graphql } from './views/graphql.js';
import { grpc } from './views/grpc.js';
import { hexDump } from './views/hex-dump.js';
import { hexStream } from './views/hex-stream.js';
import { image } from './views/image.js';
import { javascript } from './views/javascript.js';
import { json } from './views/json.js';
import { mqtt } from './views/mqtt.js';
import { msgpack } from './views/msgpack.js';
import { multipart } from './views/multipart.js';
import { protobuf } from './views/protobuf.js';
import { query } from './views/query.js';
import { raw } from './views/raw.js';
import { serverSentEvents } from './views/server-sent-events.js';
import { socketIO } from './views/socketio.js';
import { urlencoded } from './views/urlencoded.js';
import { wbxml } from './views/wbxml.js';
import { xmlHtml } from './views/xml-html.js';
import { zip } from './views/zip.js';

export type { ContentView, ContentViewMetadata, RenderHints, SyntaxHighlight } from './types.js';
export type { ContentViewResult, PrettifyOptions, PrettifyMessageOptions, ContentViewMessage } from './prettify.js';
export { ContentViewRegistry, type ContentViewLogger } from './registry.js';
export { CONTENT_MISSING, contentViewResultJson, getMessageData, makeMetadata, parseContentTypeEssence } from './prettify.js';
export { cutAfterNLines, countNewlines, escapeControlCharacters } from './text.js';

/** Default of the content_view_lines_cutoff option. */
export const CONTENT_VIEW_LINES_CUTOFF = 512;

/**
 * The built-in views in mitmproxy's registration order (its Python views, then the Rust ones),
 * which decides `auto` ties; last, the views mitmproxy lacks.
 */
export const builtinViews: readonly ContentView[] = [
  css, dns, graphql, image, javascript, json, mqtt, multipart, query, raw, socketIO, urlencoded, wbxml, xmlHtml, zip,
  hexDump, hexStream, msgpack, protobuf, grpc,
  serverSentEvents,
];

/** The process-wide registry the dumper and the web app use; addons may add views to it. */
export const registry = new ContentViewRegistry(builtinViews);

/** A view by name (any case), or undefined. */
export function getView(name: string): ContentView | undefined {
  return registry.get(name);
}

/**
 * A content view as an addon or script defines it for `addContentView`: mitmproxy's
 * `Contentview` (its `prettify` is `render` here), with the same defaults for what it leaves out.
 */
export interface ContentViewDefinition {
  /** Default: the class name without a "ContentView" suffix (mitmproxy's rule), e.g. "SwapCase". */
  readonly name?: string;
  /** Default "none". */
  readonly syntaxHighlight?: SyntaxHighlight;
  /** The readable text for `data`; throw when the data is not of this view's format. */
  render(data: Buffer, metadata: ContentViewMetadata): string;
  /** How well the view fits in `auto` mode (default 0; builtin views answer 0 to 2, below 0 means never). */
  renderPriority?(data: Buffer, metadata: ContentViewMetadata): number;
}

/**
 * Add a content view for the dumper and mitmweb to use, as mitmproxy's `contentviews.add`:
 * `auto` picks it when its render priority is the highest, and it can be chosen by its name
 * (any case). A view (or class, which is instantiated) with the name of an existing one replaces
 * it, so a script that re-registers its view on reload does not add a second. Returns the name.
 */
export function addContentView(view: ContentViewDefinition | (new () => ContentViewDefinition)): string {
  const def: ContentViewDefinition = typeof view === 'function' ? new view() : view;
  if (typeof def?.render !== 'function') {
    throw new TypeError('A content view needs a render(data, metadata) method (mitmproxy calls it prettify).');
  }
  const ctorName = (def as { constructor?: { name?: string } }).constructor?.name;
  const name = def.name ?? (ctorName && ctorName !== 'Object' ? ctorName.replace(/Content[vV]iew$/, '') : '');
  if (!name) throw new TypeError('A content view needs a name (a plain object has no class name to take it from).');
  registry.register({
    name,
    syntaxHighlight: def.syntaxHighlight ?? 'none',
    render: (data, metadata) => def.render(data, metadata),
    renderPriority: (data, metadata) => (def.renderPriority ? def.renderPriority(data, metadata) : 0),
  });
  return name;
}

/** Remove a content view by name (any case); false when there was none. */
export function removeContentView(name: string): boolean {
  return registry.unregister(name);
}

/**
 * What mitmweb's /state lists as `contentViews`: "auto", then the sorted lowercase names of all
 * views except "query" (which only makes sense for requests without a body).
 */
export function availableViews(): string[] {
  return registry.availableViews().filter((v) => v !== 'query');
}

/** Every accepted view name, "query" included: the choices of dumper_default_contentview. */
export function contentViewChoices(): string[] {
  return registry.availableViews();
}

/** Render bytes with a view ("auto" picks one). Never throws for bad data. */
export function prettify(viewName: string, data: Buffer, metadata: ContentViewMetadata = {}, opts?: PrettifyOptions): ContentViewResult {
  return prettifyWith(registry, viewName, data, metadata, opts);
}

/** Render the body of a message of a flow, decoding its Content-Encoding (mitmproxy's prettify_message). */
export function prettifyMessage(message: ContentViewMessage, flow?: AnyFlow, viewName = 'auto', opts?: PrettifyMessageOptions): ContentViewResult {
  return prettifyMessageWith(registry, message, flow, viewName, opts);
}

/** Render WebSocket/TCP/UDP messages with a shared line budget (mitmweb's `messages` content route). */
export function prettifyMessages(
  messages: Iterable<TCPMessage | UDPMessage | WebSocketMessage>,
  flow?: AnyFlow,
  viewName = 'auto',
  opts?: PrettifyMessageOptions,
): Array<{ result: ContentViewResult; fromClient: boolean; timestamp: number }> {
  return prettifyMessagesWith(registry, messages, flow, viewName, opts);
}
