import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Export } from '../../src/addons/export.js';
import { fakeClipboard } from '../helpers/clipboard.js';
import { CommandError } from '../../src/command.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { runningMaster, type AfterHook } from '../helpers/master.js';
import { tempDir } from '../helpers/tempdir.js';

function setup(t: AfterHook) {
  return runningMaster(t, new Export());
}

function flow(): HTTPFlow {
  const f = new HTTPFlow(undefined, undefined, false, Request.make('POST', 'http://example.com/api', '{"a": 1}', [['Content-Type', 'application/json']]));
  f.response = Response.make(200, 'done', [['Content-Type', 'text/plain']]);
  f.serverConn.peername = ['10.1.2.3', 80];
  return f;
}

test('commands and option are declared as in mitmproxy', async (t) => {
  const { master } = await setup(t);
  assert.equal(master.commands.get('export')!.signatureHelp(), 'export format f -> str');
  assert.equal(master.commands.get('export.file')!.signatureHelp(), 'export.file format flow path');
  assert.equal(master.commands.get('export.clip')!.signatureHelp(), 'export.clip format f');
  assert.equal(master.commands.get('export.formats')!.signatureHelp(), 'export.formats  -> str[]');
  const o = master.options.def('export_preserve_original_ip');
  assert.equal(o.type, 'bool');
  assert.equal(o.defaultValue, false);
  assert.match(o.help, /^When exporting a request as an external command, make an effort to connect to the same IP/);
});

test('export.formats, export, export.file', async (t) => {
  const { master, log } = await setup(t);
  assert.deepEqual(await master.commands.call('export.formats'), ['curl', 'httpie', 'raw', 'raw_request', 'raw_response']);
  const f = flow();
  assert.equal(await master.commands.call('export', 'curl', f), `curl -H 'Content-Type: application/json' -X POST http://example.com/api -d '{"a": 1}'`);
  await master.options.update({ export_preserve_original_ip: true });
  assert.match((await master.commands.call('export', 'curl', f)) as string, /^curl --resolve 'example\.com:80:\[10\.1\.2\.3\]'/);
  const dir = tempDir(t, 'mitmts-exp-');
  await master.commands.call('export.file', 'raw_response', f, join(dir, 'resp.txt'));
  assert.equal(readFileSync(join(dir, 'resp.txt'), 'latin1'), 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 4\r\n\r\ndone');
  await master.commands.call('export.file', 'raw', f, join(dir, 'no', 'dir', 'x'));
  assert.ok(log.some((e) => e.level === 'error' && /ENOENT/.test(e.message)), 'a write error is logged');
  await assert.rejects(master.commands.call('export', 'har', f), (e: unknown) => e instanceof CommandError && e.message === 'No such export format: har');
});

test('export.clip copies the export to the clipboard; a copy program that fails is an error line', async (t) => {
  const { master, log } = await setup(t);
  const clipboard = fakeClipboard(t);
  await master.commands.call('export.clip', 'curl', flow());
  assert.equal(clipboard.copied(), (await master.commands.call('export', 'curl', flow())) as string);
  assert.match(clipboard.copied()!, /^curl /);
  fakeClipboard(t, { status: 3 });
  await master.commands.call('export.clip', 'curl', flow());
  assert.ok(log.some((e) => e.level === 'error' && e.message === 'Cannot copy to the clipboard: xclip exited with status 3.'), JSON.stringify(log));
});
