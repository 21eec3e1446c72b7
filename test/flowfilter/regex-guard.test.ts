/**
 * Filter regexes with nested repetition run under a time limit (src/flowfilter/regex-guard.ts):
 * a text that makes one backtrack for ever no longer stops the whole process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '../../src/flowfilter/index.js';
import { compilePyRegex } from '../../src/flowfilter/pyregex.js';
import { Master } from '../../src/master.js';
import { readProxyOptions } from '../../src/proxy/proxy-options.js';
import { compileStrPattern, parseTemplate, pySearch, pySub, pySubLiteral } from '../../src/addons/util/pyre.js';
import { R } from './flows.js';

const TEXT = { bytes: false, flags: { ignoreCase: true, multiline: false, dotAll: false } };

/** The event log of a new master (the one `ctx` speaks for), as "level message" lines. */
function logLines(): string[] {
  const master = new Master();
  const lines: string[] = [];
  master.log.subscribe((e) => lines.push(`${e.level} ${e.message}`));
  return lines;
}

test('nested repetition is recognised; everyday patterns run as plain RegExps', () => {
  for (const p of ['(a+)+b', '(\\w+\\s?)*$', '(.*x){9}', '(?:a|b+)*c', '((ab)*)+'])
    assert.equal(compilePyRegex(p, TEXT).nestedRepetition, true, p);
  for (const p of ['example\\.com', '.*foo.*', '(foo|bar)+', '^/api/v[0-9]+/', '(ab){2}c*', 'a{2,5}(b?)+'])
    assert.equal(compilePyRegex(p, TEXT).nestedRepetition, false, p);
});

test('a pattern with nested repetition still matches as before (in a worker)', () => {
  const f = R();
  f.request.path = '/aaaab';
  assert.equal(parse('~u "(a+)+b"').match(f), true);
  f.request.path = '/xyz';
  assert.equal(parse('~u "(a+)+b"').match(f), false);
  f.request.content = Buffer.from('one two three ');
  assert.equal(parse('~bq "([a-z]+ )+$"').match(f), true);
  assert.equal(parse('~bq "([a-z]+,)+$"').match(f), false);
});

test('a text on which such a pattern backtracks for ever: no match after the time limit, the pattern is given up and the event log says so', () => {
  const lines = logLines();
  const f = R();
  // (a+)+b on 40 a's without a b takes longer than the age of the universe to fail by backtracking.
  f.request.path = `/${'a'.repeat(40)}`;
  const filter = parse('~u "(a+)+b"');
  const started = Date.now();
  assert.equal(filter.match(f), false);
  const took = Date.now() - started;
  assert.ok(took < 20_000, `gave up after ${took} ms`);
  // Given up: a text it would match matches no more, and the log has one line.
  f.request.path = '/aab';
  assert.equal(filter.match(f), false);
  assert.equal(lines.filter((l) => l.startsWith('warn The regex "(a+)+b" took more than')).length, 1, lines.join('\n'));
  // Other patterns still work, in the worker and outside it.
  assert.equal(parse('~u "(b+)+$"').match(f), true);
  assert.equal(parse('~u aab').match(f), true);
});

test('modify_body, map_remote and map_local patterns with nested repetition: the same results through the worker, and given up when one runs away', () => {
  const lines = logLines();
  const nested = compileStrPattern('(a(b)+)+');
  assert.ok(nested.timeLimit, 'guarded');
  // re.sub / re.search as Python gives them: every match, groups, empty matches stepped over.
  assert.equal(pySub(nested, parseTemplate('[\\2]', nested), 'xabbabx ab'), 'x[b]x [b]');
  assert.equal(pySubLiteral(nested, '-', 'abab,ab'), '-,-');
  const empty = compileStrPattern('(x*)*');
  assert.equal(pySubLiteral(empty, '-', 'ab'), '-a-b-');
  assert.equal(pySearch(nested, 'zzabb')?.index, 2);
  assert.equal(pySearch(nested, 'zz'), null);
  const runaway = compileStrPattern('(a+)+b');
  assert.equal(pySubLiteral(runaway, '-', 'a'.repeat(40)), 'a'.repeat(40), 'no match once given up');
  assert.equal(pySearch(runaway, 'aab'), null, 'given up');
  assert.equal(lines.filter((l) => l.startsWith('warn The regex "(a+)+b" took more than')).length, 1, lines.join('\n'));
});

test('ignore_hosts, allow_hosts and tcp_hosts patterns with nested repetition are time-limited too (host names come from clients)', async () => {
  const master = new Master();
  await master.options.update({ ignore_hosts: ['(a+)+b', 'example\\.com'], tcp_hosts: ['(x+)+y'] });
  const opts = readProxyOptions(master.options);
  assert.ok(!(opts.ignoreHosts[0] instanceof RegExp) && opts.ignoreHosts[1] instanceof RegExp);
  assert.equal(opts.ignoreHosts[0]!.test(`${'a'.repeat(40)}:443`), false);
  assert.equal(opts.tcpHosts[0]!.test('zxxy'), true);
});

test('one pattern used by a filter and by modify_body: each gets its own flags in the worker (not given up)', () => {
  const lines = logLines();
  const f = R();
  f.request.path = '/x112';
  // Digits only: the same translated source whether or not the filter ignores case.
  assert.equal(parse('~u "(1+)+2"').match(f), true);
  const p = compileStrPattern('(1+)+2');
  assert.equal(pySubLiteral(p, '-', 'x112'), 'x-');
  assert.deepEqual(lines.filter((l) => l.startsWith('warn The regex')), []);
});

test('a pattern with a long repetition (".*x") on a big body runs under the time limit too: 256 KB without "x" gave the proxy minutes of backtracking (found by fuzzing)', () => {
  for (const p of ['.*x', 'a+b', '\\w{1,500}@', 'foo.*bar']) assert.equal(compilePyRegex(p, TEXT).longRepetition, true, p);
  for (const p of ['example\\.com', 'a{2,5}b?', '^/api/v[0-9]{1,3}/']) assert.equal(compilePyRegex(p, TEXT).longRepetition, false, p);
  const lines = logLines();
  const f = R();
  // Short texts are matched here, big ones in the worker: the same answers.
  f.request.content = Buffer.from('aaax');
  assert.equal(parse('~bq ".*x"').match(f), true);
  f.request.content = Buffer.concat([Buffer.alloc(100_000, 'a'), Buffer.from('x')]);
  assert.equal(parse('~bq ".*x"').match(f), true);
  f.request.content = Buffer.alloc(256 * 1024, 'a');
  const filter = parse('~bq ".*x"');
  const started = Date.now();
  assert.equal(filter.match(f), false);
  const took = Date.now() - started;
  assert.ok(took < 20_000, `gave up after ${took} ms`);
  assert.equal(lines.filter((l) => l.startsWith('warn The regex ".*x" took more than 2 s on one text (a repetition tried at every position')).length, 1, lines.join('\n'));
  assert.ok(lines.some((l) => l.includes(`it matches nothing in texts of ${256 * 1024} characters or more from now on`)), lines.join('\n'));
  // Given up for texts that long only: smaller bodies, in the worker or not, still match.
  f.request.content = Buffer.concat([Buffer.alloc(100_000, 'a'), Buffer.from('x')]);
  assert.equal(filter.match(f), true, 'a 100 KB body after the 256 KB one that ran out of time');
  f.request.content = Buffer.from('aaax');
  assert.equal(filter.match(f), true);
  f.request.content = Buffer.concat([Buffer.alloc(300 * 1024, 'a'), Buffer.from('x')]);
  assert.equal(filter.match(f), false, 'a longer text is not tried again');
});
