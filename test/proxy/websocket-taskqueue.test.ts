/** The WebSocket relay's task queue: strict order, no cost for synchronous work, errors to the caller. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskQueue } from '../../src/proxy/websocket/task-queue.js';

test('a synchronous task on an idle queue runs at once and returns nothing to await', () => {
  const q = new TaskQueue();
  const ran: number[] = [];
  assert.equal(
    q.run(() => {
      ran.push(1);
      return undefined;
    }),
    undefined,
  );
  assert.deepEqual(ran, [1]);
});

test('tasks queued behind an async one run after it, in order, sync or async', async () => {
  const q = new TaskQueue();
  const log: string[] = [];
  const first = q.run(async () => {
    log.push('a start');
    await sleep(30);
    log.push('a end');
  });
  const second = q.run(() => {
    log.push('b');
    return undefined;
  });
  const third = q.run(async () => {
    await sleep(5);
    log.push('c');
  });
  assert.ok(second instanceof Promise, 'a task that has to wait gets a promise');
  await Promise.all([first, second, third]);
  assert.deepEqual(log, ['a start', 'a end', 'b', 'c']);
  assert.equal(
    q.run(() => undefined),
    undefined,
    'idle again afterwards',
  );
});

test('a task queued from inside a running task waits for it (no re-entrance)', async () => {
  const q = new TaskQueue();
  const log: string[] = [];
  let inner: Promise<void> | undefined;
  q.run(() => {
    log.push('outer start');
    inner = q.run(() => {
      log.push('inner');
      return undefined;
    });
    log.push('outer end');
    return undefined;
  });
  await inner;
  assert.deepEqual(log, ['outer start', 'outer end', 'inner']);
});

test('errors reach the task\'s caller and the queue goes on', async () => {
  const q = new TaskQueue();
  assert.throws(() =>
    q.run(() => {
      throw new Error('sync boom');
    }),
  /sync boom/);
  const blocker = q.run(() => sleep(10));
  const failing = q.run(() => {
    throw new Error('queued boom');
  });
  const rejecting = q.run(async () => {
    throw new Error('async boom');
  });
  const after = q.run(() => undefined);
  await blocker;
  await assert.rejects(failing!, /queued boom/);
  await assert.rejects(rejecting!, /async boom/);
  await after;
  assert.equal(
    q.run(() => undefined),
    undefined,
  );
});
