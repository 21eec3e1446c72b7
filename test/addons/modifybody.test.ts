import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, gunzipSync } from 'node:zlib';
import { ModifyBody, parseModifyBodySpec } from '../../src/addons/modifybody.js';
import { addonMaster, logged, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer, httpServer } from '../helpers/servers.js';

test('bytes regex substitution with DOTALL, literal replacements (as CPython computes it)', async () => {
  // [pattern, replacement, body, expected] — expected bodies from CPython 3.11 re.sub on escape-decoded bytes.
  const cases: Array<[string, string, Buffer, Buffer]> = [
    ['foo', 'bar', Buffer.from('foo foo'), Buffer.from('bar bar')],
    ['a.b', 'X', Buffer.from('a\nb'), Buffer.from('X')],
    ['\\xff+', 'Y', Buffer.from([0xff, 0xff, 0x7a]), Buffer.from('Yz')],
    ['(\\d)', '\\1', Buffer.from('a1'), Buffer.from([0x61, 0x01])],
    ['café', 'tea', Buffer.from('café'), Buffer.from('tea')],
    ['^', '>', Buffer.from('x\ny'), Buffer.from('>x\ny')],
    ['\\\\n', 'N', Buffer.from('a\\nb'), Buffer.from('a\\nb')],
    ['[\\x80-\\xff]', '?', Buffer.from('é'), Buffer.from('??')],
  ];
  for (const [pattern, repl, body, expected] of cases) {
    const mb = new ModifyBody();
    await addonMaster([mb], { modify_body: [`|${pattern}|${repl}`] });
    const f = makeFlow({ method: 'POST', body });
    await mb.request(f);
    assert.deepEqual(f.request.content, expected, pattern);
  }
});

test('configure errors name the option and the regex (bytes repr)', async () => {
  const m = await addonMaster([new ModifyBody()]);
  await assert.rejects(m.options.update({ modify_body: ['/[/two'] }), { message: "Cannot parse modify_body option /[/two: Invalid regular expression b'[' (unterminated character set at position 0)" });
  assert.throws(() => parseModifyBodySpec('/x'), /Invalid number of parameters/);
});

test('request before a response exists, response afterwards; skipped when not live or errored', async () => {
  const mb = new ModifyBody();
  await addonMaster([mb], { modify_body: ['/~q/foo/bar', '/~s/foo/baz'] });
  const f = makeFlow({ method: 'POST', body: 'foo' });
  await mb.request(f);
  assert.equal(f.request.text, 'bar');
  assert.equal(f.request.headers.get('content-length'), '3');
  const g = makeFlow({ body: 'foo', response: { body: 'foo foo' } });
  await mb.response(g);
  assert.equal(g.response!.text, 'baz baz');
  assert.equal(g.request.text, 'foo', 'the request is not touched in response');
  const answered = makeFlow({ method: 'POST', body: 'foo', response: { body: 'foo' } });
  await mb.request(answered);
  assert.equal(answered.request.text, 'foo', 'request hook skips flows that already have a response');
  const dead = makeFlow({ response: { body: 'foo' }, live: false });
  await mb.response(dead);
  assert.equal(dead.response!.text, 'foo');
});

test('works on decoded content and encodes it again', async () => {
  const mb = new ModifyBody();
  await addonMaster([mb], { modify_body: ['/~s/hello/bye'] });
  const f = makeFlow({ response: {} });
  f.response!.headers.set('content-encoding', 'gzip');
  f.response!.rawContent = gzipSync('hello world');
  await mb.response(f);
  assert.equal(f.response!.headers.get('content-encoding'), 'gzip');
  assert.equal(gunzipSync(f.response!.rawContent!).toString(), 'bye world');
});

test('undecodable bodies and missing files are warnings, not crashes', async () => {
  const mb = new ModifyBody();
  const m = await addonMaster([mb], { modify_body: ['/~s/a/b'] });
  const f = makeFlow({ response: {} });
  f.response!.headers.set('content-encoding', 'gzip');
  f.response!.rawContent = Buffer.from('not gzip');
  await mb.response(f);
  assert.equal(f.response!.rawContent!.toString(), 'not gzip');
  assert.ok(logged(m.logs, 'warn').some((l) => l.startsWith('modify_body: cannot decode the body')));
});

test('modify_body together with stream_large_bodies raises an alert', async () => {
  const { ProxyServer } = await import('../../src/addons/proxyserver.js');
  const m = await addonMaster([new ProxyServer(), new ModifyBody()], { modify_body: ['/a/b'], stream_large_bodies: '1m', server: false });
  assert.ok(logged(m.logs, 'alert').includes('Both modify_body and stream_large_bodies are active. Streamed bodies will not be modified.'));
});

test('modify_body through a real proxy: request and gzip response', async (t) => {
  const echo = await echoServer(t);
  const gz = await httpServer(t, (_req, res) => {
    const body = gzipSync('<p>secret token</p>');
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Encoding': 'gzip', 'Content-Length': body.length });
    res.end(body);
  });
  const proxy = await testProxy(t, { options: { modify_body: ['|~q|password=\\w+|password=***', '|~s & ~t html|secret|public'] } });
  const r1 = await curl(['-x', proxy.url, '-d', 'user=a&password=hunter2', `${echo.url}/login`]);
  assert.equal(JSON.parse(r1.stdout).body, 'user=a&password=***');
  const r2 = await curl(['-x', proxy.url, '--compressed', `${gz.url}/page`]);
  assert.equal(r2.stdout, '<p>public token</p>');
});
