// The CSS and JavaScript beautifiers on bodies built to make regex substitutions backtrack: each
// takes linear time, gives what mitmproxy's regex substitutions give (checked against those
// substitutions, written out below as the reference, on random short texts), and the
// JavaScript indentation, which grows with nesting, is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { prettify } from '../../src/contentviews/index.js';
import { beautifyCss } from '../../src/contentviews/views/css.js';
import { beautifyJavaScript } from '../../src/contentviews/views/javascript.js';
import { pyStrip } from '../../src/contentviews/text.js';

const MB = 1 << 20;
const repeat = (s: string, n = MB) => s.repeat(Math.ceil(n / s.length)).slice(0, n);

test('CSS and JavaScript views render 1 MB built to backtrack in well under seconds (found by fuzzing: these took hours)', () => {
  const bodies: Record<string, string> = {
    blanks: repeat(' '),
    'blanks inside': 'a' + repeat(' ') + 'b',
    semicolons: repeat(';'),
    colons: repeat('a:'),
    'escaped quotes': repeat('"\\'),
    'escaped quotes, continued lines': repeat("'\\\n"),
    'unclosed comments': repeat('/* '),
    'unclosed regex literals': '=/' + repeat('\\/'),
    'template braces': repeat('`${'),
    'vertical tabs': repeat('\v'),
  };
  for (const [name, body] of Object.entries(bodies)) {
    for (const view of ['ViewCSS', 'JavaScript']) {
      const started = performance.now();
      const r = prettify(view, Buffer.from(body), {}, { linesCutoff: 512 });
      const ms = performance.now() - started;
      assert.notEqual(r.syntaxHighlight, 'error', `${view} on ${name}: ${r.text.slice(0, 200)}`);
      assert.ok(ms < 3000, `${view} on ${name}: ${ms.toFixed(0)} ms`);
    }
  }
});

test('JavaScript: indentation that would outgrow any string is an error, not gigabytes; with a line cutoff the start is shown', () => {
  const braces = Buffer.from(repeat('{'));
  const full = prettify('JavaScript', braces, {});
  assert.equal(full.syntaxHighlight, 'error');
  assert.match(full.text, /^Couldn't parse as JavaScript:\nError: beautified text longer than \d+ characters \(braces nested too deeply\)/);
  const auto = prettify('auto', braces, { contentType: 'application/javascript' });
  assert.equal(auto.viewName, 'Raw');
  assert.equal(auto.description, '[failed to parse as JavaScript]');
  // With a cutoff (the dumper's and mitmweb's default), the lines shown are those of the full text.
  const cut = prettify('JavaScript', braces.subarray(0, 2000), {}, { linesCutoff: 100 });
  assert.equal(cut.cut, true);
  assert.equal(cut.text, beautifyJavaScript('{'.repeat(2000)).split('\n').slice(0, 100).join('\n') + '\n');
});

// mitmproxy's beautifiers as regex substitutions (what these views did before), the reference.
const NO_ESCAPE = String.raw`(?<!\\)(?:\\\\)*`;
function escapeAreasByRegex(data: string, areas: string[], controlCharacters: string): string {
  const parts = data.split(new RegExp(`(${areas.join('|')})`, 'm'));
  const chars = new RegExp(`[${controlCharacters.replace(/[\\\]^-]/g, '\\$&').replace(/\n/g, '\\n')}]`, 'g');
  return parts.map((p, i) => (i % 2 === 1 ? p.replace(chars, (c) => String.fromCharCode(c.charCodeAt(0) + 0xe000)) : p)).join('');
}
const unescapeAreas = (data: string) => data.replace(/[\ue000-\ue0ff]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xe000));

