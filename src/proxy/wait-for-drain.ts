import type { Duplex } from 'node:stream';

/**
 * Resolves once a stream that asked its writer to wait (write() returned false) can take more:
 * on 'drain', or on 'close', after which writing is moot. Used for backpressure on sockets and
 * HTTP/2 streams alike.
 */
export function waitForDrain(stream: Duplex): Promise<void> {
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
