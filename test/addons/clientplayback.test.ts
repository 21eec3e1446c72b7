import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientPlayback } from '../../src/addons/clientplayback.js';
import { ModifyHeaders } from '../../src/addons/modifyheaders.js';
import { writeFlowsToFile } from '../../src/io/flowwriter.js';
import type { AnyFlow } from '../../src/flows.js';
import type { HTTPFlow } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import { WebSocketData } from '../../src/websocket.js';
import { addonMaster, logged, makeFlow, type FlowInit } from './helpers.js';
import { testProxy } from '../helpers/proxy.js';
import { closedPort, echoServer, httpServer } from '../helpers/servers.js';

/** A finished (not live) flow as loaded from a file. */
function old(init: FlowInit = {}): HTTPFlow {
  return makeFlow({ response: { status: 299, body: 'old answer' }, ...init, live: false });
}

/** Wait until the addon has nothing queued or in flight (replays finish just after their last hook). */
async function idle(cp: ClientPlayback): Promise<void> {
  for (let i = 0; i < 500 && cp.count() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(cp.count(), 0, 'replays finished');
}

/** Records the hooks a flow goes through. */
function hookRecorder() {
  const events: string[] = [];
  const done: HTTPFlow[] = [];
  const waiters: Array<() => void> = [];
  const finish = (f: HTTPFlow) => {
    done.push(f);
    waiters.splice(0).forEach((w) => w());
  };
  return {
    events,
    done,
    /** Resolves once `n` flows finished (response or error). */
    async waitFor(n: number): Promise<void> {
      while (done.length < n) await new Promise<void>((r) => waiters.push(r));
    },
    addon: {
      name: 'hookrecorder',
      requestheaders: (f: HTTPFlow) => void events.push(`requestheaders ${f.request.path}`),
      request: (f: HTTPFlow) => void events.push(`request ${f.request.path}`),
      responseheaders: (f: HTTPFlow) => void events.push(`responseheaders ${f.request.path}`),
      response: (f: HTTPFlow) => {
        events.push(`response ${f.request.path}`);
        finish(f);
      },
      error: (f: HTTPFlow) => {
        events.push(`error ${f.request.path}`);
        finish(f);
      },
    },
  };
}

test('flows that cannot be replayed are refused with mitmproxy messages', async () => {
  const cp = new ClientPlayback();
  const m = await addonMaster([cp], {}, { run: false });
  const live = makeFlow();
  const intercepted = old();
  intercepted.intercept();
  const noContent = old();
  noContent.request.rawContent = null;
  const ws = old();
  ws.websocket = new WebSocketData();
  await cp.startReplay([live, intercepted, new TCPFlow(), noContent, ws]);
  assert.deepEqual(logged(m.logs, 'warn'), [
    "Can't replay live flow.",
    "Can't replay intercepted flow.",
    'Can only replay HTTP flows.',
    "Can't replay flow with missing content.",
    "Can't replay WebSocket flows.",
  ]);
  assert.equal(cp.count(), 0);
});

test('queued flows are prepared for replay and can be reverted with replay.client.stop', async () => {
  const updates: AnyFlow[][] = [];
  const cp = new ClientPlayback();
  const m = await addonMaster([cp, { name: 'w', update: (f: AnyFlow[]) => void updates.push(f) }], {}, { run: false });
  const f = old();
  f.error = null;
  await m.commands.call('replay.client', [f]);
  assert.equal(f.isReplay, 'request');
  assert.equal(f.response, null);
  assert.equal(f.hasBackup, true);
  assert.deepEqual(updates.at(-1), [f]);
  assert.equal(await m.commands.call('replay.client.count'), 1, 'nothing runs before the proxy is running');
  await m.commands.call('replay.client.stop');
  assert.equal(await m.commands.call('replay.client.count'), 0);
  assert.equal(f.isReplay, null, 'reverted');
  assert.equal((f as HTTPFlow).response?.statusCode, 299);
  assert.ok(logged(m.logs, 'alert').includes('Client replay queue cleared.'));
  await m.run();
  await assert.rejects(m.options.update({ client_replay_concurrency: 2 }), { message: 'Currently the only valid client_replay_concurrency values are -1 and 1.' });
  assert.equal(m.options.get('client_replay_concurrency'), 1);
});

test('a replayed request goes to its server through the addon hooks', async (t) => {
  const up = await echoServer(t);
  const rec = hookRecorder();
  const cp = new ClientPlayback();
  const m = await addonMaster([cp, new ModifyHeaders(), rec.addon], { modify_headers: ['/~q/X-Replayed/yes'] });
  const f = old({ method: 'POST', url: `${up.url}/submit?x=1`, body: 'payload', headers: { 'X-Orig': '1' } });
  await m.commands.call('replay.client', [f]);
  await rec.waitFor(1);
  await idle(cp);
  assert.deepEqual(rec.events, ['requestheaders /submit?x=1', 'request /submit?x=1', 'responseheaders /submit?x=1', 'response /submit?x=1']);
  assert.equal(f.response?.statusCode, 200);
  const echoed = JSON.parse(f.response!.text!);
  assert.equal(echoed.method, 'POST');
  assert.equal(echoed.url, '/submit?x=1');
  assert.equal(echoed.body, 'payload');
  const raw = echoed.rawHeaders as string[];
  assert.equal(raw[raw.findIndex((h) => h.toLowerCase() === 'x-replayed') + 1], 'yes', 'other addons apply to replays');
  assert.equal(f.isReplay, 'request');
  assert.equal(f.live, false);
  assert.ok(f.serverConn.peername, 'the server connection is recorded');
  assert.equal(cp.count(), 0);
});

test('an unreachable server gives the flow an error', async (t) => {
  const port = await closedPort();
  const rec = hookRecorder();
  const m = await addonMaster([new ClientPlayback(), rec.addon]);
  const f = old({ url: `http://127.0.0.1:${port}/x` });
  await m.commands.call('replay.client', [f]);
  await rec.waitFor(1);
  assert.equal(rec.events.at(-1), 'error /x');
  assert.equal(f.response, null);
  assert.match(f.error!.msg, /refused/i);
  t.after(() => m.shutdown());
});

test('concurrency 1 replays one at a time; -1 all at once', async (t) => {
  let active = 0;
  let maxActive = 0;
  let waiting: Array<() => void> = [];
  let holdUntilThree = false;
  const up = await httpServer(t, (_req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    const answer = () => {
      active--;
      res.end('ok');
    };
    if (!holdUntilThree) {
      // Held long enough that overlapping replays would be seen, without any test depending on it.
      setTimeout(answer, 200);
      return;
    }
    // All at once: answer only when all three are in (or after a generous fallback).
    waiting.push(answer);
    if (waiting.length === 3) waiting.splice(0).forEach((w) => w());
    else setTimeout(() => waiting.splice(0).forEach((w) => w()), 5000).unref();
  });
  for (const [concurrency, expected] of [[1, 1], [-1, 3]] as const) {
    maxActive = 0;
    waiting = [];
    holdUntilThree = concurrency === -1;
    const rec = hookRecorder();
    const cp = new ClientPlayback();
    const m = await addonMaster([cp, rec.addon], { client_replay_concurrency: concurrency });
    await m.commands.call('replay.client', [old({ url: `${up.url}/1` }), old({ url: `${up.url}/2` }), old({ url: `${up.url}/3` })]);
    assert.equal(cp.count(), 3);
    await rec.waitFor(3);
    assert.equal(maxActive, expected, `concurrency ${concurrency}`);
    assert.deepEqual(rec.done.map((f) => f.response?.text), ['ok', 'ok', 'ok']);
    if (concurrency === 1) assert.deepEqual(rec.done.map((f) => f.request.path), ['/1', '/2', '/3'], 'in order');
    await m.shutdown();
  }
});

test('client_replay files are replayed by a running proxy (and errors are reported)', async (t) => {
  const up = await echoServer(t);
  const dir = mkdtempSync(join(tmpdir(), 'clientplayback-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'flows');
  writeFlowsToFile(file, [old({ url: `${up.url}/a` }), old({ url: `${up.url}/b` })]);
  const rec = hookRecorder();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { client_replay: [file] } });
  const cp = proxy.master.addons.get('clientplayback') as ClientPlayback;
  await rec.waitFor(2);
  await idle(cp);
  assert.deepEqual(rec.done.map((f) => JSON.parse(f.response!.text!).url), ['/a', '/b']);
  assert.equal(await proxy.master.commands.call('replay.client.count'), 0);
  await assert.rejects(proxy.master.commands.call('replay.client.file', join(dir, 'missing')), { name: 'CommandError' });
  await assert.rejects(proxy.master.options.update({ client_replay: [join(dir, 'missing')] }), { name: 'OptionsError' });
});
