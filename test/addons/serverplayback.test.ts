import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerPlayback, refreshResponse } from '../../src/addons/serverplayback.js';
import { writeFlowsToFile } from '../../src/io/flowwriter.js';
import type { HTTPFlow } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import { addonMaster, logged, makeFlow, type FlowInit } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer } from '../helpers/servers.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'serverplayback-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A saved flow (not live) with a response. */
function saved(init: FlowInit & { respBody?: string } = {}): HTTPFlow {
  return makeFlow({ ...init, live: false, response: init.response ?? { status: 200, body: init.respBody ?? 'saved' } });
}

test('match keys: what counts, and the ignore_* / use_headers options', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp]);
  const key = (init: FlowInit) => sp.matchKey(makeFlow(init));
  const base: FlowInit = { method: 'POST', url: 'http://example.com:8080/path?a=1&b=2', body: 'x=1&y=2', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Tag': 'one' } };
  const k = key(base);
  assert.equal(key(base), k, 'deterministic');
  assert.equal(key({ ...base, url: 'http://example.com:8080/path;params?a=1&b=2' }), k, 'path params are not part of the path (urlparse)');
  assert.notEqual(key({ ...base, method: 'PUT' }), k);
  assert.notEqual(key({ ...base, url: 'https://example.com:8080/path?a=1&b=2' }), k);
  assert.notEqual(key({ ...base, url: 'http://example.com:8080/other?a=1&b=2' }), k);
  assert.notEqual(key({ ...base, body: 'x=1&y=3' }), k);
  assert.notEqual(key({ ...base, url: 'http://example.org:8080/path?a=1&b=2' }), k);
  assert.notEqual(key({ ...base, url: 'http://example.com:9090/path?a=1&b=2' }), k);
  assert.notEqual(key({ ...base, url: 'http://example.com:8080/path?a=1&b=3' }), k);
  assert.equal(key({ ...base, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Tag': 'two' } }), k, 'headers do not count by default');

  await m.options.update({ server_replay_ignore_content: true });
  assert.equal(key({ ...base, body: 'completely different' }), key(base));
  await m.options.update({ server_replay_ignore_content: false, server_replay_ignore_host: true, server_replay_ignore_port: true });
  assert.equal(key({ ...base, url: 'http://example.org:9090/path?a=1&b=2' }), key(base));
  await m.options.update({ server_replay_ignore_params: ['b'] });
  assert.equal(key({ ...base, url: 'http://example.com:8080/path?a=1&b=99' }), key(base));
  assert.notEqual(key({ ...base, url: 'http://example.com:8080/path?a=2&b=2' }), key(base));
  await m.options.update({ server_replay_ignore_payload_params: ['y'] });
  assert.equal(key({ ...base, body: 'x=1&y=999' }), key(base), 'ignored form field');
  assert.notEqual(key({ ...base, body: 'x=2&y=2' }), key(base));
  const boundary = 'XyZ';
  const multipart = (v: string): FlowInit => ({
    method: 'POST',
    url: 'http://example.com/upload',
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body: `--${boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--${boundary}\r\nContent-Disposition: form-data; name="y"\r\n\r\n${v}\r\n--${boundary}--\r\n`,
  });
  assert.equal(key(multipart('a')), key(multipart('b')), 'ignored multipart field');
  await m.options.update({ server_replay_use_headers: ['X-Tag'] });
  assert.notEqual(key({ ...base, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Tag': 'two' } }), key(base));
});

test('responses are used once (in order) unless server_replay_reuse', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp]);
  const noResponse = makeFlow({ url: 'http://example.com/a', live: false });
  await m.commands.call('replay.server', [saved({ url: 'http://example.com/a', respBody: 'one' }), noResponse, saved({ url: 'http://example.com/a', respBody: 'two' }), new TCPFlow()]);
  assert.equal(await m.commands.call('replay.server.count'), 3, 'HTTP flows only');
  const f1 = makeFlow({ url: 'http://example.com/a' });
  sp.request(f1);
  assert.equal(f1.response!.text, 'one');
  assert.equal(f1.isReplay, 'response');
  const f2 = makeFlow({ url: 'http://example.com/a' });
  sp.request(f2);
  assert.equal(f2.response!.text, 'two', 'a saved flow without response is skipped');
  assert.equal(await m.commands.call('replay.server.count'), 0);
  const f3 = makeFlow({ url: 'http://example.com/a' });
  sp.request(f3);
  assert.equal(f3.response, null, 'used up; the flow map is empty so everything goes upstream');

  await m.options.update({ server_replay_reuse: true });
  await m.commands.call('replay.server.add', [saved({ url: 'http://example.com/b', respBody: 'again' })]);
  for (let i = 0; i < 3; i++) {
    const f = makeFlow({ url: 'http://example.com/b' });
    sp.request(f);
    assert.equal(f.response!.text, 'again');
  }
  assert.equal(await m.commands.call('replay.server.count'), 1);
  const copy = makeFlow({ url: 'http://example.com/b' });
  sp.request(copy);
  copy.response!.statusCode = 500;
  const again = makeFlow({ url: 'http://example.com/b' });
  sp.request(again);
  assert.equal(again.response!.statusCode, 200, 'each answer is a copy');
  await m.commands.call('replay.server.stop');
  assert.equal(await m.commands.call('replay.server.count'), 0);
});

test('server_replay_nopop, the deprecated alias, reuses responses as server_replay_reuse does and says it was renamed', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp], { server_replay_nopop: true });
  assert.deepEqual(logged(m.logs, 'error'), ['server_replay_nopop has been renamed to server_replay_reuse, please update your config.']);
  await m.commands.call('replay.server', [saved({ url: 'http://example.com/n', respBody: 'kept' })]);
  for (let i = 0; i < 3; i++) {
    const f = makeFlow({ url: 'http://example.com/n' });
    sp.request(f);
    assert.equal(f.response!.text, 'kept');
  }
  assert.equal(await m.commands.call('replay.server.count'), 1);
});

