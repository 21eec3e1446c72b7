/** WebSocketData keeps relayed messages in a MessageLog until someone asks for `messages`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Opcode, WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import { SLAB_PAYLOAD_MAX } from '../../src/util/payload-slab.js';
import { exposedGc } from '../helpers/gc.js';

/** A conversation of `n` relayed messages, alternating direction, "m0", "m1", ... */
function relayed(n: number): WebSocketData {
  const ws = new WebSocketData();
  for (let i = 0; i < n; i++) ws.recordReadOnly(i % 3 ? Opcode.TEXT : Opcode.BINARY, i % 2 === 0, Buffer.from(`m${i}`), 1000 + i);
  return ws;
}

test('relayed messages are readable one by one without making the messages array', () => {
  const ws = relayed(100);
  assert.equal(ws.messageCount, 100);
  const m = ws.messageAt(41)!;
  assert.deepEqual([m.type, m.fromClient, m.text, m.timestamp, m.dropped, m.injected], [Opcode.TEXT, false, 'm41', 1041, false, false]);
  // Each read makes a message of its own: the log holds no objects.
  assert.notEqual(ws.messageAt(41), ws.messageAt(41));
  assert.equal(ws.messageAt(100), undefined);
  assert.equal(ws.messageAt(-1), undefined);
  assert.deepEqual(
    [...ws.readMessages()].map((x) => x.text),
    Array.from({ length: 100 }, (_, i) => `m${i}`),
  );
  assert.equal(ws.totalContentLength(), [...ws.readMessages()].reduce((n, x) => n + x.contentLength, 0));
  assert.equal(ws.lastTimestamp, 1099);
  assert.equal(new WebSocketData().lastTimestamp, null);
  // The saved state is the same as for objects.
  assert.deepEqual(ws.getState().messages[99], [Opcode.BINARY, false, Buffer.from('m99'), 1099, false, false]);
  assert.notEqual(ws.messageAt(0), ws.messageAt(0), 'still not materialised after getState');
});

test('messages is a plain array that keeps receiving what the relay records, once it has been read', () => {
  const ws = relayed(3);
  const kept = ws.messages;
  assert.ok(Array.isArray(kept));
  assert.deepEqual(
    kept.map((m) => m.text),
    ['m0', 'm1', 'm2'],
  );
  assert.equal(ws.messages, kept, 'the same array every time');
  assert.equal(ws.messageAt(1), kept[1], 'messageAt answers the objects now');
  ws.recordReadOnly(Opcode.TEXT, false, Buffer.from('later'), 2000);
  assert.equal(kept.length, 4, 'a kept reference sees the next message, as in mitmproxy');
  assert.equal(kept[3]!.text, 'later');
  // An addon's change to an element is what everyone reads afterwards.
  kept[0]!.text = 'changed';
  assert.equal(ws.messageAt(0)!.text, 'changed');
  assert.equal(ws.getState().messages[0]![2].toString(), 'changed');
  assert.equal(ws.totalContentLength(), 'changed'.length + 2 + 2 + 'later'.length);
});

test('setting messages replaces the log, and the relay then adds to the new array', () => {
  const ws = relayed(5);
  const mine = [new WebSocketMessage(Opcode.TEXT, true, 'only')];
  ws.messages = mine;
  assert.equal(ws.messageCount, 1);
  ws.recordReadOnly(Opcode.TEXT, true, Buffer.from('next'), 3000);
  assert.deepEqual(
    mine.map((m) => m.text),
    ['only', 'next'],
  );
});

test('payloads: small ones are copies (the received chunk is not kept), big ones are kept unless they are a small slice', () => {
  const ws = new WebSocketData();
  const chunk = Buffer.from('abc');
  ws.recordReadOnly(Opcode.TEXT, true, chunk, 1);
  chunk.write('xyz');
  assert.equal(ws.messageAt(0)!.text, 'abc', 'copied when recorded');

  const big = Buffer.alloc(SLAB_PAYLOAD_MAX + 1, 'b');
  ws.recordReadOnly(Opcode.BINARY, false, big, 2);
  assert.equal(ws.messageAt(1)!.content.buffer, big.buffer, 'a big payload is kept, not copied');

  const socketChunk = Buffer.alloc(1024 * 1024, 's');
  const slice = socketChunk.subarray(10, 10 + SLAB_PAYLOAD_MAX + 1);
  ws.recordReadOnly(Opcode.BINARY, false, slice, 3);
  const kept = ws.messageAt(2)!.content;
  assert.notEqual(kept.buffer, socketChunk.buffer, 'a small slice of a big chunk does not keep the chunk alive');
  assert.ok(kept.equals(slice));
});

