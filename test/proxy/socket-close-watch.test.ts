import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { watchSocketClose } from '../../src/proxy/socket-close-watch.js';

test('many watchers of one socket share a single close listener; each is called once, unless it stopped watching', async () => {
  const socket = new PassThrough();
  const called: number[] = [];
  const stops = Array.from({ length: 150 }, (_, i) => watchSocketClose(socket, () => called.push(i)));
  assert.equal(socket.listenerCount('close'), 1);
  stops[7]!();
  stops[8]!();
  socket.destroy();
  await new Promise((r) => socket.once('close', r));
  assert.equal(called.length, 148);
  assert.ok(!called.includes(7) && !called.includes(8));
  assert.equal(new Set(called).size, 148, 'nobody is called twice');
});

test('a watcher that stops watching (or stops another) while the close is reported is safe', async () => {
  const socket = new PassThrough();
  const called: string[] = [];
  let stopB: () => void = () => undefined;
  const stopA = watchSocketClose(socket, () => {
    called.push('a');
    stopA();
    stopB();
  });
  stopB = watchSocketClose(socket, () => called.push('b'));
  watchSocketClose(socket, () => called.push('c'));
  socket.destroy();
  await new Promise((r) => socket.once('close', r));
  assert.deepEqual(called, ['a', 'c']);
});
