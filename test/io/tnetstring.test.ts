import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumps, loads, loadsAll, readItems, pyFloatRepr, PyFloat, TNetstringError, type TNetInput, type TNetValue } from '../../src/io/tnetstring.js';
import { FlowReadError, readFlows } from '../../src/io/flowreader.js';

const b = (s: string) => Buffer.from(s, 'latin1');

test('encodes values exactly as mitmproxy (spec §1.2 examples)', () => {
  const cases: Array<[TNetInput, string]> = [
    [null, '0:~'],
    [true, '4:true!'],
    [false, '5:false!'],
    [0, '1:0#'],
    [42, '2:42#'],
    [-7, '2:-7#'],
    [2n ** 70n, '22:1180591620717411303424#'],
    [1.5, '3:1.5^'],
    [new PyFloat(3), '3:3.0^'],
    [new PyFloat(1795793585.2898552), '18:1795793585.2898552^'],
    [b('hello'), '5:hello,'],
    [b(''), '0:,'],
    ['äö', '4:\xc3\xa4\xc3\xb6;'],
    [[1, 'a'], '8:1:1#1:a;]'],
    [{ a: 1 }, '8:1:a;1:1#}'],
    [{ a: 1, b: null }, '15:1:b;0:~1:a;1:1#}'],
    [{ version: 21, type: 'http' }, '29:4:type;4:http;7:version;2:21#}'],
    [[], '0:]'],
    [{}, '0:}'],
  ];
  for (const [value, expected] of cases) assert.equal(dumps(value).toString('latin1'), expected, `encoding ${String(value)}`);
});

test('float repr follows Python', () => {
  const cases: Array<[number, string]> = [
    [3, '3.0'],
    [-0, '-0.0'],
    [0, '0.0'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [1.5e16, '1.5e+16'],
    [1e-4, '0.0001'],
    [1e-5, '1e-05'],
    [1.25e-7, '1.25e-07'],
    [1e22, '1e+22'],
    [123.456, '123.456'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
  ];
  for (const [v, s] of cases) assert.equal(pyFloatRepr(v), s, String(v));
});

test('decodes every type; dicts come back in writer order, so re-encoding is byte-identical', () => {
  const raw = '15:1:b;0:~1:a;1:1#}';
  const v = loads(b(raw)) as Record<string, TNetValue>;
  assert.deepEqual(Object.keys(v), ['a', 'b']);
  assert.equal(dumps(v).toString('latin1'), raw);
  assert.deepEqual(loads(b('8:1:1#1:a;]')), [1, 'a']);
  assert.deepEqual(loads(b('5:hello,')), b('hello'));
  assert.equal(loads(b('4:\xc3\xa4\xc3\xb6;')), 'äö');
  assert.equal(loads(b('22:1180591620717411303424#')), 2n ** 70n);
  assert.equal(loads(b('16:9007199254740993#')), 9007199254740993n);
  assert.equal(loads(b('16:9007199254740991#')), 9007199254740991);
  assert.equal(loads(b('3:inf^')), Infinity);
  assert.equal(loads(b('5:1e+16^')), 1e16);
  assert.equal(loads(b('4:true!')), true);
  assert.equal(loads(b('0:~')), null);
});

test('lenient like Python: zero-padded lengths, signs and underscores in numbers', () => {
  assert.deepEqual(loads(b('05:hello,')), b('hello'));
  assert.equal(loads(b('2:+5#')), 5);
  assert.equal(loads(b('5:1_000#')), 1000);
  assert.equal(loads(b('4: 42 #')), 42);
});

test('a repeated dict key keeps the last value on disk', () => {
  const v = loads(b('16:1:a;1:1#1:a;1:2#}')) as Record<string, TNetValue>;
  assert.equal(v['a'], 2);
});

test('a "__proto__" key is kept as data', () => {
  const v = loads(b('16:9:__proto__;1:1#}')) as Record<string, TNetValue>;
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal(v['__proto__'], 1);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
});

test('bytes dict keys of old files become text', () => {
  const v = loads(b('8:1:a,1:1#}')) as Record<string, TNetValue>;
  assert.equal(v['a'], 1);
});

test('malformed input gives errors that name the byte offset', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['5:hello', /cut off/, 0],
    ['5:hello?', /unknown type tag 0x3f/, 7],
    ['4:maybe!', /unknown type tag 0x65/, 6],
    ['5:maybe!', /invalid boolean/, 2],
    ['1:x~', /non-empty payload/, 2],
    ['3:abc#', /invalid integer/, 2],
    ['3:a.b^', /invalid float/, 2],
    ['2:\xff\xfe;', /invalid UTF-8/, 2],
    ['x:', /invalid length prefix byte 0x78/, 0],
    ['1234567890123:', /absurdly large/, 0],
    ['12:1:a;2:10#1:b}', /dict key without a value|cut off/, 12],
    ['8:5:hello,]x', /trailing data/, 11],
  ];
  for (const [input, re, offset] of cases) {
    assert.throws(
      () => loads(b(input)),
      (e: unknown) => {
        assert.ok(e instanceof TNetstringError, `${input}: ${String(e)}`);
        assert.match(e.message, re, input);
        assert.match(e.message, /at byte offset \d+/);
        assert.equal(e.offset, offset, `offset for ${JSON.stringify(input)}: ${e.message}`);
        return true;
      },
    );
  }
});

