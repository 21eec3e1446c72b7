import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { pyStrRepr } from '../io/pyrepr.js';
import { compileStrPattern, parseTemplate, pySub, PatternError, type PyPattern, type Template } from './util/pyre.js';
import { parseSpec, parseSpecListOption, SpecError, type FlowMatcher } from './util/spec.js';

export interface MapRemoteSpec {
  filter: FlowMatcher;
  subject: PyPattern;
  replacement: Template;
}

/** Parse "[/flow-filter]/url-regex/replacement"; throws SpecError. */
export function parseMapRemoteSpec(option: string): MapRemoteSpec {
  const { filter, subject, replacement } = parseSpec(option);
  let pattern: PyPattern;
  try {
    pattern = compileStrPattern(subject);
  } catch (e) {
    if (e instanceof PatternError) throw new SpecError(`Invalid regular expression ${pyStrRepr(subject)} (${e.message})`);
    throw e;
  }
  // mitmproxy only finds a bad replacement when the first request matches; we refuse it up front.
  try {
    return { filter, subject: pattern, replacement: parseTemplate(replacement, pattern) };
  } catch (e) {
    if (e instanceof PatternError) throw new SpecError(`Invalid replacement ${pyStrRepr(replacement)} (${e.message})`);
    throw e;
  }
}

/**
 * `map_remote`: rewrite the URL of matching requests with a regex substitution (Python `re.sub`
 * syntax, `\1` and `\g<name>` in the replacement) before they are sent upstream.
 */
export class MapRemote {
  readonly name = 'mapremote';
  private master!: Master;
  private replacements: MapRemoteSpec[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'map_remote',
      'sequence of str',
      [],
      'Map remote resources to another remote URL using a pattern of the form "[/flow-filter]/url-regex/replacement", where the separator can be any character.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('map_remote')) return;
    this.replacements = parseSpecListOption('map_remote', this.master.options.get<string[]>('map_remote'), parseMapRemoteSpec);
  }

  request(flow: HTTPFlow): void {
    if (flow.response || flow.error || !flow.live) return;
    for (const spec of this.replacements) {
      if (!spec.filter.match(flow)) continue;
      const url = flow.request.prettyUrl;
      const newUrl = pySub(spec.subject, spec.replacement, url);
      // Setting the URL also rewrites the Host header, so only do it when the URL really changed.
      if (url === newUrl) continue;
      try {
        flow.request.url = newUrl;
      } catch (e) {
        this.master.log.warn(`map_remote: cannot use ${JSON.stringify(newUrl)} as URL: ${(e as Error).message}`);
      }
    }
  }
}
