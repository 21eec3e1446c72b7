/**
 * The intercept addon: the `intercept` filter and `intercept_active` switch, which hooks pause a
 * flow, replays never paused, and a live request through the proxy held until resumed or killed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { Master } from '../../src/master.js';
import { Intercept } from '../../src/addons/intercept.js';
import { View } from '../../src/addons/view.js';
import { httpServer } from '../helpers/servers.js';
import { testProxy } from '../helpers/proxy.js';
import { tflow, ttcpflow, tdnsflow } from '../web/fixtures.js';

async function setup(): Promise<{ m: Master; i: Intercept }> {
  const m = new Master();
  const i = new Intercept();
  await m.addons.add(i);
  await m.run();
  return { m, i };
}

test('setting a filter switches interception on, clearing it switches it off', async () => {
  const { m } = await setup();
  assert.equal(m.options.get('intercept_active'), false);
  await m.options.update({ intercept: '~q' });
  assert.equal(m.options.get('intercept_active'), true);
  await m.options.update({ intercept: null });
  assert.equal(m.options.get('intercept_active'), false);
  await assert.rejects(m.options.update({ intercept: '~~' }), /Invalid filter expression/);
  assert.equal(m.options.get('intercept'), null);
});

test('matching flows are intercepted in their hooks, others and replays are not', async () => {
  const { m, i } = await setup();
  await m.options.update({ intercept: '~u /path & !~websocket' });
  const hooks: Array<[string, () => import('../../src/flows.js').AnyFlow]> = [
    ['request', () => tflow()],
    ['response', () => tflow({ resp: true })],
    ['tcp_message', () => ttcpflow()],
    ['udp_message', () => ttcpflow({ udp: true })],
    ['dns_request', () => tdnsflow()],
    ['dns_response', () => tdnsflow({ resp: true })],
  ];
  for (const [hook, make] of hooks) {
    const f = make();
    await m.addons.trigger(hook, f);
    const expected = hook === 'request' || hook === 'response';
    assert.equal(f.intercepted, expected, hook);
  }
  const ws = tflow({ ws: true });
  await m.addons.trigger('websocket_message', ws);
  assert.equal(ws.intercepted, false, 'filtered out by !~websocket');
  // Not in these hooks.
  const early = tflow();
  await m.addons.trigger('requestheaders', early);
  assert.equal(early.intercepted, false);
  const replay = tflow();
  replay.isReplay = 'request';
  await m.addons.trigger('request', replay);
  assert.equal(replay.intercepted, false);
  // Switched off: nothing is held.
  await m.options.update({ intercept_active: false });
  const off = tflow();
  await m.addons.trigger('request', off);
  assert.equal(off.intercepted, false);
  assert.equal(i.shouldIntercept(tflow()), false);
  // A WebSocket message hook holds matching flows too.
  await m.options.update({ intercept: '~websocket', intercept_active: true });
  const ws2 = tflow({ ws: true });
  await m.addons.trigger('websocket_message', ws2);
  assert.equal(ws2.intercepted, true);
});

test('through the proxy: held at the request until resumed; held at the response until killed', async (t) => {
  let hits = 0;
  const upstream = await httpServer(t, (_req, res) => {
    hits++;
    res.end('ok');
  });
  const view = new View();
  const p = await testProxy(t, { addons: [new Intercept(), view], options: { intercept: '~u /hold' } });
  const get = (path: string) =>
    new Promise<{ status: number; body: string } | Error>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: p.port, path: `${upstream.url}${path}`, headers: { Host: `127.0.0.1:${upstream.port}` }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', resolve);
      });
      req.on('error', resolve);
      req.end();
    });
  const waitFor = async (pred: () => boolean) => {
    for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred());
  };
  // Held at the request: the upstream sees nothing until the flow is resumed.
  const first = get('/hold');
  await waitFor(() => view.length === 1 && view.at(0)!.intercepted);
  assert.equal(hits, 0);
  await p.master.commands.execute('flow.resume @all');
  // Then held again at the response (the filter matches there too).
  await waitFor(() => hits === 1 && view.at(0)!.intercepted);
  view.at(0)!.resume();
  assert.deepEqual(await first, { status: 200, body: 'ok' });
  // Killed while held: the client gets no answer from upstream.
  const second = get('/hold-and-kill');
  await waitFor(() => view.length === 2 && view.at(1)!.intercepted);
  await p.master.commands.execute(`flow.kill @${view.at(1)!.id}`);
  const r = await second;
  assert.ok(r instanceof Error || r.status !== 200);
  assert.equal(view.at(1)!.error?.msg, 'Connection killed.');
  assert.equal(hits, 1);
  // Flows that do not match pass straight through.
  assert.deepEqual(await get('/free'), { status: 200, body: 'ok' });
});
