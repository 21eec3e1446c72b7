/**
 * Where the relay keeps the payloads of recorded messages: small payloads are copied one after
 * the other into shared slabs, so a recorded message holds a range of a slab instead of a Buffer
 * of its own (see `WebSocketMessage.inSlab` for why that matters). The socket chunk a message
 * came in is then garbage at once, as in a relay that records nothing.
 */

/** Payloads up to this size are copied into a slab; a bigger one costs more to copy than to keep. */
export const SLAB_PAYLOAD_MAX = 4 * 1024;
/** Slab size: at most SLAB_PAYLOAD_MAX of it (6%) is left unused when a payload does not fit. */
const SLAB_SIZE = 64 * 1024;

export class PayloadSlab {
  /** The slab the last `copy` wrote to. */
  slab: Buffer = Buffer.alloc(0);
  private used = 0;

  /** Copy `payload` (at most SLAB_PAYLOAD_MAX bytes) into `this.slab`; returns where it starts. */
  copy(payload: Buffer): number {
    if (this.slab.length - this.used < payload.length) {
      // Uninitialised memory is fine: only ranges that were written are ever handed out.
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.used = 0;
    }
    const start = this.used;
    payload.copy(this.slab, start);
    this.used += payload.length;
    return start;
  }
}
