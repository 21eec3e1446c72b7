/** Operators that search a regex (Python `re` syntax) in some part of the flow. */
import type { AnyFlow } from '../../flows.js';
import type { HTTPFlow } from '../../http.js';
import type { TCPFlow } from '../../tcp.js';
import type { DNSFlow } from '../../dns.js';
import { compilePyRegex } from '../pyregex.js';
import { guardRegex, type RegexTester } from '../regex-guard.js';
import { quoteArgument } from '../lexer.js';
import { FilterNode, type FilterTree } from './node.js';
import { bodyBytes, bufferBytes, contentTypeMatches, dnsBytes, headerBlock, metadataText, urlText } from './subjects.js';

export interface RegexOperatorOptions {
  /** IGNORECASE; on unless MITMPROXY_CASE_SENSITIVE_FILTERS=1. */
  readonly ignoreCase: boolean;
}

/** How an operator compiles its regex: on bytes or text, and mitmproxy's extra flags. */
interface RegexKind {
  readonly bytes: boolean;
  readonly multiline?: boolean;
  readonly dotAll?: boolean;
}

/**
 * The regex is compiled once, when the filter is parsed (a bad pattern is a parse error).
 * The description shows it as `/expr/flags` with mitmproxy's flag letters i, m, s.
 */
export abstract class RegexOperator extends FilterNode {
  abstract readonly code: string;
  protected abstract readonly label: string;
  readonly regex: RegexTester;
  private readonly flagLetters: string;

  constructor(
    /** The regex text as written (after unquoting). */
    readonly expr: string,
    options: RegexOperatorOptions,
    kind: RegexKind,
  ) {
    super();
    const compiled = compilePyRegex(expr, {
      bytes: kind.bytes,
      flags: { ignoreCase: options.ignoreCase, multiline: !!kind.multiline, dotAll: !!kind.dotAll },
    });
    this.regex = guardRegex(compiled.regex, expr, compiled.nestedRepetition, compiled.longRepetition);
    this.flagLetters = (compiled.flags.ignoreCase ? 'i' : '') + (compiled.flags.multiline ? 'm' : '') + (compiled.flags.dotAll ? 's' : '');
  }

  toString(): string {
    return `${this.label} /${this.expr}/${this.flagLetters}`;
  }
  toExpression(): string {
    return `~${this.code} ${quoteArgument(this.expr)}`;
  }
  toTree(): FilterTree {
    return [`~${this.code}`, this.expr];
  }
}

const BYTES: RegexKind = { bytes: true };
const BYTES_MULTILINE: RegexKind = { bytes: true, multiline: true };
const BYTES_DOTALL: RegexKind = { bytes: true, dotAll: true };
const TEXT: RegexKind = { bytes: false };
const TEXT_MULTILINE: RegexKind = { bytes: false, multiline: true };

/** `~u` and bare words: HTTP pretty URL, or the first DNS question's name. */
export class UrlMatches extends RegexOperator {
  readonly code = 'u';
  protected readonly label = 'url matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type === 'http') return this.regex.test(urlText((flow as HTTPFlow).request));
    if (flow.type === 'dns') {
      const q = (flow as DNSFlow).request.questions[0];
      return q !== undefined && this.regex.test(q.name);
    }
    return false;
  }
}

/** `~d`: request.host, or the host of the Host header. */
export class DomainMatches extends RegexOperator {
  readonly code = 'd';
  protected readonly label = 'domain matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const req = (flow as HTTPFlow).request;
    // prettyHost parses the Host header; only pay for it when the target host did not match.
    return this.regex.test(req.host) || this.regex.test(req.prettyHost);
  }
}

export class MethodMatches extends RegexOperator {
  readonly code = 'm';
  protected readonly label = 'method matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES);
  }
  match(flow: AnyFlow): boolean {
    return flow.type === 'http' && this.regex.test((flow as HTTPFlow).request.method);
  }
}

export class HeaderMatches extends RegexOperator {
  readonly code = 'h';
  protected readonly label = 'header matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_MULTILINE);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const f = flow as HTTPFlow;
    if (this.regex.test(headerBlock(f.request.headers))) return true;
    return !!f.response && this.regex.test(headerBlock(f.response.headers));
  }
}

export class RequestHeaderMatches extends RegexOperator {
  readonly code = 'hq';
  protected readonly label = 'req. header matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_MULTILINE);
  }
  match(flow: AnyFlow): boolean {
    return flow.type === 'http' && this.regex.test(headerBlock((flow as HTTPFlow).request.headers));
  }
}

export class ResponseHeaderMatches extends RegexOperator {
  readonly code = 'hs';
  protected readonly label = 'resp. header matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_MULTILINE);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const response = (flow as HTTPFlow).response;
    return !!response && this.regex.test(headerBlock(response.headers));
  }
}

