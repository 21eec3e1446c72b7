/** Python `re` -> JavaScript translation: what is accepted (and matches like Python) and what is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePyRegex, PyRegexError, type PyRegexFlags } from '../../src/flowfilter/pyregex.js';

const PLAIN: PyRegexFlags = { ignoreCase: false, multiline: false, dotAll: false };
const I: PyRegexFlags = { ...PLAIN, ignoreCase: true };

type Mode = 'str' | 'bytes';

/** Subjects for byte patterns are written as text and given as UTF-8 bytes, or as raw latin-1 with `latin1:`. */
function subject(s: string, mode: Mode): string {
  if (mode === 'str') return s;
  return s.startsWith('latin1:') ? s.slice(7) : Buffer.from(s, 'utf8').toString('latin1');
}

function search(pattern: string, text: string, opts: { mode?: Mode; flags?: PyRegexFlags } = {}): boolean {
  const mode = opts.mode ?? 'str';
  return compilePyRegex(pattern, { bytes: mode === 'bytes', flags: opts.flags ?? PLAIN }).regex.test(subject(text, mode));
}

/** [pattern, mode, flags, subject, Python's re.search result] -- each checked against CPython 3.11. */
const ACCEPTED: Array<[string, Mode, PyRegexFlags, string, boolean]> = [
  ['(?P<word>ab)-(?P=word)', 'str', PLAIN, 'ab-ab', true],
  ['(?P<word>ab)-(?P=word)', 'str', PLAIN, 'ab-aB', false],
  ['(a)(b)\\2\\1', 'str', PLAIN, 'abba', true],
  ['^abc\\Z', 'str', PLAIN, 'abc\n', false],
  ['^abc$', 'str', PLAIN, 'abc\n', true],
  ['^abc$', 'str', PLAIN, 'abc\r\n', false],
  ['\\Aabc', 'str', { ...PLAIN, multiline: true }, 'x\nabc', false],
  ['^abc', 'str', { ...PLAIN, multiline: true }, 'x\nabc', true],
  ['^abc', 'str', { ...PLAIN, multiline: true }, 'x\rabc', false],
  ['x$', 'str', { ...PLAIN, multiline: true }, 'ax\r\nb', false],
  ['x\\r$', 'str', { ...PLAIN, multiline: true }, 'ax\r\nb', true],
  ['a.b', 'str', PLAIN, 'a\rb', true],
  ['a.b', 'str', PLAIN, 'a\nb', false],
  ['a.b', 'str', { ...PLAIN, dotAll: true }, 'a\nb', true],
  ['(?s)a.b', 'str', PLAIN, 'a\nb', true],
  ['(?s:a.)b', 'str', PLAIN, 'a\nb', true],
  ['(?i)ABC', 'str', PLAIN, 'abc', true],
  ['a(?-i:B)c', 'str', I, 'AbC', false],
  ['a(?-i:B)c', 'str', I, 'ABC', true],
  ['(?i:b)c', 'str', PLAIN, 'BC', false],
  ['(?x) a b # comment', 'str', PLAIN, 'ab', true],
  ['(?x) a\\ b', 'str', PLAIN, 'a b', true],
  ['\\d+', 'str', PLAIN, '٣٤', true],
  ['\\d', 'bytes', PLAIN, '٣', false],
  ['(?a)\\d', 'str', PLAIN, '٣', false],
  ['\\w', 'str', PLAIN, 'é', true],
  ['\\w', 'bytes', PLAIN, 'é', false],
  ['\\s', 'str', PLAIN, '\x1c', true],
  ['\\s', 'str', PLAIN, '\u0085', true],
  ['\\s', 'str', PLAIN, '\ufeff', false],
  ['\\s', 'bytes', PLAIN, 'latin1:\xa0', false],
  ['\\s', 'bytes', PLAIN, '\x0b', true],
  ['\\bпуть\\b', 'str', PLAIN, 'a путь b', true],
  ['\\bпуть\\b', 'str', PLAIN, 'aпуть', false],
  ['\\B', 'str', PLAIN, '', false],
  ['\\B', 'str', PLAIN, ' ', true],
  ['k', 'str', I, '\u212a', true],
  ['s', 'str', I, 'ſ', true],
  ['i', 'str', I, 'İ', true],
  ['i', 'str', I, 'ı', true],
  ['(?a)k', 'str', I, '\u212a', false],
  ['[a-z]', 'str', I, '\u212a', true],
  ['[^k]', 'str', I, '\u212a', false],
  ['Я', 'str', I, 'я', true],
  ['Я', 'bytes', I, 'я', false],
  ['я', 'bytes', I, 'я', true],
  ['\\xe9', 'bytes', I, 'latin1:\xc9', false],
  ['[\\xe0-\\xfe]', 'bytes', I, 'latin1:\xc0', false],
  ['[A-Z]', 'bytes', I, 'q', true],
  ['\\xff', 'bytes', PLAIN, 'latin1:\xff', true],
  ['..', 'bytes', PLAIN, 'я', true],
  ['^.$', 'bytes', PLAIN, 'я', false],
  ['^.$', 'str', PLAIN, 'я', true],
  ['^.$', 'str', PLAIN, '😀', true],
  ['\\U0001f600', 'str', PLAIN, '😀', true],
  ['\\u00e9\\x41\\101\\0', 'str', PLAIN, 'éAA\0', true],
  ['[\\b]', 'str', PLAIN, '\b', true],
  ['[]a]', 'str', PLAIN, ']', true],
  ['[^]a]', 'str', PLAIN, ']', false],
  ['[a-]', 'str', PLAIN, '-', true],
  ['a{', 'str', PLAIN, 'a{', true],
  ['a{1,2', 'str', PLAIN, 'a{1,2', true],
  ['{}', 'str', PLAIN, '{}', true],
  ['x{,2}y', 'str', PLAIN, 'xxy', true],
  ['^x{,2}y', 'str', PLAIN, 'xxxy', false],
  ['a(?#comment)*b', 'str', PLAIN, 'aaab', true],
  ['(?=a)*b', 'str', PLAIN, 'b', true],
  ['a*+a', 'str', PLAIN, 'aaaa', false],
  ['a*a', 'str', PLAIN, 'aaaa', true],
  ['(?>a|ab)c', 'str', PLAIN, 'abc', false],
  ['(?:a|ab)c', 'str', PLAIN, 'abc', true],
  ['x(?>a+)b', 'str', PLAIN, 'xaab', true],
  ['(?<=ab)c', 'str', PLAIN, 'abc', true],
  ['(?<!a)c', 'str', PLAIN, 'ac', false],
  ['(?<=(?>ab))c', 'str', PLAIN, 'abc', true],
  ['(?<=a|b)c', 'str', PLAIN, 'bc', true],
  ['(a)(?<=\\1)b', 'str', PLAIN, 'ab', true],
  ['(?-i:(\\w)\\1)', 'str', I, 'xx', true],
  ['(?-i:(\\w)\\1)', 'str', I, 'xX', false],
  ['', 'str', PLAIN, 'anything', true],
  ['a|', 'str', PLAIN, 'zzz', true],
];

