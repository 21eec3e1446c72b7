import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readableChunks } from '../../src/proxy/readable-chunks.js';

test('chunks arrive in order, written before and after iteration starts, and the iteration ends with the stream', async () => {
  const stream = new PassThrough();
  stream.write('a');
  const seen: string[] = [];
  const reading = (async () => {
    for await (const chunk of readableChunks(stream)) seen.push(chunk.toString());
  })();
  stream.write('b');
  await new Promise((r) => setImmediate(r));
  stream.write('c');
  stream.end('d');
  await reading;
  assert.equal(seen.join(''), 'abcd');
  assert.equal(stream.listenerCount('data'), 0, 'listeners removed at the end');
});

test('the stream is paused while nobody asks for the next chunk (backpressure)', async () => {
  const stream = new PassThrough({ highWaterMark: 4 });
  const it = readableChunks(stream)[Symbol.asyncIterator]();
  assert.equal((await Promise.all([it.next(), Promise.resolve(stream.write('1'))]))[0].value?.toString(), '1');
  // Nobody reads now: what is written piles up in the stream and write() asks the writer to wait.
  let accepted = true;
  for (let i = 0; i < 10 && accepted; i++) accepted = stream.write('xxxx');
  assert.equal(accepted, false, 'the writer is told to wait');
  assert.equal(stream.isPaused(), true);
  const next = await it.next();
  assert.equal(next.done, false);
});

test('an error rejects the pending read with that error; a close before the end rejects as a premature close', async () => {
  const failing = new PassThrough();
  const it = readableChunks(failing)[Symbol.asyncIterator]();
  const pending = it.next();
  failing.destroy(new Error('boom'));
  await assert.rejects(pending, /boom/);

  const closed = new PassThrough();
  const it2 = readableChunks(closed)[Symbol.asyncIterator]();
  const pending2 = it2.next();
  closed.destroy();
  await assert.rejects(pending2, (e: NodeJS.ErrnoException) => e.code === 'ERR_STREAM_PREMATURE_CLOSE');
  // And a stream that is already destroyed fails at once.
  await assert.rejects(readableChunks(closed)[Symbol.asyncIterator]().next(), (e: NodeJS.ErrnoException) => e.code === 'ERR_STREAM_PREMATURE_CLOSE');
});