async function collect(chunks: Buffer[]): Promise<{ values: TNetValue[]; error: Error | null }> {
  const values: TNetValue[] = [];
  try {
    for await (const item of readItems(chunks)) values.push(item.value);
    return { values, error: null };
  } catch (e) {
    return { values, error: e as Error };
  }
}

test('streaming reader: items split across chunks in every possible way', async () => {
  const data = Buffer.concat([dumps({ a: b('x'.repeat(50)) }), dumps([1, 2, 3]), dumps('z')]);
  const expected = loadsAll(data);
  for (let cut1 = 0; cut1 <= data.length; cut1 += 3) {
    for (let cut2 = cut1; cut2 <= data.length; cut2 += 7) {
      const r = await collect([data.subarray(0, cut1), data.subarray(cut1, cut2), data.subarray(cut2)]);
      assert.equal(r.error, null);
      assert.deepEqual(r.values, expected);
    }
  }
});

test('streaming reader: values before damage are delivered, then an error with the offset', async () => {
  const one = dumps({ n: 1 });
  const two = dumps({ n: 2 });
  const full = Buffer.concat([one, two]);
  // cut in the middle of the second item
  let r = await collect([full.subarray(0, one.length + 5)]);
  assert.deepEqual(r.values, [{ n: 1 }]);
  assert.ok(r.error instanceof TNetstringError);
  assert.equal((r.error as TNetstringError).offset, one.length);
  assert.match(r.error!.message, /ends inside an item/);
  // only the first digit of the next length prefix
  r = await collect([full.subarray(0, one.length + 1)]);
  assert.deepEqual(r.values, [{ n: 1 }]);
  assert.match(r.error!.message, /ends inside a length prefix/);
  // a trailing newline is not tolerated (as in mitmproxy)
  r = await collect([full, b('\n')]);
  assert.equal(r.values.length, 2);
  assert.match(r.error!.message, /invalid length prefix byte 0x0a/);
  assert.equal((r.error as TNetstringError).offset, full.length);
  // empty input: no items, no error
  r = await collect([]);
  assert.deepEqual(r, { values: [], error: null });
});

test('lists and dicts nested beyond 1000 levels are a clear data error, not a stack overflow', async () => {
  let deep = '0:]';
  for (let i = 0; i < 3000; i++) deep = `${deep.length}:${deep}]`;
  assert.throws(() => loads(b(deep)), (e: unknown) => e instanceof TNetstringError && /nested more than 1000 deep/.test(e.message));
  let ok = '0:}';
  for (let i = 0; i < 999; i++) ok = `${ok.length + 4}:1:k;${ok}}`;
  assert.equal(typeof loads(b(ok)), 'object', '1000 levels are fine');
  // In a flow file, the reader's usual error, with where it happened.
  await assert.rejects(readFlows(b(deep)), (e: unknown) => e instanceof FlowReadError && /^Invalid data format\. \(flow 1, at byte offset \d+: lists and dicts nested more than 1000 deep\)$/.test(e.message));
  // The parser is usable again afterwards.
  assert.deepEqual(loads(b('8:1:1#1:a;]')), [1, 'a']);
});

test('dict keys that are not text become Python str() of the key', () => {
  assert.deepEqual(Object.keys(loads(b('26:4:true!1:x;1:1#1:y;0:~1:z;}')) as object).sort(), ['1', 'None', 'True']);
});

/** Time one call, in milliseconds. */
function elapsed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

test('a long float payload that is not a float is refused in linear time (found by fuzzing)', () => {
  // The float pattern used to backtrack quadratically over a run of digits: 64 KB took ~25 s.
  for (const payload of ['1'.repeat(1 << 16) + 'x', '1_'.repeat(1 << 15) + '.x', ' '.repeat(1 << 16) + '1x']) {
    const ms = elapsed(() => assert.throws(() => loads(b(`${payload.length}:${payload}^`)), /invalid float/));
    assert.ok(ms < 2000, `${ms} ms`);
  }
  // Python's float() syntax, no looser: an underscore only between digits.
  assert.equal(loads(b('11:1_0.0_1e1_0^')), 10.01e10);
  assert.equal(loads(b('2:.5^')), 0.5);
  assert.equal(loads(b('2:5.^')), 5);
  assert.throws(() => loads(b('4:1._5^')), /invalid float/);
});

test('an integer of more digits than Python converts (4300) is a data error, not seconds of BigInt work', () => {
  const ok = '9'.repeat(4300);
  assert.equal(loads(b(`${ok.length}:${ok}#`)), BigInt(ok));
  const huge = '9'.repeat(1 << 20);
  const ms = elapsed(() => assert.throws(() => loads(b(`${huge.length}:${huge}#`)), (e: unknown) => e instanceof TNetstringError && /integer of 1048576 digits exceeds the limit of 4300 digits/.test(e.message)));
  assert.ok(ms < 2000, `${ms} ms`);
});
