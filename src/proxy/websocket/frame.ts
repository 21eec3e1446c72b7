import { randomFillSync } from 'node:crypto';
import { Opcode } from '../../websocket.js';

/** RFC 6455 §7.4.1 close codes the proxy itself uses or treats specially. */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  NO_STATUS_RCVD: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TLS_HANDSHAKE_FAILED: 1015,
} as const;

/** Codes a peer must never put on the wire: they only describe what happened locally. */
const LOCAL_ONLY_CODES = new Set<number>([CloseCode.NO_STATUS_RCVD, CloseCode.ABNORMAL_CLOSURE, CloseCode.TLS_HANDSHAKE_FAILED]);
/** Registered codes below 3000 (RFC 6455 §7.4.1 plus 1012-1014 from the IANA registry). */
const KNOWN_PROTOCOL_CODES = new Set<number>([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015]);

/** Control frame payloads are at most 125 bytes (RFC 6455 §5.5). */
const MAX_CONTROL_PAYLOAD = 125;

/**
 * A peer broke the protocol. `code` is the close code to answer with (1002 for framing errors,
 * 1007 for bad payload data, 1009 for a message over the size limit); the message says what was wrong.
 */
export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly code: number = CloseCode.PROTOCOL_ERROR,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

/** One frame, payload already unmasked. */
export interface Frame {
  fin: boolean;
  /** RSV1: on the first frame of a data message it marks a permessage-deflate compressed message. */
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
  /**
   * The frame exactly as received (header and, from a client, the still-masked payload) when it
   * arrived within one read chunk, else null: a relay can pass such a frame on without encoding
   * it again.
   */
  raw: Buffer | null;
}

interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: Buffer | null;
  length: number;
  headerLength: number;
}

export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

function isKnownOpcode(opcode: number): boolean {
  return opcode <= Opcode.BINARY || (opcode >= Opcode.CLOSE && opcode <= Opcode.PONG);
}

export interface FrameParserOptions {
  /** Frames from a client are masked, frames from a server are not (RFC 6455 §5.1). */
  fromClient: boolean;
  /** Whether RSV1 may be set (permessage-deflate was negotiated). */
  allowRsv1: boolean;
  /** Frames announcing a longer payload are refused with 1009 before their payload is buffered. */
  maxPayload: number;
}

