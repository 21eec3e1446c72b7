/**
 * The `/updates` WebSocket (web-api.md §5) with a real `ws` client: the messages for traffic
 * through the proxy, option changes, the filter protocol and its errors, resets, and batching.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HTTPFlow } from '../../src/http.js';
import { httpServer } from '../helpers/servers.js';
import { appTestFlows, tflow } from './fixtures.js';
import { startWeb, viaProxy } from './helpers.js';

type FlowPayload = { flow: Record<string, any>; matching_filters: Record<string, boolean> };

test('a request through the proxy: flows/add at request time, flows/update with the response', async (t) => {
  const w = await startWeb(t);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const upstream = await httpServer(t, (_req, res) => {
    void released.then(() => {
      res.writeHead(201, { 'Content-Type': 'text/plain' });
      res.end('created');
    });
  });
  const ws = await w.ws();
  const reply = viaProxy(w.proxyPort, `${upstream.url}/resource?q=1`);
  const add = (await ws.next('flows/add')).payload as FlowPayload;
  assert.equal(add.flow.type, 'http');
  assert.equal(add.flow.request.path, '/resource?q=1');
  assert.equal(add.flow.response, undefined, 'no response yet');
  assert.deepEqual(add.matching_filters, {});
  release();
  const r = await reply;
  assert.equal(r.status, 201);
  const upd = await ws.waitFor((m) => m.find((x) => x.type === 'flows/update' && (x.payload as FlowPayload).flow.response), 10_000, 'update with response');
  const flow = (upd.payload as FlowPayload).flow;
  assert.equal(flow.id, add.flow.id);
  assert.equal(flow.response.status_code, 201);
  assert.equal(flow.response.contentLength, 7);
  // The add came first, and nothing about the flow was sent before it.
  const idx = ws.messages.findIndex((m) => m.type.startsWith('flows/'));
  assert.equal(ws.messages[idx]!.type, 'flows/add');
  // Frames are Python-style JSON without ASCII escaping.
  assert.ok(ws.raw.some((s) => s.startsWith('{"type": "flows/add", "payload": {"flow": {"id": ')));
});

test('options/update carries the changed options only, in /options format', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const ws = await w.ws();
  await w.master.options.update({ anticomp: true });
  const msg = await ws.next('options/update');
  assert.deepEqual(msg.payload, {
    anticomp: { type: 'bool', default: false, value: true, help: 'Try to convince servers to send us un-compressed data.', choices: null },
  });
  assert.equal(ws.raw.at(-1), '{"type": "options/update", "payload": {"anticomp": {"type": "bool", "default": false, "value": true, "help": "Try to convince servers to send us un-compressed data.", "choices": null}}}');
  // A second client can connect and close.
  const ws2 = await w.ws();
  await ws2.close();
  assert.equal(w.master.app.hub.connections.size, 1);
});

test('flows/updateFilter: matching ids, matching_filters on add and update, removal', async (t) => {
  const w = await startWeb(t, { proxy: false });
  w.master.view.add(appTestFlows());
  const ws = await w.ws();
  ws.send({ type: 'flows/updateFilter', payload: { name: 'search', expr: '~bq foo' } });
  assert.deepEqual(await ws.next('flows/filterUpdate'), { type: 'flows/filterUpdate', payload: { name: 'search', matching_flow_ids: ['42'] } });
  const f = tflow({ resp: true });
  f.id = '41';
  f.request.content = Buffer.from('foo\nbarbar');
  const n = ws.messages.length;
  w.master.view.add([f]);
  const add = (await ws.next('flows/add', n)).payload as FlowPayload;
  assert.deepEqual(add.matching_filters, { search: true });
  assert.equal(add.flow.id, '41');
  f.request.content = Buffer.from('bar');
  w.master.view.update([f]);
  const upd = (await ws.next('flows/update', n)).payload as FlowPayload;
  assert.deepEqual(upd.matching_filters, { search: false });
  assert.equal(upd.flow.id, '41');
  ws.send({ type: 'flows/updateFilter', payload: { name: 'search', expr: '' } });
  const removed = await ws.waitFor((m) => m.slice(n).find((x) => x.type === 'flows/filterUpdate'), 5000);
  assert.deepEqual(removed, { type: 'flows/filterUpdate', payload: { name: 'search', matching_flow_ids: null } });
});

test('bad client messages close the socket with 1011', async (t) => {
  const w = await startWeb(t, { proxy: false });
  for (const data of ['{"type": "flows/updateFilter"}', '{"type": "unknownCommand"}', 'invalid json', '{"type": "flows/updateFilter", "payload": {"name": "x", "expr": "~~"}}']) {
    const ws = await w.ws();
    ws.send(data);
    await ws.waitClosed();
    assert.equal(ws.closeCode, 1011, data);
    assert.equal(ws.closeReason, 'Internal server error.');
  }
  assert.ok(w.logs.some((l) => l.startsWith('error: Error processing message from')));
});

test('a reset is followed by each registered filter, recomputed', async (t) => {
  const w = await startWeb(t, { proxy: false });
  w.master.view.add(appTestFlows());
  const ws = await w.ws();
  ws.send({ type: 'flows/updateFilter', payload: { name: 'highlight', expr: '~websocket' } });
  assert.deepEqual((await ws.next('flows/filterUpdate')).payload, { name: 'highlight', matching_flow_ids: ['43'] });
  const n = ws.messages.length;
  await w.master.options.update({ view_filter: '!~websocket' });
  const reset = ws.messages.length;
  await ws.next('flows/reset', n);
  const fu = await ws.waitFor((m) => {
    const i = m.findIndex((x, j) => j >= n && x.type === 'flows/reset');
    return i >= 0 && m[i + 1]?.type === 'flows/filterUpdate' ? m[i + 1] : undefined;
  });
  assert.deepEqual(fu.payload, { name: 'highlight', matching_flow_ids: [] }, 'recomputed against the new view');
  assert.ok(reset >= n);
  const flows = (await w.api('/flows')).json<Array<{ id: string }>>();
  assert.ok(!flows.some((f) => f.id === '43'));
});

test('events/add for log entries; state/update when the servers change', async (t) => {
  const w = await startWeb(t);
  const ws = await w.ws();
  w.master.log.warn('something to see');
  const ev = (await ws.next('events/add')).payload as { id: number; message: string; level: string };
  assert.equal(ev.level, 'warn');
  assert.match(ev.message, /^\[\d\d:\d\d:\d\d\.\d{3}\] something to see$/);
  await w.master.options.update({ mode: ['regular', 'regular@0'] });
  const st = (await ws.next('state/update')).payload as { servers: Record<string, { is_running: boolean; listen_addrs: unknown[] }> };
  assert.deepEqual(Object.keys(st), ['servers']);
  assert.deepEqual(Object.keys(st.servers), ['regular', 'regular@0']);
  assert.equal(st.servers['regular@0']!.is_running, true);
});

test('messages for one flow within a batch are merged: add then remove sends nothing', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const ws = await w.ws();
  const a = tflow();
  const b = tflow({ resp: true });
  w.master.view.add([a, b]);
  w.master.view.update([b]);
  w.master.view.update([b]);
  w.master.view.remove([a]);
  w.master.log.info('marker');
  await ws.next('events/add');
  await new Promise((r) => setTimeout(r, 100));
  const flowMsgs = ws.messages.filter((m) => m.type.startsWith('flows/'));
  assert.deepEqual(flowMsgs.map((m) => m.type), ['flows/add']);
  assert.equal((flowMsgs[0]!.payload as FlowPayload).flow.id, b.id);
  assert.equal((flowMsgs[0]!.payload as FlowPayload).flow.response.status_code, 200);
});

test('a burst of 10 000 flows costs a client a handful of frames, not 10 000', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const ws = await w.ws();
  const flows: HTTPFlow[] = [];
  for (let i = 0; i < 10_000; i++) flows.push(tflow({ resp: true }));
  // Flows arriving over several turns of the event loop, as from many connections.
  for (let i = 0; i < flows.length; i += 500) {
    for (const f of flows.slice(i, i + 500)) {
      w.master.view.add([f]);
      w.master.view.update([f]);
    }
    await new Promise((r) => setImmediate(r));
  }
  w.master.log.info('burst done');
  await ws.waitFor((m) => m.find((x) => x.type === 'events/add' && String((x.payload as { message: string }).message).endsWith('burst done')), 20_000);
  await new Promise((r) => setTimeout(r, 200));
  const frames = ws.raw.length;
  assert.ok(frames < 100, `${frames} frames`);
  assert.ok(ws.messages.some((m) => m.type === 'flows/reset'), 'the client is told to read the view again');
  assert.equal((await w.api('/flows')).json<unknown[]>().length, 10_000);
});

test('a burst of log entries becomes one events/reset', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const ws = await w.ws();
  for (let i = 0; i < 5000; i++) w.master.log.debug(`line ${i}`);
  await ws.next('events/reset');
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(ws.raw.length < 1100, `${ws.raw.length} frames`);
  assert.equal(ws.messages.filter((m) => m.type === 'events/reset').length, 1);
  const events = (await w.api('/events')).json<Array<{ message: string }>>();
  assert.match(events.at(-1)!.message, /line 4999$/);
});

test('overflow resets are paced by the cost of reading the view; resets the user caused are not', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const ws = await w.ws();
  const burst = async (n: number) => {
    // Over several turns of the event loop, as from many connections: each turn overflows a batch.
    for (let i = 0; i < n; i += 300) {
      w.master.view.add(Array.from({ length: 300 }, () => tflow({ resp: true })));
      await new Promise((r) => setImmediate(r));
    }
  };
  const resets = () => ws.messages.filter((m) => m.type === 'flows/reset').length;
  // The last GET /flows took 10 s: a client refetching after every overflow would spend all its time on it.
  w.master.app.hub.noteViewRead(10_000);
  await burst(300);
  await ws.next('flows/reset');
  assert.equal(resets(), 1, 'the first overflow reset is not held');
  await burst(3000);
  w.master.log.info('burst done');
  // An option changed meanwhile is not held with the reset: the user would not see it.
  await w.master.options.update({ anticomp: true });
  await ws.next('options/update', 0, 2500);
  // Let several batch windows pass (the window is at most 1 s).
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(resets(), 1, 'the second overflow reset waits');
  assert.ok(ws.messages.some((m) => m.type === 'events/add' && String((m.payload as { message: string }).message).endsWith('burst done')), 'log entries are not held');
  assert.ok(!ws.messages.some((m) => m.type === 'flows/add'), 'no flow messages leak past the queued reset');
  // A filter reply is what the user is waiting for: it goes at once, with the held reset before it.
  ws.send({ type: 'flows/updateFilter', payload: { name: 'search', expr: '~s' } });
  const fu = await ws.next('flows/filterUpdate');
  assert.equal((fu.payload as { matching_flow_ids: string[] }).matching_flow_ids.length, 3300);
  assert.equal(resets(), 2);
  // A reset the user caused (a view_filter change) is never held back, even right after another.
  await burst(300);
  await w.master.options.update({ view_filter: '~s' });
  await ws.waitFor((m) => (m.filter((x) => x.type === 'flows/reset').length === 3 ? true : undefined), 2000, 'the user reset');
});
