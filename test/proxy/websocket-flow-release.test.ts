/**
 * A finished WebSocket flow is garbage as soon as its connections are closed: nothing in the
 * proxy may keep it (and everything its conversation recorded) alive for a grace period. The
 * server side of an upgraded connection used to get a 5 s close timer whose closure held the flow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { testProxy } from '../helpers/proxy.js';
import { exposedGc } from '../helpers/gc.js';
import type { Addon, HTTPFlow } from '../../src/index.js';
import { closeOf, nextMessage, wsClientViaProxy, wsServer } from './websocket-helpers.js';

test('a WebSocket flow can be collected right after its conversation closed, not seconds later', async (t) => {
  const gc = exposedGc();
  const up = await wsServer({ ws: { perMessageDeflate: false }, onConnection: (s) => s.on('message', (d, binary) => s.send(d, { binary })) });
  t.after(() => up.close());
  let flowRef: WeakRef<HTTPFlow> | null = null;
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  const watcher: Addon = {
    name: 'flow-watcher',
    readsOnly: () => true,
    websocket_start: (f: HTTPFlow) => void (flowRef = new WeakRef(f)),
    websocket_end: () => ended(),
  };
  const proxy = await testProxy(t, { addons: [watcher] });
  const ws = await wsClientViaProxy(proxy.port, { port: up.port }, { perMessageDeflate: false });
  t.after(() => ws.terminate());
  ws.send(Buffer.alloc(100_000, 'x'));
  await nextMessage(ws);
  const closed = closeOf(ws);
  ws.close(1000, 'done');
  await closed;
  await end;

  // Well within the old 5 s grace period, with room for a slow machine. (deref() keeps its
  // target alive until the current job ends, so the collection runs in a job of its own.)
  let collected = false;
  for (const deadline = Date.now() + 2500; !collected && Date.now() < deadline; ) {
    await sleep(100);
    gc();
    await sleep(0);
    collected = flowRef!.deref() === undefined;
  }
  assert.ok(collected, 'the finished flow is still referenced');
});
