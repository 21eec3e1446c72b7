/**
 * Collecting fragmented WebSocket payloads (proxy/websocket/fragments.ts): the bytes come out
 * as they went in, one frame costs no copy, and tiny fragments cost bytes, not objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MIRRORED_FRAGMENTS, addFragment, joinFragments, type FragmentedPayload } from '../../src/proxy/websocket/fragments.js';

function empty(): FragmentedPayload {
  return { parts: [], length: 0, frameLengths: [], slab: null, slabUsed: 0, slabPartStart: -1 };
}

test('a message of one frame keeps that frame\'s buffer', () => {
  const msg = empty();
  const payload = Buffer.from('hello');
  addFragment(msg, payload);
  assert.equal(joinFragments(msg), payload);
  assert.deepEqual(msg.frameLengths, [5]);
});

test('100 000 one-byte fragments: the bytes in order, in a handful of buffers, frame lengths given up past the limit', () => {
  const msg = empty();
  const expected = Buffer.alloc(100_000);
  for (let i = 0; i < expected.length; i++) {
    expected[i] = i % 251;
    addFragment(msg, expected.subarray(i, i + 1));
  }
  assert.deepEqual(joinFragments(msg), expected);
  assert.equal(msg.length, expected.length);
  // The first fragment, then slabs of 1, 2, ... 64 KiB.
  assert.ok(msg.parts.length <= 9, `${msg.parts.length} parts`);
  assert.equal(msg.frameLengths, null);
});

test('large fragments are kept as they are, small ones between them are copied together', () => {
  const msg = empty();
  const big = Buffer.alloc(10_000, 1);
  const pieces = [Buffer.from('a'), Buffer.from('bc'), big, Buffer.from('d'), Buffer.from('ef')];
  for (const p of pieces) addFragment(msg, p);
  assert.deepEqual(joinFragments(msg), Buffer.concat(pieces));
  assert.equal(msg.parts[0]!.toString(), 'a', 'the first fragment is not copied');
  assert.ok(msg.parts.includes(big), 'a large fragment is not copied');
  assert.equal(msg.parts.length, 4);
  assert.equal(msg.parts[1]!.buffer, msg.parts[3]!.buffer, 'the small fragments after a large one go on in the same slab');
  assert.deepEqual(msg.frameLengths, [1, 2, 10_000, 1, 2]);
  const many = empty();
  for (let i = 0; i < MAX_MIRRORED_FRAGMENTS; i++) addFragment(many, Buffer.from('x'));
  assert.equal(many.frameLengths!.length, MAX_MIRRORED_FRAGMENTS);
});

test('fragments alternating large and small share slabs: memory stays near the payload size', () => {
  const msg = empty();
  addFragment(msg, Buffer.alloc(10, 2));
  const slabs = new Set<ArrayBufferLike>();
  for (let i = 0; i < 4096; i++) {
    addFragment(msg, Buffer.alloc(4096, 1));
    addFragment(msg, Buffer.from([i & 0xff]));
  }
  for (const p of msg.parts) if (p.length < 4096) slabs.add(p.buffer);
  assert.ok(slabs.size <= 4, `4096 one-byte fragments fit slabs of 1, 2 and 4 KiB (${slabs.size} buffers)`);
  assert.equal(joinFragments(msg).length, 10 + 4096 * 4097);
});

test('a message of a few small fragments takes a small slab, not a 64 KiB one', () => {
  const msg = empty();
  for (const p of ['he', 'll', 'o ', 'world']) addFragment(msg, Buffer.from(p));
  assert.equal(joinFragments(msg).toString(), 'hello world');
  assert.equal(msg.slab!.length, 1024);
});