for (const [pattern, mode, flags, text, expected] of ACCEPTED) {
  test(`accepted: ${JSON.stringify(pattern)} (${mode}${flags.ignoreCase ? ', i' : ''}${flags.multiline ? ', m' : ''}${flags.dotAll ? ', s' : ''}) on ${JSON.stringify(text)} -> ${expected}`, () => {
    assert.equal(search(pattern, text, { mode, flags }), expected);
  });
}

/** Patterns Python itself refuses: [pattern, mode, Python's message]. */
const PYTHON_ERRORS: Array<[string, Mode, string]> = [
  ['[', 'str', 'unterminated character set at position 0'],
  ['[]', 'str', 'unterminated character set at position 0'],
  ['\\', 'str', 'bad escape (end of pattern) at position 0'],
  ['\\q', 'str', 'bad escape \\q at position 0'],
  ['\\G', 'str', 'bad escape \\G at position 0'],
  ['\\z', 'str', 'bad escape \\z at position 0'],
  ['\\u00e9', 'bytes', 'bad escape \\u at position 0'],
  ['\\8', 'str', 'invalid group reference 8 at position 1'],
  ['\\400', 'str', 'octal escape value \\400 outside of range 0-0o377 at position 0'],
  ['a**', 'str', 'multiple repeat at position 2'],
  ['*a', 'str', 'nothing to repeat at position 0'],
  ['^*', 'str', 'nothing to repeat at position 1'],
  ['x{2,1}', 'str', 'min repeat greater than max repeat at position 2'],
  ['a{4294967295}', 'str', 'the repetition number is too large'],
  ['(', 'str', 'missing ), unterminated subpattern at position 0'],
  [')', 'str', 'unbalanced parenthesis at position 0'],
  ['(?<name>x)', 'str', 'unknown extension ?<n at position 1'],
  ['(?P<1>x)', 'str', "bad character in group name '1' at position 4"],
  ['(?P<a>x)(?P<a>y)', 'str', "redefinition of group name 'a' as group 2; was group 1 at position 13"],
  ['(?P=zz)', 'str', "unknown group name 'zz' at position 4"],
  ['(a\\1)', 'str', 'cannot refer to an open group at position 2'],
  ['a(?i)b', 'str', 'global flags not at the start of the expression at position 1'],
  ['(?-i)a', 'str', 'missing : at position 4'],
  ['(?i-i:a)', 'str', 'bad inline flags: flag turned on and off at position 5'],
  ['(?u)a', 'bytes', "bad inline flags: cannot use 'u' flag with a bytes pattern at position 3"],
  ['(?L)a', 'str', "bad inline flags: cannot use 'L' flag with a str pattern at position 3"],
  ['(?<=a|bc)', 'str', 'look-behind requires fixed-width pattern'],
  ['(?<=a*)b', 'str', 'look-behind requires fixed-width pattern'],
  ['(?<=(a)\\1)', 'str', 'cannot refer to group defined in the same lookbehind subpattern at position 9'],
  ['[z-a]', 'str', 'bad character range z-a at position 1'],
  ['[\\w-a]', 'str', 'bad character range \\w-a at position 1'],
];

