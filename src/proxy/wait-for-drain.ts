import type { Duplex } from 'node:stream';

/**
 * Resolves once a stream that asked its writer to wait (write() returned false) can take more:
 * on 'drain', or on 'close' or an HTTP/2 stream's 'aborted' (the peer reset it), after which
 * writing is moot. Used for backpressure on sockets and HTTP/2 streams alike. (Node 22 neither
 * drains nor closes an HTTP/2 stream the peer reset with NO_ERROR while writes to it wait.)
 *
 * A stream that is already destroyed resolves at once: write() returns false there too, and its
 * 'close' may have been emitted already, so waiting for it would never end (a response still
 * being streamed to a client that has gone would hold its connection handler forever).
 */
export function waitForDrain(stream: Duplex): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('aborted', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('aborted', done);
  });
}

/** Bodies up to this size go to an HTTP/2 stream in one write (see endSliced). */
const SLICE = 64 * 1024;

/**
 * Write a whole body to an HTTP/2 stream and end it, a slice at a time with backpressure. Written
 * at once, the body waits in the session's outbound queue until the peer has read it, and node
 * counts that against the session's maxSessionMemory: past it, every other stream of the
 * connection is refused with ENHANCE_YOUR_CALM (a 100 MB download stops a browser's other
 * requests on the connection). Stops early if the stream is gone.
 */
export async function endSliced(stream: Duplex, body: Buffer): Promise<void> {
  if (body.length <= SLICE) {
    stream.end(body);
    return;
  }
  for (let at = 0; at < body.length; at += SLICE) {
    if (stream.destroyed) return;
    if (!stream.write(body.subarray(at, at + SLICE))) await waitForDrain(stream);
  }
  if (!stream.destroyed) stream.end();
}
