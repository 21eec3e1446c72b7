/**
 * The "[/flow-filter]/subject/replacement" option syntax shared by map_remote, map_local,
 * modify_body, modify_headers and block_list (mitmproxy's utils/spec.py). The first character
 * is the separator, whatever it is; the text is split on it at most twice, so the last part may
 * contain the separator.
 */
import { parse as parseFilter } from '../../flowfilter/index.js';
import type { HTTPFlow } from '../../http.js';
import { OptionsError } from '../../optmanager.js';

/** What the addons need of a compiled flow filter. */
export interface FlowMatcher {
  match(flow: HTTPFlow): boolean;
}

/** A spec that cannot be parsed; the message is what mitmproxy says (its ValueError text). */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Matches every flow (a spec without a filter part). */
export const MATCH_ALL: FlowMatcher = { match: () => true };

/**
 * Split `option` on its first character (one code point) into at most `maxsplit + 1` parts,
 * as Python's `option[1:].split(option[0], maxsplit)`.
 */
export function splitSpec(option: string, maxsplit = 2): string[] {
  if (option === '') throw new SpecError('Empty specification');
  const sep = String.fromCodePoint(option.codePointAt(0)!);
  const rest = option.slice(sep.length);
  const parts: string[] = [];
  let start = 0;
  while (parts.length < maxsplit) {
    const i = rest.indexOf(sep, start);
    if (i < 0) break;
    parts.push(rest.slice(start, i));
    start = i + sep.length;
  }
  parts.push(rest.slice(start));
  return parts;
}

/** Compile a flow filter expression, turning the filter module's error into a SpecError. */
export function compileFilter(expression: string): FlowMatcher {
  try {
    return parseFilter(expression);
  } catch (e) {
    throw new SpecError(e instanceof Error ? e.message : String(e));
  }
}

/** A parsed "[/flow-filter]/subject/replacement". */
export interface ParsedSpec {
  filter: FlowMatcher;
  subject: string;
  replacement: string;
}

/** Parse "[/flow-filter]/subject/replacement"; throws SpecError. */
export function parseSpec(option: string): ParsedSpec {
  const parts = splitSpec(option, 2);
  if (parts.length === 2) return { filter: MATCH_ALL, subject: parts[0]!, replacement: parts[1]! };
  if (parts.length === 3) return { filter: compileFilter(parts[0]!), subject: parts[1]!, replacement: parts[2]! };
  throw new SpecError('Invalid number of parameters (2 or 3 are expected)');
}

/**
 * Parse every spec of a list option (map_remote, map_local, modify_headers, modify_body,
 * block_list) with `parse`. The first spec that cannot be parsed is refused with mitmproxy's
 * message, which names the option and the spec: "Cannot parse map_remote option |x: ...".
 */
export function parseSpecListOption<T>(optionName: string, specs: readonly string[], parse: (spec: string) => T): T[] {
  const parsed: T[] = [];
  for (const spec of specs) {
    try {
      parsed.push(parse(spec));
    } catch (e) {
      if (e instanceof SpecError) throw new OptionsError(`Cannot parse ${optionName} option ${spec}: ${e.message}`);
      throw e;
    }
  }
  return parsed;
}
