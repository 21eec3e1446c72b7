import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandHistory } from '../../src/addons/command_history.js';
import { addonMaster } from './helpers.js';

function confdir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'cmdhist-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('history is loaded from and appended to <confdir>/command_history', async (t) => {
  const dir = confdir(t);
  writeFileSync(join(dir, 'command_history'), 'flow.mark @all\nset anticache true\n');
  const ch = new CommandHistory();
  const m = await addonMaster([ch], { confdir: dir });
  assert.deepEqual(await m.commands.call('commands.history.get'), ['flow.mark @all', 'set anticache true']);
  await m.commands.call('commands.history.add', 'flow.kill @marked');
  await m.commands.call('commands.history.add', '   ');
  assert.equal(readFileSync(join(dir, 'command_history'), 'utf8'), 'flow.mark @all\nset anticache true\nflow.kill @marked\n');
  assert.deepEqual(await m.commands.call('commands.history.get'), ['flow.mark @all', 'set anticache true', 'flow.kill @marked']);
});

test('prev/next walk the entries matching a prefix, ending at the prefix', async (t) => {
  const dir = confdir(t);
  const m = await addonMaster([new CommandHistory()], { confdir: dir });
  for (const c of ['flow.mark @all', 'set a', 'flow.kill @all']) await m.commands.call('commands.history.add', c);
  const call = (n: string, ...a: unknown[]) => m.commands.call(n, ...a);
  assert.equal(await call('commands.history.prev'), 'flow.kill @all');
  assert.equal(await call('commands.history.prev'), 'set a');
  assert.equal(await call('commands.history.prev'), 'flow.mark @all');
  assert.equal(await call('commands.history.prev'), 'flow.mark @all', 'stops at the oldest');
  assert.equal(await call('commands.history.next'), 'set a');
  await call('commands.history.filter', 'flow');
  assert.equal(await call('commands.history.prev'), 'flow.kill @all');
  assert.equal(await call('commands.history.prev'), 'flow.mark @all');
  assert.equal(await call('commands.history.next'), 'flow.kill @all');
  assert.equal(await call('commands.history.next'), 'flow', 'the typed prefix is the newest entry');
  assert.equal(await call('commands.history.next'), 'flow');
});

test('clear removes the file; command_history=false keeps nothing on disk', async (t) => {
  const dir = confdir(t);
  const m = await addonMaster([new CommandHistory()], { confdir: dir });
  await m.commands.call('commands.history.add', 'x');
  assert.ok(existsSync(join(dir, 'command_history')));
  await m.commands.call('commands.history.clear');
  assert.equal(existsSync(join(dir, 'command_history')), false);
  assert.deepEqual(await m.commands.call('commands.history.get'), []);
  await m.options.update({ command_history: false });
  await m.commands.call('commands.history.add', 'y');
  assert.equal(existsSync(join(dir, 'command_history')), false);
  assert.deepEqual(await m.commands.call('commands.history.get'), ['y']);
});

test('a long history is cut to its newer half on shutdown', async (t) => {
  const dir = confdir(t);
  const lines = Array.from({ length: CommandHistory.VACUUM_SIZE }, (_, i) => `cmd ${i}`);
  writeFileSync(join(dir, 'command_history'), lines.join('\n') + '\n');
  const m = await addonMaster([new CommandHistory()], { confdir: dir });
  await m.shutdown();
  const kept = readFileSync(join(dir, 'command_history'), 'utf8').trimEnd().split('\n');
  assert.equal(kept.length, CommandHistory.VACUUM_SIZE / 2);
  assert.equal(kept[0], `cmd ${CommandHistory.VACUUM_SIZE / 2}`);
  assert.equal(kept.at(-1), `cmd ${CommandHistory.VACUUM_SIZE - 1}`);
});
