import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AntiCache } from '../../src/addons/anticache.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

const conditional = { 'If-Modified-Since': 'Sun, 06 Nov 1994 08:49:37 GMT', 'If-None-Match': '"abc"', Accept: '*/*' };

test('anticache is off by default and strips the conditional headers when on', async () => {
  const a = new AntiCache();
  const m = await addonMaster([a]);
  assert.equal(m.options.get('anticache'), false);
  const f1 = makeFlow({ headers: conditional });
  a.request(f1);
  assert.equal(f1.request.headers.get('if-none-match'), '"abc"', 'untouched while off');
  await m.options.update({ anticache: true });
  const f2 = makeFlow({ headers: conditional });
  a.request(f2);
  assert.equal(f2.request.headers.has('if-modified-since'), false);
  assert.equal(f2.request.headers.has('if-none-match'), false);
  assert.equal(f2.request.headers.get('accept'), '*/*', 'other headers stay');
});

test('anticache through a real proxy: the upstream never sees If-None-Match', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { anticache: true } });
  const r = await curl(['-x', proxy.url, '-H', 'If-None-Match: "x"', '-H', 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT', `${up.url}/a`]);
  assert.equal(r.status, 200);
  const names = (JSON.parse(r.stdout).rawHeaders as string[]).filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
  assert.ok(!names.includes('if-none-match') && !names.includes('if-modified-since'), names.join(','));
  assert.ok(names.includes('host'));
});
