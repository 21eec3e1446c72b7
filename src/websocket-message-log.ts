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
 * Where the bytes go: small payloads are copied one after the other into a slab (a Buffer). A full
 * slab is sealed: its bytes become one string (one byte a character, an object V8 never has to
 * look into) and the Buffer takes the next payloads. Keeping every full slab as a Buffer of its
 * own instead made V8 run a full collection every few megabytes recorded (measured on Node 20, 22
 * and 24: about 60 in 100 MB, where 2 would do): memory outside V8's heap growing that fast,
 * even when nothing is garbage, keeps starting its incremental marking. Sealed slabs grow the heap
 * itself, which V8 sizes its collections by. Sealing stops once the heap is a quarter full (see
 * heapHasRoomFor), so that recording a very long conversation cannot run the process out of heap:
 * from then on full slabs stay Buffers.
 *
 * The log stores and answers numbers and buffers only; `WebSocketData` makes message objects
 * from it when someone asks for them.
 */
import { getHeapStatistics } from 'node:v8';
import { PayloadSlab, SLAB_PAYLOAD_MAX, nextSlabSize } from './util/payload-slab.js';

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

/**
 * Whether `bytes` more may go onto V8's heap as sealed slabs: while the heap is less than a quarter
 * full (about 1 GB with node's default limit of 4 GB), which leaves the rest of it to everything
 * else a proxy holds. Asked once per sealed slab, not per message (it costs ~0.2 µs).
 */
function heapHasRoomFor(bytes: number): boolean {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  return used + bytes < limit / 4;
}

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
  /** Per message: index into `chunks`, start and end of its payload there. */
  private ranges = NO_RANGES;
  /**
   * Where the payloads are, in the order they came: sealed slabs (strings), full slabs that were
   * not sealed, big payloads kept whole, and last the slab being filled.
   */
  private chunks: Array<Buffer | string> = [];
  /** The slab small payloads are copied into now; reused once sealed. */
  private slab: Buffer | null = null;
  private slabUsed = 0;
  /** Where in `chunks` the slab is (big payloads kept whole may have come after it). */
  private slabChunk = -1;
  /** Slabs for payloads recorded outside the log (see `store`). */
  private readonly slabs = new PayloadSlab();

  /** Append a message; its payload is copied into a slab when it is small, else kept (see payloadToKeep). */
  append(type: number, fromClient: boolean, content: Buffer, timestamp: number): void {
    const i = this.length;
    if (i === this.timestamps.length) this.grow();
    let chunk: number;
    let start = 0;
    if (content.length > SLAB_PAYLOAD_MAX) {
      chunk = this.chunks.push(payloadToKeep(content)) - 1;
    } else {
      if (this.slab === null || this.slab.length - this.slabUsed < content.length) this.nextSlab(content.length);
      chunk = this.slabChunk;
      start = this.slabUsed;
      content.copy(this.slab!, start);
      this.slabUsed += content.length;
    }
    this.flags[i] = type | (fromClient ? FROM_CLIENT : 0);
    this.timestamps[i] = timestamp;
    this.ranges[3 * i] = chunk;
    this.ranges[3 * i + 1] = start;
    this.ranges[3 * i + 2] = start + content.length;
    this.length = i + 1;
  }

  /** Seal the full slab (see the file header) and start the next one, the same Buffer when it can. */
  private nextSlab(need: number): void {
    const full = this.slab;
    let reusable = false;
    if (full !== null && heapHasRoomFor(this.slabUsed)) {
      this.chunks[this.slabChunk] = full.toString('latin1', 0, this.slabUsed);
      reusable = true;
    }
    const size = nextSlabSize(full?.length ?? 0, need);
    const slab = reusable && full!.length === size ? full! : Buffer.allocUnsafeSlow(size);
    this.slab = slab;
    this.slabUsed = 0;
    this.slabChunk = this.chunks.push(slab) - 1;
  }

  /**
   * Where a payload is kept for a message recorded outside the log: small ones are copied into
   * slabs, so that a flow whose messages are objects does not hold a Buffer per message.
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

  /**
   * Message `i`'s payload: a view over the recorded bytes, or a copy of them when they are in a
   * sealed slab or in the slab being filled (which is written over once sealed).
   */
  content(i: number): Buffer {
    const chunk = this.chunks[this.ranges[3 * i]!]!;
    const start = this.ranges[3 * i + 1]!;
    const end = this.ranges[3 * i + 2]!;
    if (typeof chunk === 'string') return Buffer.from(chunk.slice(start, end), 'latin1');
    if (chunk === this.slab) return Buffer.from(chunk.subarray(start, end));
    return chunk.subarray(start, end);
  }

  /**
   * The buffer message `i`'s payload is in, and where. When content(i) would copy, the copy is a
   * Buffer of its own, or with `shared` a range of the slabs `store` fills, for a message object
   * that is kept (many such messages then share a few slabs).
   */
  payload(i: number, shared = false): PayloadRange {
    const chunk = this.chunks[this.ranges[3 * i]!]!;
    if (typeof chunk === 'string' || chunk === this.slab) {
      const copy = this.content(i);
      return shared ? this.store(copy) : { buffer: copy, start: 0, end: copy.length };
    }
    return { buffer: chunk, start: this.ranges[3 * i + 1]!, end: this.ranges[3 * i + 2]! };
  }

  /** Forget every message (their buffers stay alive for as long as something else holds them). */
  clear(): void {
    this.length = 0;
    this.chunks = [];
    this.slab = null;
    this.slabUsed = 0;
    this.slabChunk = -1;
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