/**
 * Incremental RFC 6455 frame parser: feed it the chunks read from one side of the connection and
 * get back the complete frames they finish. Bytes of an unfinished frame stay buffered. Framing
 * rules are checked per frame (opcodes, masking, reserved bits, minimal length encoding, control
 * frame limits); message-level rules (continuations, UTF-8) belong to the caller.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: FrameHeader | null = null;
  /** The chunk that starts with the current header's bytes (for Frame.raw), until the frame is complete. */
  private headerChunk: Buffer | null = null;
  private readonly maskKey = Buffer.alloc(4);

  /**
   * The framing error that stopped the parser, once one came. The frames before it were still
   * returned (a peer's last good message and its bad frame often arrive in one chunk, and the
   * message must not be lost); nothing after it is parsed.
   */
  error: WebSocketProtocolError | null = null;

  constructor(private readonly opts: FrameParserOptions) {}

  /** Bytes received but not yet part of a complete frame. */
  get bufferedLength(): number {
    return this.buffered;
  }

  /**
   * Add received bytes; returns the frames they complete (possibly none), up to a bad frame, which
   * sets `error` instead.
   */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    if (this.error !== null) return frames;
    try {
      this.parse(chunk, frames);
    } catch (e) {
      if (!(e instanceof WebSocketProtocolError)) throw e;
      this.error = e;
      this.chunks = [];
      this.buffered = 0;
    }
    return frames;
  }

  private parse(chunk: Buffer, frames: Frame[]): void {
    if (this.chunks.length === 0 && this.header === null) {
      // Nothing buffered (the usual case): take whole frames straight out of the chunk, as
      // slices, and buffer only an unfinished frame at its end.
      const rest = this.framesIn(chunk, frames);
      if (rest === chunk.length) return;
      chunk = chunk.subarray(rest);
    }
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.header === null && !this.readHeader()) break;
      const h = this.header!;
      if (this.buffered < h.length) break;
      const headerChunk = this.headerChunk;
      let payload = this.consume(h.length);
      // Header and payload side by side in one chunk: that slice is the frame as received.
      const contiguous =
        headerChunk !== null &&
        (h.length === 0 || (payload.buffer === headerChunk.buffer && payload.byteOffset === headerChunk.byteOffset + h.headerLength));
      const raw = contiguous ? headerChunk.subarray(0, h.headerLength + h.length) : null;
      if (h.mask) {
        // Unmask a copy when the masked bytes are the raw frame (kept intact for relaying).
        if (raw !== null && h.length > 0) payload = Buffer.from(payload);
        maskInPlace(payload, h.mask);
      }
      frames.push({ fin: h.fin, rsv1: h.rsv1, opcode: h.opcode, payload, raw });
      this.header = null;
      this.headerChunk = null;
    }
  }

  /** Append the complete frames at the start of `b` to `frames`; returns where the first incomplete one starts. */
  private framesIn(b: Buffer, frames: Frame[]): number {
    let off = 0;
    while (off < b.length) {
      const h = this.decodeHeader(b, off);
      if (h === null) break;
      const start = off + h.headerLength;
      const end = start + h.length;
      if (end > b.length) break;
      const raw = off === 0 && end === b.length ? b : b.subarray(off, end);
      let payload: Buffer;
      if (h.mask) {
        // Unmask a copy: the masked bytes are the raw frame, kept intact for relaying.
        payload = Buffer.allocUnsafe(h.length);
        b.copy(payload, 0, start, end);
        maskInPlace(payload, h.mask);
      } else {
        payload = b.subarray(start, end);
      }
      frames.push({ fin: h.fin, rsv1: h.rsv1, opcode: h.opcode, payload, raw });
      off = end;
    }
    return off;
  }

  /** Parse the next header if all of its bytes are here. */
  private readHeader(): boolean {
    if (this.buffered < 2) return false;
    // A header is at most 14 bytes; make sure the first chunk holds it whole (or everything we have).
    while (this.chunks[0]!.length < 14 && this.chunks.length > 1) {
      this.chunks.splice(0, 2, Buffer.concat([this.chunks[0]!, this.chunks[1]!]));
    }
    const b = this.chunks[0]!;
    const h = this.decodeHeader(b, 0);
    if (h === null) return false;
    this.headerChunk = b;
    this.skip(h.headerLength);
    this.header = h;
    return true;
  }

  /**
   * Decode and check the frame header at `b[off]`; null when its bytes are not all there yet.
   * A masked frame's key is copied into the parser's own 4 bytes (one frame at a time), as the
   * header bytes may be released before the payload arrives.
   */
  private decodeHeader(b: Buffer, off: number): FrameHeader | null {
    if (b.length - off < 2) return null;
    const b0 = b[off]!;
    const b1 = b[off + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    const headerLength = 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (!isKnownOpcode(opcode)) throw new WebSocketProtocolError(`Invalid opcode ${formatHex(opcode)}`);
    const control = isControlOpcode(opcode);
    if (control && !fin) throw new WebSocketProtocolError('Invalid attempt to fragment control frame');
    if (masked !== this.opts.fromClient) {
      throw new WebSocketProtocolError(this.opts.fromClient ? 'server received unexpected unmasked frame' : 'client received unexpected masked frame');
    }
    if (control && length > MAX_CONTROL_PAYLOAD) throw new WebSocketProtocolError('Control frame with payload len > 125');
    if ((b0 & 0x30) !== 0 || (rsv1 && (!this.opts.allowRsv1 || control))) throw new WebSocketProtocolError('Reserved bit set unexpectedly');
    if (b.length - off < headerLength) return null;
    if (length === 126) {
      length = b.readUInt16BE(off + 2);
      if (length <= MAX_CONTROL_PAYLOAD) throw new WebSocketProtocolError('Payload length used 2 bytes when 1 would have sufficed');
    } else if (length === 127) {
      const high = b.readUInt32BE(off + 2);
      const low = b.readUInt32BE(off + 6);
      if (high >= 0x80000000) throw new WebSocketProtocolError('8-byte payload length with non-zero MSB');
      if (high === 0 && low <= 0xffff) throw new WebSocketProtocolError('Payload length used 8 bytes when 2 would have sufficed');
      // Above 2^53 the number is imprecise, but it is far beyond any size limit anyway.
      length = high * 0x100000000 + low;
    }
    if (length > this.opts.maxPayload) {
      throw new WebSocketProtocolError(`Message too big: frame of ${length} bytes exceeds the limit of ${this.opts.maxPayload} bytes`, CloseCode.MESSAGE_TOO_BIG);
    }
    let mask: Buffer | null = null;
    if (masked) {
      mask = this.maskKey;
      b.copy(mask, 0, off + headerLength - 4, off + headerLength);
    }
    return { fin, rsv1, opcode, mask, length, headerLength };
  }

  /** Drop `n` bytes (n <= buffered) that sit in the first chunk (a header, made whole by readHeader). */
  private skip(n: number): void {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) this.chunks[0] = first.subarray(n);
    else this.chunks.shift();
  }

  /** Take `n` buffered bytes (n <= buffered), copying only when they span chunks. */
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}

function formatHex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Below this many bytes a plain byte loop beats setting up a 32-bit view. */
const WORD_MASK_THRESHOLD = 64;
/** Scratch space to turn four mask bytes into one 32-bit word in the machine's byte order. */
const wordBytes = new Uint8Array(4);
const wordView = new Uint32Array(wordBytes.buffer);

/** The mask as a 32-bit word, rotated to start at mask byte `phase`. */
function maskWord(mask: Buffer, phase: number): number {
  wordBytes[0] = mask[phase & 3]!;
  wordBytes[1] = mask[(phase + 1) & 3]!;
  wordBytes[2] = mask[(phase + 2) & 3]!;
  wordBytes[3] = mask[(phase + 3) & 3]!;
  return wordView[0]!;
}

