import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache } from '../../src/util/bounded-cache.js';

test('BoundedCache computes a key once, null results too, and forgets the oldest key when full', () => {
  const calls: string[] = [];
  const cache = new BoundedCache<string, string | null>(2);
  const compute = (k: string) => {
    calls.push(k);
    return k === 'none' ? null : k.toUpperCase();
  };
  assert.equal(cache.getOrCompute('a', compute), 'A');
  assert.equal(cache.getOrCompute('a', compute), 'A');
  assert.equal(cache.getOrCompute('none', compute), null);
  assert.equal(cache.getOrCompute('none', compute), null);
  assert.deepEqual(calls, ['a', 'none']);
  // Full: 'b' pushes out 'a', the oldest; 'none' stays.
  assert.equal(cache.getOrCompute('b', compute), 'B');
  assert.equal(cache.getOrCompute('none', compute), null);
  assert.equal(cache.getOrCompute('a', compute), 'A');
  assert.deepEqual(calls, ['a', 'none', 'b', 'a']);
});
