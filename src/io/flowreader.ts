/**
 * Reading flow files: mitmproxy's tnetstring dumps of any readable format version, and HAR files
 * (`.har`, and zlib-compressed `.zhar`, which mitmproxy itself cannot read), detected by their
 * first bytes as mitmproxy does (spec/flow-format.md §4.1).
 *
 * Flows are produced one at a time from a stream: only the flow being decoded is held, so a file
 * of any size can be read with constant memory (beyond what the caller keeps). When the file is
 * damaged, the flows before the damage have already been delivered; then a `FlowReadError` says
 * what is wrong and at which byte offset.
 */
import { constants as bufferConstants } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { flowFromState, type AnyFlow } from '../flows.js';
import type { FlowState } from '../flow.js';
import { ItemSplitter, TNetstringError, decodeRawItem, type TNetDict, type TNetValue } from './tnetstring.js';
import { decodeFlowFast } from './flow-decoder.js';
import { migrateFlow, MigrationContext, MigrationError } from './compat.js';
import { conformFlowState, FlowStateError } from './state-schema.js';
import { harToFlows, HarImportError } from './har.js';
import { pyRepr } from './pyrepr.js';
import { expandHome } from '../optmanager.js';

/** A flow file could not be (fully) read. The message starts with mitmproxy's wording. */
export class FlowReadError extends Error {
  constructor(
    message: string,
    /** Byte offset of the damaged item in the input, when known. */
    readonly offset: number | null = null,
    /** Flows delivered before the error. */
    readonly flowsRead = 0,
    /** The operating system's error, when the file could not be opened or read. */
    readonly osError: NodeJS.ErrnoException | null = null,
  ) {
    super(message);
    this.name = 'FlowReadError';
  }
}

/** Where flows come from: a file path, the bytes of a file, or a byte stream (a socket, `process.stdin`). */
export type FlowSource = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

const INVALID = 'Invalid data format.';
const HAR_INVALID = 'Unable to read HAR file. Please provide a valid HAR file';

/** What the first bytes of a file say it is. */
export type FlowFileKind = 'tnetstring' | 'har' | 'zhar' | 'empty';

/** Tell flow dumps from HAR (optionally after a UTF-8 BOM) and zlib-compressed HAR. */
export function sniffFlowFile(head: Uint8Array): FlowFileKind {
  if (head.length === 0) return 'empty';
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf && head[3] === 0x7b) i = 3;
  if (head[i] === 0x7b) return 'har';
  // A zlib stream: CMF 0x78 (deflate, 32K window) with a header checksum divisible by 31.
  if (head[0] === 0x78 && head.length >= 2 && ((head[0] << 8) | head[1]!) % 31 === 0) return 'zhar';
  return 'tnetstring';
}

function toChunks(source: FlowSource): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 256 * 1024 });
  if (source instanceof Uint8Array) return [source];
  return source as AsyncIterable<Uint8Array>;
}

/** Collect the first `n` bytes of a chunk stream without losing any: returns them and the full stream. */
async function peek(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, n: number): Promise<{ head: Buffer; all: AsyncIterable<Uint8Array> }> {
  const it = (Symbol.asyncIterator in source ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]() : toAsync(source as Iterable<Uint8Array>));
  const taken: Uint8Array[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    if (r.value.length === 0) continue;
    taken.push(r.value);
    len += r.value.length;
  }
  const head = Buffer.concat(taken.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))).subarray(0, n);
  const all = (async function* () {
    yield* taken;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  return { head, all };
}

function toAsync(src: Iterable<Uint8Array>): AsyncIterator<Uint8Array> {
  const it = src[Symbol.iterator]();
  return { next: async () => it.next() };
}

const inflateAsync = promisify(inflate);

/**
 * The most HAR text read by default: a longer text could not be decoded into one string anyway.
 * It bounds what a `.zhar` may inflate to: zlib packs 1,000 bytes of padding into one, and
 * before this a 1.5 MB file took 3 GB of memory and 7 s of a blocked event loop to refuse.
 */
export const MAX_HAR_BYTES = bufferConstants.MAX_STRING_LENGTH;

class HarTooLargeError extends Error {
  constructor(limit: number, compressed: boolean) {
    super(`${compressed ? 'decompresses to' : 'is'} more than ${limit} bytes`);
  }
}

async function readAll(chunks: AsyncIterable<Uint8Array>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const c of chunks) {
    length += c.byteLength;
    if (length > limit) throw new HarTooLargeError(limit, false);
    parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  }
  return Buffer.concat(parts);
}

