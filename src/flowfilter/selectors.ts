/**
 * Flow selectors for command arguments of type `flow` / `flow[]` (mitmproxy's
 * `view.flows.resolve`): `@all`, `@focus`, `@shown`, `@hidden`, `@marked`, `@unmarked`,
 * `@<id>[,<id>...]`, or else a filter expression applied to every stored flow.
 */
import type { AnyFlow } from '../flows.js';
import { parse } from './filter.js';

/** What a selector is resolved against: the view's store, its filter state and its focus. */
export interface FlowSpecContext {
  /** Every stored flow, in store (insertion) order: the order mitmproxy returns them in. */
  readonly flows: readonly AnyFlow[];
  /** Whether a stored flow passes the current view filter. */
  isShown(flow: AnyFlow): boolean;
  /** The focused flow, if any. */
  readonly focus: AnyFlow | null;
  /** Optional: the shown flows in view (sort) order; `@shown` lists them in this order when given. */
  readonly shown?: readonly AnyFlow[];
}

/** The id-list form: `@` followed by at least 36 characters of lowercase hex, `-` and `,`. */
const ID_LIST = /^@[0-9a-f\-,]{36,}/;

/** Resolve a flow specification to flows. Throws FilterError for an invalid filter expression. */
export function resolveFlowSpec(spec: string, ctx: FlowSpecContext): AnyFlow[] {
  switch (spec) {
    case '@all':
      return [...ctx.flows];
    case '@focus':
      return ctx.focus ? [ctx.focus] : [];
    case '@shown':
      return ctx.shown ? [...ctx.shown] : ctx.flows.filter((f) => ctx.isShown(f));
    case '@hidden':
      return ctx.flows.filter((f) => !ctx.isShown(f));
    case '@marked':
      return ctx.flows.filter((f) => !!f.marked);
    case '@unmarked':
      return ctx.flows.filter((f) => !f.marked);
  }
  if (ID_LIST.test(spec)) {
    const ids = new Set(spec.slice(1).split(','));
    return ctx.flows.filter((f) => ids.has(f.id));
  }
  const filter = parse(spec);
  return ctx.flows.filter((f) => filter.match(f));
}

/** A `flow` argument that did not resolve to exactly one flow. */
export class FlowSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowSpecError';
  }
}

/** Resolve a single-`flow` argument: exactly one flow must match (mitmproxy's wording otherwise). */
export function resolveSingleFlow(spec: string, ctx: FlowSpecContext): AnyFlow {
  const flows = resolveFlowSpec(spec, ctx);
  if (flows.length !== 1) throw new FlowSpecError(`Command requires one flow, specification matched ${flows.length}.`);
  return flows[0]!;
}
