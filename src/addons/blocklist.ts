import type { Loader } from '../addonmanager.js';
import { Response, type HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { SERVER_HEADER } from '../version.js';
import { compileFilter, parseSpecListOption, splitSpec, SpecError, type FlowMatcher } from './util/spec.js';

/** The non-standard status (nginx's) that means "close the connection without a response". */
export const NO_RESPONSE = 444;

export interface BlockSpec {
  filter: FlowMatcher;
  statusCode: number;
}

/** Parse "/flow-filter/status"; throws SpecError with mitmproxy's messages. */
export function parseBlockSpec(option: string): BlockSpec {
  const parts = splitSpec(option, 2);
  if (parts.length !== 2) throw new SpecError('Invalid number of parameters (2 are expected)');
  const [filterText, status] = parts as [string, string];
  // Python's int(): surrounding whitespace, a sign and digit-group underscores are accepted.
  if (!/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(status)) throw new SpecError(`Invalid HTTP status code: ${status}`);
  const statusCode = Number(status.trim().replace(/_/g, ''));
  return { filter: compileFilter(filterText), statusCode };
}

/**
 * `block_list`: answer matching requests with an empty response of the given status (no
 * upstream request is made), or with status 444 close the connection without any response.
 */
export class BlockList {
  readonly name = 'blocklist';
  private master!: Master;
  private items: BlockSpec[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'block_list',
      'sequence of str',
      [],
      'Block matching requests and return an empty response with the specified HTTP status. Option syntax is "/flow-filter/status-code", where flow-filter describes which requests this rule should be applied to and status-code is the HTTP status code to return for blocked requests. The separator ("/" in the example) can be any character. Setting a non-standard status code of 444 will close the connection without sending a response.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('block_list')) return;
    this.items = parseSpecListOption('block_list', this.master.options.get<string[]>('block_list'), parseBlockSpec);
  }

  request(flow: HTTPFlow): void {
    if (flow.response || flow.error || !flow.live) return;
    for (const spec of this.items) {
      if (!spec.filter.match(flow)) continue;
      flow.metadata['blocklisted'] = true;
      if (spec.statusCode === NO_RESPONSE) flow.kill();
      else flow.response = Response.make(spec.statusCode, '', { Server: SERVER_HEADER });
      // As in mitmproxy, later matching rules still apply: the last status wins, and a kill sticks.
    }
  }
}
