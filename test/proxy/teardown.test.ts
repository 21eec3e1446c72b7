/**
 * Connections that end badly must still end: whatever a client or server does (leave in the
 * middle of a response, of a handshake, while an addon hook runs), its connection handler
 * finishes, `client_disconnected` fires, and nothing it held (flows, upstream sockets) is kept.
 * A handler that never finishes is a leak that grows with every such connection on a long run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { waitFor } from './modes-helpers.js';

/** Counts client connections opened and fully closed (the last hook of a connection handler). */
function connectionCounter() {
  const counts = { connected: 0, disconnected: 0 };
  return {
    counts,
    addon: {
      name: 'connection-counter',
      client_connected() {
        counts.connected++;
      },
      client_disconnected() {
        counts.disconnected++;
      },
    },
  };
}

/** Connect to the proxy and send `data`; resolves with the socket once the proxy answered something. */
async function sendAndAwaitAnswer(port: number, data: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  s.write(data);
  await once(s, 'data');
  return s;
}

test('a client that leaves in the middle of a streamed response still ends its connection', async (t) => {
  // A response body that never ends, faster than the client reads.
  const up = await httpServer(t, (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 0x78)), 1);
    res.on('close', () => clearInterval(timer));
  });
  const counter = connectionCounter();
  const proxy = await testProxy(t, { addons: [counter.addon], options: { stream_large_bodies: '1k' } });
  const clients = 5;
  for (let i = 0; i < clients; i++) {
    const s = await sendAndAwaitAnswer(proxy.port, `GET ${up.url}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    // Stop reading (the proxy's writes back up), then go away.
    s.pause();
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
  }
  await waitFor(() => counter.counts.disconnected === clients, 15_000, `${clients} client_disconnected (got ${counter.counts.disconnected})`);
  assert.equal(counter.counts.connected, clients);
});