test('JSON and console output show the messages', () => {
  const ws = relayed(2);
  assert.deepEqual(
    JSON.parse(JSON.stringify(ws)).messages.map((m: { content: { data: number[] } }) => Buffer.from(m.content.data).toString()),
    ['m0', 'm1'],
  );
  assert.match(inspect(ws), /^WebSocketData \{[^]*messages: \[[^]*content: <Buffer 6d 31>/);
  assert.notEqual(ws.messageAt(0), ws.messageAt(0), 'printing does not build the array');
});

test('messages is an own enumerable property, as the plain field it was: keys, spreading, cloning and deep equality see it', () => {
  const a = relayed(2);
  const b = relayed(1);
  assert.ok(Object.keys(a).includes('messages'));
  assert.equal({ ...a }.messages.length, 2);
  assert.equal(structuredClone(a).messages.length, 2);
  assert.notDeepStrictEqual(a, b, 'different messages make different data');
  assert.deepStrictEqual(relayed(2), relayed(2));
});

test('messageAt answers undefined for what is not a message index, and a payload that fills its buffer is that buffer', () => {
  const ws = relayed(3);
  assert.equal(ws.messageAt(0.5), undefined);
  assert.equal(ws.messageAt(Number.NaN), undefined);
  const big = Buffer.alloc(SLAB_PAYLOAD_MAX + 1, 'b');
  ws.recordReadOnly(Opcode.BINARY, false, big, 4);
  const m = ws.messageAt(3)!;
  assert.equal(m.content, big, 'the same Buffer on every read');
  assert.equal(m.content, m.content);
});

test('a WebSocketData costs about a hundred bytes until it records something (flow files hold many)', () => {
  const gc = exposedGc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const many = Array.from({ length: 20_000 }, () => new WebSocketData());
  gc();
  const perObject = (process.memoryUsage().heapUsed - before) / many.length;
  assert.ok(perObject < 400, `${perObject.toFixed(0)} bytes per WebSocketData`);
  assert.equal(many[0]!.messageCount, 0);
});

test('someMessage asks about each message in order, by direction and content, in both modes', () => {
  const ws = relayed(5);
  const seen: string[] = [];
  assert.equal(
    ws.someMessage((fromClient, content) => {
      seen.push(`${fromClient ? '>' : '<'}${content.toString()}`);
      return content.toString() === 'm3';
    }),
    true,
  );
  assert.deepEqual(seen, ['>m0', '<m1', '>m2', '<m3']);
  assert.notEqual(ws.messageAt(0), ws.messageAt(0), 'still a log: no objects were made');
  ws.messages[4]!.text = 'changed';
  assert.equal(ws.someMessage((_, content) => content.toString() === 'changed'), true, 'and over the objects once they exist');
  assert.equal(new WebSocketData().someMessage(() => true), false);
});

test('payloads read back exactly across many slabs, sealed or not, with big payloads kept whole in between', () => {
  const ws = new WebSocketData();
  // Sizes from 1 byte to past SLAB_PAYLOAD_MAX, so that big payloads land between slabs and
  // small ones keep filling the slab that came before them.
  const sent = Array.from({ length: 3000 }, (_, i) => randomBytes(1 + ((i * 997) % (SLAB_PAYLOAD_MAX + 600))));
  sent.forEach((b, i) => ws.recordReadOnly(Opcode.BINARY, i % 2 === 0, b, i));
  const firstLook = ws.messageAt(sent.length - 1)!.content;
  const copyOfFirstLook = Buffer.from(firstLook);
  assert.ok(sent.every((b, i) => ws.messageAt(i)!.content.equals(b)), 'messageAt');
  let i = 0;
  assert.equal(
    ws.someMessage((fromClient, content) => !(fromClient === (i % 2 === 0) && content.equals(sent[i++]!))),
    false,
    'someMessage',
  );
  // More messages fill, seal and reuse the slab the last message was in: what was read of it before stays as it was.
  for (let k = 0; k < 500; k++) ws.recordReadOnly(Opcode.BINARY, true, Buffer.alloc(1000, k), 1);
  assert.ok(firstLook.equals(copyOfFirstLook), 'a look at the slab being filled is a copy');
  const messages = ws.messages;
  assert.ok(sent.every((b, k) => messages[k]!.content.equals(b)), 'messages');
  assert.ok(messages[sent.length + 499]!.content.equals(Buffer.alloc(1000, 499)));
});
