import type { Duplex } from 'node:stream';

/**
 * Resolves once a stream that asked its writer to wait (write() returned false) can take more:
 * on 'drain', or on 'close', after which writing is moot. Used for backpressure on sockets and
 * HTTP/2 streams alike.
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
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
