/**
 * Keeping dead HTTP/2 client connections from lingering.
 *
 * After a connection-level protocol error (a broken HPACK block, an oversized frame, DATA on an
 * idle stream) nghttp2 sends GOAWAY and stops reading. Node 20 then neither closes the session
 * nor reads the socket again, so it never sees the client leave: the socket (and, through TLS,
 * its upstream connection) stays open in CLOSE-WAIT until the idle timeout, ten minutes by
 * default. A client can hold any number of descriptors that way with a few bytes each.
 *
 * So an HTTP/2 client connection with no stream open is asked for a PING after a while; one that
 * does not answer is closed. A healthy client answers at once, or, when the end of a big
 * response is still in the socket buffers ahead of the PING (a stream counts as closed once its
 * data is handed to the kernel), as soon as it has read that: the answer may take a minute, for
 * a slow link. Its connection stays, as before, until `tcp_timeout`.
 */
import type http2 from 'node:http2';

export interface LivenessTiming {
  /** How long a connection may have no stream open before it is asked for a PING. */
  idleMs: number;
  /** How long the PING may go unanswered before the connection counts as dead. */
  pingTimeoutMs: number;
}

/** The timing for every new connection (change it here to check sooner or later). */
export const http2Liveness: LivenessTiming = { idleMs: 15_000, pingTimeoutMs: 60_000 };

/** What the session's owner reports: streams opening and closing. */
export interface SessionLiveness {
  streamOpened(): void;
  streamClosed(): void;
}

/** Watch `session`; `onDead` runs (once) when an idle check goes unanswered. */
export function watchLiveness(session: http2.Http2Session, onDead: () => void, timing: LivenessTiming = { ...http2Liveness }): SessionLiveness {
  let open = 0;
  let timer: NodeJS.Timeout | null = null;
  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const later = (fn: () => void, ms: number) => {
    clear();
    timer = setTimeout(fn, ms);
    // The check never keeps the process alive on its own.
    timer.unref();
  };
  const gone = () => session.destroyed || session.closed;
  const check = () => {
    timer = null;
    if (gone() || open > 0) return;
    let answered = false;
    try {
      session.ping((err) => {
        answered = true;
        if (!err && open === 0 && !gone()) later(check, timing.idleMs);
      });
    } catch {
      // The session is closing already.
      return;
    }
    later(() => {
      timer = null;
      if (!answered && !gone() && open === 0) onDead();
    }, timing.pingTimeoutMs);
  };
  session.once('close', clear);
  later(check, timing.idleMs);
  return {
    streamOpened() {
      open++;
      clear();
    },
    streamClosed() {
      if (--open === 0 && !gone()) later(check, timing.idleMs);
    },
  };
}

/**
 * Node (20 and 24) leaves a session's own `setTimeout` timer armed once the session has closed:
 * closing marks the session destroyed before it clears the timer, and a destroyed session's
 * `setTimeout` does nothing. The armed timer holds the session, its socket and everything the
 * connection refers to until it fires (`tcp_timeout`, ten minutes by default). Clear it.
 */
export function clearSessionTimer(session: http2.Http2Session): void {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === 'timeout');
  const timer = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  if (timer) clearTimeout(timer as NodeJS.Timeout);
}
