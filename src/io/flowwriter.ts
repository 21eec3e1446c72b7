/**
 * Writing flow files: one tnetstring dict per flow, format 21 by default (what mitmproxy 11+
 * reads and writes), or format 17 for mitmproxy 8.1.x (spec/flow-format.md §2.9).
 *
 * Writes to a file descriptor are synchronous and complete per flow, like mitmproxy's writer that
 * flushes after every flow: a crash never leaves half a flow behind from an earlier `add`, and
 * hooks that save flows see them on disk when they return.
 */
import { closeSync, constants, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import type { FlowState } from '../flow.js';
import type { AnyFlow } from '../flows.js';
import { ReverseWriter } from './tnetstring.js';
import { writeFlowState } from './state-schema.js';
import { downgradeTo17, writableAs17 } from './format17.js';
import { writeFlowFast } from './flow-encoder.js';

const BATCH_SIZE = 1 << 20;

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}

/** Flow file format versions we can write. */
export type WriteFormat = 21 | 17;

function stateOf(flow: AnyFlow | FlowState): FlowState {
  return typeof (flow as AnyFlow).getState === 'function' ? (flow as AnyFlow).getState() : (flow as FlowState);
}

/** Encode into `w` (which is reset first); the result is `w.view()`. */
function encodeInto(w: ReverseWriter, flow: AnyFlow | FlowState, format: WriteFormat): void {
  w.reset();
  if (format === 21 && typeof (flow as AnyFlow).getState === 'function' && writeFlowFast(w, flow as AnyFlow)) return;
  const state = stateOf(flow);
  if (format === 17) w.value(downgradeTo17(state));
  else writeFlowState(w, state);
}

/** The bytes of one flow as mitmproxy writes them (format 21 unless `format` says 17). */
export function encodeFlow(flow: AnyFlow | FlowState, format: WriteFormat = 21): Buffer {
  const w = new ReverseWriter(4096);
  encodeInto(w, flow, format);
  return w.toBuffer();
}

/** Where a writer puts its bytes: a file descriptor (synchronous) or a stream (e.g. stdout). */
export type FlowSink = number | Writable;

/** Writes flows one after another to a file or stream. */
export class FlowWriter {
  private readonly w = new ReverseWriter(64 * 1024);
  private closed = false;
  /** Flows written so far. */
  count = 0;
  /** Flows left out because the format cannot hold them (UDP flows in format 17). */
  skipped = 0;

  /** With `buffered`, encoded flows collect here and go to the file in large writes. */
  private batch: Buffer | null = null;
  private batchLen = 0;

  constructor(
    private readonly sink: FlowSink,
    readonly format: WriteFormat = 21,
    /** Whether `close()` closes the file descriptor (true for files opened by `FlowWriter.open`). */
    private readonly ownsFd = false,
    /**
     * Collect flows and write them in large chunks (for saving many flows at once). Without it,
     * every flow is on disk when `add` returns, as mitmproxy's streaming writer guarantees.
     */
    readonly buffered = false,
  ) {}

  /**
   * Open a file for writing (truncating it) or appending, creating missing directories when
   * `mkdirs` is set. Errors are the usual `fs` errors (ENOENT, EACCES, ...).
   */
  static open(path: string, opts: { append?: boolean; format?: WriteFormat; mkdirs?: boolean; buffered?: boolean } = {}): FlowWriter {
    if (opts.mkdirs) mkdirSync(dirname(path), { recursive: true });
    // Opening a FIFO for writing waits for a reader: in the event loop's own thread, for ever,
    // deaf to Ctrl-C. Without a reader, say so at once (ENXIO) instead; with one, the pipe keeps
    // it open while the ordinary (blocking) descriptor is made.
    let probe: number | null = null;
    if (isFifo(path)) probe = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    let fd: number;
    try {
      fd = openSync(path, opts.append ? 'a' : 'w');
    } finally {
      if (probe !== null) closeSync(probe);
    }
    return new FlowWriter(fd, opts.format ?? 21, true, opts.buffered ?? false);
  }

  /** Write one flow. For a stream sink, returns false when the stream asks to wait for 'drain'. */
  add(flow: AnyFlow | FlowState): boolean {
    if (this.closed) throw new Error('FlowWriter is closed');
    if (this.format === 17 && !writableAs17(flow)) {
      this.skipped++;
      return true;
    }
    encodeInto(this.w, flow, this.format);
    this.count++;
    if (typeof this.sink === 'number') {
      const data = this.w.view();
      if (this.buffered && data.length < BATCH_SIZE) {
        if (!this.batch) this.batch = Buffer.allocUnsafe(BATCH_SIZE);
        if (this.batchLen + data.length > BATCH_SIZE) this.flush();
        data.copy(this.batch, this.batchLen);
        this.batchLen += data.length;
        return true;
      }
      this.flush();
      writeAll(this.sink, data);
      return true;
    }
    // A stream keeps the buffer until it is written, so it gets its own copy.
    return this.sink.write(this.w.toBuffer());
  }

  /** Write out flows collected by a buffered writer. */
  flush(): void {
    if (this.batch && this.batchLen > 0 && typeof this.sink === 'number') {
      writeAll(this.sink, this.batch.subarray(0, this.batchLen));
      this.batchLen = 0;
    }
  }

  /** Close the file (when this writer opened it). Streams are left open: they belong to the caller. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
    } finally {
      if (typeof this.sink === 'number' && this.ownsFd) closeSync(this.sink);
    }
  }
}

/** Write flows to a file (`append` adds to it), returning how many were written. */
export function writeFlowsToFile(path: string, flows: Iterable<AnyFlow | FlowState>, opts: { append?: boolean; format?: WriteFormat } = {}): number {
  const fw = FlowWriter.open(path, { ...opts, buffered: true });
  try {
    for (const f of flows) fw.add(f);
    return fw.count;
  } finally {
    fw.close();
  }
}