/**
 * XOR `data` with the 4-byte `mask` in place (unmasking and masking are the same operation):
 * byte by byte up to a 4-byte boundary of the underlying memory, then a word at a time.
 */
export function maskInPlace(data: Buffer, mask: Buffer): void {
  const n = data.length;
  let i = 0;
  if (n >= WORD_MASK_THRESHOLD) {
    const base = data.byteOffset;
    for (; ((base + i) & 3) !== 0; i++) data[i] = data[i]! ^ mask[i & 3]!;
    const words = (n - i) >>> 2;
    const view = new Uint32Array(data.buffer, base + i, words);
    const w = maskWord(mask, i);
    for (let k = 0; k < words; k++) view[k] = view[k]! ^ w;
    i += words * 4;
  }
  for (; i < n; i++) data[i] = data[i]! ^ mask[i & 3]!;
}

/** Masking keys come from a pool of random bytes, refilled in bulk (one crypto call per 2048 frames). */
const keyPool = Buffer.allocUnsafe(8192);
let keyOffset = keyPool.length;

function nextMaskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) {
    randomFillSync(keyPool);
    keyOffset = 0;
  }
  const key = keyPool.subarray(keyOffset, keyOffset + 4);
  keyOffset += 4;
  return key;
}

/** Payloads up to this size are copied next to their header so a frame is one write. */
const COPY_LIMIT = 64 * 1024;

export interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  /** Frames sent to a server are masked with a fresh random key; frames sent to a client are not. */
  mask: boolean;
}

/**
 * Serialize a frame. Returns the bytes to write, as one buffer or (for a large unmasked payload)
 * the header and the payload itself, so big payloads are never copied just to be framed.
 * `payload` is never modified.
 */
export function encodeFrame(opcode: number, payload: Buffer, opts: FrameOptions): Buffer[] {
  const len = payload.length;
  const lenBytes = len <= MAX_CONTROL_PAYLOAD ? 0 : len <= 0xffff ? 2 : 8;
  const headerLength = 2 + lenBytes + (opts.mask ? 4 : 0);
  const inline = opts.mask || len <= COPY_LIMIT;
  // For a masked frame, start the buffer so the payload sits on a 4-byte boundary (allocations
  // are 8-byte aligned): the masking loop can then work a word at a time from the first byte.
  const pad = opts.mask ? (4 - (headerLength & 3)) & 3 : 0;
  const size = inline ? headerLength + len : headerLength;
  const out = pad ? Buffer.allocUnsafe(pad + size).subarray(pad) : Buffer.allocUnsafe(size);
  out[0] = (opts.fin ? 0x80 : 0) | (opts.rsv1 ? 0x40 : 0) | (opcode & 0x0f);
  const maskBit = opts.mask ? 0x80 : 0;
  if (lenBytes === 0) {
    out[1] = maskBit | len;
  } else if (lenBytes === 2) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  if (opts.mask) {
    const key = nextMaskKey();
    key.copy(out, headerLength - 4);
    payload.copy(out, headerLength);
    maskInPlace(out.subarray(headerLength), key);
    return [out];
  }
  if (inline) {
    payload.copy(out, headerLength);
    return [out];
  }
  return [out, payload];
}

/** A close frame's payload, decoded. */
export interface ClosePayload {
  code: number;
  reason: string;
}

/**
 * Decode a received close frame's payload. An empty payload means 1005 (no status received);
 * codes a peer may not send, and reasons that are not UTF-8, are protocol errors.
 */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS_RCVD, reason: '' };
  if (payload.length === 1) throw new WebSocketProtocolError('CLOSE with 1 byte payload');
  const code = payload.readUInt16BE(0);
  if (code < 1000 || code > 4999) throw new WebSocketProtocolError('CLOSE with invalid code');
  if (LOCAL_ONLY_CODES.has(code)) throw new WebSocketProtocolError('remote CLOSE with local-only reason');
  if (code <= 2999 && !KNOWN_PROTOCOL_CODES.has(code)) throw new WebSocketProtocolError('CLOSE with unknown reserved code');
  let reason: string;
  try {
    reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
  } catch {
    throw new WebSocketProtocolError('Error decoding CLOSE reason: invalid UTF-8', CloseCode.INVALID_FRAME_PAYLOAD_DATA);
  }
  return { code, reason };
}

/**
 * The payload of a close frame we send. Local-only codes become 1000 (they must not appear on the
 * wire); 1005 means "no code", sent as an empty payload. The reason is cut to fit 125 bytes
 * without splitting a UTF-8 sequence.
 */
export function closePayload(code: number | null, reason: string | null): Buffer {
  if (code === null || code === CloseCode.NO_STATUS_RCVD) return Buffer.alloc(0);
  const wireCode = LOCAL_ONLY_CODES.has(code) ? CloseCode.NORMAL_CLOSURE : code;
  let r = Buffer.from(reason ?? '', 'utf8');
  if (r.length > MAX_CONTROL_PAYLOAD - 2) {
    let end = MAX_CONTROL_PAYLOAD - 2;
    // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
    while (end > 0 && (r[end]! & 0xc0) === 0x80) end--;
    r = r.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(wireCode, 0);
  r.copy(out, 2);
  return out;
}