/** Which side's bodies and messages a body operator searches. */
type Side = 'both' | 'request' | 'response';

function bodyMatches(re: RegexTester, flow: AnyFlow, side: Side): boolean {
  switch (flow.type) {
    case 'http': {
      const f = flow as HTTPFlow;
      if (side !== 'response') {
        const body = bodyBytes(f.request);
        if (body !== null && re.test(body)) return true;
      }
      if (side !== 'request' && f.response) {
        const body = bodyBytes(f.response);
        if (body !== null && re.test(body)) return true;
      }
      if (f.websocket) {
        return f.websocket.someMessage((fromClient, content) => {
          if (side === 'request' && !fromClient) return false;
          if (side === 'response' && fromClient) return false;
          return re.test(bufferBytes(content));
        });
      }
      return false;
    }
    case 'tcp':
    case 'udp': {
      for (const m of (flow as TCPFlow).messages) {
        if (side === 'request' && !m.fromClient) continue;
        if (side === 'response' && m.fromClient) continue;
        if (m.content && re.test(bufferBytes(m.content))) return true;
      }
      return false;
    }
    case 'dns': {
      const f = flow as DNSFlow;
      if (side !== 'response' && re.test(dnsBytes(f.request))) return true;
      return side !== 'request' && !!f.response && re.test(dnsBytes(f.response));
    }
    default:
      return false;
  }
}

export class BodyMatches extends RegexOperator {
  readonly code = 'b';
  protected readonly label = 'body matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_DOTALL);
  }
  match(flow: AnyFlow): boolean {
    return bodyMatches(this.regex, flow, 'both');
  }
}

export class RequestBodyMatches extends RegexOperator {
  readonly code = 'bq';
  protected readonly label = 'body request matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_DOTALL);
  }
  match(flow: AnyFlow): boolean {
    return bodyMatches(this.regex, flow, 'request');
  }
}

export class ResponseBodyMatches extends RegexOperator {
  readonly code = 'bs';
  protected readonly label = 'body response matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES_DOTALL);
  }
  match(flow: AnyFlow): boolean {
    return bodyMatches(this.regex, flow, 'response');
  }
}

/** `~t`: request Content-Type values, else response ones. */
export class ContentTypeMatches extends RegexOperator {
  readonly code = 't';
  protected readonly label = 'content type matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const f = flow as HTTPFlow;
    if (contentTypeMatches(f.request.headers, this.regex)) return true;
    return !!f.response && contentTypeMatches(f.response.headers, this.regex);
  }
}

export class RequestContentTypeMatches extends RegexOperator {
  readonly code = 'tq';
  protected readonly label = 'req. content type matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES);
  }
  match(flow: AnyFlow): boolean {
    return flow.type === 'http' && contentTypeMatches((flow as HTTPFlow).request.headers, this.regex);
  }
}

export class ResponseContentTypeMatches extends RegexOperator {
  readonly code = 'ts';
  protected readonly label = 'resp. content type matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, BYTES);
  }
  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const response = (flow as HTTPFlow).response;
    return !!response && contentTypeMatches(response.headers, this.regex);
  }
}

/** `~src`: "<client ip>:<port>" from the client's peername (IPv6 without brackets). */
export class SourceMatches extends RegexOperator {
  readonly code = 'src';
  protected readonly label = 'source address matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT);
  }
  match(flow: AnyFlow): boolean {
    const peer = flow.clientConn?.peername;
    return !!peer && this.regex.test(`${peer[0]}:${peer[1]}`);
  }
}

/** `~dst`: "<host>:<port>" from the address the server connection was asked for (not the peer IP). */
export class DestinationMatches extends RegexOperator {
  readonly code = 'dst';
  protected readonly label = 'destination address matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT);
  }
  match(flow: AnyFlow): boolean {
    const address = flow.serverConn?.address;
    return !!address && this.regex.test(`${address[0]}:${address[1]}`);
  }
}

export class MetadataMatches extends RegexOperator {
  readonly code = 'meta';
  protected readonly label = 'flow metadata matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT_MULTILINE);
  }
  match(flow: AnyFlow): boolean {
    return this.regex.test(metadataText(flow.metadata ?? {}));
  }
}

export class MarkerMatches extends RegexOperator {
  readonly code = 'marker';
  protected readonly label = 'marker matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT);
  }
  match(flow: AnyFlow): boolean {
    return this.regex.test(flow.marked ?? '');
  }
}

export class CommentMatches extends RegexOperator {
  readonly code = 'comment';
  protected readonly label = 'comment matches';
  constructor(expr: string, options: RegexOperatorOptions) {
    super(expr, options, TEXT_MULTILINE);
  }
  match(flow: AnyFlow): boolean {
    return this.regex.test(flow.comment ?? '');
  }
}
