import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dumpPythonJson, parsePythonJson, parsePythonJsonBytes } from '../../src/contentviews/json-python.js';
import { pyFloatRepr } from '../../src/util/pyfloat.js';

const pretty = (s: string, ensureAscii = false): string => dumpPythonJson(parsePythonJson(s), { indent: 4, ensureAscii }).text;

test('json.dumps(indent=4, ensure_ascii=False) layout and values, as Python prints them', () => {
  const cases: Array<[string, string]> = [
    ['{"b": 1, "2": 2, "a": [1, 2]}', '{\n    "b": 1,\n    "2": 2,\n    "a": [\n        1,\n        2\n    ]\n}'],
    ['[]', '[]'],
    ['{}', '{}'],
    ['[{}, []]', '[\n    {},\n    []\n]'],
    ['1.0', '1.0'],
    ['1E5', '100000.0'],
    ['1e16', '1e+16'],
    ['0.00001', '1e-05'],
    ['0.0001', '0.0001'],
    ['-0', '0'],
    ['-0.0', '-0.0'],
    ['12345678901234567890123', '12345678901234567890123'],
    ['1e400', 'Infinity'],
    ['NaN', 'NaN'],
    ['-Infinity', '-Infinity'],
    ['"\\u00e9\\/\\u0001\\ud83d\\ude00"', '"é/\\u0001😀"'],
    ['{"a": 1, "a": 2, "b": 3}', '{\n    "a": 2,\n    "b": 3\n}'],
    [' \n\t"x" \r\n', '"x"'],
  ];
  for (const [input, want] of cases) assert.equal(pretty(input), want, input);
});

test('ensure_ascii escapes non-ASCII as \\uXXXX (the GraphQL header)', () => {
  assert.equal(pretty('{"k": "é😀"}', true), '{\n    "k": "\\u00e9\\ud83d\\ude00"\n}');
});

test('bytes are decoded as json.loads(bytes) does: BOMs, then the NUL pattern of UTF-16/32, else UTF-8', () => {
  const doc = '{"a": "é😀"}';
  const utf32 = (s: string, le: boolean, bom: boolean): Buffer => {
    const cps = [...(bom ? '\ufeff' : '') + s].map((c) => c.codePointAt(0)!);
    const b = Buffer.alloc(cps.length * 4);
    cps.forEach((cp, i) => (le ? b.writeUInt32LE(cp, i * 4) : b.writeUInt32BE(cp, i * 4)));
    return b;
  };
  const le16 = Buffer.from(doc, 'utf16le');
  const bodies: Record<string, Buffer> = {
    'utf-8': Buffer.from(doc),
    'utf-8-sig': Buffer.from('\ufeff' + doc),
    'utf-16 (LE BOM)': Buffer.concat([Buffer.from([0xff, 0xfe]), le16]),
    'utf-16 (BE BOM)': Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le16).swap16()]),
    'utf-16-le': le16,
    'utf-16-be': Buffer.from(le16).swap16(),
    'utf-32 (LE BOM)': utf32(doc, true, true),
    'utf-32 (BE BOM)': utf32(doc, false, true),
    'utf-32-le': utf32(doc, true, false),
    'utf-32-be': utf32(doc, false, false),
  };
  for (const [name, body] of Object.entries(bodies)) {
    assert.equal(dumpPythonJson(parsePythonJsonBytes(body), { indent: 0, ensureAscii: false }).text, '{\n"a": "é😀"\n}', name);
  }
  // Two-byte documents: a digit in UTF-16.
  assert.equal(dumpPythonJson(parsePythonJsonBytes(Buffer.from('7', 'utf16le')), { indent: 0, ensureAscii: false }).text, '7');
  assert.throws(() => parsePythonJsonBytes(Buffer.from([0x22, 0xff, 0x22])));
});

test('invalid JSON is rejected where Python rejects it', () => {
  for (const bad of ['', '{', '[1,]', '{"a" 1}', "{'a': 1}", '"\t"', '01', '1 2', 'tru', '"\\x"', '[1] x']) {
    assert.throws(() => parsePythonJson(bad), Error, JSON.stringify(bad));
  }
});

test('maxLines stops formatting early but leaves enough lines to cut exactly', () => {
  const value = parsePythonJson(JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ i }))));
  const full = dumpPythonJson(value, { indent: 4, ensureAscii: false });
  const part = dumpPythonJson(value, { indent: 4, ensureAscii: false, maxLines: 10 });
  assert.equal(part.truncated, true);
  assert.ok(full.text.startsWith(part.text));
  assert.equal(part.text.split('\n').length, 11);
});

test('property: parsing keeps the data JSON.parse sees (for JSON without integer-like keys or big numbers)', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const text = JSON.stringify(v);
      const back = JSON.parse(dumpPythonJson(parsePythonJson(text), { indent: 4, ensureAscii: true }).text) as unknown;
      assert.deepEqual(back, JSON.parse(text));
    }),
    { numRuns: 300 },
  );
});

test('pyFloatRepr matches repr(float)', () => {
  const cases: Array<[number, string]> = [
    [1, '1.0'], [0.5, '0.5'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [1.5e-7, '1.5e-07'],
    [123456789012345678, '1.2345678901234568e+17'], [-2.5, '-2.5'], [0.45455, '0.45455'], [5e-324, '5e-324'],
  ];
  for (const [x, want] of cases) assert.equal(pyFloatRepr(x), want);
});

