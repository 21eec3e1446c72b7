import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MapLocal, fileCandidates, parseMapLocalSpec, type MapLocalSpec } from '../../src/addons/maplocal.js';
import { compileStrPattern } from '../../src/addons/util/pyre.js';
import { MATCH_ALL, splitSpec } from '../../src/addons/util/spec.js';
import { SERVER_HEADER } from '../../src/version.js';
import { addonMaster, logged, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), 'maplocal-')));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('file candidates as mitmproxy computes them', () => {
  // Cases from mitmproxy's own test suite (test_maplocal.py), POSIX results.
  const cases: Array<[string, string, string[]]> = [
    ['https://example.com/foo', ':example.com/foo:/tmp', ['/tmp/index.html']],
    ['https://example.com/foo/', ':example.com/foo:/tmp', ['/tmp/index.html']],
    ['https://example.com/foo', ':example.com/foo:/tmp/', ['/tmp/index.html']],
    ['http://example.com/foo/bar.jpg', ':example.com/foo:/tmp', ['/tmp/bar.jpg', '/tmp/bar.jpg/index.html']],
    ['https://example.com/foo/bar.jpg?query', ':example.com/foo:/tmp', ['/tmp/bar.jpg', '/tmp/bar.jpg/index.html']],
    ['https://example.com/foo/bar/baz.jpg', ':example.com/foo:/tmp', ['/tmp/bar/baz.jpg', '/tmp/bar/baz.jpg/index.html']],
    ['https://example.com/foo/bar.jpg', ':/foo/bar.jpg:/tmp', ['/tmp/index.html']],
    ['http://example.com/foo%20bar.jpg', ':example.com:/tmp', ['/tmp/foo bar.jpg', '/tmp/foo bar.jpg/index.html', '/tmp/foo_bar.jpg', '/tmp/foo_bar.jpg/index.html']],
    ['http://example.com/fóobår.jpg', ':example.com:/tmp', ['/tmp/fóobår.jpg', '/tmp/fóobår.jpg/index.html', '/tmp/f_ob_r.jpg', '/tmp/f_ob_r.jpg/index.html']],
    ['https://example.com/foo/bar/', ':example.com/foo:/tmp', ['/tmp/bar', '/tmp/bar/index.html']],
    ['https://example/view.php?f=foo.jpg', ':example/view.php\\?f=(.+):/tmp', ['/tmp/foo.jpg', '/tmp/foo.jpg/index.html']],
    [
      'https://example/results?id=1&foo=2',
      ':example/(results\\?id=.+):/tmp',
      ['/tmp/results?id=1&foo=2', '/tmp/results?id=1&foo=2/index.html', '/tmp/results_id=1_foo=2', '/tmp/results_id=1_foo=2/index.html'],
    ],
    ['https://example.com/../../../../../../etc/passwd', ':example.com:/tmp', []],
    ['https://example.com/C:\\foo.txt', ':example.com:/tmp', ['/tmp/C:\\foo.txt', '/tmp/C:\\foo.txt/index.html', '/tmp/C__foo.txt', '/tmp/C__foo.txt/index.html']],
    ['https://example.com//etc/passwd', ':example.com:/tmp', ['/tmp/etc/passwd', '/tmp/etc/passwd/index.html']],
  ];
  for (const [url, spec, expected] of cases) {
    const [regex, path] = splitSpec(spec) as [string, string];
    const s: MapLocalSpec = { filter: MATCH_ALL, regex: compileStrPattern(regex), localPath: path.replace(/\/$/, '') };
    assert.deepEqual(fileCandidates(url, s), expected, `${url} ${spec}`);
  }
});

test('a request URL with a long run of slashes inside is mapped in linear time', () => {
  // The suffix was trimmed with /^\/+|\/+$/g, which tries its end pattern at every slash of the
  // run: 60 000 slashes took 1.4 s, with the proxy stalled, and the time grows with the square.
  const [regex, path] = splitSpec(':example.com:/tmp') as [string, string];
  const s: MapLocalSpec = { filter: MATCH_ALL, regex: compileStrPattern(regex), localPath: path };
  const start = performance.now();
  const got = fileCandidates(`https://example.com/a${'/'.repeat(200_000)}b/`, s);
  assert.ok(performance.now() - start < 3000, `${(performance.now() - start).toFixed(0)} ms`);
  assert.equal(got[0], join('/tmp', `a${'/'.repeat(200_000)}b`));
});

