/** PayloadSlab: where the relay keeps the payloads of recorded WebSocket messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PayloadSlab, SLAB_PAYLOAD_MAX } from '../../src/util/payload-slab.js';

test('a quiet connection holds a small slab; a busy one gets slabs that double up to 64 KiB', () => {
  const slabs = new PayloadSlab();
  const at = slabs.copy(Buffer.from('hi'));
  assert.equal(at, 0);
  assert.equal(slabs.slab.length, 1024, 'one tiny message costs 1 KiB, not a 64 KiB slab');
  assert.equal(slabs.slab.subarray(at, at + 2).toString(), 'hi');
  const sizes = new Set<number>([slabs.slab.length]);
  const payload = Buffer.alloc(1000, 'x');
  for (let i = 0; i < 500; i++) {
    const start = slabs.copy(payload);
    assert.ok(slabs.slab.subarray(start, start + payload.length).equals(payload));
    sizes.add(slabs.slab.length);
  }
  assert.deepEqual([...sizes], [1024, 2048, 4096, 8192, 16384, 32768, 65536]);
  // A payload bigger than the next slab size still fits (the largest the relay copies).
  const fresh = new PayloadSlab();
  fresh.copy(Buffer.alloc(SLAB_PAYLOAD_MAX));
  assert.equal(fresh.slab.length, SLAB_PAYLOAD_MAX);
});
