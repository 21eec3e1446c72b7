/** spec/filters.md §9: every row of the case table, matching and parse-only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, filterTree, FilterError, type FilterTree } from '../../src/flowfilter/index.js';
import type { AnyFlow } from '../../src/flows.js';
import { D, Dr, E, R, S, T, U, W, X } from './flows.js';

function withResponseContentType(type: string): AnyFlow {
  const f = S();
  f.response!.headers.set('content-type', type);
  return f;
}

function rWith(setup: (f: ReturnType<typeof R>) => void): AnyFlow {
  const f = R();
  setup(f);
  return f;
}

/** [row, filter, flow, expected] */
const MATCH_CASES: Array<[string, string, () => AnyFlow, boolean]> = [
  ['1', '~q', R, true],
  ['2', '~q', S, false],
  ['3', '~s', S, true],
  ['4', '~s', R, false],
  ['5', '~e', E, true],
  ['6', '~e', R, false],
  ['7', '~http', R, true],
  ['8', '~tcp', R, false],
  ['9', '~a', S, false],
  ['10', '~a', () => withResponseContentType('text/javascript'), true],
  ['11', '~a', () => withResponseContentType('image/png'), true],
  ['12', '~a', () => withResponseContentType('TEXT/CSS'), false],
  ['13', '~t json', () => rWith((f) => f.request.headers.set('content-type', 'text/json')), true],
  ['14', '~ts json', () => rWith((f) => f.request.headers.set('content-type', 'text/json')), false],
  ['15', '~tq json', () => withResponseContentType('text/json'), false],
  ['16', '~h qvalue', R, true],
  ['17', "~h 'header: qvalue'", S, true],
  ['18', "~hq 'header-response: svalue'", S, false],
  ['19', "~hs 'header-response: svalue'", S, true],
  ['20', '~hs header', R, false],
  ['21', '~h "^header: qvalue$"', R, false],
  ['22', '~b content', R, true],
  ['23', '~bq message', S, false],
  ['24', '~bs message', S, true],
  [
    '25',
    '~bs message',
    () => {
      const f = S();
      f.response!.encode('gzip');
      assert.notEqual(f.response!.rawContent!.toString('latin1'), 'message');
      return f;
    },
    true,
  ],
  [
    '26a',
    '~bs яч',
    () => {
      const f = S();
      f.response!.content = 'яч';
      return f;
    },
    true,
  ],
  [
    '26b',
    '~bs Яч',
    () => {
      const f = S();
      f.response!.content = 'яч';
      return f;
    },
    false,
  ],
  ['27', '~m get', R, true],
  ['28', '~m post', R, false],
  ['29', '~d address', R, true],
  ['30', '~u address:22/path', R, true],
  ['31', '~u moo/path', R, false],
  ['32', '~u address', () => rWith((f) => f.request.headers.add('Host', 'example.org')), false],
  ['33', '~d address', () => rWith((f) => f.request.headers.add('Host', 'example.org')), true],
  ['34', '~c 200', S, true],
  ['35', '~c 201', S, false],
  ['36', '~c 200', R, false],
  ['37', '~src 127.0.0.1:22', R, true],
  ['38', '~src :99', R, false],
  ['39', '~dst address:22', R, true],
  ['40', '~dst 192.168', R, false],
  ['41', '~c 200 & ~h head', S, true],
  ['42', '~c 201 | ~h nohead', S, false],
  ['43', '(~c 201 | ~h nohead) | ~s', S, true],
  ['44', '! ~c 200', S, false],
  ['45', '!~c 201 !~c 202', S, true],
  ['46', '!~c 201 !~c 200', S, false],
  ['47a', '~replay', () => rWith((f) => (f.isReplay = 'request')), true],
  ['47b', '~replayq', () => rWith((f) => (f.isReplay = 'request')), true],
  ['47c', '~replays', () => rWith((f) => (f.isReplay = 'request')), false],
  ['48', '~meta "b: string"', () => rWith((f) => (f.metadata = { b: 'string' })), true],
  ['49', `~meta "'key': 'value'"`, () => rWith((f) => (f.metadata = { c: { key: 'value' } })), true],
  ['50a', '~marked', R, false],
  ['50b', '~marked', () => rWith((f) => (f.marked = ':default:')), true],
  ['51', '~marker X', () => rWith((f) => (f.marked = ':default:')), false],
  ['52', '~marker x', () => rWith((f) => (f.marked = 'X')), true],
  ['53a', '~comment .', X, false],
  [
    '53b',
    '~comment .',
    () => {
      const f = X();
      f.comment = 'comment';
      return f;
    },
    true,
  ],
  ['54', '~b 8.8.8.8', Dr, true],
  ['55', '~bq 8.8.8.8', Dr, false],
  ['56', '~bq dns.google', Dr, true],
  ['57', '~u dns.google', D, true],
  ['58', '~d dns.google', D, false],
  ['59a', '~q', D, true],
  ['59b', '~s', Dr, true],
  ['60', '~bq hello', T, true],
  ['61', '~bs hello', T, false],
  ['62', '~bs me', U, true],
  ['63a', '~q', T, false],
  ['63b', '~s', T, false],
  ['63c', '~u whatever', T, false],
  ['63d', '~c 200', T, false],
  ['63e', '~h whatever', T, false],
  ['64', '~websocket', W, true],
  ['65', '~http', W, true],
  ['66', '~websocket', S, false],
  ['67a', '~bq hello', W, true],
  ['67b', '~bs hello', W, false],
  ['67c', '~bs me', W, true],
  ['68', '~u example.com/ws', W, true],
  ['69', '~all', X, true],
  ['70a', '~src 127.0.0.1', X, true],
  ['70b', '~dst address', X, true],
  ['71a', '~q', X, false],
  ['71b', '~s', X, false],
  ['71c', '~http', X, false],
  ['71d', '~a', X, false],
  ['71e', '~c 0', X, false],
  ['71f', '~b whatever', X, false],
  ['72', 'foobar', R, false],
  ['73', 'address', R, true],
  ['74', 'path ~q', R, true],
];

