/**
 * Where recorded WebSocket messages keep their payloads (see MessageLog): small payloads are
 * copied one after the other into shared slabs, so a message holds a range of a slab instead of a
 * Buffer of its own. The socket chunk a message came in is then garbage at once, as in a relay
 * that records nothing.
 */

/** Payloads up to this size are copied into a slab; a bigger one costs more to copy than to keep. */
export const SLAB_PAYLOAD_MAX = 4 * 1024;
/**
 * Slab sizes: the first is small, each next one twice the last, up to the largest. A connection
 * that sends a message or two (most of them) holds 1 KiB, not 64; a busy one soon gets slabs of
 * which at most SLAB_PAYLOAD_MAX (6%) is left unused when a payload does not fit.
 */
const FIRST_SLAB = 1024;
const LARGEST_SLAB = 64 * 1024;

/** The size of the slab after one of `current` bytes (0: none yet) that must hold `need` bytes. */
export function nextSlabSize(current: number, need: number): number {
  return Math.max(need, Math.min(LARGEST_SLAB, Math.max(FIRST_SLAB, current * 2)));
}

/** The slab before the first copy (shared: nothing is ever written to an empty buffer). */
const NO_SLAB = Buffer.alloc(0);

export class PayloadSlab {
  /** The slab the last `copy` wrote to. */
  slab: Buffer = NO_SLAB;
  private used = 0;

  /** Copy `payload` (at most SLAB_PAYLOAD_MAX bytes) into `this.slab`; returns where it starts. */
  copy(payload: Buffer): number {
    if (this.slab.length - this.used < payload.length) {
      // Uninitialised memory is fine: only ranges that were written are ever handed out.
      this.slab = Buffer.allocUnsafeSlow(nextSlabSize(this.slab.length, payload.length));
      this.used = 0;
    }
    const start = this.used;
    payload.copy(this.slab, start);
    this.used += payload.length;
    return start;
  }
}
