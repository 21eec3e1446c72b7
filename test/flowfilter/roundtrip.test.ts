/**
 * Property: a parsed filter written back as text (`filterExpression`) parses to the same tree,
 * with the same description, and matches exactly the same flows.
 *
 * (The readable description itself, `String(filter)`, is prose such as "has no response"; it is
 * not filter syntax, so the round trip goes through the canonical expression instead.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse, filterExpression, filterTree, type FilterTree } from '../../src/flowfilter/index.js';
import { quoteArgument } from '../../src/flowfilter/lexer.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { Client, Server } from '../../src/connection.js';
import { FlowError } from '../../src/flow.js';
import { TCPFlow, TCPMessage } from '../../src/tcp.js';
import type { AnyFlow } from '../../src/flows.js';
import { D, Dr, W } from './flows.js';

const FLAG_OPS = ['~a', '~all', '~dns', '~e', '~http', '~marked', '~q', '~replay', '~replayq', '~replays', '~s', '~tcp', '~udp', '~websocket'];
const REGEX_OPS = ['~b', '~bq', '~bs', '~comment', '~d', '~dst', '~h', '~hq', '~hs', '~m', '~marker', '~meta', '~src', '~t', '~tq', '~ts', '~u'];
const ARGS = ['a', 'example', 'com$', '^GET', 'post', 'json', 'html', '2\\d\\d', '.', 'x|y', 'hello', 'me', '(?i)OK', 'content', "it's", 'a b', 'path', ': q', '\\r$', 'é', 'я', '~q', '"quoted"', ''];

type Node = { op: 'flag'; code: string } | { op: 'rex'; code: string; arg: string; quoted: boolean } | { op: 'c'; n: number } | { op: '!'; child: Node } | { op: '&' | '|'; children: Node[] };

const atom: fc.Arbitrary<Node> = fc.oneof(
  fc.constantFrom(...FLAG_OPS).map((code): Node => ({ op: 'flag', code })),
  fc.record({ code: fc.constantFrom(...REGEX_OPS, ''), arg: fc.constantFrom(...ARGS), quoted: fc.boolean() }).map((r): Node => ({ op: 'rex', ...r })),
  fc.constantFrom(0, 101, 200, 404, 500).map((n): Node => ({ op: 'c', n })),
);

const tree = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    tie('node').map((child): Node => ({ op: '!', child })),
    fc.record({ op: fc.constantFrom<'&' | '|'>('&', '|'), children: fc.array(tie('node'), { minLength: 2, maxLength: 3 }) }),
  ),
})).node;

/** Whether an argument can be written without quotes. */
const bare = (arg: string): boolean => arg !== '' && !/[\s()~'"]/.test(arg) && !/^[!&|]/.test(arg);

function render(n: Node): string {
  switch (n.op) {
    case 'flag':
      return n.code;
    case 'c':
      return `~c ${n.n}`;
    case 'rex': {
      const arg = n.quoted || !bare(n.arg) ? quoteArgument(n.arg) : n.arg;
      return n.code ? `${n.code} ${arg}` : arg;
    }
    case '!':
      return `!${group(n.child)}`;
    default:
      return n.children.map(group).join(` ${n.op} `);
  }
}

function group(n: Node): string {
  return n.op === '&' || n.op === '|' ? `( ${render(n)} )` : render(n);
}

/** The tree `parse` should produce for the rendered text. */
function expectedTree(n: Node): FilterTree {
  switch (n.op) {
    case 'flag':
      return [n.code];
    case 'c':
      return ['~c', String(n.n)];
    case 'rex':
      return [n.code || '~u', n.arg];
    case '!':
      return ['!', expectedTree(n.child)];
    default:
      return [n.op, n.children.map(expectedTree)];
  }
}

const httpFlow = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'get', 'OPTIONS'),
    host: fc.constantFrom('example.com', 'api.example.com', 'x.org', 'bücher.de'),
    path: fc.constantFrom('/', '/path', '/a b', '/json?q=1', '/яч'),
    hostHeader: fc.option(fc.constantFrom('example.com', 'other.net:8080')),
    requestType: fc.option(fc.constantFrom('application/json', 'text/html')),
    requestBody: fc.constantFrom('', 'content', 'hello', "it's me"),
    response: fc.option(
      fc.record({
        status: fc.constantFrom(101, 200, 404, 500),
        type: fc.option(fc.constantFrom('image/png', 'text/css', 'application/json', 'text/html; charset=utf-8')),
        body: fc.constantFrom('', 'message', 'OK done', 'яч', 'x|y'),
      }),
    ),
    error: fc.boolean(),
    marked: fc.constantFrom('', ':default:', 'a'),
    comment: fc.constantFrom('', 'note\nme', 'é'),
    replay: fc.constantFrom(null, 'request' as const, 'response' as const),
  })
  .map((r): AnyFlow => {
    const headers: Array<[string, string]> = [];
    if (r.hostHeader) headers.push(['Host', r.hostHeader]);
    if (r.requestType) headers.push(['Content-Type', r.requestType]);
    const path = Buffer.from(r.path, 'utf8').toString('latin1');
    const req = new Request({ host: r.host, port: 443, method: r.method, scheme: 'https', path, headers, content: Buffer.from(r.requestBody) });
    const f = new HTTPFlow(new Client({ peername: ['127.0.0.1', 5000] }), new Server({ address: [r.host, 443] }), false, req);
    if (r.response) {
      f.response = new Response({ statusCode: r.response.status, headers: r.response.type ? [['Content-Type', r.response.type]] : [], content: Buffer.from(r.response.body) });
    }
    if (r.error) f.error = new FlowError('boom');
    f.marked = r.marked;
    f.comment = r.comment;
    f.isReplay = r.replay;
    f.metadata = { n: 1, s: 'json' };
    return f;
  });

const otherFlow = fc.constantFrom('tcp', 'dns', 'dnsr', 'ws').map((kind): AnyFlow => {
  if (kind === 'dns') return D();
  if (kind === 'dnsr') return Dr();
  if (kind === 'ws') return W();
  const t = new TCPFlow(new Client({ peername: ['::1', 22] }), new Server({ address: ['example.com', 22] }));
  t.messages = [new TCPMessage(true, Buffer.from('hello')), new TCPMessage(false, Buffer.from("it's me"))];
  return t;
});

const flows = fc.array(fc.oneof({ weight: 4, arbitrary: httpFlow }, { weight: 1, arbitrary: otherFlow }), { minLength: 1, maxLength: 8 });

test('parse(filterExpression(f)) is the same filter as f', () => {
  fc.assert(
    fc.property(tree, flows, (node, sample) => {
      const text = render(node);
      const f = parse(text);
      assert.deepEqual(filterTree(f), expectedTree(node), `tree of ${JSON.stringify(text)}`);
      const canonical = filterExpression(f);
      const g = parse(canonical);
      assert.deepEqual(filterTree(g), filterTree(f), `tree of ${JSON.stringify(canonical)}`);
      assert.equal(String(g), String(f));
      assert.equal(filterExpression(g), canonical, 'the canonical form is stable');
      for (const flow of sample) assert.equal(g.match(flow), f.match(flow), `${canonical} on ${String(flow)}`);
    }),
    { numRuns: 300 },
  );
});

test('the property can fail: a changed filter is noticed', () => {
  const f = parse('~c 200 | ~q');
  const g = parse('~c 200 & ~q');
  assert.notDeepEqual(filterTree(f), filterTree(g));
});
