import type { Loader } from '../addonmanager.js';
import type { Headers, HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { bufferToBytes } from '../util/bytes.js';
import { parseSpecListOption } from './util/spec.js';
import { parseModifySpec, readReplacement, type ModifySpec } from './util/modifyspec.js';

/**
 * `modify_headers`: set, replace or remove headers of matching requests (in `requestheaders`)
 * and responses (in `responseheaders`). All filters are evaluated on the unmodified flow first;
 * then every matching header name is removed, then the non-empty values are added, so several
 * rules for one name produce several headers and an empty value only deletes.
 */
export class ModifyHeaders {
  readonly name = 'modifyheaders';
  private master!: Master;
  private replacements: ModifySpec[] = [];

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'modify_headers',
      'sequence of str',
      [],
      'Header modify pattern of the form "[/flow-filter]/header-name/[@]header-value", where the separator can be any character. The @ allows to provide a file path that is used to read the header value string. An empty header-value removes existing header-name headers.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('modify_headers')) return;
    this.replacements = parseSpecListOption('modify_headers', this.master.options.get<string[]>('modify_headers'), parseModifySpec);
  }

  // Synchronous when there is nothing to do: a promise per request per hook is not free.
  requestheaders(flow: HTTPFlow): Promise<void> | undefined {
    if (this.replacements.length === 0 || flow.response || flow.error || !flow.live) return undefined;
    return this.apply(flow, flow.request.headers);
  }

  responseheaders(flow: HTTPFlow): Promise<void> | undefined {
    if (this.replacements.length === 0 || flow.error || !flow.live || !flow.response) return undefined;
    return this.apply(flow, flow.response.headers);
  }

  private async apply(flow: HTTPFlow, headers: Headers): Promise<void> {
    const matching = this.replacements.filter((spec) => spec.filter.match(flow));
    // Header names are bytes; keep them exact (byte strings) rather than re-encoding as text.
    for (const spec of matching) headers.delete(bufferToBytes(spec.subject));
    for (const spec of matching) {
      let value: Buffer;
      try {
        value = headerValue(await readReplacement(spec));
      } catch (e) {
        this.master.log.warn(`Could not read replacement file: ${(e as Error).message}`);
        continue;
      }
      if (value.length) headers.fields.push([bufferToBytes(spec.subject), bufferToBytes(value)]);
    }
  }
}

/**
 * A header value read from a file: without the line break editors end files with. A value with a
 * line break inside cannot be sent (it would end the header), so it is refused here, once per
 * use with a warning, rather than making every matching request fail with a 502.
 */
function headerValue(content: Buffer): Buffer {
  let end = content.length;
  while (end > 0 && (content[end - 1] === 0x0a || content[end - 1] === 0x0d)) end--;
  const value = content.subarray(0, end);
  if (value.includes(0x0a) || value.includes(0x0d)) throw new Error('the header value has a line break inside');
  return value;
}
