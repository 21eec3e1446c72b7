import net from 'node:net';
import { Server, formatAddress } from '../connection.js';
import type { Socks5AuthData } from '../hooks.js';
import { bytesToIp } from '../certs/ip.js';
import { escapeBytes } from '../util/escapes.js';
import { pyBytesRepr } from '../io/pyrepr.js';
import type { ConnectionContext } from './context.js';
import { ConnectError, DESTINATION_UNKNOWN } from './upstream-pool.js';
import { ConnectionClosedError, MessageTimeoutError } from './socket-reader.js';
import { DNS_NAME } from '../util/valid-host.js';

/**
 * The SOCKS5 handshake of socks5 mode (RFC 1928, with RFC 1929 username/password when the
 * `proxyauth` option is set): method negotiation, optional authentication through the
 * `socks5_auth` hook, then a CONNECT request. Only CONNECT is supported (as mitmproxy); the
 * target is connected eagerly (connection_strategy "eager") so the reply can say whether it is
 * reachable, and the tunnel is then served like a CONNECT tunnel.
 *
 * The message parsers are pure functions over the bytes received so far, so the handshake can
 * arrive in any fragmentation and can be fuzzed without sockets.
 */

export const SOCKS5_VERSION = 0x05;
/** The version byte of the RFC 1929 username/password subnegotiation. */
export const USERPASS_VERSION = 0x01;

export const METHOD_NO_AUTH = 0x00;
export const METHOD_USER_PASSWORD = 0x02;
export const METHOD_NO_ACCEPTABLE = 0xff;

export const CMD_CONNECT = 0x01;
const COMMAND_NAMES: Record<number, string> = { 0x01: 'CONNECT', 0x02: 'BIND', 0x03: 'UDP ASSOCIATE' };

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Reply codes (RFC 1928 §6). */
export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** The outcome of parsing one handshake message from the start of a buffer. */
export type ParseResult<T> =
  | { kind: 'incomplete' }
  /** `reply`: the reply code to send before closing, or null to just close. */
  | { kind: 'error'; message: string; reply: number | null }
  | { kind: 'ok'; value: T; length: number };

const INCOMPLETE = { kind: 'incomplete' } as const;

/** The client's greeting: the authentication methods it offers. */
export function parseGreeting(buf: Uint8Array): ParseResult<number[]> {
  if (buf.length < 2) return INCOMPLETE;
  if (buf[0] !== SOCKS5_VERSION) {
    // Three upper-case letters look like an HTTP method ("GET", "CONNECT"): say so.
    const looksLikeHttp = buf.length >= 3 && [0, 1, 2].every((i) => buf[i]! >= 0x41 && buf[i]! <= 0x5a);
    const guess = looksLikeHttp ? 'Probably not a SOCKS request but a regular HTTP request. ' : '';
    return { kind: 'error', message: `${guess}Invalid SOCKS version. Expected 0x05, got 0x${buf[0]!.toString(16)}`, reply: null };
  }
  const n = buf[1]!;
  if (buf.length < 2 + n) return INCOMPLETE;
  return { kind: 'ok', value: Array.from(buf.subarray(2, 2 + n)), length: 2 + n };
}

/** RFC 1929 username/password request. */
export function parseUserPass(buf: Uint8Array): ParseResult<{ username: string; password: string }> {
  if (buf.length < 1) return INCOMPLETE;
  if (buf[0] !== USERPASS_VERSION) {
    return { kind: 'error', message: `Invalid SOCKS5 username/password subnegotiation version. Expected 0x01, got 0x${buf[0]!.toString(16)}`, reply: null };
  }
  if (buf.length < 2) return INCOMPLETE;
  const ulen = buf[1]!;
  if (buf.length < 3 + ulen) return INCOMPLETE;
  const plen = buf[2 + ulen]!;
  const length = 3 + ulen + plen;
  if (buf.length < length) return INCOMPLETE;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    kind: 'ok',
    value: { username: b.toString('utf8', 2, 2 + ulen), password: b.toString('utf8', 3 + ulen, length) },
    length,
  };
}

/** A CONNECT request's target. */
export interface Socks5Target {
  host: string;
  port: number;
  addressType: number;
}


/** The request after the handshake: only CONNECT is supported. */
export function parseConnectRequest(buf: Uint8Array): ParseResult<Socks5Target> {
  if (buf.length < 3) return INCOMPLETE;
  if (buf[0] !== SOCKS5_VERSION || buf[2] !== 0x00) {
    return { kind: 'error', message: `Unsupported SOCKS5 request: ${pyBytesRepr(buf.subarray(0, 64))}`, reply: Socks5Reply.COMMAND_NOT_SUPPORTED };
  }
  if (buf[1] !== CMD_CONNECT) {
    const name = COMMAND_NAMES[buf[1]!] ?? `0x${buf[1]!.toString(16).padStart(2, '0')}`;
    return { kind: 'error', message: `Unsupported SOCKS5 request: command ${name} (only CONNECT is supported)`, reply: Socks5Reply.COMMAND_NOT_SUPPORTED };
  }
  if (buf.length < 4) return INCOMPLETE;
  const atyp = buf[3]!;
  let length: number;
  if (atyp === ATYP_IPV4) length = 4 + 4 + 2;
  else if (atyp === ATYP_IPV6) length = 4 + 16 + 2;
  else if (atyp === ATYP_DOMAIN) {
    if (buf.length < 5) return INCOMPLETE;
    length = 4 + 1 + buf[4]! + 2;
  } else {
    return { kind: 'error', message: `Unknown address type: ${atyp}`, reply: Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED };
  }
  if (buf.length < length) return INCOMPLETE;
  const port = (buf[length - 2]! << 8) | buf[length - 1]!;
  let host: string;
  if (atyp === ATYP_DOMAIN) {
    const raw = buf.subarray(5, length - 2);
    host = Buffer.from(raw).toString('latin1');
    // Domain names as clients send them (IDNA ASCII); IP literals sent as names are accepted too.
    if (!DNS_NAME.test(host) && net.isIP(host) === 0) {
      return { kind: 'error', message: `Invalid domain name in SOCKS5 request: ${JSON.stringify(escapeBytes(raw))}`, reply: Socks5Reply.HOST_UNREACHABLE };
    }
  } else {
    host = bytesToIp(buf.subarray(4, length - 2));
  }
  return { kind: 'ok', value: { host, port, addressType: atyp }, length };
}