test('server_replay_extra: forward, kill, or an empty status', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp]);
  await m.commands.call('replay.server', [saved({ url: 'http://example.com/known' })]);
  const fwd = makeFlow({ url: 'http://example.com/unknown' });
  sp.request(fwd);
  assert.equal(fwd.response, null);
  assert.equal(fwd.killed, false);
  await m.options.update({ server_replay_extra: 'kill' });
  const killed = makeFlow({ url: 'http://example.com/unknown' });
  sp.request(killed);
  assert.equal(killed.killed, true);
  assert.ok(logged(m.logs, 'warn').includes('server_playback: killed non-replay request http://example.com/unknown'));
  await m.options.update({ server_replay_extra: '404' });
  const nf = makeFlow({ url: 'http://example.com/unknown' });
  sp.request(nf);
  assert.equal(nf.response!.statusCode, 404);
  assert.equal(nf.isReplay, 'response');
  assert.ok(logged(m.logs, 'warn').includes('server_playback: returned 404 non-replay request http://example.com/unknown'));
  await assert.rejects(m.options.updateUnchecked({ server_replay_extra: '418' }), /Invalid value "418" for option server_replay_extra/);
  await m.options.update({ server_replay_extra: 'forward', server_replay_kill_extra: true });
  const legacy = makeFlow({ url: 'http://example.com/unknown' });
  sp.request(legacy);
  assert.equal(legacy.killed, true, 'the deprecated kill option still works');
  assert.ok(logged(m.logs, 'warn').some((l) => l.startsWith('server_replay_kill_extra has been deprecated')));
});

test('refresh moves dates and cookie expiry forward by the age of the response', () => {
  const f = saved({ response: { headers: [['Date', 'Sun, 06 Nov 1994 08:49:37 GMT'], ['Expires', 'invalid'], ['Set-Cookie', 'a=b; Expires=Sun, 06 Nov 1994 09:49:37 GMT; Path=/'], ['Set-Cookie', 'c=d'], ['Set-Cookie', '=broken']] } });
  const resp = f.response!;
  resp.timestampStart = 784111777; // the Date above
  refreshResponse(resp, 784111777 + 86400);
  assert.equal(resp.headers.get('date'), 'Mon, 07 Nov 1994 08:49:37 GMT');
  assert.equal(resp.headers.get('expires'), 'invalid', 'unreadable dates stay');
  assert.deepEqual(resp.headers.getAll('set-cookie'), ['a=b; Expires=Mon, 07 Nov 1994 09:49:37 GMT; Path=/', 'c=d', '=broken']);
});