/** Inflate a `.zhar` in the thread pool, giving up past `limit` bytes of output. */
async function inflateHar(data: Buffer, limit: number): Promise<Buffer> {
  try {
    return await inflateAsync(data, { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new HarTooLargeError(limit, true);
    throw e;
  }
}

export interface FlowReaderOptions {
  /** The most bytes of HAR text (after decompression) to read; MAX_HAR_BYTES by default. */
  maxHarBytes?: number;
}

function isDict(v: TNetValue): v is TNetDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Turn one decoded top-level item into a flow: migrate it to format 21, check it against the
 * state schema, build the flow object.
 */
export function flowFromDecoded(value: TNetValue, ctx: MigrationContext = new MigrationContext()): AnyFlow {
  if (!isDict(value)) throw new FlowStateError('', `Invalid flow: loaded=${pyRepr(value)}`);
  const migrated = migrateFlow(value, ctx);
  const state = conformFlowState(migrated);
  return flowFromState(state as FlowState);
}

/**
 * Reads flows from a flow file, a HAR file or a stream. Iterate it (`for await`) or call
 * `stream()`; `readAll()` collects everything and fails on any damage.
 */
export class FlowReader implements AsyncIterable<AnyFlow> {
  /** Flows delivered so far. */
  count = 0;

  private readonly maxHarBytes: number;

  constructor(
    private readonly source: FlowSource,
    options: FlowReaderOptions = {},
  ) {
    this.maxHarBytes = options.maxHarBytes ?? MAX_HAR_BYTES;
  }

  [Symbol.asyncIterator](): AsyncIterator<AnyFlow> {
    return this.stream();
  }

  async *stream(): AsyncGenerator<AnyFlow> {
    let chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
    let head: Buffer;
    try {
      chunks = toChunks(this.source);
      const p = await peek(chunks, 4);
      head = p.head;
      chunks = p.all;
    } catch (e) {
      throw osError(e);
    }
    const kind = sniffFlowFile(head);
    if (kind === 'empty') return;
    if (kind === 'har' || kind === 'zhar') {
      yield* this.readHar(chunks as AsyncIterable<Uint8Array>, kind);
      return;
    }
    const ctx = new MigrationContext();
    const splitter = new ItemSplitter();
    let offset = 0;
    try {
      // One synchronous pass per chunk; the only await per flow is the consumer's.
      for await (const chunk of chunks as AsyncIterable<Uint8Array>) {
        splitter.push(chunk);
        for (let raw = splitter.nextRaw(); raw !== null; raw = splitter.nextRaw()) {
          offset = raw.offset;
          // Format-21 flows in the standard layout go straight into flow objects; everything
          // else (old versions, other layouts, DNS, damage) takes the general path.
          let flow: AnyFlow | null = decodeFlowFast(raw.bytes, 0, raw.bytes.length);
          if (flow === null) {
            const value = decodeRawItem(raw);
            try {
              flow = flowFromDecoded(value, ctx);
            } catch (e) {
              throw this.itemError(e, raw.offset);
            }
          }
          this.count++;
          yield flow;
        }
      }
      splitter.end();
    } catch (e) {
      if (e instanceof FlowReadError) throw e;
      if (e instanceof TNetstringError) {
        throw new FlowReadError(`${INVALID} (flow ${this.count + 1}, at byte offset ${e.offset}: ${e.reason})`, e.offset, this.count);
      }
      throw osError(e, offset, this.count);
    }
  }

  private itemError(e: unknown, offset: number): FlowReadError {
    const where = `flow ${this.count + 1}, at byte offset ${offset}`;
    if (e instanceof MigrationError) {
      // Version messages are mitmproxy's own, shown as is; other migration failures are data errors.
      if (e.message.startsWith('Invalid data format')) return new FlowReadError(`${INVALID} (${where}: ${e.message.replace(/^Invalid data format: /, '')})`, offset, this.count);
      return new FlowReadError(e.message, offset, this.count);
    }
    if (e instanceof FlowStateError) {
      if (e.detail.startsWith('Unknown flow type: ') && e.path === '') return new FlowReadError(e.detail, offset, this.count);
      if (e.detail.startsWith('Invalid flow: ')) return new FlowReadError(e.detail, offset, this.count);
      return new FlowReadError(`${INVALID} (${where}: ${e.message})`, offset, this.count);
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new FlowReadError(`${INVALID} (${where}: ${msg})`, offset, this.count);
  }

  private async *readHar(chunks: AsyncIterable<Uint8Array>, kind: 'har' | 'zhar'): AsyncGenerator<AnyFlow> {
    let flows: AnyFlow[];
    try {
      let data = await readAll(chunks, this.maxHarBytes);
      if (kind === 'zhar') data = await inflateHar(data, this.maxHarBytes);
      if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
      // HAR import is all-or-nothing, as in mitmproxy: a broken entry fails the whole file.
      flows = harToFlows(JSON.parse(text));
    } catch (e) {
      const detail = e instanceof HarImportError || e instanceof Error ? e.message : String(e);
      throw new FlowReadError(`${HAR_INVALID} (${detail})`, null, 0);
    }
    for (const f of flows) {
      this.count++;
      yield f;
    }
  }

  /** Read every flow; throws on any damage (no partial result). */
  async readAll(): Promise<AnyFlow[]> {
    const out: AnyFlow[] = [];
    for await (const f of this.stream()) out.push(f);
    return out;
  }
}

function osError(e: unknown, offset: number | null = null, count = 0): FlowReadError {
  if (e instanceof FlowReadError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && typeof err.message === 'string') {
    return new FlowReadError(err.message, offset, count, err);
  }
  return new FlowReadError(e instanceof Error ? e.message : String(e), offset, count);
}

/** Read all flows of a source (see FlowReader). */
export function readFlows(source: FlowSource): Promise<AnyFlow[]> {
  return new FlowReader(source).readAll();
}

/** Read the flows of several files, one after the other, failing on the first error (mitmproxy's read_flows_from_paths). */
export async function readFlowsFromPaths(paths: readonly string[]): Promise<AnyFlow[]> {
  const out: AnyFlow[] = [];
  for (const p of paths) out.push(...(await readFlows(expandHome(p))));
  return out;
}
