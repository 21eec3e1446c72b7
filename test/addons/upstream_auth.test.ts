import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamAuth, parseUpstreamAuth } from '../../src/addons/upstream_auth.js';
import { addonMaster, makeFlow } from './helpers.js';

const BASIC = 'Basic ' + Buffer.from('user:pass').toString('base64');

test('parseUpstreamAuth needs "user:"', () => {
  assert.equal(parseUpstreamAuth('user:pass'), BASIC);
  assert.equal(parseUpstreamAuth('user:'), 'Basic ' + Buffer.from('user:').toString('base64'));
  assert.equal(parseUpstreamAuth('ü:x'), 'Basic ' + Buffer.from('ü:x', 'utf8').toString('base64'));
  for (const bad of ['', 'user', ':pass']) assert.throws(() => parseUpstreamAuth(bad), { name: 'OptionsError', message: `Invalid upstream auth specification: ${bad}` });
});

test('an invalid upstream_auth is refused and rolled back', async () => {
  const m = await addonMaster([new UpstreamAuth()]);
  await assert.rejects(m.options.update({ upstream_auth: 'nocolon' }), /Invalid upstream auth specification: nocolon/);
  assert.equal(m.options.get('upstream_auth'), null);
});

test('headers per mode: upstream (http only), reverse, CONNECT to an upstream proxy', async () => {
  const a = new UpstreamAuth();
  const m = await addonMaster([a], { upstream_auth: 'user:pass' });
  const upstream = makeFlow({ mode: 'upstream:http://proxy:3128' });
  a.requestheaders(upstream);
  assert.equal(upstream.request.headers.get('proxy-authorization'), BASIC);
  const tunnelled = makeFlow({ mode: 'upstream:http://proxy:3128', url: 'https://example.com/' });
  a.requestheaders(tunnelled);
  assert.equal(tunnelled.request.headers.has('proxy-authorization'), false, 'requests inside a tunnel are not touched');
  const reverse = makeFlow({ mode: 'reverse:https://example.com' });
  a.requestheaders(reverse);
  assert.equal(reverse.request.headers.get('authorization'), BASIC);
  assert.equal(reverse.request.headers.has('proxy-authorization'), false);
  const regular = makeFlow({ mode: 'regular' });
  a.requestheaders(regular);
  assert.equal(regular.request.headers.has('authorization') || regular.request.headers.has('proxy-authorization'), false);
  const connect = makeFlow({ method: 'CONNECT' });
  a.http_connect_upstream(connect);
  assert.equal(connect.request.headers.get('proxy-authorization'), BASIC);
  await m.options.update({ upstream_auth: null });
  const after = makeFlow({ mode: 'reverse:https://example.com' });
  a.requestheaders(after);
  assert.equal(after.request.headers.has('authorization'), false, 'off again');
});
