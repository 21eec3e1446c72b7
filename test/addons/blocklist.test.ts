import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, parseBlockSpec } from '../../src/addons/blocklist.js';
import { SERVER_HEADER } from '../../src/version.js';
import { addonMaster, makeFlow } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl, rawRequest } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import type { HTTPFlow } from '../../src/http.js';

test('block specs: "/filter/status" with any separator', () => {
  assert.equal(parseBlockSpec('/~u foo/404').statusCode, 404);
  assert.equal(parseBlockSpec('|~u /a/b|444').statusCode, 444, 'the separator may be any character');
  assert.equal(parseBlockSpec(':~q: 200 ').statusCode, 200, 'int() accepts surrounding spaces');
  assert.throws(() => parseBlockSpec('/~u foo'), { message: 'Invalid number of parameters (2 are expected)' });
  assert.throws(() => parseBlockSpec('/~u foo/200/x'), { message: 'Invalid number of parameters (2 are expected)' });
  assert.throws(() => parseBlockSpec('/~u foo/abc'), { message: 'Invalid HTTP status code: abc' });
  assert.throws(() => parseBlockSpec('/~x/404'), /filter/i);
});

test('configure reports the bad option', async () => {
  const m = await addonMaster([new BlockList()]);
  await assert.rejects(m.options.update({ block_list: ['/~u foo/abc'] }), { name: 'OptionsError', message: 'Cannot parse block_list option /~u foo/abc: Invalid HTTP status code: abc' });
});

test('matching live flows get an empty response or are killed (444)', async () => {
  const bl = new BlockList();
  await addonMaster([bl], { block_list: ['/~u ads/403', '/~u tracker/444', '/~u teapot/418'] });
  const ad = makeFlow({ url: 'http://example.com/ads/1' });
  bl.request(ad);
  assert.equal(ad.response?.statusCode, 403);
  const teapot = makeFlow({ url: 'http://example.com/teapot' });
  bl.request(teapot);
  assert.equal(teapot.response!.reason, "I'm a teapot", "mitmproxy's reason phrase, not node's \"I'm a Teapot\"");
  assert.equal(ad.response!.rawContent!.length, 0);
  assert.equal(ad.response!.headers.get('server'), 'mitmproxy 13.0.0.dev');
  assert.equal(ad.metadata['blocklisted'], true);
  const tr = makeFlow({ url: 'http://example.com/tracker' });
  bl.request(tr);
  assert.equal(tr.killed, true);
  assert.equal(tr.response, null);
  assert.equal(tr.metadata['blocklisted'], true);
  const ok = makeFlow({ url: 'http://example.com/page' });
  bl.request(ok);
  assert.equal(ok.response, null);
  assert.equal('blocklisted' in ok.metadata, false);
  for (const f of [makeFlow({ url: 'http://x/ads', live: false }), makeFlow({ url: 'http://x/ads', response: { status: 200 } })]) {
    bl.request(f);
    assert.notEqual(f.response?.statusCode, 403, 'not live or already answered: skipped');
  }
});

test('block_list through a real proxy', async (t) => {
  const up = await echoServer(t);
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, { addons: [{ name: 'rec', error: (f: HTTPFlow) => void errors.push(f) }], options: { block_list: ['/~u blocked/404', '/~u dropped/444'] } });
  const r = await curl(['-x', proxy.url, '-i', `${up.url}/blocked/x`]);
  assert.equal(r.status, 404);
  assert.match(r.stdout, new RegExp(`\\r\\nServer: ${SERVER_HEADER.replace(/\./g, '\\.')}\\r\\n`, 'i'));
  assert.equal(up.connections, 0, 'nothing reached the server');
  const raw = await rawRequest(proxy.port, `GET ${up.url}/dropped HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`);
  assert.equal(raw.length, 0, '444 closes the connection without a response');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.error?.msg, 'Connection killed.');
  const fine = await curl(['-x', proxy.url, `${up.url}/fine`]);
  assert.equal(fine.status, 200);
});