function cssByRegex(data: string): string {
  const areas = [`'.*?${NO_ESCAPE}'`, `".*?${NO_ESCAPE}"`, String.raw`/\*[\s\S]*?\*/`, `//.*?$`];
  data = escapeAreasByRegex(pyStrip(data), areas, '{};:');
  data = data.replace(/\s*;\s*/g, ';\n').replace(/\s*{\s*/g, ' {\n').replace(/\s*}\s*/g, '\n}\n\n');
  data = data.replace(/\s*:\s*(?=[^{]+})/g, ': ').replace(/\s*,\s*/g, ', ').replace(/\n[ \t]+/g, '\n');
  data = data.replace(/\n(?![}\n])(?=[^{]*})/g, '\n    ');
  return unescapeAreas(data).replace(/\n+$/, '') + '\n';
}

function javascriptByRegex(data: string): string {
  const continued = String.raw`(?:.|(?<=\\)\n)*?`;
  const areas = [
    String.raw`(?<=[^\w\s)])\s*/(?:[^\n/]|(?<!\\)(?:\\\\)*\\/)+?/(?=[gimsuy]{0,6}\s*(?:[;,).\n]|$))`,
    `'${continued}${NO_ESCAPE}'`,
    `"${continued}${NO_ESCAPE}"`,
    `\`[\\s\\S]*?${NO_ESCAPE}\``,
    String.raw`/\*[\s\S]*?\*/`,
    `//.*?$`,
    String.raw`for\(.*?\)`,
  ];
  data = escapeAreasByRegex(data, areas, '{};\n');
  data = data.replace(/\s*{\s*(?!};)/g, ' {\n').replace(/\s*;\s*/g, ';\n');
  data = data.replace(/(?<!{)\s*}(;)?\s*/g, (_m, semi: string | undefined) => `\n}${semi ?? ''}\n`);
  let out = '';
  let level = 0;
  const lines = data.match(/[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+$/g) ?? [];
  for (const line of lines) {
    if (line.endsWith('{\n')) out += ' '.repeat(2 * Math.max(0, level++)) + line;
    else if (line.startsWith('}')) out += ' '.repeat(2 * Math.max(0, --level)) + line;
    else out += ' '.repeat(2 * Math.max(0, level)) + line;
  }
  return unescapeAreas(out);
}

const pieces = ['//', '/*', '*/', ' ', '\n', '\t', '\r', '\u2028', '\ufeff', '\xa0', '\v', '{', '}', ';', ':', ',', "'", '"', '`', '/', '*', '\\', 'a', '=', '(', ')', 'for(', 'g', '.', '$'];
const text = fc.string({ unit: fc.constantFrom(...pieces), maxLength: 40 });

test('property: the linear CSS beautifier gives what the regex substitutions give', () => {
  fc.assert(
    fc.property(text, (s) => assert.equal(beautifyCss(s), cssByRegex(s), JSON.stringify(s))),
    { numRuns: 10000 },
  );
});

test('property: the linear JavaScript beautifier gives what the regex substitutions give', () => {
  fc.assert(
    fc.property(text, (s) => assert.equal(beautifyJavaScript(s), javascriptByRegex(s), JSON.stringify(s))),
    { numRuns: 10000 },
  );
});

test('XML/HTML: a comment or CDATA section of 1 MB of ">" and a line indented by 100,000 tabs render (found by fuzzing: minutes, and a regex too large to compile)', () => {
  for (const [name, body] of [
    ['CDATA', '<![CDATA[' + repeat('>')],
    ['comment', '<!--' + repeat('>')],
    ['blanks inside text', '<a>x' + repeat(' ') + 'x</a>'],
  ] as const) {
    const started = performance.now();
    const r = prettify('XML/HTML', Buffer.from(body), {}, { linesCutoff: 512 });
    const ms = performance.now() - started;
    assert.equal(r.syntaxHighlight, 'xml', `${name}: ${r.text.slice(0, 200)}`);
    assert.ok(ms < 3000, `${name}: ${ms.toFixed(0)} ms`);
  }
  const tabs = prettify('XML/HTML', Buffer.from('<a>\n' + '\t'.repeat(100_000) + 'x\n</a>'), {});
  assert.equal(tabs.text, '<a>\n  x\n</a>\n');
});
