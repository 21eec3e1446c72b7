import { OPERATORS } from './operators/registry.js';

/** Python's ordering of (str, str) tuples: by code point, first element first. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * The filter help list, as mitmweb's `/filter-help` returns it (`{"commands": FILTER_HELP}`):
 * every operator with its argument kind, sorted, then `!`, `&`, `|` and grouping.
 */
export const FILTER_HELP: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ...OPERATORS.map((op): readonly [string, string] => [op.kind === 'flag' ? `~${op.code}` : `~${op.code} ${op.kind === 'int' ? 'int' : 'regex'}`, op.help])
    .sort((a, b) => compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]))
    .map((e) => Object.freeze(e)),
  Object.freeze(['!', 'unary not'] as const),
  Object.freeze(['&', 'and'] as const),
  Object.freeze(['|', 'or'] as const),
  Object.freeze(['(...)', 'grouping'] as const),
]);
