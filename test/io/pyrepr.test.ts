/** Python's repr of str and bytes, as mitmproxy shows them in messages and dumper lines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyBytesRepr, pyStrRepr } from '../../src/io/pyrepr.js';

test('pyStrRepr escapes what Python\'s str.isprintable() rejects and keeps printable non-ASCII, as repr() does', () => {
  // Expected values are Python 3's repr() of the same strings.
  assert.equal(pyStrRepr('plain'), "'plain'");
  assert.equal(pyStrRepr("it's"), `"it's"`);
  assert.equal(pyStrRepr(`both ' and "`), `'both \\' and "'`);
  assert.equal(pyStrRepr('tab\tnl\ncr\rback\\'), "'tab\\tnl\\ncr\\rback\\\\'");
  assert.equal(pyStrRepr('caf\u00e9 \u4e2d'), "'caf\u00e9 \u4e2d'");
  assert.equal(pyStrRepr('\x00\x1f\x7f'), "'\\x00\\x1f\\x7f'");
  // No-break space, zero-width space, line separator, a private-use and an unassigned code point.
  assert.equal(pyStrRepr('\u00a0\u200b\u2028\ue000\u0378'), "'\\xa0\\u200b\\u2028\\ue000\\u0378'");
  assert.equal(pyStrRepr('\u{10ffff}'), "'\\U0010ffff'");
  assert.equal(pyStrRepr('\ud800'), "'\\ud800'");
});

test('pyBytesRepr writes b\'...\' with escapes for the bytes Python escapes', () => {
  assert.equal(pyBytesRepr(Buffer.from([0x61, 0x00, 0x27, 0xff, 0x0a])), `b"a\\x00'\\xff\\n"`);
  assert.equal(pyBytesRepr(Buffer.from('a\\b')), "b'a\\\\b'");
});
