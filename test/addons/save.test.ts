import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OptionsError } from '../../src/optmanager.js';
import { Save } from '../../src/addons/save.js';
import { readFlows } from '../../src/io/flowreader.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { TCPFlow, TCPMessage } from '../../src/tcp.js';
import { DNSFlow } from '../../src/dns.js';
import { WebSocketData, WebSocketMessage } from '../../src/websocket.js';
import { runningMaster, type AfterHook } from '../helpers/master.js';
import { tempDir } from '../helpers/tempdir.js';
import { runCliToEnd } from '../helpers/cli.js';
import { FlowWriter } from '../../src/io/flowwriter.js';
import { FlowError } from '../../src/flow.js';

async function setup(t: AfterHook) {
  const save = new Save();
  const { master, log } = await runningMaster(t, save);
  const dir = tempDir(t, 'mitmts-save-');
  return { dir, master, save, log };
}

function httpFlow(path = '/', method = 'GET'): HTTPFlow {
  return new HTTPFlow(undefined, undefined, false, Request.make(method, `http://example.com${path}`));
}

test('HTTP flows are written at response or error, WebSocket flows once at websocket_end', async (t) => {
  const { dir, master } = await setup(t);
  const file = join(dir, 'out.mitm');
  await master.options.update({ save_stream_file: file });
  const a = httpFlow('/a');
  await master.addons.trigger('request', a);
  a.response = Response.make(200, 'ok');
  await master.addons.trigger('response', a);
  assert.equal((await readFlows(file)).length, 1, 'written right at response');
  const ws = httpFlow('/ws');
  ws.response = Response.make(101);
  ws.websocket = new WebSocketData();
  await master.addons.trigger('response', ws);
  assert.equal((await readFlows(file)).length, 1, 'not at the 101 response');
  ws.websocket.messages.push(new WebSocketMessage(1, true, 'hi'));
  await master.addons.trigger('websocket_end', ws);
  const e = httpFlow('/e');
  e.error = new FlowError('boom', 1);
  await master.addons.trigger('error', e);
  const flows = (await readFlows(file)) as HTTPFlow[];
  assert.deepEqual(flows.map((f) => f.request.path), ['/a', '/ws', '/e']);
  assert.equal(flows[1]!.websocket!.messages.length, 1);
});

test('TCP at end/error, DNS at response/error; unfinished flows are written at shutdown', async (t) => {
  const { dir, master } = await setup(t);
  const file = join(dir, 'out.mitm');
  await master.options.update({ save_stream_file: file });
  const tcp = new TCPFlow();
  await master.addons.trigger('tcp_start', tcp);
  tcp.messages.push(new TCPMessage(true, Buffer.from('x')));
  await master.addons.trigger('tcp_message', tcp);
  assert.equal((await readFlows(file)).length, 0);
  await master.addons.trigger('tcp_end', tcp);
  const dns = new DNSFlow();
  await master.addons.trigger('dns_request', dns);
  await master.addons.trigger('dns_error', dns);
  const pending = httpFlow('/pending');
  await master.addons.trigger('request', pending);
  assert.deepEqual((await readFlows(file)).map((f) => f.type), ['tcp', 'dns']);
  await master.shutdown();
  assert.deepEqual((await readFlows(file)).map((f) => f.type), ['tcp', 'dns', 'http']);
});

test('a flow an addon broke (a plain Error as its error) is that hook\'s error and is left out; the proxy goes on saving. A full disk still stops it', async (t) => {
  const { dir, master, log } = await setup(t);
  const file = join(dir, 'out.mitm');
  await master.options.update({ save_stream_file: file });
  const broken = new DNSFlow();
  broken.error = new Error('set by a script') as unknown as FlowError;
  await master.addons.trigger('dns_request', broken);
  await master.addons.trigger('dns_error', broken);
  assert.ok(log.some((l) => l.level === 'error' && l.message.includes('Addon error')), JSON.stringify(log));
  const fine = new DNSFlow();
  await master.addons.trigger('dns_request', fine);
  fine.error = new FlowError('no DNS response', 1);
  await master.addons.trigger('dns_error', fine);
  assert.deepEqual((await readFlows(file)).map((f) => f.id), [fine.id]);
  assert.equal(master.exitCode, 0, 'still running');

  if (!existsSync('/dev/full')) return;
  await master.options.update({ save_stream_file: '/dev/full' });
  const lost = new DNSFlow();
  await master.addons.trigger('dns_request', lost);
  lost.error = new FlowError('no DNS response', 1);
  await master.addons.trigger('dns_error', lost);
  assert.ok(log.some((l) => l.message.startsWith('Error while writing to /dev/full: ')), JSON.stringify(log));
  assert.equal(master.exitCode, 1);
});

test('a flow an addon broke is reported once, at its hook: the file closing later does not try it again', async (t) => {
  const { dir, master, log } = await setup(t);
  await master.options.update({ save_stream_file: join(dir, 'out.mitm') });
  const broken = new DNSFlow();
  broken.error = new Error('set by a script') as unknown as FlowError;
  await master.addons.trigger('dns_request', broken);
  await master.addons.trigger('dns_error', broken);
  await master.options.update({ save_stream_file: null });
  const errors = log.filter((l) => l.level === 'error').map((l) => l.message.split('\n')[0]!);
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]!, /^Addon error: /);
});

