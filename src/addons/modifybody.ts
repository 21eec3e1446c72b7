import type { Loader } from '../addonmanager.js';
import type { HTTPFlow, Message } from '../http.js';
import type { Master } from '../master.js';
import { pyBytesRepr } from '../io/pyrepr.js';
import { compileBytesPattern, pySubLiteral, PatternError, type PyPattern } from './util/pyre.js';
import { parseSpecListOption, SpecError } from './util/spec.js';
import { parseModifySpec, readReplacement, type ModifySpec } from './util/modifyspec.js';

interface BodySpec extends ModifySpec {
  regex: PyPattern;
}

/** Parse a modify_body spec (the subject is a bytes regex, DOTALL). Throws SpecError. */
export function parseModifyBodySpec(option: string): BodySpec {
  const spec = parseModifySpec(option);
  try {
    return { ...spec, regex: compileBytesPattern(spec.subject, { dotAll: true }) };
  } catch (e) {
    if (e instanceof PatternError) throw new SpecError(`Invalid regular expression ${pyBytesRepr(spec.subject)} (${e.message})`);
    throw e;
  }
}

/**
 * `modify_body`: regex-replace the decoded body of matching requests (before they are sent,
 * unless a response is already set) and responses. The replacement is literal bytes (no group
 * references), or a file's bytes with "@path". Streamed bodies are not modified.
 */
export class ModifyBody {
  readonly name = 'modifybody';
  private master!: Master;
  private replacements: BodySpec[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'modify_body',
      'sequence of str',
      [],
      'Replacement pattern of the form "[/flow-filter]/regex/[@]replacement", where the separator can be any character. The @ allows to provide a file path that is used to read the replacement string.',
    );
  }

  configure(updated: Set<string>): void {
    const o = this.master.options;
    if (updated.has('modify_body')) this.replacements = parseSpecListOption('modify_body', o.get<string[]>('modify_body'), parseModifyBodySpec);
    const streaming = o.has('stream_large_bodies') && o.get<string | null>('stream_large_bodies');
    if (o.get<string[]>('modify_body').length && streaming && (updated.has('modify_body') || updated.has('stream_large_bodies'))) {
      this.master.log.alert('Both modify_body and stream_large_bodies are active. Streamed bodies will not be modified.');
    }
  }

  // Synchronous when there is nothing to do: a promise per request per hook is not free.
  request(flow: HTTPFlow): Promise<void> | undefined {
    if (this.replacements.length === 0 || flow.response || flow.error || !flow.live) return undefined;
    return this.run(flow);
  }

  response(flow: HTTPFlow): Promise<void> | undefined {
    if (this.replacements.length === 0 || flow.error || !flow.live) return undefined;
    return this.run(flow);
  }

  private async run(flow: HTTPFlow): Promise<void> {
    for (const spec of this.replacements) {
      if (!spec.filter.match(flow)) continue;
      let replacement: Buffer;
      try {
        replacement = await readReplacement(spec);
      } catch (e) {
        this.master.log.warn(`Could not read replacement file: ${(e as Error).message}`);
        continue;
      }
      const message: Message = flow.response ?? flow.request;
      let content: Buffer | null;
      try {
        content = message.content;
      } catch (e) {
        this.master.log.warn(`modify_body: cannot decode the body of ${flow.request.prettyUrl}: ${(e as Error).message}`);
        continue;
      }
      if (content === null) continue; // streamed, nothing stored to modify
      const before = content.toString('latin1');
      const after = pySubLiteral(spec.regex, replacement.toString('latin1'), before);
      if (after !== before) message.content = Buffer.from(after, 'latin1');
    }
  }
}
