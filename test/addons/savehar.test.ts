import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inflateSync } from 'node:zlib';
import { Master } from '../../src/master.js';
import { OptionsError } from '../../src/optmanager.js';
import { SaveHar } from '../../src/addons/savehar.js';
import { Save } from '../../src/addons/save.js';
import { ReadFile } from '../../src/addons/readfile.js';
import { readFlows } from '../../src/io/flowreader.js';
import { harToJson } from '../../src/io/har.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { WebSocketData } from '../../src/websocket.js';
import { TCPFlow } from '../../src/tcp.js';
import { runningMaster, type AfterHook } from '../helpers/master.js';
import { tempDir } from '../helpers/tempdir.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm');

class Sink extends Writable {
  data = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.data += chunk.toString();
    cb();
  }
}

async function setup(t: AfterHook) {
  const out = new Sink();
  const savehar = new SaveHar(out);
  const { master, log } = await runningMaster(t, new Save(), savehar);
  const dir = tempDir(t, 'mitmts-har-');
  return { dir, master, savehar, out, log };
}

function flow(path: string, method = 'GET'): HTTPFlow {
  const f = new HTTPFlow(undefined, undefined, false, Request.make(method, `http://example.com${path}`));
  f.response = Response.make(200, 'ok');
  return f;
}

test('hardump: flows collected at response (WebSocket at its end), filtered by save_stream_filter, written on done', async (t) => {
  const { dir, master, savehar } = await setup(t);
  const path = join(dir, 'dump.har');
  await master.options.update({ hardump: path, save_stream_filter: '!~m DELETE' });
  await master.addons.trigger('response', flow('/a'));
  await master.addons.trigger('response', flow('/gone', 'DELETE'));
  const ws = flow('/ws');
  ws.websocket = new WebSocketData();
  await master.addons.trigger('response', ws);
  assert.equal(savehar.flows.length, 1);
  await master.addons.trigger('websocket_end', ws);
  await master.shutdown();
  const har = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual(har.log.entries.map((e: { request: { url: string } }) => e.request.url), ['http://example.com/a', 'http://example.com/ws']);
  assert.equal(har.log.creator.name, 'mitmproxy');
});

test('hardump=- prints the HAR to stdout; .zhar is zlib-compressed', async (t) => {
  const { dir, master, out } = await setup(t);
  await master.options.update({ hardump: '-' });
  const f = flow('/x');
  await master.addons.trigger('response', f);
  await master.shutdown();
  assert.equal(out.data, harToJson([f]) + '\n');
  const second = await setup(t);
  const z = join(dir, 'd.zhar');
  await second.master.options.update({ hardump: z });
  await second.master.addons.trigger('response', f);
  await second.master.shutdown();
  assert.equal(inflateSync(readFileSync(z)).toString(), harToJson([f]));
});

test('clearing hardump forgets collected flows; a bad filter is an OptionsError', async (t) => {
  const { master, savehar } = await setup(t);
  await master.options.update({ hardump: 'x.har' });
  await master.addons.trigger('response', flow('/a'));
  await master.options.update({ hardump: '' });
  assert.equal(savehar.flows.length, 0);
  await assert.rejects(master.options.update({ save_stream_filter: '~x' }), OptionsError);
});

test('save.har command, with the size in the alert and non-HTTP flows skipped', async (t) => {
  const { dir, master, log } = await setup(t);
  const path = join(dir, 'cmd.har');
  const flows = await readFlows(FIXTURE);
  await master.commands.call('save.har', [...flows, new TCPFlow()], path);
  const har = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(har.log.entries.length, flows.filter((f) => f instanceof HTTPFlow).length);
  assert.ok(log.some((e) => e.level === 'info' && e.message === "Skipped 3 flows that weren't HTTP flows."), JSON.stringify(log));
  assert.ok(log.some((e) => e.level === 'alert' && /^HAR file saved \(\d+\.\dk bytes\)\.$/.test(e.message)));
  // and the HAR reads back as flows
  assert.equal((await readFlows(path)).length, har.log.entries.length);
});

test('mitmdump -r file.mitm --set hardump=x.har: HAR of a loaded 8.1.1 file', async (t) => {
  const dir = tempDir(t, 'mitmts-har-');
  const master = new Master();
  const rf = new ReadFile();
  await master.addons.add(rf, new Save(), new SaveHar());
  const path = join(dir, 'x.har');
  await master.options.update({ rfile: FIXTURE, hardump: path });
  await master.run();
  await rf.finished();
  await master.shutdown();
  const entries = JSON.parse(readFileSync(path, 'utf8')).log.entries;
  assert.equal(entries.length, 12);
  const ws = entries.find((e: { _resourceType?: string }) => e._resourceType === 'websocket');
  assert.equal(ws._webSocketMessages.length, 4);
});