/** A reply to the CONNECT request; the bound address is not meaningful for us and sent as 0.0.0.0:0 (as mitmproxy). */
export function replyBytes(code: number): Buffer {
  return Buffer.from([SOCKS5_VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}

/** The reply code for a failed connection to the target, from the connect error's text. */
export function replyForConnectError(message: string): number {
  if (message.startsWith('Connection refused')) return Socks5Reply.CONNECTION_REFUSED;
  if (message.startsWith('Network is unreachable')) return Socks5Reply.NETWORK_UNREACHABLE;
  if (message.includes(DESTINATION_UNKNOWN)) return Socks5Reply.NOT_ALLOWED;
  return Socks5Reply.HOST_UNREACHABLE;
}

class HandshakeFailed extends Error {}

/**
 * Run the SOCKS5 handshake on a client connection. On success `ctx.server` is the target (with
 * an open connection in the pool unless connection_strategy is lazy) and the client got the
 * success reply; the caller serves the tunnel. On failure the client got the error reply (if
 * the protocol has one), the connection is closing, one line was logged, and false is returned.
 */
export async function socks5Handshake(ctx: ConnectionContext): Promise<boolean> {
  const log = ctx.master.log;
  const socket = ctx.socket;

  const fail = (message: string, reply: Buffer | null): never => {
    if (reply && !socket.destroyed) socket.write(reply);
    socket.end();
    log.info(message, ctx.clientLabel);
    throw new HandshakeFailed(message);
  };

  /** Read one message with `parse`, waiting for more bytes while it is incomplete. */
  const read = async <T>(parse: (b: Buffer) => ParseResult<T>): Promise<T> => {
    for (let want = 1; ; ) {
      let buf: Buffer;
      try {
        buf = await ctx.reader.peek(want);
      } catch (e) {
        if (e instanceof MessageTimeoutError) return fail(`Client did not complete its SOCKS5 handshake (${e.message}).`, null);
        throw e;
      }
      const r = parse(buf);
      if (r.kind === 'ok') {
        await ctx.reader.readExactly(r.length);
        return r.value;
      }
      if (r.kind === 'error') return fail(r.message, r.reply === null ? null : replyBytes(r.reply));
      if (ctx.reader.atEnd || buf.length < want) {
        if (buf.length === 0) throw new HandshakeFailed('closed');
        return fail(`Client closed connection before completing SOCKS5 handshake: ${pyBytesRepr(buf.subarray(0, 64))}`, null);
      }
      want = buf.length + 1;
    }
  };

  try {
    const methods = await read(parseGreeting);
    const o = ctx.master.options;
    const needAuth = o.has('proxyauth') && !!o.get<string | null>('proxyauth');
    const method = needAuth ? METHOD_USER_PASSWORD : METHOD_NO_AUTH;
    if (!methods.includes(method)) {
      fail(`Client does not support SOCKS5 with ${needAuth ? 'user/password' : 'no'} authentication.`, Buffer.from([SOCKS5_VERSION, METHOD_NO_ACCEPTABLE]));
    }
    socket.write(Buffer.from([SOCKS5_VERSION, method]));

    if (needAuth) {
      const { username, password } = await read(parseUserPass);
      const data: Socks5AuthData = { clientConn: ctx.client, username, password, valid: false };
      await ctx.hooks.trigger('socks5_auth', data);
      // mitmproxy logs exactly this (the user name is not repeated).
      if (!data.valid) fail('authentication failed', Buffer.from([USERPASS_VERSION, 0x01]));
      socket.write(Buffer.from([USERPASS_VERSION, 0x00]));
    }

    const target = await read(parseConnectRequest);
    ctx.server = new Server({ address: [target.host, target.port] });
    if (ctx.options.connectionStrategy === 'eager') {
      try {
        await ctx.upstream.open({ address: [target.host, target.port], tls: false }, ctx.server);
      } catch (e) {
        const message = e instanceof ConnectError ? e.message : String(e);
        fail(`SOCKS5 CONNECT to ${formatAddress([target.host, target.port])} failed: ${message}`, replyBytes(replyForConnectError(message)));
      }
    }
    socket.write(replyBytes(Socks5Reply.SUCCEEDED));
    return true;
  } catch (e) {
    if (e instanceof HandshakeFailed) return false;
    // The client went away in the middle of a message.
    if (e instanceof ConnectionClosedError || (e as NodeJS.ErrnoException).code === 'ECONNRESET') {
      log.info('Client closed connection during the SOCKS5 handshake.', ctx.clientLabel);
      return false;
    }
    throw e;
  }
}
