/**
 * Recording a busy WebSocket conversation must not make V8 collect its whole heap over and over.
 * Recorded payloads kept as a Buffer per full slab (memory outside V8's heap, growing by tens of
 * megabytes a second) kept V8 starting full collections: about 60 in 100 MB relayed, on Node 20,
 * 22 and 24 (7 to 23 in this test), each a few milliseconds, where a relay that records nothing has
 * 1 or 2. The log seals full slabs into strings on the heap instead (see
 * src/websocket-message-log.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { testProxy } from '../helpers/proxy.js';
import type { Addon, HTTPFlow } from '../../src/index.js';
import { wsClientViaProxy, wsServer } from './websocket-helpers.js';

/** `n` sequential echo round trips of `payload`. */
function roundTrips(ws: WebSocket, payload: Buffer, n: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let left = n;
    ws.on('message', () => {
      if (--left === 0) resolve();
      else ws.send(payload);
    });
    ws.once('close', () => reject(new Error('closed early')));
    ws.send(payload);
  });
}

test('relaying and recording 100 MB of 1 KiB WebSocket messages takes a few full collections, not one every few megabytes', async (t) => {
  const up = await wsServer({ ws: { perMessageDeflate: false }, onConnection: (s) => s.on('message', (d, binary) => s.send(d, { binary })) });
  t.after(() => up.close());
  let flow: HTTPFlow | null = null;
  const keeper: Addon = { name: 'flow-keeper', readsOnly: () => true, websocket_start: (f: HTTPFlow) => void (flow = f) };
  const proxy = await testProxy(t, { addons: [keeper] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  t.after(() => ws.terminate());

  let fullCollections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullCollections++;
  });
  observer.observe({ entryTypes: ['gc'] });
  t.after(() => observer.disconnect());
  const n = 50_000;
  await roundTrips(ws, Buffer.alloc(1024, 'x'), n);
  // Entries are delivered asynchronously: let the last ones in.
  await new Promise((r) => setTimeout(r, 100));

  t.diagnostic(`full collections: ${fullCollections}`);
  assert.equal(flow!.websocket!.messageCount, 2 * n, 'every message was recorded');
  assert.ok(fullCollections <= 5, `${fullCollections} full collections while 100 MB were recorded`);
});
