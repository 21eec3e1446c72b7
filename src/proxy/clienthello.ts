/**
 * TLS ClientHello parsing from the first bytes of a connection (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
 *
 * The proxy reads a connection's first bytes, asks `parseClientHello` whether they hold a whole
 * ClientHello yet, and gets 'incomplete' (read more), the parsed hello, or a ClientHelloError
 * (not TLS, not a ClientHello, malformed, too large). The hello may be split over several TLS
 * records (some clients and anti-censorship tools fragment it on purpose); everything up to the
 * end of the last record that carries part of it is returned as `raw`, so the caller can replay
 * exactly those bytes into a TLS socket or pass them through unchanged.
 *
 * No dependency and no copies beyond one of the consumed bytes; malformed input of any kind ends
 * in a ClientHelloError, never in another exception (checked with random input by a property test).
 */
import type { ClientHello } from '../hooks.js';
import { isValidHost } from '../util/valid-host.js';

/**
 * The largest ClientHello accepted (handshake body length): OpenSSL's CLIENT_HELLO_MAX_LENGTH.
 * Real hellos are a few hundred bytes to a few KiB (post-quantum key shares ~1.8 KiB).
 */
export const MAX_CLIENT_HELLO_LENGTH = 131396;
/** TLSPlaintext records carry at most 2^14 bytes (RFC 8446 §5.1). */
const MAX_RECORD_LENGTH = 16384;

const CONTENT_TYPE_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const EXT_SUPPORTED_VERSIONS = 0x002b;

export type ClientHelloErrorCode = 'not-tls' | 'not-client-hello' | 'too-large' | 'malformed';

/** The bytes are not (or not a valid) TLS ClientHello. */
export class ClientHelloError extends Error {
  constructor(
    readonly code: ClientHelloErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ClientHelloError';
  }
}

/** The parsed hello: the hook-facing fields plus the rest of the message, for fingerprinting addons. */
export interface ParsedClientHello extends ClientHello {
  /** legacy_version from the hello (0x0303 for TLS 1.2 and 1.3). */
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  compressionMethods: number[];
  /** The handshake message: 4-byte header + ClientHello body, without record headers. */
  message: Buffer;
}

/**
 * Cheap sniff on a connection's first bytes: does this start like a TLS handshake record? The
 * same test as mitmproxy (content type 0x16, major version 3, minor 0..3; fewer than 3 bytes is
 * "no"), so classification matches it.
 */
export function looksLikeTlsClientHello(firstBytes: Uint8Array): boolean {
  return firstBytes.length > 2 && firstBytes[0] === CONTENT_TYPE_HANDSHAKE && firstBytes[1] === 0x03 && firstBytes[2]! <= 0x03;
}

function describe(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
}

/**
 * Parse a ClientHello from the start of `data`. Returns 'incomplete' when more bytes are needed,
 * the hello when it is complete, and throws ClientHelloError when the bytes cannot become one.
 * Bytes after the records that carry the hello are ignored (and not part of `raw`).
 */
export function parseClientHello(data: Uint8Array): ParsedClientHello | 'incomplete' {
  let offset = 0;
  let handshakeBytes = 0;
  let needed = -1; // total handshake message length, once its header has been seen
  const bodies: Uint8Array[] = [];

  const checkHeader = (partial: Uint8Array) => {
    // Validate the handshake header as early as its bytes are available, even mid-record, so
    // garbage and oversized hellos are rejected without waiting for (or buffering) more input.
    if (needed >= 0 || partial.length < 4) return;
    if (partial[0] !== HANDSHAKE_CLIENT_HELLO) {
      throw new ClientHelloError('not-client-hello', `Expected a TLS ClientHello (handshake type 1), got handshake type ${partial[0]}.`);
    }
    const length = (partial[1]! << 16) | (partial[2]! << 8) | partial[3]!;
    if (length > MAX_CLIENT_HELLO_LENGTH) {
      throw new ClientHelloError('too-large', `TLS ClientHello of ${length} bytes exceeds the limit of ${MAX_CLIENT_HELLO_LENGTH} bytes.`);
    }
    needed = 4 + length;
  };
  const handshakePrefix = (extra: Uint8Array): Uint8Array => {
    const parts = [...bodies, extra];
    let total = 0;
    for (const p of parts) total += p.length;
    if (total < 4) return new Uint8Array(0);
    const out = new Uint8Array(4);
    let i = 0;
    for (const p of parts) for (let j = 0; j < p.length && i < 4; j++) out[i++] = p[j]!;
    return out;
  };

  for (;;) {
    const available = data.length - offset;
    if (available >= 3 || (available > 0 && offset === 0)) {
      const ok = data[offset] === CONTENT_TYPE_HANDSHAKE && (available < 2 || data[offset + 1] === 0x03) && (available < 3 || data[offset + 2]! <= 0x03);
      if (!ok) {
        throw new ClientHelloError(
          'not-tls',
          offset === 0
            ? `Expected a TLS handshake record, got ${describe(data)}.`
            : `Expected another TLS handshake record to complete the ClientHello, got ${describe(data.subarray(offset))}.`,
        );
      }
    }
    if (available < 5) return 'incomplete';
    const recordLength = (data[offset + 3]! << 8) | data[offset + 4]!;
    if (recordLength === 0) throw new ClientHelloError('malformed', 'Empty TLS record.');
    if (recordLength > MAX_RECORD_LENGTH) {
      throw new ClientHelloError('too-large', `TLS record of ${recordLength} bytes exceeds the limit of ${MAX_RECORD_LENGTH} bytes.`);
    }
    const bodyStart = offset + 5;
    const bodyEnd = bodyStart + recordLength;
    if (data.length < bodyEnd) {
      checkHeader(handshakePrefix(data.subarray(bodyStart)));
      return 'incomplete';
    }
    bodies.push(data.subarray(bodyStart, bodyEnd));
    handshakeBytes += recordLength;
    offset = bodyEnd;
    checkHeader(handshakePrefix(new Uint8Array(0)));
    if (needed >= 0 && handshakeBytes >= needed) break;
  }

  // One copy of everything consumed (a second one of the message when it spans records); all
  // fields are views into those, so the caller's buffer is not retained.
  const raw = Buffer.from(data.subarray(0, offset));
  const message = bodies.length === 1 ? raw.subarray(5, 5 + needed) : Buffer.concat(bodies.map((b) => Buffer.from(b))).subarray(0, needed);
  return parseBody(message, raw);
}

