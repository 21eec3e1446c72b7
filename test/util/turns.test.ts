import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Turns } from '../../src/util/turns.js';

test('Turns: at most `limit` holders, the rest in order; an aborted waiter leaves without a turn', async () => {
  const turns = new Turns(2);
  const a = await turns.take();
  const b = await turns.take();
  const order: string[] = [];
  const c = turns.take().then((r) => (order.push('c'), r));
  const abort = new AbortController();
  const d = turns.take(abort.signal).then(
    () => order.push('d'),
    (e: unknown) => order.push(`d aborted: ${(e as Error).message}`),
  );
  const e = turns.take().then((r) => (order.push('e'), r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'nobody gets a third turn');
  abort.abort(new Error('gone'));
  await d;
  a();
  a(); // giving a turn back twice gives back one
  const releaseC = await c;
  assert.deepEqual(order, ['d aborted: gone', 'c']);
  b();
  const releaseE = await e;
  assert.deepEqual(order, ['d aborted: gone', 'c', 'e']);
  releaseC();
  releaseE();
  // All turns free again: two at once without waiting.
  const [x, y] = await Promise.all([turns.take(), turns.take()]);
  x();
  y();
  await assert.rejects(turns.take(AbortSignal.abort(new Error('already'))), /already/);
});
