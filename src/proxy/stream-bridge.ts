import { Duplex } from 'node:stream';

/**
 * A plain JavaScript Duplex in front of another stream. node's http2 sessions bind to a socket's
 * native handle when they get a net or TLS socket; on a TLS socket we created ourselves over a
 * connection we had already read from (the ClientHello), that hangs the session or crashes
 * node's http2 core (Node 20 and 24). Behind this bridge the session only sees stream events.
 */
export function bridgeStream(inner: Duplex): Duplex {
  const bridge = new Duplex({
    read() {
      inner.resume();
    },
    write(chunk: Buffer, _enc, callback) {
      if (inner.destroyed) callback(new Error('stream closed'));
      else if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    final(callback) {
      inner.end();
      callback();
    },
    destroy(err, callback) {
      inner.destroy();
      callback(err);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    if (!bridge.push(chunk)) inner.pause();
  });
  inner.on('end', () => bridge.push(null));
  inner.on('close', () => bridge.destroy());
  inner.on('error', (e) => bridge.destroy(e));
  return bridge;
}
