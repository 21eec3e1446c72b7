/** Refused expressions: mitmproxy's message first, then where and why. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, tryParse, FilterError } from '../../src/flowfilter/index.js';

/** [input, message, position] */
const ERRORS: Array<[string, string, number | null]> = [
  ['~q&~s', "Invalid filter expression: '~q&~s' (at char 2: ~q must be followed by whitespace or the end of the expression, found '&')", 2],
  ['(~q)', "Invalid filter expression: '(~q)' (at char 3: ~q must be followed by whitespace or the end of the expression, found ')')", 3],
  ['~c200', "Invalid filter expression: '~c200' (at char 2: ~c must be followed by whitespace or the end of the expression, found '2')", 2],
  ['~x', "Invalid filter expression: '~x' (at char 0: unknown operator ~x)", 0],
  ['~qq', "Invalid filter expression: '~qq' (at char 0: unknown operator ~qq)", 0],
  ['~', "Invalid filter expression: '~' (at char 0: '~' must start an operator such as ~u or ~q)", 0],
  ['~b', "Invalid filter expression: '~b' (at char 2: ~b needs a regex argument, found end of expression)", 2],
  [
    '~h (',
    `Invalid filter expression: '~h (' (at char 3: ~h needs a regex argument, found '(' (quote a regex that contains spaces or ( ) ~ ' "))`,
    3,
  ],
  ['~c', "Invalid filter expression: '~c' (at char 2: ~c needs a status code (digits), found end of expression)", 2],
  ['~c -1', "Invalid filter expression: '~c -1' (at char 3: ~c needs a status code (digits), found '-')", 3],
  ['~h [', "Invalid filter expression: '~h [' (at char 3: invalid regex '[': unterminated character set at position 0)", 3],
  ['foo\\', "Invalid filter expression: 'foo\\\\' (at char 0: invalid regex 'foo\\\\': bad escape (end of pattern) at position 3)", 0],
  ['(a b)', "Invalid filter expression: '(a b)' (at char 3: expected '&', '|' or ')', found 'b'; inside parentheses, expressions must be joined with & or |)", 3],
  ['()', "Invalid filter expression: '()' (at char 1: expected a filter expression, found ')')", 1],
  ['(~q', "Invalid filter expression: '(~q' (at char 3: expected '&', '|' or ')', found end of expression)", 3],
  ['a)', "Invalid filter expression: 'a)' (at char 1: expected '&', '|' or a filter expression, found ')')", 1],
  ['"abc', `Invalid filter expression: '"abc' (at char 0: unterminated quoted string (missing closing "))`, 0],
  ['~u a"b', `Invalid filter expression: '~u a"b' (at char 4: unterminated quoted string (missing closing "))`, 4],
  ['"a\nb"', `Invalid filter expression: '"a\\nb"' (at char 0: a quoted string must end on the same line)`, 0],
  ["it's", `Invalid filter expression: "it's" (at char 2: unterminated quoted string (missing closing '))`, 2],
  ['   ', "Invalid filter expression: '   ' (at char 3: expected a filter expression, found end of expression)", 3],
  [
    '~u (?(1)a|b)',
    `Invalid filter expression: '~u (?(1)a|b)' (at char 3: ~u needs a regex argument, found '(' (quote a regex that contains spaces or ( ) ~ ' "))`,
    3,
  ],
  [
    '~u "(?(1)a|b)"',
    `Invalid filter expression: '~u "(?(1)a|b)"' (at char 3: regex '(?(1)a|b)' cannot be used: conditional groups (?(...)...) are not supported at position 0)`,
    3,
  ],
  // Position in the text as given, even though tabs are expanded before reading.
  ['\t~x', "Invalid filter expression: '\\t~x' (at char 1: unknown operator ~x)", 1],
];

for (const [text, message, position] of ERRORS) {
  test(`error for ${JSON.stringify(text)}`, () => {
    const e = tryParse(text);
    assert.ok(e instanceof FilterError);
    assert.equal(e.message, message);
    assert.equal(e.position, position);
    assert.equal(e.pattern, text);
    assert.throws(() => parse(text), FilterError);
  });
}

test('an empty expression has its own message', () => {
  const e = tryParse('');
  assert.ok(e instanceof FilterError);
  assert.equal(e.message, 'Empty filter expression');
  assert.equal(e.position, null);
});

test('a regex compile error stops the parse even where a bare word would have followed', () => {
  // mitmproxy's parse action raises at once: `!*` is not read as the URL regex `!*`.
  assert.match((tryParse('!*') as FilterError).message, /invalid regex '\*': nothing to repeat at position 0/);
  assert.match((tryParse('a |*') as FilterError).message, /invalid regex '\*'/);
});

test('deep nesting is a FilterError, not a crash', () => {
  const e = tryParse('('.repeat(50_000) + '~q' + ' )'.repeat(50_000));
  assert.ok(e instanceof FilterError);
  assert.match(e.message, /^Invalid filter expression: /);
});

test('tryParse returns a working filter when the text is valid', () => {
  const f = tryParse('~q');
  assert.ok(!(f instanceof FilterError));
  assert.equal(String(f), 'has no response');
});
