import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpYaml, mergeRepeatedKeys, ruamelDump, YamlFloat, YamlMap, YamlTagged, type YamlNode } from '../../src/contentviews/yaml-emit.js';
import { fixtureJson } from './helpers.js';

interface RuamelCase {
  kind: 'str' | 'pairs' | 'list';
  input: string | Array<[string, YamlNode]> | string[];
  output: string;
}

test('strings are quoted and folded exactly as ruamel.yaml does (402 recorded cases)', () => {
  const cases = fixtureJson<RuamelCase[]>('yaml-ruamel-cases.json');
  assert.ok(cases.length > 400);
  for (const c of cases) {
    let node: YamlNode;
    if (c.kind === 'str') node = new YamlMap([['key', c.input as string]]);
    else if (c.kind === 'pairs') node = new YamlMap(c.input as Array<[string, YamlNode]>);
    else node = c.input as string[];
    assert.equal(ruamelDump(node), c.output, `input ${JSON.stringify(c.input)}`);
  }
});

test('ruamel flavor: scalars of other types, empties, nesting', () => {
  const map = new YamlMap([
    ['n', 1],
    ['b', true],
    ['none', null],
    ['f', new YamlFloat(1.5)],
    ['whole', new YamlFloat(2)],
    ['nested', new YamlMap([['x', [new YamlMap([['a', 1], ['b', 'c']])]], ['e', []], ['ed', new YamlMap()]])],
  ]);
  // The expected text is what ruamel printed for the same Python dict.
  assert.equal(ruamelDump(map), 'n: 1\nb: true\nnone:\nf: 1.5\nwhole: 2.0\nnested:\n  x:\n  - a: 1\n    b: c\n  e: []\n  ed: {}\n');
  assert.equal(ruamelDump(new YamlMap()), '');
  assert.equal(ruamelDump([]), '');
});

test('serde flavor: null, YAML 1.1 booleans quoted, multi-line strings as literal blocks, tags', () => {
  const cases: Array<[YamlNode, string]> = [
    [new YamlMap([['k', null]]), 'k: null\n'],
    [new YamlMap([['k', 'yes']]), "k: 'yes'\n"],
    [new YamlMap([['k', 'on']]), "k: 'on'\n"],
    [new YamlMap([['k', '123']]), "k: '123'\n"],
    [new YamlMap([['k', 'a\nb']]), 'k: |-\n  a\n  b\n'],
    [new YamlMap([['k', 'a\nb\n']]), 'k: |\n  a\n  b\n'],
    [new YamlMap([[1, new YamlTagged('!binary', '010203')]]), "1: !binary '010203'\n"],
    [new YamlMap([[6, new YamlTagged('!binary', '038e029ea705')]]), '6: !binary 038e029ea705\n'],
    [[1, 'two', [3]], "- 1\n- two\n- - 3\n"],
    [5, '5\n'],
    [new YamlMap([['f', new YamlFloat(0.1)], ['big', new YamlFloat(1e20)], ['inf', new YamlFloat(Infinity)]]), 'f: 0.1\nbig: 1e20\ninf: .inf\n'],
  ];
  for (const [node, want] of cases) assert.equal(dumpYaml(node, 'serde'), want);
});

test('mergeRepeatedKeys keeps first positions, collects repeats, replaces an empty first value', () => {
  const m = mergeRepeatedKeys([['a', '1'], ['b', ''], ['a', '2'], ['b', 'x'], ['a', '3']]);
  assert.deepEqual(m.entries, [['a', ['1', '2', '3']], ['b', 'x']]);
});

test('explicit keys ("? key" / ": value") for collections and long strings, as libyaml writes them', () => {
  const complex = new YamlMap([
    [[1, 2], 'value'],
    [new YamlMap([['a', 1], ['b', [3]]]), ['x', new YamlMap([['y', 1]])]],
    ['k', [[1, 2]]],
    [[], 'empty'],
    [new YamlMap([['z', [1]]]), []],
  ]);
  assert.equal(
    dumpYaml(complex, 'serde'),
    ['? - 1', '  - 2', ': value', '? a: 1', '  b:', '  - 3', ': - x', "  - 'y': 1", 'k:', '- - 1', '  - 2', '[]: empty', '? z:', '  - 1', ': []', ''].join('\n'),
  );
  const long = 'k'.repeat(130);
  assert.equal(dumpYaml(new YamlMap([[long, 'v'], [long + 'x', new YamlMap([['a', 1]])]]), 'serde'), `? ${long}\n: v\n? ${long}x\n: a: 1\n`);
  assert.equal(ruamelDump(new YamlMap([[long, 'v']])), `? ${long}\n: v\n`);
});
