/**
 * Replace text in responses while they stream through the proxy (mitmproxy's http-stream-modify
 * example), without holding a body back: each chunk goes on as soon as it arrives. Unlike a plain
 * per-chunk replace, a match split across two chunks is still found: the last few bytes of a
 * chunk that could begin a match wait for the next one, and the final call (an empty chunk, at
 * the end of the body) lets them out.
 *
 *     npx mitmproxy-ts dump -s examples/stream-replace.ts --set stream_replace=foo/bar
 *
 * A streamed response is sent before the `response` hook runs, so that hook can no longer change
 * it; a stream function is the place to do so. Its length changes, so the response is sent
 * chunked (or, over HTTP/2, in frames) rather than with its original Content-Length.
 */
import { OptionsError, type HTTPFlow, type Loader, type Master } from 'mitmproxy-ts';

class StreamReplace {
  private master!: Master;
  private search: Buffer | null = null;
  private replacement = Buffer.alloc(0);

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('stream_replace', 'optional str', null, 'Replace text in streamed response bodies: "old/new".');
  }

  configure(updated: Set<string>): void {
    if (!updated.has('stream_replace')) return;
    const spec = this.master.options.get<string | null>('stream_replace');
    if (spec === null) {
      this.search = null;
      return;
    }
    const slash = spec.indexOf('/');
    if (slash <= 0) throw new OptionsError(`stream_replace must be "old/new", not ${JSON.stringify(spec)}`);
    this.search = Buffer.from(spec.slice(0, slash));
    this.replacement = Buffer.from(spec.slice(slash + 1));
  }

  responseheaders(flow: HTTPFlow): void {
    if (this.search === null || !flow.response) return;
    // Each response gets its own function: it keeps the held-back bytes of that body only.
    flow.response.stream = replacer(this.search, this.replacement);
  }
}

/** A stream function replacing `search` with `replacement`, matches across chunk boundaries included. */
function replacer(search: Buffer, replacement: Buffer): (chunk: Buffer) => Buffer {
  let held = Buffer.alloc(0);
  return (chunk) => {
    const data = held.length ? Buffer.concat([held, chunk]) : chunk;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = data.indexOf(search); at >= 0; at = data.indexOf(search, from)) {
      parts.push(data.subarray(from, at), replacement);
      from = at + search.length;
    }
    // At the end of the body (the empty chunk) nothing is held back; otherwise keep the longest
    // tail that is the start of `search`, which the next chunk may complete.
    let keep = 0;
    if (chunk.length > 0) {
      for (let n = Math.min(search.length - 1, data.length - from); n > 0; n--) {
        if (data.subarray(data.length - n).equals(search.subarray(0, n))) {
          keep = n;
          break;
        }
      }
    }
    parts.push(data.subarray(from, data.length - keep));
    held = Buffer.from(data.subarray(data.length - keep));
    return Buffer.concat(parts);
  };
}

export default new StreamReplace();
