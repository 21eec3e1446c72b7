/**
 * Whole scenarios with traffic through the proxy and a real HTTP client on the API: intercept and
 * resume (request and response), kill, edit and revert, replay through the upstream, dump and
 * upload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpServer } from '../helpers/servers.js';
import { startWeb, viaProxy, type HttpResult, waitUntil } from './helpers.js';

type FlowJson = Record<string, any>;

test('intercept at the request, see it in /flows and /updates, resume through the API', async (t) => {
  const w = await startWeb(t, { options: { intercept: '~q & ~u /held' } });
  assert.equal(w.master.options.get('intercept_active'), true, 'setting a filter activates interception');
  let hits = 0;
  const upstream = await httpServer(t, (_req, res) => {
    hits++;
    res.end('upstream says hi');
  });
  const ws = await w.ws();
  let settled = false;
  const reply = viaProxy(w.proxyPort, `${upstream.url}/held`).then((r) => {
    settled = true;
    return r;
  });
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.intercepted), 'an intercepted flow');
  assert.equal(flow.request.path, '/held');
  assert.equal(hits, 0, 'the upstream has not been asked');
  assert.equal(settled, false);
  // The add and the update for the interception may arrive merged into one message.
  await ws.waitFor((m) => m.find((x) => (x.type === 'flows/add' || x.type === 'flows/update') && (x.payload as { flow: FlowJson }).flow.intercepted), 5000, 'intercepted flow');
  // Not-matching traffic passes.
  assert.equal((await viaProxy(w.proxyPort, `${upstream.url}/free`)).status, 200);
  assert.equal(hits, 1);
  const r = await w.api(`/flows/${flow.id}/resume`, { method: 'POST' });
  assert.equal(r.status, 200);
  const resp = await reply;
  assert.equal(resp.status, 200);
  assert.equal(resp.text, 'upstream says hi');
  const after = (await w.api('/flows')).json<FlowJson[]>().find((f) => f.id === flow.id)!;
  assert.equal(after.intercepted, false);
  assert.equal(after.response.status_code, 200);
});

test('intercept at the response, edit it, resume: the client gets the edit', async (t) => {
  const w = await startWeb(t, { options: { intercept: '~s' } });
  const upstream = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('original');
  });
  const reply = viaProxy(w.proxyPort, `${upstream.url}/x`);
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.intercepted && f.response), 'a flow held at its response');
  const put = await w.api(`/flows/${flow.id}`, { method: 'PUT', json: { response: { code: 202, content: 'edited' } } });
  assert.equal(put.status, 200, put.text);
  assert.equal((await w.api('/flows')).json<FlowJson[]>()[0]!.modified, true);
  // Resume through a command this time.
  const cmd = await w.api('/commands/flow.resume', { method: 'POST', json: { arguments: ['@all'] } });
  assert.deepEqual(cmd.json(), { value: null });
  const resp = await reply;
  assert.equal(resp.status, 202);
  assert.equal(resp.text, 'edited');
});

test('kill an intercepted flow through the API', async (t) => {
  const w = await startWeb(t, { options: { intercept: '~q' } });
  const upstream = await httpServer(t, (_req, res) => res.end('never'));
  const reply = viaProxy(w.proxyPort, `${upstream.url}/doomed`).then(
    (r): HttpResult | Error => r,
    (e: Error) => e,
  );
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.intercepted), 'an intercepted flow');
  assert.equal((await w.api(`/flows/${flow.id}/kill`, { method: 'POST' })).status, 200);
  const outcome = await reply;
  assert.ok(outcome instanceof Error || outcome.status !== 200, 'the client gets no upstream answer');
  const after = (await w.api('/flows')).json<FlowJson[]>().find((f) => f.id === flow.id)!;
  assert.equal(after.error.msg, 'Connection killed.');
  assert.equal(after.intercepted, false);
  assert.equal(upstream.connections, 0);
});

test('edit a recorded flow, then revert it', async (t) => {
  const w = await startWeb(t);
  const upstream = await httpServer(t, (_req, res) => res.end('body'));
  await viaProxy(w.proxyPort, `${upstream.url}/edit-me`);
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.response), 'the flow');
  const put = await w.api(`/flows/${flow.id}`, { method: 'PUT', json: { request: { method: 'POST', path: '/edited' }, comment: 'note', marked: ':grapes:' } });
  assert.equal(put.status, 200);
  let j = (await w.api('/flows')).json<FlowJson[]>()[0]!;
  assert.equal(j.request.method, 'POST');
  assert.equal(j.request.path, '/edited');
  assert.equal(j.comment, 'note');
  assert.equal(j.marked, '🍇');
  assert.equal(j.modified, true);
  assert.equal((await w.api(`/flows/${flow.id}/revert`, { method: 'POST' })).status, 200);
  j = (await w.api('/flows')).json<FlowJson[]>()[0]!;
  assert.equal(j.request.method, 'GET');
  assert.equal(j.request.path, '/edit-me');
  assert.equal(j.comment, '');
  assert.equal(j.marked, '');
  assert.equal(j.modified, false);
});

test('replay a recorded flow: the request goes to the upstream again', async (t) => {
  const w = await startWeb(t);
  const seen: string[] = [];
  const upstream = await httpServer(t, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end(`answer ${seen.length}`);
  });
  await viaProxy(w.proxyPort, `${upstream.url}/again`);
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.response && f.client_conn.timestamp_end), 'the finished flow');
  const ws = await w.ws();
  const r = await w.api(`/flows/${flow.id}/replay`, { method: 'POST' });
  assert.equal(r.status, 200);
  await waitUntil(() => seen.length === 2 || undefined, 'the replayed request');
  assert.deepEqual(seen, ['GET /again', 'GET /again']);
  const replayed = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.id === flow.id && f.response), 'the new response');
  assert.equal(replayed.is_replay, 'request');
  assert.equal((await w.api(`/flows/${flow.id}/response/content.data`)).text, 'answer 2');
  await ws.waitFor((m) => m.find((x) => x.type === 'flows/update' && (x.payload as { flow: FlowJson }).flow.is_replay === 'request'), 5000, 'replay update');
});

test('dump the view, then upload it again', async (t) => {
  const w = await startWeb(t);
  const upstream = await httpServer(t, (req, res) => res.end(`for ${req.url}`));
  for (const p of ['/one', '/two', '/three']) await viaProxy(w.proxyPort, `${upstream.url}${p}`);
  await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().filter((f) => f.response).length === 3 || undefined, 'three flows');
  const before = (await w.api('/flows')).json<FlowJson[]>();
  const dump = await w.api('/flows/dump');
  assert.equal(dump.status, 200);
  assert.equal((await w.api('/clear', { method: 'POST' })).status, 200);
  assert.equal((await w.api('/flows')).json<FlowJson[]>().length, 0);
  const up = await w.api('/flows/dump', { method: 'POST', body: dump.body });
  assert.equal(up.status, 200);
  const after = (await w.api('/flows')).json<FlowJson[]>();
  assert.deepEqual(after.map((f) => f.id), before.map((f) => f.id));
  assert.deepEqual(after.map((f) => f.request.path), ['/one', '/two', '/three']);
  assert.deepEqual(after.map((f) => f.response.contentHash), before.map((f) => f.response.contentHash));
  assert.equal((await w.api(`/flows/${after[1]!.id}/response/content.data`)).text, 'for /two');
});