test('replayed responses are refreshed unless server_replay_refresh is off', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp]);
  const old = saved({ response: { headers: { Date: 'Sun, 06 Nov 1994 08:49:37 GMT' } } });
  old.response!.timestampStart = 784111777;
  await m.commands.call('replay.server', [old]);
  const f = makeFlow();
  sp.request(f);
  const shifted = Date.parse(f.response!.headers.get('date')!) / 1000;
  assert.ok(Math.abs(shifted - Date.now() / 1000) < 60, f.response!.headers.get('date'));
  assert.equal(old.response!.headers.get('date'), 'Sun, 06 Nov 1994 08:49:37 GMT', 'the saved flow is not changed');
  await m.options.update({ server_replay_refresh: false, server_replay_reuse: true });
  await m.commands.call('replay.server', [old]);
  const g = makeFlow();
  sp.request(g);
  assert.equal(g.response!.headers.get('date'), 'Sun, 06 Nov 1994 08:49:37 GMT');
});

test('changing a matching option re-indexes the saved flows', async () => {
  const sp = new ServerPlayback();
  const m = await addonMaster([sp]);
  await m.commands.call('replay.server', [saved({ url: 'http://example.com/a?t=1' })]);
  const f = makeFlow({ url: 'http://example.com/a?t=2' });
  sp.request(f);
  assert.equal(f.response, null);
  await m.options.update({ server_replay_ignore_params: ['t'] });
  sp.request(f);
  assert.equal((f as HTTPFlow).response?.statusCode, 200);
});

test('server_replay files: loaded on configure, via command, errors reported', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'flows');
  writeFlowsToFile(file, [saved({ url: 'http://example.com/f', respBody: 'from file' })]);
  writeFileSync(join(dir, 'bad'), 'this is not a flow file');
  const sp = new ServerPlayback();
  const m = await addonMaster([sp], { server_replay: [file] });
  assert.equal(await m.commands.call('replay.server.count'), 1);
  await assert.rejects(m.options.update({ server_replay: [join(dir, 'bad')] }), { name: 'OptionsError' });
  await m.commands.call('replay.server.stop');
  await m.commands.call('replay.server.file', file);
  const f = makeFlow({ url: 'http://example.com/f' });
  sp.request(f);
  assert.equal(f.response!.text, 'from file');
  await assert.rejects(m.commands.call('replay.server.file', join(dir, 'missing')), { name: 'CommandError', message: 'No such file or directory' });
  await assert.rejects(m.options.update({ server_replay: [join(dir, 'missing')] }), { name: 'OptionsError', message: 'No such file or directory' }, 'the OS reason alone, as mitmproxy');
});

test('server replay through a real proxy: saved answers, no server needed', async (t) => {
  const dir = tempDir(t);
  const port = await closedPort();
  const file = join(dir, 'flows');
  writeFlowsToFile(file, [saved({ url: `http://127.0.0.1:${port}/api`, respBody: '{"saved": true}' }), saved({ url: `http://127.0.0.1:${port}/other`, respBody: 'other' })]);
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { server_replay: [file], server_replay_extra: '404' } });
  const r = await curl(['-x', proxy.url, `http://127.0.0.1:${port}/api`]);
  assert.equal(r.status, 200);
  assert.equal(r.stdout, '{"saved": true}');
  const again = await curl(['-x', proxy.url, `http://127.0.0.1:${port}/api`]);
  assert.equal(again.status, 404, 'used up, and extra requests get 404');
  const extra = await curl(['-x', proxy.url, `${up.url}/x`]);
  assert.equal(extra.status, 404);
  assert.equal(up.connections, 0);
  const last = await curl(['-x', proxy.url, `http://127.0.0.1:${port}/other`]);
  assert.equal(last.stdout, 'other');
  // As in mitmproxy, once every saved response is used up, server replay stops interfering.
  const after = await curl(['-x', proxy.url, `${up.url}/y`]);
  assert.equal(JSON.parse(after.stdout).url, '/y');
});
