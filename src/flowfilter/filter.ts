import type { AnyFlow } from '../flows.js';
import { FilterError } from './errors.js';
import { parseFilter } from './parser.js';
import type { FilterNode, FilterTree } from './operators/node.js';

/** A parsed filter expression. */
export interface Filter {
  /** Whether the flow matches. Never throws. */
  match(flow: AnyFlow): boolean;
  /** mitmproxy's readable description, e.g. "url matches /foo/i and has response". */
  toString(): string;
  /** The filter text it was parsed from. */
  readonly pattern: string;
}

/**
 * Regexes are case-insensitive unless MITMPROXY_CASE_SENSITIVE_FILTERS=1, read once at startup
 * as mitmproxy does.
 */
export const CASE_SENSITIVE_FILTERS = process.env.MITMPROXY_CASE_SENSITIVE_FILTERS === '1';

/** What `parse` returns: the operator tree plus the source text. */
export class ParsedFilter implements Filter {
  constructor(
    readonly root: FilterNode,
    readonly pattern: string,
  ) {}

  match(flow: AnyFlow): boolean {
    try {
      return this.root.match(flow);
    } catch {
      // A filter must never take down the hook that evaluates it; a flow it cannot read does not match.
      return false;
    }
  }

  toString(): string {
    return this.root.toString();
  }

  /** Canonical filter text with the same meaning (every regex quoted, groups parenthesised). */
  toExpression(): string {
    return this.root.toExpression();
  }

  toTree(): FilterTree {
    return this.root.toTree();
  }
}

/** Parse a filter expression. Throws FilterError ("Empty filter expression", "Invalid filter expression: ..."). */
export function parse(text: string): Filter {
  return parseWithOptions(text, { ignoreCase: !CASE_SENSITIVE_FILTERS });
}

/** `parse` with the case rule given explicitly instead of taken from the environment. */
export function parseWithOptions(text: string, options: { ignoreCase: boolean }): ParsedFilter {
  return new ParsedFilter(parseFilter(text, options), text);
}

/** `parse`, returning the error instead of throwing it. */
export function tryParse(text: string): Filter | FilterError {
  try {
    return parse(text);
  } catch (e) {
    if (e instanceof FilterError) return e;
    return new FilterError(`Invalid filter expression: ${String(e)}`, { pattern: text, position: null, reason: String(e) });
  }
}

/** mitmproxy's `flowfilter.match`: a string is parsed first; a missing filter matches everything. */
export function matchFilter(filter: Filter | string | null | undefined, flow: AnyFlow): boolean {
  if (typeof filter === 'string') filter = parse(filter);
  return filter ? filter.match(flow) : true;
}

/** The filter that matches every flow (`~all`). */
export const MATCH_ALL: Filter = parse('~all');

/** Filter text that parses back to an equivalent filter (a filter not made by `parse` gives its pattern). */
export function filterExpression(filter: Filter): string {
  return filter instanceof ParsedFilter ? filter.toExpression() : filter.pattern;
}

/** The operator tree of a filter made by `parse` (for tests and tools). */
export function filterTree(filter: Filter): FilterTree | null {
  return filter instanceof ParsedFilter ? filter.toTree() : null;
}
