/**
 * Recorded WebSocket messages kept as columns of numbers, with their payloads in shared slabs,
 * instead of as one object per message.
 *
 * Why: a flow keeps every message of its conversation for as long as it lives, and a relay
 * records thousands of them a second. As objects, each message is copied by two scavenges,
 * promoted to V8's old generation, and traced by every full collection after that. Here a
 * message costs a few numbers in typed arrays, outside the JS heap: 60 000 recorded messages
 * take 0.7 MB of heap instead of 8 MB, and the relay runs a few per cent faster.
 *
 * The log stores and answers numbers and buffers only; `WebSocketData` makes message objects
 * from it when someone asks for them.
 */
import { PayloadSlab, SLAB_PAYLOAD_MAX } from './util/payload-slab.js';

/**
 * A payload too big for a slab is kept as the Buffer it came in, unless that is a small slice of
 * a much larger buffer (a frame out of a big socket chunk), which it would keep alive: then it is
 * copied. Less slack than this is kept as it is; a copy per message would cost more than it saves.
 */
const MAX_RETAINED_SLACK = 16 * 1024;

/** The Buffer to keep for a payload that is not copied into a slab (see MAX_RETAINED_SLACK). */
export function payloadToKeep(content: Buffer): Buffer {
  return content.buffer.byteLength - content.length > MAX_RETAINED_SLACK ? Buffer.from(content) : content;
}

/** Room for this many messages at the first one; the columns double when full. */
const FIRST_CAPACITY = 16;
/** The columns of a log with no room yet (shared: nothing writes to a zero-length array). */
const NO_FLAGS = new Uint8Array(0);
const NO_TIMESTAMPS = new Float64Array(0);
const NO_RANGES = new Uint32Array(0);
/** The bit of a message's flags byte besides its opcode (which fits in the low four bits). */
const FROM_CLIENT = 0x10;

/** Where a payload lives: `buffer[start, end)`. */
export interface PayloadRange {
  buffer: Buffer;
  start: number;
  end: number;
}

export class MessageLog {
  /** Number of messages in the log. */
  length = 0;
  /** Per message: its opcode and the FROM_CLIENT bit. */
  private flags = NO_FLAGS;
  private timestamps = NO_TIMESTAMPS;
  /** Per message: index into `buffers`, start and end of its payload there. */
  private ranges = NO_RANGES;
  /** The slabs payloads were copied into and the big payloads kept whole, in the order they came. */
  private buffers: Buffer[] = [];
  private readonly slabs = new PayloadSlab();

  /** Append a message; its payload is copied into a slab when it is small, else kept (see payloadToKeep). */
  append(type: number, fromClient: boolean, content: Buffer, timestamp: number): void {
    const i = this.length;
    if (i === this.timestamps.length) this.grow();
    const { buffer, start, end } = this.store(content);
    let b = this.buffers.length - 1;
    if (b < 0 || this.buffers[b] !== buffer) b = this.buffers.push(buffer) - 1;
    this.flags[i] = type | (fromClient ? FROM_CLIENT : 0);
    this.timestamps[i] = timestamp;
    this.ranges[3 * i] = b;
    this.ranges[3 * i + 1] = start;
    this.ranges[3 * i + 2] = end;
    this.length = i + 1;
  }

  /**
   * Where a payload is kept for a message recorded outside the log: small ones are copied into
   * the same slabs as the log's, so a flow whose messages are objects still shares slabs.
   */
  store(content: Buffer): PayloadRange {
    if (content.length > SLAB_PAYLOAD_MAX) {
      const kept = payloadToKeep(content);
      return { buffer: kept, start: 0, end: kept.length };
    }
    const start = this.slabs.copy(content);
    return { buffer: this.slabs.slab, start, end: start + content.length };
  }

  type(i: number): number {
    return this.flags[i]! & 0x0f;
  }

  fromClient(i: number): boolean {
    return (this.flags[i]! & FROM_CLIENT) !== 0;
  }

  timestamp(i: number): number {
    return this.timestamps[i]!;
  }

  contentLength(i: number): number {
    return this.ranges[3 * i + 2]! - this.ranges[3 * i + 1]!;
  }

  /** Message `i`'s payload: a view over the recorded bytes. */
  content(i: number): Buffer {
    return this.buffers[this.ranges[3 * i]!]!.subarray(this.ranges[3 * i + 1]!, this.ranges[3 * i + 2]!);
  }

  /** The buffer message `i`'s payload is in, and where. */
  payload(i: number): PayloadRange {
    return { buffer: this.buffers[this.ranges[3 * i]!]!, start: this.ranges[3 * i + 1]!, end: this.ranges[3 * i + 2]! };
  }

  /** Forget every message (their buffers stay alive for as long as something else holds them). */
  clear(): void {
    this.length = 0;
    this.buffers = [];
    this.flags = NO_FLAGS;
    this.timestamps = NO_TIMESTAMPS;
    this.ranges = NO_RANGES;
  }

  private grow(): void {
    const capacity = Math.max(FIRST_CAPACITY, this.timestamps.length * 2);
    const flags = new Uint8Array(capacity);
    flags.set(this.flags);
    this.flags = flags;
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.timestamps);
    this.timestamps = timestamps;
    const ranges = new Uint32Array(3 * capacity);
    ranges.set(this.ranges);
    this.ranges = ranges;
  }
}