for (const [row, text, makeFlow, expected] of MATCH_CASES) {
  test(`§9 row ${row}: ${JSON.stringify(text)} -> ${expected}`, () => {
    assert.equal(parse(text).match(makeFlow()), expected);
  });
}

test('§9: ~tcp, ~udp and ~dns tell the flow types apart (a UDP flow is not a TCP flow)', () => {
  assert.deepEqual(
    [T(), U(), D(), R()].map((f) => ['~tcp', '~udp', '~dns', '~http'].filter((op) => parse(op).match(f))),
    [['~tcp'], ['~udp'], ['~dns'], ['~http']],
  );
});

const url = (re: string): FilterTree => ['~u', re];

/** [row, input, expected tree or 'error'] */
const PARSE_CASES: Array<[string, string, FilterTree | 'error']> = [
  ['P2', '~b', 'error'],
  ['P3', '~h [', 'error'],
  ['P4', '~q ~c 10', ['&', [['~q'], ['~c', '10']]]],
  ['P5', 'foobar ~h rex', ['&', [url('foobar'), ['~h', 'rex']]]],
  ['P6', "~u 'foo ~u bar' ~u voing", ['&', [url('foo ~u bar'), url('voing')]]],
  ['P7', `~u 'foobar\\"\\''`, url(`foobar"'`)],
  ['P8', `~u "foo \\'bar"`, url("foo 'bar")],
  ['P9', '(~u foobar & ~h voing)', ['&', [url('foobar'), ['~h', 'voing']]]],
  ['P10', '!(~u test & ~h bar)', ['!', ['&', [url('test'), ['~h', 'bar']]]]],
  ['P11', "~hq 'header: qvalue'", ['~hq', 'header: qvalue']],
  ['P12', '~s шгн', ['&', [['~s'], url('шгн')]]],
  ['P13a', '~q&~s', 'error'],
  ['P13b', '(~q)', 'error'],
  ['P13c', '~c200', 'error'],
  ['P13d', '~u"x"', 'error'],
  ['P13e', '!(~q | ~s)', 'error'],
  ['P13f', '~x', 'error'],
  ['P14a', '( ~q )', ['~q']],
  ['P14b', '!(~q | ~s )', ['!', ['|', [['~q'], ['~s']]]]],
  ['P14c', '(~c 200)', ['~c', '200']],
  ['P14d', '!(~u foo | ~c 200)', ['!', ['|', [url('foo'), ['~c', '200']]]]],
  ['P15', '(a b)', 'error'],
  ['P16', 'a b | c', ['&', [url('a'), ['|', [url('b'), url('c')]]]]],
  ['P17', 'a | b c', ['&', [['|', [url('a'), url('b')]], url('c')]]],
  ['P18a', 'a&b', url('a&b')],
  ['P18b', 'a |b', ['|', [url('a'), url('b')]]],
  ['P18c', 'a| b', ['&', [url('a|'), url('b')]]],
  ['P19a', '~u "\\d+"', url('d+')],
  ['P19b', '~u "\\\\d+"', url('\\d+')],
  ['P19c', '~u \\d+', url('\\d+')],
  ['P20', '~c 2x', ['&', [['~c', '2'], url('x')]]],
  ['P21a', '~c -1', 'error'],
  ['P21b', '~c abc', 'error'],
  ['P22', '"~q"', url('~q')],
];

test('§9 P1: an empty expression is refused with "Empty filter expression"', () => {
  assert.throws(() => parse(''), (e: unknown) => e instanceof FilterError && e.message === 'Empty filter expression');
});

for (const [row, text, expected] of PARSE_CASES) {
  test(`§9 ${row}: ${JSON.stringify(text)}`, () => {
    if (expected === 'error') {
      assert.throws(() => parse(text), (e: unknown) => e instanceof FilterError && e.message.startsWith(`Invalid filter expression: `));
    } else {
      assert.deepEqual(filterTree(parse(text)), expected);
    }
  });
}
