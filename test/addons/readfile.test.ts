import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Master } from '../../src/master.js';
import { OptionsError } from '../../src/optmanager.js';
import { ReadFile } from '../../src/addons/readfile.js';
import { Save } from '../../src/addons/save.js';
import { readFlows } from '../../src/io/flowreader.js';
import { encodeFlow } from '../../src/io/flowwriter.js';
import type { AnyFlow } from '../../src/flows.js';
import { HTTPFlow } from '../../src/http.js';
import type { LogEntry } from '../../src/log.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm');

/** Records every flow hook with a short description of the flow. */
class Recorder {
  readonly name = 'recorder';
  events: string[] = [];
  private rec(hook: string, f: AnyFlow) {
    const what = f instanceof HTTPFlow ? f.request.path.split('?')[0] : f.type;
    const extra = f instanceof HTTPFlow && f.websocket ? `:${f.websocket.messages.length}` : '';
    this.events.push(`${hook} ${what}${hook === 'websocket_message' ? extra : ''}`);
  }
  requestheaders(f: AnyFlow) { this.rec('requestheaders', f); }
  request(f: AnyFlow) { this.rec('request', f); }
  responseheaders(f: AnyFlow) { this.rec('responseheaders', f); }
  response(f: AnyFlow) { this.rec('response', f); }
  error(f: AnyFlow) { this.rec('error', f); }
  websocket_start(f: AnyFlow) { this.rec('websocket_start', f); }
  websocket_message(f: AnyFlow) { this.rec('websocket_message', f); }
  websocket_end(f: AnyFlow) { this.rec('websocket_end', f); }
  tcp_start(f: AnyFlow) { this.rec('tcp_start', f); }
  tcp_message(f: AnyFlow) { this.rec('tcp_message', f); }
  tcp_end(f: AnyFlow) { this.rec('tcp_end', f); }
  dns_request(f: AnyFlow) { this.rec('dns_request', f); }
  dns_response(f: AnyFlow) { this.rec('dns_response', f); }
  updates = 0;
  update() { this.updates++; }
}

class FakeView {
  readonly name = 'view';
  added: AnyFlow[] = [];
  add(flows: Iterable<AnyFlow>) {
    for (const f of flows) if (!this.added.includes(f)) this.added.push(f);
  }
}

async function setup(t: { after: (fn: () => void | Promise<void>) => void }, stdin?: Readable) {
  const master = new Master();
  const readfile = new ReadFile(stdin);
  const recorder = new Recorder();
  const view = new FakeView();
  await master.addons.add(readfile, recorder, view);
  const log: LogEntry[] = [];
  master.log.subscribe((e) => log.push(e));
  t.after(() => master.shutdown());
  return { master, readfile, recorder, view, log };
}

test('rfile: flows run through the addon chain in mitmproxy\'s event order, then go to the view', async (t) => {
  const { master, readfile, recorder, view } = await setup(t);
  await master.options.update({ rfile: FIXTURE });
  await master.run();
  assert.equal(await master.commands.call('readfile.reading'), true);
  await readfile.finished();
  assert.equal(await master.commands.call('readfile.reading'), false);
  const ev = recorder.events;
  assert.deepEqual(ev.slice(0, 4), ['requestheaders /', 'request /', 'responseheaders /', 'response /']);
  assert.ok(ev.includes('error /refused'));
  assert.ok(!ev.includes('response /refused'));
  const wsStart = ev.indexOf('websocket_start /ws');
  assert.deepEqual(ev.slice(wsStart - 1, wsStart + 6), [
    'response /ws',
    'websocket_start /ws',
    'websocket_message /ws:1',
    'websocket_message /ws:2',
    'websocket_message /ws:3',
    'websocket_message /ws:4',
    'websocket_end /ws',
  ]);
  const tcpStart = ev.indexOf('tcp_start tcp');
  assert.deepEqual(ev.slice(tcpStart), ['tcp_start tcp', 'tcp_message tcp', 'tcp_message tcp', 'tcp_message tcp', 'tcp_message tcp', 'tcp_end tcp', 'dns_request dns', 'dns_response dns']);
  assert.equal(recorder.updates, ev.length, 'every hook is followed by update');
  assert.equal(view.added.length, 14);
});

test('readfile_filter keeps matching flows only; an invalid filter is an OptionsError', async (t) => {
  const { master, readfile, view } = await setup(t);
  await master.options.update({ readfile_filter: '~m POST' });
  await master.run();
  assert.equal(await readfile.loadFlowsFromPath(FIXTURE), 1);
  assert.equal(view.added.length, 1);
  await assert.rejects(master.options.update({ readfile_filter: '~q ~' }), OptionsError);
});