for (const [pattern, mode, message] of PYTHON_ERRORS) {
  test(`refused like Python: ${JSON.stringify(pattern)} (${mode})`, () => {
    assert.throws(
      () => compilePyRegex(pattern, { bytes: mode === 'bytes', flags: PLAIN }),
      (e: unknown) => e instanceof PyRegexError && !e.unsupported && e.message.startsWith(message.replace(/ at position \d+$/, '')),
    );
  });
}

/** Valid Python that has no faithful JavaScript form: [pattern, mode, flags, reason]. */
const UNSUPPORTED: Array<[string, Mode, PyRegexFlags, RegExp]> = [
  ['(?(1)a|b)', 'str', PLAIN, /conditional groups/],
  ['(a)?(?(1)b)', 'str', PLAIN, /conditional groups/],
  ['\\N{EM DASH}', 'str', PLAIN, /named Unicode escapes/],
  ['(?L)a', 'bytes', PLAIN, /LOCALE/],
  ['(?L:a)', 'bytes', PLAIN, /LOCALE/],
  ['(x)\\1', 'str', I, /case-insensitive/],
  ['(?P<n>x)(?P=n)', 'bytes', I, /case-insensitive/],
  ['(a)?\\1', 'str', PLAIN, /may not have matched/],
  ['(?:(a)|b)\\1', 'str', PLAIN, /may not have matched/],
  ['(?!(a))\\1', 'str', PLAIN, /may not have matched/],
  ['(?:(a)|b)+\\1', 'str', PLAIN, /may not have matched/],
];

for (const [pattern, mode, flags, reason] of UNSUPPORTED) {
  test(`refused as untranslatable: ${JSON.stringify(pattern)} (${mode}${flags.ignoreCase ? ', i' : ''})`, () => {
    assert.throws(
      () => compilePyRegex(pattern, { bytes: mode === 'bytes', flags }),
      (e: unknown) => e instanceof PyRegexError && e.unsupported && reason.test(e.message),
    );
  });
}

test('effective flags include global inline flags', () => {
  assert.deepEqual(compilePyRegex('(?ms)x', { bytes: false, flags: I }).flags, { ignoreCase: true, multiline: true, dotAll: true });
  assert.deepEqual(compilePyRegex('(?i:x)', { bytes: false, flags: PLAIN }).flags, PLAIN, 'scoped flags are not global');
});

test('group numbering: Python groups, names, and their JavaScript numbers', () => {
  const c = compilePyRegex('(a)(?>b(c))(?P<n>d)++', { bytes: false, flags: PLAIN });
  assert.equal(c.groupCount, 3);
  assert.deepEqual([...c.groupNames], [['n', 3]]);
  assert.deepEqual(c.jsGroupIndex, [0, 1, 3, 5]);
  const m = c.regex.exec('abcdd')!;
  assert.deepEqual(
    c.jsGroupIndex.map((i) => m[i]),
    ['abcdd', 'a', 'c', 'd'],
  );
});

test('the translation uses no JavaScript i/m/s flags and compiles with v', () => {
  const c = compilePyRegex('(?ims)^a.$', { bytes: true, flags: I });
  assert.equal(c.regex.flags, 'v');
  assert.equal(c.regex.source, '(?<![^\\n])[Aa][\\s\\S](?![^\\n])');
});
