import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModifyHeaders } from '../../src/addons/modifyheaders.js';
import { parseModifySpec, readReplacementSync } from '../../src/addons/util/modifyspec.js';
import { escapedStrToBytes } from '../../src/addons/util/pyescape.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

test('escapedStrToBytes is Python codecs.escape_decode', () => {
  // Expected bytes produced with CPython 3.11's codecs.escape_decode.
  const cases: Array<[string, number[]]> = [
    ['a\\x41b', [0x61, 0x41, 0x62]],
    ['é', [0xc3, 0xa9]],
    ['\\q', [0x5c, 0x71]],
    ['\\012', [0x0a]],
    ['\\777', [0xff]],
    ['x\\\ny', [0x78, 0x79]],
    ['\\0', [0]],
    ['\\08', [0, 0x38]],
    ['\\n\\t\\r\\\\', [0x0a, 0x09, 0x0d, 0x5c]],
  ];
  for (const [input, bytes] of cases) assert.deepEqual([...escapedStrToBytes(input)], bytes, input);
  assert.throws(() => escapedStrToBytes('\\x4'), { message: 'invalid \\x escape at position 0' });
  assert.throws(() => escapedStrToBytes('ab\\'), { message: 'Trailing \\ in string' });
});

test('modify specs: parts, escapes and @files', (t) => {
  const s1 = parseModifySpec('/foo/bar/voing');
  assert.equal(s1.subject.toString(), 'bar');
  assert.equal(readReplacementSync(s1).toString(), 'voing');
  const s2 = parseModifySpec('/foo/bar/vo/ing/');
  assert.equal(readReplacementSync(s2).toString(), 'vo/ing/');
  const s3 = parseModifySpec('/bar/voing');
  assert.equal(s3.filter.match(makeFlow()), true, 'no filter matches everything');
  const dir = mkdtempSync(join(tmpdir(), 'modhdr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'v'), 'from-file');
  assert.equal(readReplacementSync(parseModifySpec(`|x|@${join(dir, 'v')}`)).toString(), 'from-file');
  assert.throws(() => parseModifySpec(`|x|@${join(dir, 'missing')}`), { message: `Invalid file path: ${join(dir, 'missing')} ([Errno 2] No such file or directory: '${join(dir, 'missing')}')` });
  assert.throws(() => parseModifySpec('/x/\\x1'), { message: 'invalid \\x escape at position 0' });
});

test('set, replace, add several and remove headers like mitmproxy', async () => {
  const mh = new ModifyHeaders();
  const m = await addonMaster([mh], { modify_headers: ['/~q/one/two', '/~s/one/three'] });
  await assert.rejects(m.options.update({ modify_headers: ['/'] }), /Cannot parse modify_headers option \/: Invalid number of parameters/);

  const f1 = makeFlow({ headers: { one: 'xxx' } });
  await mh.requestheaders(f1);
  assert.deepEqual(f1.request.headers.getAll('one'), ['two']);
  const f2 = makeFlow({ response: { headers: { one: 'xxx' } } });
  await mh.responseheaders(f2);
  assert.deepEqual(f2.response!.headers.getAll('one'), ['three']);

  await m.options.update({ modify_headers: ['/~s/one/two', '/~s/one/three'] });
  const f3 = makeFlow({ headers: { one: 'xxx' }, response: { headers: { one: 'xxx' } } });
  await mh.responseheaders(f3);
  assert.deepEqual(f3.response!.headers.getAll('one'), ['two', 'three']);

  await m.options.update({ modify_headers: ['/~q/one/', '/~s/one/'] });
  const f4 = makeFlow({ headers: { One: 'xxx', Other: 'y' } });
  await mh.requestheaders(f4);
  assert.equal(f4.request.headers.has('one'), false, 'an empty value removes');
  assert.equal(f4.request.headers.get('other'), 'y');

  // All filters are evaluated before anything changes (mitmproxy issue 4245).
  await m.options.update({ modify_headers: ['/~hq ^user-agent:.+Mozilla.+$/user-agent/Definitely not Mozilla ;)'] });
  const f5 = makeFlow({ headers: { 'user-agent': "Hello, it's me, Mozilla" } });
  await mh.requestheaders(f5);
  assert.equal(f5.request.headers.get('user-agent'), 'Definitely not Mozilla ;)');
});

test('flows that are answered, killed or not live are left alone', async () => {
  const mh = new ModifyHeaders();
  await addonMaster([mh], { modify_headers: ['/x-set/42'] });
  const answered = makeFlow({ response: {} });
  await mh.requestheaders(answered);
  assert.equal(answered.request.headers.has('x-set'), false);
  const killed = makeFlow({ response: {} });
  killed.kill();
  await mh.responseheaders(killed);
  assert.equal(killed.response!.headers.has('x-set'), false);
  const dead = makeFlow({ live: false });
  await mh.requestheaders(dead);
  assert.equal(dead.request.headers.has('x-set'), false);
  const ok = makeFlow({ response: {} });
  await mh.responseheaders(ok);
  assert.equal(ok.response!.headers.get('x-set'), '42');
});

test('header values from a file are re-read on every use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modhdr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'one');
  const mh = new ModifyHeaders();
  const m = await addonMaster([mh], { modify_headers: [`|x-token|@${file}`] });
  const f1 = makeFlow();
  await mh.requestheaders(f1);
  assert.equal(f1.request.headers.get('x-token'), 'one');
  writeFileSync(file, 'two');
  const f2 = makeFlow();
  await mh.requestheaders(f2);
  assert.equal(f2.request.headers.get('x-token'), 'two');
  rmSync(file);
  const f3 = makeFlow();
  await mh.requestheaders(f3);
  assert.equal(f3.request.headers.has('x-token'), false);
  assert.ok(m.logs.some((e) => e.level === 'warn' && e.message.startsWith('Could not read replacement file: ')));
});

test('a header value file ending in a line break (as editors write it) is used without it; one with a break inside is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modhdr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'fromfile\r\n');
  const mh = new ModifyHeaders();
  const m = await addonMaster([mh], { modify_headers: [`|x-file|@${file}`] });
  const f1 = makeFlow();
  await mh.requestheaders(f1);
  assert.equal(f1.request.headers.get('x-file'), 'fromfile');
  writeFileSync(file, 'two\nlines\n');
  const f2 = makeFlow();
  await mh.requestheaders(f2);
  assert.equal(f2.request.headers.has('x-file'), false);
  assert.ok(m.logs.some((e) => e.level === 'warn' && e.message === 'Could not read replacement file: the header value has a line break inside'));
});

test('modify_headers through a real proxy, both directions', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, {
    options: { modify_headers: ['/~q/User-Agent/mitm-agent', '/~q/X-Remove/', '/~s/X-Added/yes', '/~s/Content-Type/text/x-json'] },
  });
  const r = await curl(['-x', proxy.url, '-i', '-A', 'curl/1', '-H', 'X-Remove: 1', `${up.url}/h`]);
  const [head, body] = r.stdout.split('\r\n\r\n');
  const raw = JSON.parse(body!).rawHeaders as string[];
  const sent = new Map<string, string>();
  for (let i = 0; i < raw.length; i += 2) sent.set(raw[i]!.toLowerCase(), raw[i + 1]!);
  assert.equal(sent.get('user-agent'), 'mitm-agent');
  assert.equal(sent.has('x-remove'), false);
  assert.match(head!, /\r\nX-Added: yes(\r\n|$)/);
  assert.match(head!, /\r\nContent-Type: text\/x-json(\r\n|$)/);
  assert.doesNotMatch(head!, /application\/json/);
});
