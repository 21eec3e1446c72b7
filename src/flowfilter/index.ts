/**
 * mitmproxy's flow filter language (`~q`, `~u regex`, `~c 200 & !~a`, ...): parsing, matching,
 * readable descriptions, the help list and flow selectors. See pyregex.ts for how Python regex
 * arguments are translated.
 */
export {
  type Filter,
  parse,
  tryParse,
  parseWithOptions,
  matchFilter,
  MATCH_ALL,
  CASE_SENSITIVE_FILTERS,
  ParsedFilter,
  filterExpression,
  filterTree,
} from './filter.js';
export { FilterError } from './errors.js';
export { FILTER_HELP } from './help.js';
export { resolveFlowSpec, resolveSingleFlow, FlowSpecError, type FlowSpecContext } from './selectors.js';
export type { FilterTree } from './operators/node.js';
export { PyRegexError, compilePyRegex, type PyRegexFlags, type CompiledPyRegex } from './pyregex.js';
