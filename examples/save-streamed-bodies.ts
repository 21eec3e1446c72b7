/**
 * Keep a copy of the bodies the proxy streams instead of holding (mitmproxy's save_streamed_data
 * example): with `stream_large_bodies` set, large requests and responses pass through without
 * being stored in their flows; this writes each of them to a file as it goes by.
 *
 *     npx mitmproxy-ts dump --set stream_large_bodies=1m -s examples/save-streamed-bodies.ts \
 *       --set save_streamed_dir=/tmp/streamed
 *
 * A body is streamed when `flow.request.stream` (or `flow.response.stream`) is set once its
 * headers are in; replacing `true` with a function passes every chunk through it, and an empty
 * chunk marks the end.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { HTTPFlow, Loader, Master } from 'mitmproxy-ts';

class SaveStreamedBodies {
  private master!: Master;
  /** The files of bodies still streaming, by flow: a flow that fails gets no last empty chunk. */
  private readonly open = new WeakMap<HTTPFlow, Set<WriteStream>>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('save_streamed_dir', 'optional str', null, 'Write streamed bodies to files in this directory.');
  }

  requestheaders(flow: HTTPFlow): void {
    if (flow.request.stream === true) flow.request.stream = this.saver(flow, 'request');
  }

  responseheaders(flow: HTTPFlow): void {
    if (flow.response?.stream === true) flow.response.stream = this.saver(flow, 'response');
  }

  /** A flow that failed mid-stream: close its files, with what came through. */
  error(flow: HTTPFlow): void {
    for (const file of this.open.get(flow) ?? []) {
      file.end(() => this.master.log.info(`saved what came of a body of ${flow.request.prettyUrl} to ${file.path} (the flow failed)`));
    }
    this.open.delete(flow);
  }

  /** A stream function that passes chunks on unchanged and copies them to `<flow id>.<what>`. */
  private saver(flow: HTTPFlow, what: 'request' | 'response'): true | ((chunk: Buffer) => Buffer) {
    const dir = this.master.options.get<string | null>('save_streamed_dir');
    if (dir === null) return true;
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${flow.id}.${what}`);
    const file = createWriteStream(path);
    file.on('error', (e) => this.master.log.warn(`cannot save ${what} of ${flow.request.prettyUrl}: ${e.message}`));
    const files = this.open.get(flow) ?? new Set<WriteStream>();
    this.open.set(flow, files.add(file));
    return (chunk) => {
      if (chunk.length > 0) file.write(chunk);
      else {
        files.delete(file);
        file.end(() => this.master.log.info(`saved the ${what} body of ${flow.request.prettyUrl} to ${path}`));
      }
      return chunk;
    };
  }
}

export default new SaveStreamedBodies();
