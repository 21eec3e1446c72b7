/**
 * Differential tests against recorded reference behaviour (see fixtures/README.md): mitmproxy's
 * own filter parser, and CPython's `re` for the regex translation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseWithOptions, FilterError } from '../../src/flowfilter/index.js';
import { compilePyRegex, PyRegexError } from '../../src/flowfilter/pyregex.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

interface ParseCase {
  in: string;
  ok: boolean;
  tree?: unknown;
  str?: string;
  err?: string;
}

test('parser agrees with mitmproxy flowfilter.parse on every recorded expression', () => {
  const cases = fixture('parse-cases.json') as ParseCase[];
  assert.ok(cases.length >= 1000);
  const failures: string[] = [];
  for (const c of cases) {
    try {
      const f = parseWithOptions(c.in, { ignoreCase: true });
      if (!c.ok) failures.push(`${JSON.stringify(c.in)}: accepted, mitmproxy refuses it`);
      else if (JSON.stringify(f.toTree()) !== JSON.stringify(c.tree) || String(f) !== c.str) {
        failures.push(`${JSON.stringify(c.in)}: ${JSON.stringify(f.toTree())} / ${String(f)} != ${JSON.stringify(c.tree)} / ${c.str}`);
      }
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      if (c.ok) failures.push(`${JSON.stringify(c.in)}: refused (${e.message}), mitmproxy accepts it`);
      else if (!e.message.startsWith(c.err!)) failures.push(`${JSON.stringify(c.in)}: message ${e.message} does not start with ${c.err}`);
    }
  }
  assert.deepEqual(failures, []);
});

interface RegexCase {
  p: string;
  b: boolean;
  f: string;
  s: number[][];
  r: boolean[] | 'error';
}

test('regex translation agrees with CPython re.search on every recorded pattern and subject', () => {
  const cases = fixture('pyregex-cases.json') as RegexCase[];
  assert.ok(cases.length >= 1000);
  const failures: string[] = [];
  let compared = 0;
  let unsupported = 0;
  for (const c of cases) {
    const flags = { ignoreCase: c.f.includes('i'), multiline: c.f.includes('m'), dotAll: c.f.includes('s') };
    let regex: RegExp;
    try {
      regex = compilePyRegex(c.p, { bytes: c.b, flags }).regex;
    } catch (e) {
      if (!(e instanceof PyRegexError)) throw e;
      if (c.r !== 'error' && e.unsupported) unsupported++;
      else if (c.r !== 'error') failures.push(`${JSON.stringify(c.p)} (${c.b ? 'bytes' : 'str'}, ${c.f}): refused: ${e.message}`);
      continue;
    }
    if (c.r === 'error') {
      failures.push(`${JSON.stringify(c.p)} (${c.b ? 'bytes' : 'str'}): compiled to ${regex.source}, CPython refuses it`);
      continue;
    }
    c.s.forEach((subject, i) => {
      const text = c.b ? Buffer.from(subject).toString('latin1') : String.fromCodePoint(...subject);
      compared++;
      if (regex.test(text) !== (c.r as boolean[])[i]) {
        failures.push(`${JSON.stringify(c.p)} (${c.b ? 'bytes' : 'str'}, ${c.f}) on ${JSON.stringify(text)}: ${!(c.r as boolean[])[i]}, CPython ${(c.r as boolean[])[i]}`);
      }
    });
  }
  assert.deepEqual(failures, []);
  assert.ok(compared > 5000, `compared ${compared} subjects`);
  // Only the documented untranslatable constructs may be refused (a few backreference cases here).
  assert.ok(unsupported < cases.length / 50, `${unsupported} refused as unsupported`);
});
