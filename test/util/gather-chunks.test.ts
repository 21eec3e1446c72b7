import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatherChunks } from '../../src/util/gather-chunks.js';

test('gatherChunks joins pieces into Buffers of about the size asked for, text as UTF-8, the rest at the end', () => {
  const chunks = [...gatherChunks(['ab', 'c\u00e9', Buffer.from('xyz'), 'd'], 4)];
  assert.deepEqual(
    chunks.map((c) => c.toString('utf8')),
    ['abc\u00e9', 'xyzd'],
  );
  assert.deepEqual([...gatherChunks([], 4)], []);
  const one = Buffer.from('whole');
  assert.equal([...gatherChunks([one], 4)][0], one, 'a piece that fills a chunk goes on as it is');
});