test('save_stream_filter selects flows; an invalid filter is an OptionsError naming it', async (t) => {
  const { dir, master } = await setup(t);
  const file = join(dir, 'out.mitm');
  await master.options.update({ save_stream_file: file, save_stream_filter: '~m POST' });
  for (const m of ['GET', 'POST']) {
    const f = httpFlow('/', m);
    f.response = Response.make(200);
    await master.addons.trigger('response', f);
  }
  assert.deepEqual(((await readFlows(file)) as HTTPFlow[]).map((f) => f.request.method), ['POST']);
  await assert.rejects(master.options.update({ save_stream_filter: '~nonsense(' }), (e: unknown) => e instanceof OptionsError && /~nonsense\(/.test(e.message));
  assert.equal(master.options.get('save_stream_filter'), '~m POST', 'the bad value was rolled back');
});

test('+path appends, a plain path truncates; missing directories are created', async (t) => {
  const { dir, master } = await setup(t);
  const file = join(dir, 'a', 'b', 'out.mitm');
  const write = async () => {
    const f = httpFlow();
    f.response = Response.make(200);
    await master.addons.trigger('response', f);
  };
  await master.options.update({ save_stream_file: file });
  await write();
  await master.options.update({ save_stream_file: null });
  await master.options.update({ save_stream_file: '+' + file });
  await write();
  await master.options.update({ save_stream_file: null });
  assert.equal((await readFlows(file)).length, 2);
  await master.options.update({ save_stream_file: file });
  await write();
  await master.options.update({ save_stream_file: null });
  assert.equal((await readFlows(file)).length, 1);
});

test('strftime patterns rotate to a new file when the formatted name changes', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: new Date(2024, 0, 2, 3, 4, 5) });
  t.after(() => mock.timers.reset());
  const { dir, master } = await setup(t);
  await master.options.update({ save_stream_file: join(dir, '%Y-%m-%d', 'flows-%H%M.mitm') });
  const write = async () => {
    const f = httpFlow();
    f.response = Response.make(200);
    await master.addons.trigger('response', f);
  };
  await write();
  await write();
  mock.timers.tick(60_000);
  await write();
  await master.options.update({ save_stream_file: null });
  const sub = join(dir, '2024-01-02');
  assert.deepEqual(readdirSync(sub).sort(), ['flows-0304.mitm', 'flows-0305.mitm']);
  assert.equal((await readFlows(join(sub, 'flows-0304.mitm'))).length, 2);
  assert.equal((await readFlows(join(sub, 'flows-0305.mitm'))).length, 1);
});

test('an unwritable path is an OptionsError', async (t) => {
  const { dir, master } = await setup(t);
  await assert.rejects(master.options.update({ save_stream_file: join(dir) }), OptionsError);
  assert.equal(existsSync(join(dir, 'x')), false);
});

test('save.file command: writes (or appends with +) and says how many', async (t) => {
  const { dir, master, log } = await setup(t);
  const file = join(dir, 'saved.mitm');
  const flows = [httpFlow('/1'), httpFlow('/2')];
  await master.commands.call('save.file', flows, file);
  await master.commands.call('save.file', flows.slice(0, 1), '+' + file);
  assert.equal((await readFlows(file)).length, 3);
  assert.ok(log.some((e) => e.level === 'alert' && e.message === 'Saved 2 flows.'));
  await master.commands.call('save.file', flows, join(dir, 'x.har'));
  assert.ok(log.some((e) => e.message === 'Saved as mitmproxy dump file. To save HAR files, use the `save.har` command.'));
  await assert.rejects(master.commands.call('save.file', flows, join(dir, 'no', 'such', 'dir', 'f')), /\[Errno 2\] No such file or directory: '.*\/f'/, 'Python\'s OSError text, as mitmproxy');
});

test('-w naming a FIFO nothing reads fails at once with the reason (before: mitmdump hung in open(), deaf to Ctrl-C and SIGTERM); with a reader, flows go down the pipe', async (t) => {
  const dir = tempDir(t, 'save-fifo-');
  const fifo = join(dir, 'flows.fifo');
  execFileSync('mkfifo', [fifo]);
  const r = await runCliToEnd(['dump', '-n', '-w', fifo], { timeoutMs: 8000 });
  assert.equal(r.code, 1, `exit status (null: killed after hanging)\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /\[Errno 6\] No such device or address: '.*flows\.fifo'/);

  // A reader there: the flow file is written into the pipe.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(reader));
  const w = FlowWriter.open(fifo);
  w.add(new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/fifo')));
  w.close();
  const buf = Buffer.alloc(1 << 16);
  const n = readSync(reader, buf);
  const flows = await readFlows(buf.subarray(0, n));
  assert.equal((flows[0] as HTTPFlow).request.url, 'http://example.com/fifo');
});