test('configure: bad regex and missing paths are refused', async (t) => {
  const dir = tempDir(t);
  const m = await addonMaster([new MapLocal()], { map_local: [`/foo/bar/${dir}`] });
  await assert.rejects(m.options.update({ map_local: [`/foo/+/${dir}`] }), /Cannot parse map_local option \/foo\/\+\/.*: Invalid regular expression '\+' \(nothing to repeat at position 0\)/);
  await assert.rejects(m.options.update({ map_local: ['/foo/.+/three'] }), { message: "Cannot parse map_local option /foo/.+/three: Invalid file path: three ([Errno 2] No such file or directory: 'three')" });
  assert.equal(parseMapLocalSpec(`|x|${dir}/`).localPath, dir);
});

test('serves files, directories with index.html, and 404 when no candidate exists', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'foo.jpg'), 'foo');
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'images', 'bar.css'), 'body{}');
  writeFileSync(join(dir, 'index.html'), '<h1>root</h1>');
  const ml = new MapLocal();
  const m = await addonMaster([ml], { map_local: [`|//example.org/images|${dir}`] });

  const f1 = makeFlow({ url: 'https://example.org/images/foo.jpg' });
  await ml.request(f1);
  assert.equal(f1.response?.statusCode, 200);
  assert.equal(f1.response!.text, 'foo');
  assert.equal(f1.response!.headers.get('content-type'), 'image/jpeg');
  assert.equal(f1.response!.headers.get('server'), SERVER_HEADER);

  await m.options.update({ map_local: [`|//example.org|${dir}`] });
  const f2 = makeFlow({ url: 'https://example.org/images/bar.css?v=2' });
  await ml.request(f2);
  assert.equal(f2.response!.text, 'body{}');
  assert.equal(f2.response!.headers.get('content-type'), 'text/css');
  const f3 = makeFlow({ url: 'https://example.org/' });
  await ml.request(f3);
  assert.equal(f3.response!.text, '<h1>root</h1>', 'the directory index');

  await m.options.update({ map_local: [`|example.org/foo/foo/bar.jpg|${join(dir, 'foo.jpg')}`] });
  const f4 = makeFlow({ url: 'https://example.org/foo/foo/bar.jpg' });
  await ml.request(f4);
  assert.equal(f4.response!.text, 'foo', 'a file spec serves that file');

  await m.options.update({ map_local: [`|example.org/css|${dir}`] });
  const f5 = makeFlow({ url: 'https://example.org/css/nonexistent' });
  await ml.request(f5);
  assert.equal(f5.response!.statusCode, 404);
  assert.equal(f5.response!.headers.has('server'), false);
  assert.ok(logged(m.logs, 'info').some((l) => l.startsWith('None of the local file candidates exist: ')));

  const f6 = makeFlow({ url: 'https://other.org/css/x' });
  await ml.request(f6);
  assert.equal(f6.response, null, 'no matching rule: untouched');
  const f7 = makeFlow({ url: 'https://example.org/css/../../etc/passwd' });
  await ml.request(f7);
  assert.equal(f7.response, null, 'traversal attempts have no candidates (and get no 404)');
});

test('the first matching rule with an existing file wins; filters apply', async (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  writeFileSync(join(b, 'x.txt'), 'from b');
  writeFileSync(join(a, 'y.txt'), 'from a');
  const ml = new MapLocal();
  await addonMaster([ml], { map_local: [`|~m POST|example|${a}`, `|example.com|${a}`, `|example.com|${b}`] });
  const f = makeFlow({ url: 'http://example.com/x.txt' });
  await ml.request(f);
  assert.equal(f.response!.text, 'from b');
  const g = makeFlow({ url: 'http://example.com/y.txt' });
  await ml.request(g);
  assert.equal(g.response!.text, 'from a');
});

test('map_local through a real proxy answers without asking the server', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { map_local: [`|/static/|${dir}`] } });
  const r = await curl(['-x', proxy.url, '-i', `${up.url}/static/app.js`]);
  assert.equal(r.status, 200);
  assert.match(r.stdout, /content-type: text\/javascript/i);
  assert.ok(r.stdout.endsWith('console.log(1)'));
  assert.equal(up.connections, 0, 'the upstream was never contacted');
  const miss = await curl(['-x', proxy.url, `${up.url}/static/none.js`]);
  assert.equal(miss.status, 404);
  const other = await curl(['-x', proxy.url, `${up.url}/api`]);
  assert.equal(JSON.parse(other.stdout).url, '/api', 'other URLs go upstream');
});
