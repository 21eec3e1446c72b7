import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { AddonHalt, userStack } from '../../src/addonmanager.js';
import { Master } from '../../src/master.js';
import { TCPFlow } from '../../src/tcp.js';
import { Client, Server } from '../../src/connection.js';
import type { Addon } from '../../src/hooks.js';
import { runningMaster } from '../helpers/master.js';
import { PassThrough } from 'node:stream';
import { Dumper } from '../../src/addons/dumper.js';
import { View } from '../../src/addons/view.js';
import { Intercept } from '../../src/addons/intercept.js';

function tcpFlow(): TCPFlow {
  return new TCPFlow(new Client({ peername: ['127.0.0.1', 1234], sockname: ['127.0.0.1', 8080] }), new Server({ address: ['127.0.0.1', 80] }), true);
}

test('triggerFlowFast stays synchronous while every handler is, and runs them in chain order', async (t) => {
  const calls: string[] = [];
  const a: Addon = { name: 'a', tcp_message: () => void calls.push('a') };
  const b: Addon = { name: 'b', tcp_message: () => void calls.push('b') };
  const { master } = await runningMaster(t, a, b);
  const flow = tcpFlow();
  const pending = master.addons.triggerFlowFast('tcp_message', flow);
  assert.equal(pending, undefined, 'no promise when nothing had to be awaited');
  assert.deepEqual(calls, ['a', 'b'], 'every handler ran before the call returned');
});

test('triggerFlowFast: an async handler is awaited before the next one runs; errors are logged and the chain goes on; AddonHalt stops it', async (t) => {
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: Addon = {
    name: 'slow',
    async tcp_message() {
      calls.push('slow start');
      await gate;
      calls.push('slow end');
    },
  };
  const broken: Addon = {
    name: 'broken',
    tcp_message() {
      throw new Error('boom');
    },
  };
  const after: Addon = { name: 'after', tcp_message: () => void calls.push('after') };
  const halt: Addon = {
    name: 'halt',
    tcp_message() {
      calls.push('halt');
      throw new AddonHalt();
    },
  };
  const never: Addon = { name: 'never', tcp_message: () => void calls.push('never') };
  const { master, log } = await runningMaster(t, slow, broken, after, halt, never);
  const pending = master.addons.triggerFlowFast('tcp_message', tcpFlow());
  assert.ok(pending instanceof Promise);
  assert.deepEqual(calls, ['slow start'], 'later handlers wait for the async one');
  release();
  await pending;
  assert.deepEqual(calls, ['slow start', 'slow end', 'after', 'halt']);
  assert.ok(log.some((e) => e.level === 'error' && e.message.includes('broken.tcp_message') && e.message.includes('boom')));
});

test('triggerFlowFast: a flow intercepted by a handler is waited for until it is resumed', async (t) => {
  const interceptor: Addon = { name: 'interceptor', tcp_message: (f: TCPFlow) => f.intercept() };
  const { master } = await runningMaster(t, interceptor);
  const flow = tcpFlow();
  const pending = master.addons.triggerFlowFast('tcp_message', flow);
  assert.ok(pending instanceof Promise, 'an intercepted flow must be waited for');
  let done = false;
  void pending.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  flow.resume();
  await pending;
  assert.equal(done, true);
});

test('triggerFlowFast fires update([flow]) after a flow hook when an addon listens to it', async (t) => {
  const seen: string[] = [];
  const ui: Addon = {
    name: 'ui',
    tcp_message: () => void seen.push('tcp_message'),
    update: (flows: TCPFlow[]) => void seen.push(`update ${flows.length}`),
  };
  const { master } = await runningMaster(t, ui);
  assert.equal(master.addons.triggerFlowFast('tcp_message', tcpFlow()), undefined);
  assert.deepEqual(seen, ['tcp_message', 'update 1']);
});

test('onlyReads: true only while every handler of the hook and of update declares readsOnly; the intercept addon counts as reading only without an active filter', async (t) => {
  const observer: Addon = { name: 'observer', readsOnly: () => true, tcp_message: () => undefined, update: () => undefined };
  const { master } = await runningMaster(t, observer);
  assert.equal(master.addons.onlyReads('tcp_message'), true);
  assert.equal(master.addons.onlyReads('websocket_message'), true, 'a hook nobody handles cannot change anything');

  await master.addons.add({ name: 'changer', tcp_message: () => undefined });
  assert.equal(master.addons.onlyReads('tcp_message'), false, 'a handler without readsOnly may modify');
  assert.equal(master.addons.onlyReads('websocket_message'), true);

  await master.addons.add({ name: 'updater', update: () => undefined });
  assert.equal(master.addons.onlyReads('websocket_message'), false, 'an update handler runs after every message hook');
});

