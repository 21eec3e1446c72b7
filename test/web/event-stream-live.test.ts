/**
 * An event stream relayed through mitmweb's proxy shows its events while it is still open: the
 * flow is updated on /updates (at most twice a second) and its response content, as the API
 * serves it, holds the events so far.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { httpServer } from '../helpers/servers.js';
import { startWeb } from './helpers.js';

type FlowPayload = { flow: { id: string; response?: { contentLength: number | null; timestamp_end: number | null } } };

test('mitmweb shows the events of an open event stream as they pass', async (t) => {
  const w = await startWeb(t);
  let next: () => void = () => undefined;
  const source = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let n = 0;
    const send = () => {
      res.write(`data: event ${++n}\n\n`);
      if (n === 3) res.end();
      else next = send;
    };
    send();
  });
  const ws = await w.ws();
  let received = '';
  const req = http.request({ host: '127.0.0.1', port: w.proxyPort, path: `http://127.0.0.1:${source.port}/feed`, headers: { Host: `127.0.0.1:${source.port}` } });
  const ended = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (received += d));
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
  req.end();

  /** The content the API serves for the flow once an update says it holds `length` bytes, while the stream is open. */
  const liveContent = async (length: number): Promise<string> => {
    const upd = await ws.waitFor(
      // (An update close behind the flow's add is sent as part of the add.)
      (m) => m.find((x) => (x.type === 'flows/update' || x.type === 'flows/add') && (x.payload as FlowPayload).flow.response?.contentLength === length),
      10_000,
      `an update with ${length} bytes of events`,
    );
    const flow = (upd.payload as FlowPayload).flow;
    assert.equal(flow.response!.timestamp_end, null, 'the stream is still open');
    return (await w.api(`/flows/${flow.id}/response/content.data`)).text;
  };
  assert.equal(await liveContent('data: event 1\n\n'.length), 'data: event 1\n\n');
  next();
  assert.equal(await liveContent(2 * 'data: event 1\n\n'.length), 'data: event 1\n\ndata: event 2\n\n');
  next();
  await ended;
  assert.equal(received, 'data: event 1\n\ndata: event 2\n\ndata: event 3\n\n');
});