test('"-" reads stdin', async (t) => {
  const stdin = Readable.from([readFileSync(FIXTURE)]);
  const { master, readfile, view } = await setup(t, stdin);
  await master.options.update({ rfile: '-' });
  await master.run();
  await readfile.finished();
  assert.equal(view.added.length, 14);
});

test('a damaged file: the flows before the damage are loaded, then mitmproxy\'s messages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-rf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const flows = await readFlows(FIXTURE);
  const cut = Buffer.concat([encodeFlow(flows[0]!), encodeFlow(flows[1]!), encodeFlow(flows[2]!).subarray(0, 50)]);
  const path = join(dir, 'cut.mitm');
  writeFileSync(path, cut);
  const { master, readfile, view, log } = await setup(t);
  await master.options.update({ rfile: path });
  await master.run();
  await readfile.finished();
  assert.equal(view.added.length, 2);
  assert.ok(log.some((e) => e.level === 'warn' && e.message === 'Flow file corrupted - loaded 2 flows.'));
  const failed = log.find((e) => e.level === 'error' && e.message.startsWith(`Failed to read ${path}: Invalid data format.`));
  assert.ok(failed, JSON.stringify(log));
  assert.match(failed.message, /at byte offset \d+/);
});

test('a missing file is reported as such', async (t) => {
  const { master, readfile, log } = await setup(t);
  await master.options.update({ rfile: '/nonexistent/flows.mitm' });
  await master.run();
  // Reported while starting (mitmdump then exits 1: errorcheck), not later in the background.
  assert.ok(log.some((e) => e.level === 'error' && e.message.startsWith('Cannot load flows: ')), 'logged by the time run() returns');
  await readfile.finished();
  assert.deepEqual(
    log.filter((e) => e.level === 'error').map((e) => e.message),
    ["Cannot load flows: [Errno 2] No such file or directory: '/nonexistent/flows.mitm'", "Failed to read /nonexistent/flows.mitm: [Errno 2] No such file or directory: '/nonexistent/flows.mitm'"],
  );
});

test('with a single reverse mode, loaded HTTP flows are re-targeted to it', async (t) => {
  const { master, readfile, view } = await setup(t);
  await master.options.update({ mode: ['reverse:https://backend.example:8443'] });
  await master.run();
  await readfile.loadFlowsFromPath(FIXTURE);
  const http = view.added.filter((f): f is HTTPFlow => f instanceof HTTPFlow);
  assert.ok(http.length > 0);
  for (const f of http) {
    assert.equal(f.request.host, 'backend.example');
    assert.equal(f.request.port, 8443);
    assert.equal(f.request.scheme, 'https');
  }
});

test('mitmdump -r old.mitm -w new.mitm: re-saving upgrades an 8.1.1 file to format 21 with every flow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-rf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const master = new Master();
  const readfile = new ReadFile();
  await master.addons.add(readfile, new Save());
  const out = join(dir, 'new.mitm');
  await master.options.update({ rfile: FIXTURE, save_stream_file: out });
  await master.run();
  await readfile.finished();
  await master.shutdown();
  const original = await readFlows(FIXTURE);
  const resaved = await readFlows(out);
  assert.equal(resaved.length, original.length);
  assert.deepEqual(
    resaved.map((f) => f.getState()).sort((a, b) => a.id.localeCompare(b.id)),
    original.map((f) => f.getState()).sort((a, b) => a.id.localeCompare(b.id)),
  );
  assert.match(readFileSync(out).toString('latin1', 0, 30), /^\d+:9:websocket;/);
});

test('a directory is reported as such', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-rf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { master, readfile, log } = await setup(t);
  await assert.rejects(readfile.loadFlowsFromPath(dir), /Is a directory/);
  assert.ok(log.some((e) => e.message === `Cannot load flows: [Errno 21] Is a directory: '${dir}'`));
  void master;
});

test('a pipe is read through the one descriptor opened for it (`-r <(zcat flows.gz)`, a FIFO): before, it was opened twice and the second open waited for a writer that had gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-rf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'flows.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', FIXTURE, fifo], { stdio: 'ignore' });
  t.after(() => {
    writer.kill();
    // A reader still waiting for a writer (the defect) is let go, so the test process can end.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting
    }
  });
  const { master, readfile, view } = await setup(t);
  await master.options.update({ rfile: fifo });
  await master.run();
  const done = await Promise.race([readfile.finished().then(() => true), sleep(10_000).then(() => false)]);
  assert.ok(done, 'the read finished');
  assert.equal(view.added.length, 14);
});
