import http2 from 'node:http2';

const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** nghttp2's error codes (not in node's constants): from here down they are fatal, -904 down floods. */
const NGHTTP2_FATAL = -900;
const NGHTTP2_ERR_FLOODED = -904;

/**
 * A peer breaking HTTP/2 on the connection (DATA on stream 0, HEADERS on a stream it may not
 * open, a window past 2^31-1, an unexpected SETTINGS ACK, too many CONTINUATIONs, ...).
 *
 * nghttp2 finds it while it reads, and would end the session with a GOAWAY carrying the right
 * code (PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED) and its reason as debug data. But node
 * is told first (its invalid-frame callback) and destroys the session there and then, inside
 * nghttp2's read: the peer gets GOAWAY INTERNAL_ERROR, an error of ours by its code, or over TLS
 * often no GOAWAY at all, the connection ending before it is written. mitmproxy answers
 * PROTOCOL_ERROR with the reason.
 *
 * So that destroy waits until the read is over: nghttp2 ends the session itself and its GOAWAY
 * goes out; the destroy then closes what is left (its own GOAWAY is not sent twice). The error
 * is reported at once (`onError`, mitmproxy's "HTTP/2 protocol error: ..." line) and kept for
 * the session's streams (`protocolErrorOf`), which fail with it rather than as a peer that left.
 */
export function watchProtocolErrors(session: http2.Http2Session, onError: (message: string) => void): void {
  const destroy = session.destroy.bind(session);
  const deferred = (error?: Error | number, code?: number): void => {
    if (!isPeerProtocolError(error) || code !== undefined || protocolErrors.has(session) || session.destroyed) {
      destroy(error as Error, code);
      return;
    }
    const message = `HTTP/2 protocol error: ${error.message}`;
    protocolErrors.set(session, message);
    onError(message);
    // A fatal error (a flood: too many CONTINUATIONs, SETTINGS or queued replies; node's own
    // limit on invalid frames) fails nghttp2's read instead: nghttp2 ends nothing itself then,
    // and would go on reading a header block it dropped halfway. That session ends now.
    if (error.errno > NGHTTP2_FATAL) setImmediate(() => destroy(error, NGHTTP2_PROTOCOL_ERROR));
    else destroy(error, error.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES' || error.errno <= NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
  };
  session.destroy = deferred as typeof session.destroy;
}

/** The protocol error that ended `session` ("HTTP/2 protocol error: ..."), if one did. */
export function protocolErrorOf(session: http2.Http2Session | undefined): string | undefined {
  return session ? protocolErrors.get(session) : undefined;
}

const protocolErrors = new WeakMap<http2.Http2Session, string>();

/**
 * An error node made of an nghttp2 error code while reading (NghttpError: ERR_HTTP2_ERROR, or
 * node's own limit on invalid frames), as opposed to our own destroy or a socket error.
 */
function isPeerProtocolError(error: unknown): error is Error & { code: string; errno: number } {
  if (!(error instanceof Error)) return false;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  return typeof errno === 'number' && (code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES');
}
