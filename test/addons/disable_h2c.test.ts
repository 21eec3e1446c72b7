import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisableH2C } from '../../src/addons/disable_h2c.js';
import { addonMaster, logged, makeFlow } from './helpers.js';

test('h2c upgrade headers are removed with a warning', async () => {
  const a = new DisableH2C();
  const m = await addonMaster([a]);
  const f = makeFlow({ headers: { Upgrade: 'h2c', Connection: 'Upgrade, HTTP2-Settings', 'HTTP2-Settings': 'AAMAAABkAAQAAP__', Accept: '*/*' } });
  a.request(f);
  for (const h of ['upgrade', 'connection', 'http2-settings']) assert.equal(f.request.headers.has(h), false, h);
  assert.equal(f.request.headers.get('accept'), '*/*');
  assert.deepEqual(logged(m.logs, 'warn'), ['HTTP/2 cleartext connections (h2c upgrade requests) are currently not supported.']);
});

test('other upgrades are left alone', async () => {
  const a = new DisableH2C();
  await addonMaster([a]);
  const f = makeFlow({ headers: { Upgrade: 'websocket', Connection: 'Upgrade' } });
  a.request(f);
  assert.equal(f.request.headers.get('upgrade'), 'websocket');
  assert.equal(f.request.headers.get('connection'), 'Upgrade');
});

test('an HTTP/2 prior-knowledge preface is killed', async () => {
  const a = new DisableH2C();
  const m = await addonMaster([a]);
  const f = makeFlow({ method: 'PRI' });
  f.request.path = '*';
  f.request.httpVersion = 'HTTP/2.0';
  a.request(f);
  assert.equal(f.killed, true);
  assert.equal(f.error?.msg, 'Connection killed.');
  assert.deepEqual(logged(m.logs, 'warn'), ['Initiating HTTP/2 connections with prior knowledge are currently not supported.']);
});