test('the message observers of mitmdump and mitmweb (dumper, view, intercept without a filter) only read; an intercept filter changes that', async (t) => {
  const { master } = await runningMaster(t, new Dumper(new PassThrough()), new View(), new Intercept());
  for (const hook of ['websocket_message', 'tcp_message']) assert.equal(master.addons.onlyReads(hook), true, hook);
  await master.options.update({ intercept: '~websocket' });
  assert.equal(master.addons.onlyReads('websocket_message'), false, 'with a filter, intercept may hold the message');
  await master.options.update({ intercept: null });
  assert.equal(master.addons.onlyReads('websocket_message'), true);
});

test("an addon's error is logged with its own frames only, as mitmproxy cuts tracebacks to the script", async () => {
  const own = fileURLToPath(new URL('../../src/', import.meta.url));
  const e = new Error('hook boom');
  e.stack = [
    'Error: hook boom',
    '    at request (file:///home/me/addon.mjs:3:9)',
    `    at AddonManager.runHandlers (${own}addonmanager.ts:240:21)`,
    `    at runHttpFlow (${own}proxy/http-stream.ts:170:7)`,
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ].join('\n');
  assert.equal(userStack(e), 'Error: hook boom\n    at request (file:///home/me/addon.mjs:3:9)');
  // An error raised in the proxy's own code (called by the addon) keeps its whole stack.
  const inner = new Error('bad value');
  inner.stack = `Error: bad value\n    at Headers.set (${own}headers.ts:80:11)\n    at request (file:///home/me/addon.mjs:3:9)`;
  assert.equal(userStack(inner), inner.stack);

  const m = new Master();
  const logs: string[] = [];
  m.log.subscribe((entry) => logs.push(entry.message));
  await m.addons.add({ name: 'thrower', running: () => { throw new Error('from the test file'); } });
  await m.run();
  // mitmproxy's "Addon error: <message>", then the traceback, ending with the addon and its hook.
  assert.match(logs.find((l) => l.startsWith('Addon error: '))!, /^Addon error: from the test file\nError: from the test file\n {4}at .*hook-dispatch\.test\.ts:\d+:\d+\)?\n[\s\S]*\n {4}at thrower\.running \(addon hook\)$/);
  assert.ok(!logs.some((l) => l.includes('addonmanager.ts')), 'no frames of the proxy itself');
  await m.shutdown();
});

test('add_log: what handlers log, before or after an await, is not fed back to them', async () => {
  const m = new Master();
  const seen: string[] = [];
  await m.addons.add(
    {
      name: 'slow',
      async add_log() {
        await new Promise((r) => setTimeout(r, 5));
        m.log.info('logged by slow after an await');
      },
    },
    {
      name: 'echo',
      add_log(entry) {
        seen.push(entry.message);
        m.log.info(`echo of ${entry.message}`);
      },
    },
  );
  m.log.info('one entry');
  // With the entries fed back, this timer would never fire: the microtasks would never end.
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(seen, ['one entry']);
});

test('an addon added while a dispatch awaits an earlier handler is left out of that dispatch, and every other handler runs once', async (t) => {
  const calls: string[] = [];
  const child: Addon = { name: 'child', tcp_message: () => void calls.push('child') };
  const parent: Addon = {
    name: 'parent',
    addons: [],
    // As the script loader does in configure: a child is added (after an await) at the parent's place.
    async tcp_message() {
      calls.push('parent');
      if (!parent.addons!.includes(child)) await master.addons.addChild(parent, child, 0);
    },
  };
  const after: Addon = { name: 'after', tcp_message: () => void calls.push('after') };
  const { master } = await runningMaster(t, parent, after);
  await master.addons.trigger('tcp_message', tcpFlow());
  assert.deepEqual(calls, ['parent', 'after'], 'the new child is not called by the dispatch that added it');
  calls.length = 0;
  await master.addons.trigger('tcp_message', tcpFlow());
  assert.deepEqual(calls, ['parent', 'child', 'after'], 'the next dispatch sees it at its place');
});

test('an addon removed while a dispatch awaits is skipped, and the addons after it still run', async (t) => {
  const calls: string[] = [];
  const selfRemoving: Addon = {
    name: 'self-removing',
    async tcp_message() {
      calls.push('self-removing');
      await master.addons.remove(selfRemoving);
    },
  };
  const b: Addon = { name: 'b', tcp_message: () => void calls.push('b') };
  const remover: Addon = {
    name: 'remover',
    async tcp_message() {
      calls.push('remover');
      await master.addons.remove(victim);
    },
  };
  const victim: Addon = { name: 'victim', tcp_message: () => void calls.push('victim'), done: () => void calls.push('victim done') };
  const last: Addon = { name: 'last', tcp_message: () => void calls.push('last') };
  const { master } = await runningMaster(t, selfRemoving, b, remover, victim, last);
  await master.addons.trigger('tcp_message', tcpFlow());
  assert.deepEqual(calls, ['self-removing', 'b', 'remover', 'victim done', 'last'], 'no handler skipped by a shifted index, none called after its done');
});