/** Bounds-checked reader over the ClientHello body. */
class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly end: number = buf.length,
  ) {}
  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new ClientHelloError('malformed', `Invalid ClientHello: truncated ${what}.`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
}

function parseBody(message: Buffer, raw: Buffer): ParsedClientHello {
  const r = new Reader(message);
  r.pos = 4; // handshake type + length, checked already
  const legacyVersion = r.u16('version');
  const random = r.bytes(32, 'random');
  const sessionIdLength = r.u8('session id length');
  if (sessionIdLength > 32) throw new ClientHelloError('malformed', `Invalid ClientHello: session id of ${sessionIdLength} bytes.`);
  const sessionId = r.bytes(sessionIdLength, 'session id');
  const suitesLength = r.u16('cipher suites length');
  if (suitesLength % 2 !== 0) throw new ClientHelloError('malformed', 'Invalid ClientHello: odd cipher suites length.');
  const suites = r.bytes(suitesLength, 'cipher suites');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  const compressionLength = r.u8('compression methods length');
  const compressionMethods = [...r.bytes(compressionLength, 'compression methods')];

  const extensions: Array<[number, Buffer]> = [];
  // Extensions are optional (SSLv3-era hellos end after the compression methods).
  if (r.remaining > 0) {
    const extLength = r.u16('extensions length');
    if (r.pos + extLength > message.length) throw new ClientHelloError('malformed', 'Invalid ClientHello: truncated extensions.');
    const ext = new Reader(message, r.pos + extLength);
    ext.pos = r.pos;
    while (ext.remaining > 0) {
      const type = ext.u16('extension type');
      const len = ext.u16('extension length');
      extensions.push([type, ext.bytes(len, 'extension data')]);
    }
    r.pos = ext.pos;
    if (r.remaining > 0) throw new ClientHelloError('malformed', 'Invalid ClientHello: bytes after the extensions.');
  }

  let sni: string | null = null;
  let alpnProtocols: string[] = [];
  let supportedVersions: number[] | null = null;
  for (const [type, body] of extensions) {
    if (type === EXT_SERVER_NAME && sni === null) sni = parseServerName(body);
    else if (type === EXT_ALPN && alpnProtocols.length === 0) alpnProtocols = parseAlpn(body);
    else if (type === EXT_SUPPORTED_VERSIONS && supportedVersions === null) supportedVersions = parseSupportedVersions(body);
  }

  return {
    sni,
    alpnProtocols,
    cipherSuites,
    extensions,
    supportedVersions: supportedVersions ?? [legacyVersion],
    raw,
    legacyVersion,
    random,
    sessionId,
    compressionMethods,
    message,
  };
}

/**
 * The host name from a server_name extension, as mitmproxy takes it: only when the list holds
 * exactly one entry, of type host_name, that is a valid host name or IP address. Anything else
 * (odd lists, NULs, non-ASCII, over-long labels) means "no SNI" rather than a name we would later
 * put into certificates and log lines.
 */
function parseServerName(body: Buffer): string | null {
  const r = new Reader(body);
  const listLength = r.u16('server name list length');
  if (listLength !== r.remaining) throw new ClientHelloError('malformed', 'Invalid ClientHello: server name list length mismatch.');
  const names: Array<[number, Buffer]> = [];
  while (r.remaining > 0) {
    const type = r.u8('server name type');
    const len = r.u16('server name length');
    names.push([type, r.bytes(len, 'server name')]);
  }
  if (names.length !== 1 || names[0]![0] !== 0) return null;
  const name = names[0]![1].toString('latin1');
  return isValidHost(name) ? name : null;
}

function parseAlpn(body: Buffer): string[] {
  const r = new Reader(body);
  const listLength = r.u16('ALPN list length');
  if (listLength !== r.remaining) throw new ClientHelloError('malformed', 'Invalid ClientHello: ALPN list length mismatch.');
  const out: string[] = [];
  while (r.remaining > 0) {
    const len = r.u8('ALPN protocol length');
    out.push(r.bytes(len, 'ALPN protocol').toString('latin1'));
  }
  return out;
}

function parseSupportedVersions(body: Buffer): number[] {
  const r = new Reader(body);
  const len = r.u8('supported versions length');
  if (len % 2 !== 0 || len !== r.remaining) throw new ClientHelloError('malformed', 'Invalid ClientHello: bad supported_versions extension.');
  const out: number[] = [];
  while (r.remaining > 0) out.push(r.u16('supported version'));
  return out;
}
