import type { AnyFlow } from '../../flows.js';

/**
 * The structure of a parsed filter, for tests and tools: `['~q']`, `['~u', 'regex']`,
 * `['~c', '200']`, `['&', [...]]`, `['|', [...]]`, `['!', child]`.
 */
export type FilterTree =
  | readonly [op: string]
  | readonly [op: string, arg: string]
  | readonly [op: '&' | '|', children: readonly FilterTree[]]
  | readonly [op: '!', child: FilterTree];

/** One node of a parsed filter: an operator, or `&`, `|`, `!` over other nodes. */
export abstract class FilterNode {
  /** Whether the flow matches. Never throws for any flow type; unsupported types give false. */
  abstract match(flow: AnyFlow): boolean;
  /** mitmproxy's readable description ("url matches /foo/i"). */
  abstract toString(): string;
  /** Filter text that parses back to the same tree. */
  abstract toExpression(): string;
  abstract toTree(): FilterTree;
}
