import type { Duplex } from 'node:stream';

const watchers = new WeakMap<Duplex, Set<() => void>>();

/**
 * Call `fn` when `socket` closes; returns the function that stops watching. However many watch
 * one socket (every stream in flight on an HTTP/2 connection does), the socket gets a single
 * 'close' listener: no listener-count warnings, no linear removal per finished stream.
 */
export function watchSocketClose(socket: Duplex, fn: () => void): () => void {
  // Closed already (a connection that died while its request was on the way here): say so now.
  if (socket.closed) {
    queueMicrotask(fn);
    return () => undefined;
  }
  let callbacks = watchers.get(socket);
  if (!callbacks) {
    const created = new Set<() => void>();
    callbacks = created;
    watchers.set(socket, created);
    socket.once('close', () => {
      watchers.delete(socket);
      for (const callback of created) callback();
    });
  }
  const own = callbacks;
  own.add(fn);
  return () => void own.delete(fn);
}
