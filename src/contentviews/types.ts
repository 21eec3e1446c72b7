/**
 * The contract every content view fulfils, and the facts a view may use to decide how to render
 * a body. Mirrors mitmproxy's Contentview protocol (name, syntax_highlight, prettify,
 * render_priority) in TypeScript naming.
 */
import type { AnyFlow } from '../flows.js';
import type { Request, Response } from '../http.js';
import type { TCPMessage, UDPMessage } from '../tcp.js';
import type { WebSocketMessage } from '../websocket.js';
import type { DNSMessage } from '../dns.js';

/** The highlighters mitmproxy's front ends know. JSON output is highlighted as YAML (a superset). */
export type SyntaxHighlight = 'css' | 'javascript' | 'xml' | 'yaml' | 'none' | 'error';

/**
 * What is known about the data being rendered. Every field is optional: views must cope with
 * bare bytes (for example a body shown outside any flow).
 */
export interface ContentViewMetadata {
  /** `type/subtype` of the message's Content-Type, lowercased, without parameters. */
  contentType?: string;
  /** The flow the data belongs to. */
  flow?: AnyFlow;
  /** The HTTP request or response the data is the body of. */
  httpMessage?: Request | Response;
  tcpMessage?: TCPMessage;
  udpMessage?: UDPMessage;
  websocketMessage?: WebSocketMessage;
  dnsMessage?: DNSMessage;
  /** Path of a .proto file used to name protobuf fields (the `protobuf_definitions` option). */
  protobufDefinitions?: string;
}

/** Hints a view may use to do less work; the caller still cuts the result exactly. */
export interface RenderHints {
  /** Only this many lines will be shown; a view may stop formatting after them. */
  maxLines?: number;
}

export interface ContentView {
  /** Display name, e.g. "JSON", "XML/HTML", "Hex Dump". Its lowercase form is the registry key. */
  readonly name: string;
  readonly syntaxHighlight: SyntaxHighlight;
  /**
   * Turn the bytes into readable text. Throws (any Error) when the data is not of this view's
   * format; `prettify` turns that into a fallback or an error result, never an exception.
   */
  render(data: Buffer, metadata: ContentViewMetadata, hints?: RenderHints): string;
  /**
   * How well this view fits the data: the highest wins in `auto` mode. Builtin views answer
   * between 0 and 2; below 0 means "cannot render".
   */
  renderPriority(data: Buffer, metadata: ContentViewMetadata): number;
}
