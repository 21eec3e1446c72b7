import type { Duplex } from 'node:stream';

/**
 * End a stream and resolve once everything written to it has been handed on ('finish'), it
 * closed or failed, or `timeoutMs` passed (a peer that reads nothing more must not hold us).
 * For a TLS socket this is what has to happen before the socket beneath it is ended: its
 * writes are still queued in it until then.
 */
export function endAndFlush(stream: Duplex, timeoutMs: number): Promise<void> {
  if (stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stream.off('finish', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    stream.on('finish', done);
    stream.on('close', done);
    stream.on('error', done);
    if (!stream.writableEnded) stream.end();
  });
}
