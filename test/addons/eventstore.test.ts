/** The event store: the newest entries of the event log, oldest first, with add/refresh events. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Master } from '../../src/master.js';
import { EventStore } from '../../src/addons/eventstore.js';

test('keeps every level, oldest first, up to its size', async () => {
  const m = new Master();
  const store = new EventStore(3);
  await m.addons.add(store);
  const seen: string[] = [];
  store.subscribe({ add: (e) => seen.push(e.message), refresh: () => seen.push('<refresh>') });
  m.log.debug('one');
  m.log.info('two');
  m.log.error('three', '127.0.0.1:5000');
  assert.deepEqual(store.entries().map((e) => [e.level, e.message]), [['debug', 'one'], ['info', 'two'], ['error', 'three']]);
  assert.equal(store.entries()[2]!.client, '127.0.0.1:5000');
  m.log.warn('four');
  m.log.alert('five');
  assert.deepEqual(store.entries().map((e) => e.message), ['three', 'four', 'five']);
  assert.equal(store.length, 3);
  await m.commands.call('eventstore.clear');
  assert.equal(store.length, 0);
  assert.deepEqual(store.entries(), []);
  m.log.info('six');
  assert.deepEqual(store.entries().map((e) => e.message), ['six']);
  assert.deepEqual(seen, ['one', 'two', 'three', 'four', 'five', '<refresh>', 'six']);
  // Ids are unique and increasing.
  m.log.info('seven');
  const [a, b] = store.entries();
  assert.ok(b!.id > a!.id);
});

test('the default size is 10 000 and done() stops recording', async () => {
  const m = new Master();
  const store = new EventStore();
  await m.addons.add(store);
  assert.equal(store.size, 10000);
  for (let i = 0; i < 10050; i++) m.log.debug(`line ${i}`);
  assert.equal(store.length, 10000);
  assert.equal(store.entries()[0]!.message, 'line 50');
  await m.shutdown();
  m.log.info('after');
  assert.equal(store.entries().at(-1)!.message, 'line 10049');
});
