/**
 * Collecting a message's payload as its frames arrive. A message may come in any number of
 * fragments, down to one byte each (RFC 6455 sets no minimum). Keeping each fragment as its own
 * Buffer made a message of tiny fragments cost about 20 times its size (a Buffer object per
 * byte, and a recorded length per frame), so a client could take gigabytes while staying under
 * the message size limit. Small fragments are copied together into slabs instead, and only the
 * first MAX_MIRRORED_FRAGMENTS frame lengths are remembered.
 */
import { nextSlabSize } from '../../util/payload-slab.js';

/** Fragments at least this large are kept as they are (no copy). */
const SMALL_FRAGMENT = 4 * 1024;
/** A message in at most this many frames is forwarded in the same frames; a longer one in FRAGMENT_SIZE pieces. */
export const MAX_MIRRORED_FRAGMENTS = 1024;

/** A payload being collected (the fields live on the message object: one allocation per message). */
export interface FragmentedPayload {
  parts: Buffer[];
  /** Sum of the parts' lengths. */
  length: number;
  /** Payload length of each frame it arrived in, or null when there were too many to keep. */
  frameLengths: number[] | null;
  /** The slab small fragments are copied into, and how much of it is used. */
  slab: Buffer | null;
  slabUsed: number;
  /** Where in the slab the last part starts, or -1 when the last part is not in the slab. */
  slabPartStart: number;
}

/** Append one frame's payload. The first is kept as it is: a message of one frame costs no copy. */
export function addFragment(msg: FragmentedPayload, payload: Buffer): void {
  msg.length += payload.length;
  if (msg.frameLengths) {
    if (msg.frameLengths.length < MAX_MIRRORED_FRAGMENTS) msg.frameLengths.push(payload.length);
    else msg.frameLengths = null;
  }
  if (msg.parts.length === 0 || payload.length >= SMALL_FRAGMENT) {
    msg.parts.push(payload);
    // The slab keeps its free space for the small fragments after this one.
    msg.slabPartStart = -1;
    return;
  }
  if (!msg.slab || msg.slab.length - msg.slabUsed < payload.length) {
    // Slabs grow as the payload slabs do (1 KiB, doubling up to 64 KiB): a message of a few small
    // frames, the usual fragmented message, costs a slab near its size.
    msg.slab = Buffer.allocUnsafe(nextSlabSize(msg.slab?.length ?? 0, payload.length));
    msg.slabUsed = 0;
    msg.slabPartStart = -1;
  }
  if (msg.slabPartStart < 0) {
    msg.slabPartStart = msg.slabUsed;
    msg.parts.push(msg.slab.subarray(msg.slabUsed, msg.slabUsed));
  }
  payload.copy(msg.slab, msg.slabUsed);
  msg.slabUsed += payload.length;
  // The last part is the region of the slab written since it started: grow it in place.
  msg.parts[msg.parts.length - 1] = msg.slab.subarray(msg.slabPartStart, msg.slabUsed);
}

/** The whole payload as one buffer (no copy for a message of one part). */
export function joinFragments(msg: FragmentedPayload): Buffer {
  return msg.parts.length === 1 ? msg.parts[0]! : Buffer.concat(msg.parts, msg.length);
}
