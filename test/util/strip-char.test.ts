import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripChar, stripCharEnd } from '../../src/util/strip-char.js';

test("stripChar and stripCharEnd are Python's strip(c) and rstrip(c) for one character", () => {
  assert.equal(stripChar('//a/b//', '/'), 'a/b');
  assert.equal(stripChar('////', '/'), '');
  assert.equal(stripChar('', '/'), '');
  assert.equal(stripChar('abc', '/'), 'abc');
  assert.equal(stripChar('\0\0text\0', '\0'), 'text');
  assert.equal(stripCharEnd('..a..', '.'), '..a');
  assert.equal(stripCharEnd('\n\n', '\n'), '');
});

test('a long run of the character in the middle of the text costs linear time, not quadratic', () => {
  // The regex /^\/+|\/+$/g took ~1.4 s for 60 000 slashes and grows with the square of the run.
  const text = `/${'/'.repeat(300_000)}x/`;
  const start = performance.now();
  assert.equal(stripChar(text, '/'), 'x');
  assert.ok(performance.now() - start < 2000);
});
