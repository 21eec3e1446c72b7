import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapRemote, parseMapRemoteSpec } from '../../src/addons/mapremote.js';
import { compileStrPattern, parseTemplate, pySub } from '../../src/addons/util/pyre.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

test('re.sub with Python templates gives what Python gives', () => {
  // Expected values were produced with CPython 3.11's re.sub.
  const cases: Array<[string, string, string, string]> = [
    ['example\\.com', 'mitmproxy.org', 'http://example.com/path', 'http://mitmproxy.org/path'],
    ['(https?)://([^/]+)/(.*)', '\\1://new.\\2/v2/\\3', 'http://example.com/a/b?c=1', 'http://new.example.com/v2/a/b?c=1'],
    ['(?P<host>example)\\.com', '\\g<host>.org', 'http://example.com/x', 'http://example.org/x'],
    ['^http://', 'https://', 'http://a.com/', 'https://a.com/'],
    ['a|(b)', '[\\1]', 'abab', '[][b][][b]'],
    ['x*', '-', 'abc', '-a-b-c-'],
    ['/$', '/index.html', 'http://a.com/', 'http://a.com/index.html'],
    ['(?i)EXAMPLE', 'e', 'http://example.com/', 'http://e.com/'],
    ['\\d+', '<\\g<0>>', 'http://a.com/12/345', 'http://a.com/<12>/<345>'],
    ['.', '\\n', 'ab', '\n\n'],
    ['com', '\\.', 'a.com', 'a.\\.'],
    ['b', '\\101\\0', 'abc', 'aA\0c'],
  ];
  for (const [pattern, repl, text, expected] of cases) {
    const p = compileStrPattern(pattern);
    assert.equal(pySub(p, parseTemplate(repl, p), text), expected, `${pattern} / ${repl}`);
  }
});

test('bad templates fail with Python messages', () => {
  const p = compileStrPattern('(a)(?P<n>b)?');
  const cases: Array<[string, string]> = [
    ['\\3', 'invalid group reference 3 at position 1'],
    ['\\x', 'bad escape \\x at position 0'],
    ['\\g<m>', "unknown group name 'm'"],
    ['\\18', 'invalid group reference 18 at position 1'],
    ['\\', 'bad escape (end of pattern) at position 0'],
    ['\\g<1', 'missing >, unterminated name at position 3'],
    ['\\g', 'missing < at position 2'],
  ];
  for (const [t, msg] of cases) assert.throws(() => parseTemplate(t, p), { message: msg }, t);
});

test('spec parsing: separators, filters and errors', () => {
  const s = parseMapRemoteSpec('|~u foo|a|b|c');
  assert.equal(pySub(s.subject, s.replacement, 'xa'), 'xb|c', 'the replacement keeps further separators');
  assert.throws(() => parseMapRemoteSpec('/only-one'), { message: 'Invalid number of parameters (2 or 3 are expected)' });
  assert.throws(() => parseMapRemoteSpec(''), { message: 'Empty specification' });
  const emoji = parseMapRemoteSpec('😀a😀b');
  assert.equal(pySub(emoji.subject, emoji.replacement, 'xax'), 'xbx', 'a separator outside the BMP is one character');
  assert.throws(() => parseMapRemoteSpec('/~q(/a/b'), /filter/i);
  assert.throws(() => parseMapRemoteSpec('/(/x'), { message: "Invalid regular expression '(' (missing ), unterminated subpattern at position 0)" });
  assert.throws(() => parseMapRemoteSpec('/a/\\1'), { message: "Invalid replacement '\\\\1' (invalid group reference 1 at position 1)" });
});

test('configure rejects bad specs with the option in the message and keeps the old value', async () => {
  const m = await addonMaster([new MapRemote()], { map_remote: [':example.com:example.org'] });
  await assert.rejects(m.options.update({ map_remote: ['/x'] }), { name: 'OptionsError', message: 'Cannot parse map_remote option /x: Invalid number of parameters (2 or 3 are expected)' });
  assert.deepEqual(m.options.get('map_remote'), [':example.com:example.org']);
});

test('request: rewrites pretty_url of matching live flows only', async () => {
  const a = new MapRemote();
  await addonMaster([a], { map_remote: ['|~m POST|example\\.com|example.org', '|//([^/]+)/img/|//cdn.\\1/i/'] });
  const get = makeFlow({ url: 'http://example.com/img/a.png' });
  await a.request(get);
  assert.equal(get.request.url, 'http://cdn.example.com/i/a.png', 'unfiltered rule applies');
  assert.equal(get.request.headers.get('host'), 'cdn.example.com', 'Host follows the URL');
  const post = makeFlow({ method: 'POST', url: 'http://example.com/api' });
  await a.request(post);
  assert.equal(post.request.url, 'http://example.org/api');
  const untouched = makeFlow({ url: 'http://other.com/api' });
  untouched.request.headers.set('host', 'other.com');
  const before = untouched.request.headers.fields.map((f) => [...f]);
  await a.request(untouched);
  assert.deepEqual(untouched.request.headers.fields, before, 'no change, no header rewrite');
  const answered = makeFlow({ url: 'http://example.com/img/x', response: {} });
  await a.request(answered);
  assert.equal(answered.request.host, 'example.com', 'flows with a response are skipped');
  const dead = makeFlow({ url: 'http://example.com/img/x', live: false });
  await a.request(dead);
  assert.equal(dead.request.host, 'example.com', 'flows that are not live are skipped');
});

test('map_remote through a real proxy sends the request to the other server', async (t) => {
  const a = await echoServer(t);
  const b = await echoServer(t);
  const proxy = await testProxy(t, {
    options: { map_remote: [`|~u /old/|127\\.0\\.0\\.1:${a.port}/old/|127.0.0.1:${b.port}/new/`] },
  });
  const seen: string[] = [];
  b.server.on('request', (req) => seen.push(req.url!));
  const r = await curl(['-x', proxy.url, `${a.url}/old/thing?q=1`]);
  assert.equal(r.status, 200);
  const echoed = JSON.parse(r.stdout);
  assert.equal(echoed.url, '/new/thing?q=1');
  assert.deepEqual(seen, ['/new/thing?q=1'], 'server B answered');
  const hostIdx = (echoed.rawHeaders as string[]).findIndex((h) => h.toLowerCase() === 'host');
  assert.equal(echoed.rawHeaders[hostIdx + 1], `127.0.0.1:${b.port}`);
});
