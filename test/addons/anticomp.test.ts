import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AntiComp } from '../../src/addons/anticomp.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

test('anticomp sets accept-encoding: identity only when on', async () => {
  const a = new AntiComp();
  const m = await addonMaster([a]);
  const f1 = makeFlow({ headers: { 'Accept-Encoding': 'gzip, br' } });
  a.request(f1);
  assert.equal(f1.request.headers.get('accept-encoding'), 'gzip, br');
  await m.options.update({ anticomp: true });
  const f2 = makeFlow({ headers: { 'Accept-Encoding': 'gzip, br' } });
  a.request(f2);
  assert.equal(f2.request.headers.get('accept-encoding'), 'identity');
  const f3 = makeFlow();
  a.request(f3);
  assert.equal(f3.request.headers.get('accept-encoding'), 'identity', 'added when absent');
});

test('anticomp through a real proxy', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { anticomp: true } });
  const r = await curl(['-x', proxy.url, '-H', 'Accept-Encoding: gzip', `${up.url}/a`]);
  const raw = JSON.parse(r.stdout).rawHeaders as string[];
  const i = raw.findIndex((h) => h.toLowerCase() === 'accept-encoding');
  assert.equal(raw[i + 1], 'identity');
});
