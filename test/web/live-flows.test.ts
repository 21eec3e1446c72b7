/**
 * The web API on flows that are still running: what a front end user does while a response is
 * still arriving must not change what the client receives, and the flow must go on recording.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { httpServer } from '../helpers/servers.js';
import { startWeb, viaProxy, waitUntil } from './helpers.js';

type FlowJson = Record<string, any>;

test('edit then revert a flow whose response body is still arriving: the client and the flow get the whole body', async (t) => {
  const w = await startWeb(t);
  let sendRest!: () => void;
  const rest = new Promise<void>((r) => (sendRest = r));
  const upstream = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first half, ');
    void rest.then(() => res.end('second half'));
  });
  const reply = viaProxy(w.proxyPort, `${upstream.url}/slow`);
  // The response head is in the flow; its body is not complete yet.
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.response), 'the response head');
  assert.equal(flow.response.contentLength, null);
  assert.equal((await w.api(`/flows/${flow.id}`, { method: 'PUT', json: { comment: 'looking at it' } })).status, 200);
  assert.equal((await w.api(`/flows/${flow.id}/revert`, { method: 'POST' })).status, 200);
  sendRest();
  const resp = await reply;
  assert.equal(resp.text, 'first half, second half');
  const done = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.id === flow.id && f.response.timestamp_end), 'the flow to end');
  assert.equal(done.response.contentLength, 'first half, second half'.length);
  assert.equal((await w.api(`/flows/${flow.id}/response/content.data`)).text, 'first half, second half');
  assert.equal(done.comment, '');
  assert.equal(done.modified, false);
});

test('edit then revert a flow whose request body is still being uploaded: the server gets the whole body', async (t) => {
  const w = await startWeb(t);
  let bodyReceived!: (body: string) => void;
  const received = new Promise<string>((r) => (bodyReceived = r));
  const upstream = await httpServer(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodyReceived(Buffer.concat(chunks).toString());
      res.end('thanks');
    });
  });
  const req = http.request({ host: '127.0.0.1', port: w.proxyPort, method: 'POST', path: `${upstream.url}/upload`, headers: { 'Content-Length': '20' }, agent: false });
  req.on('error', () => undefined);
  t.after(() => req.destroy());
  req.write('0123456789');
  // The request head is in the flow; the proxy is still reading its body.
  const flow = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>()[0], 'the request head');
  assert.equal((await w.api(`/flows/${flow.id}`, { method: 'PUT', json: { comment: 'looking at it' } })).status, 200);
  assert.equal((await w.api(`/flows/${flow.id}/revert`, { method: 'POST' })).status, 200);
  req.end('abcdefghij');
  assert.equal(await received, '0123456789abcdefghij');
  const done = await waitUntil(async () => (await w.api('/flows')).json<FlowJson[]>().find((f) => f.response), 'the response');
  assert.equal(done.request.contentLength, 20);
});
