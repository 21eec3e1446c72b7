import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Master } from '../../src/master.js';
import { defaultAddons } from '../../src/addons/index.js';
import { View } from '../../src/addons/view.js';
import { CommandError, lexCommand } from '../../src/command.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { runCliToEnd } from '../helpers/cli.js';

async function masterWithView(): Promise<{ m: Master; view: View }> {
  const m = new Master();
  const view = new View();
  await m.addons.add(...defaultAddons(), view);
  return { m, view };
}

function flow(method: string, url: string, status?: number): HTTPFlow {
  const f = new HTTPFlow(undefined, undefined, false, Request.make(method, url));
  if (status) f.response = Response.make(status, 'body');
  return f;
}

test('command listing: mitmproxy JSON shape and signature help', async () => {
  const { m } = await masterWithView();
  const listing = m.commands.toJSON();
  assert.deepEqual(listing['flow.mark'], {
    help: 'Mark flows.',
    parameters: [
      { name: 'flows', type: 'flow[]', kind: 'POSITIONAL_OR_KEYWORD' },
      { name: 'marker', type: 'marker', kind: 'POSITIONAL_OR_KEYWORD' },
    ],
    return_type: null,
    signature_help: 'flow.mark flows marker',
  });
  assert.equal(listing['set']!.signature_help, 'set option *value');
  assert.ok(listing['set']!.help!.startsWith('Set an option. When the value is omitted, booleans are set to true,\nstrings '), 'help wrapped at 70 columns, as mitmproxy serves it');
  for (const c of Object.values(listing)) for (const line of (c.help ?? '').split('\n')) assert.ok(line.length <= 70, line);
  assert.equal(listing['set']!.parameters[1]!.kind, 'VAR_POSITIONAL');
  assert.equal(listing['flow.encode.options']!.signature_help, 'flow.encode.options  -> str[]');
  assert.equal(listing['options.reset']!.signature_help, 'options.reset ', 'a trailing space after a name without parameters');
  for (const name of ['set', 'options.load', 'options.save', 'options.reset', 'options.reset.one', 'flow.resume', 'flow.kill', 'flow.mark', 'flow.mark.toggle', 'flow.revert', 'flow.set', 'flow.set.options', 'flow.decode', 'flow.encode', 'flow.encode.toggle', 'flow.encode.options', 'flow.comment', 'export', 'export.formats', 'cut', 'save.file', 'save.har', 'replay.client', 'replay.server', 'script.run', 'proxyserver.active_connections', 'view.flows.resolve']) {
    assert.ok(listing[name], `command ${name} is registered`);
  }
});

test('executing commands from strings: set, flow.* over flow selectors, typed arguments', async () => {
  const { m, view } = await masterWithView();
  const a = flow('GET', 'http://example.com/a', 200);
  const b = flow('POST', 'http://example.com/b', 500);
  view.add([a, b]);
  await m.commands.execute('set anticache true');
  assert.equal(m.options.get('anticache'), true);
  await m.commands.execute('set ignore_hosts a b');
  assert.deepEqual(m.options.get('ignore_hosts'), ['a', 'b'], 'each value is its own --set, a sequence gets one entry per value');
  await m.commands.execute('flow.mark @all true');
  assert.equal(a.marked, ':default:');
  assert.equal(b.marked, ':default:');
  await m.commands.execute('flow.mark "~m POST" :red_circle:');
  assert.equal(b.marked, ':red_circle:');
  await m.commands.execute('flow.mark.toggle @marked');
  assert.equal(a.marked, '');
  await m.commands.execute('flow.comment "~c 500" "needs a look"');
  assert.equal(b.comment, 'needs a look');
  await m.commands.execute('flow.set @all status_code 404');
  assert.equal(a.response!.statusCode, 404);
  assert.equal(a.response!.reason, 'Not Found');
  assert.deepEqual(await m.commands.execute('flow.set.options'), ['host', 'status_code', 'method', 'path', 'url', 'reason']);
  await m.commands.execute('flow.encode @all response gzip');
  assert.equal(a.response!.headers.get('content-encoding'), 'gzip');
  assert.equal(a.response!.text, 'body');
  assert.equal(a.modified(), true);
  await m.commands.execute('flow.revert @all');
  assert.equal(a.response!.headers.get('content-encoding'), undefined);
  assert.equal(a.modified(), false);
  assert.equal(await m.commands.execute('proxyserver.active_connections'), 0);
});

test('set takes name=value as one argument, and an empty bool value means true (as --set name=)', async () => {
  const { m } = await masterWithView();
  await m.commands.callStrings('set', ['anticache=true']);
  assert.equal(m.options.get('anticache'), true);
  await m.commands.callStrings('set', ['ignore_hosts=a', 'b']);
  assert.deepEqual(m.options.get('ignore_hosts'), ['a=b'], 'split on the first "=" of the whole spec');
  await m.commands.callStrings('set', ['anticomp', '']);
  assert.equal(m.options.get('anticomp'), true);
  await m.options.setFromSpecs(['http2=false']);
  await m.options.setFromSpecs(['http2=']);
  assert.equal(m.options.get('http2'), true);
  await assert.rejects(m.commands.callStrings('set', ['key_size=']), /Option is required: key_size/);
});

test('command errors say what is wrong', async () => {
  const { m } = await masterWithView();
  await assert.rejects(m.commands.execute('no.such.command'), (e: Error) => e instanceof CommandError && e.message === 'Unknown command: no.such.command');
  await assert.rejects(m.commands.execute('set no_such_option 1'), /Unknown option\(s\): no_such_option/);
  await assert.rejects(m.commands.execute('set no_such_option=1'), /Unknown option\(s\): no_such_option/);
  await assert.rejects(m.commands.execute('set listen_port banana'), /Not an integer/);
  await assert.rejects(m.commands.execute('view.order.reverse maybe'), /Booleans are 'true' or 'false'/);
  await assert.rejects(m.commands.execute('flow.set @all colour red'), /Invalid choice "colour"/);
  await assert.rejects(m.commands.execute('flow.mark @all'), /argument mismatch/);
  await assert.rejects(m.commands.execute('view.focus.go notanumber'), /Invalid int argument/);
  await assert.rejects(m.commands.execute('flow.mark "(~q" true'), /Invalid filter expression/);
});

test("a command's result must be of its declared return type, as mitmproxy's Command.call checks", async () => {
  const { m } = await masterWithView();
  m.commands.add('my.bad', { returns: 'int' }, () => 'not a number');
  m.commands.add('my.good', { returns: 'int' }, async () => 42);
  m.commands.add('my.rows', { returns: 'data[][]' }, () => [['a', Buffer.from('b')]]);
  m.commands.add('my.nothing', { returns: 'str' }, () => undefined);
  await assert.rejects(m.commands.callStrings('my.bad', []), (e: Error) => e instanceof CommandError && e.message === 'my.bad returned unexpected data - expected int');
  await assert.rejects(m.commands.execute('my.nothing'), /my\.nothing returned unexpected data - expected str/);
  assert.equal(await m.commands.execute('my.good'), 42);
  assert.deepEqual(await m.commands.execute('my.rows'), [['a', Buffer.from('b')]]);
});

test('markers: true, false, or a key of the emoji table (shortcodes, :default:, one letter or digit); anything else is an invalid choice', async () => {
  const { m, view } = await masterWithView();
  const a = flow('GET', 'http://example.com/a', 200);
  view.add([a]);
  for (const [arg, marked] of [['true', ':default:'], [':grapes:', ':grapes:'], ['x', 'x'], ['7', '7'], ['false', '']]) {
    await m.commands.callStrings('flow.mark', ['@all', arg!]);
    assert.equal(a.marked, marked, arg);
  }
  for (const bad of [':notanemoji:', '', 'xy', '!', 'True']) {
    await assert.rejects(m.commands.callStrings('flow.mark', ['@all', bad]), (e: Error) => e instanceof CommandError && e.message === 'Invalid choice.', JSON.stringify(bad));
  }
  assert.equal(a.marked, '', 'a refused marker changes nothing');
});

test('flow.decode and flow.encode.toggle fail on a body that does not match its Content-Encoding, and leave the flow alone', async () => {
  const { m, view } = await masterWithView();
  const bad = flow('GET', 'http://example.com/badgz', 200);
  bad.response!.headers.set('content-encoding', 'gzip');
  view.add([bad]);
  for (const command of ['flow.decode @all response', 'flow.encode.toggle @all response']) {
    await assert.rejects(m.commands.execute(command), (e: Error) => e instanceof CommandError && /gzip/.test(e.message), command);
    assert.equal(bad.response!.headers.get('content-encoding'), 'gzip', command);
    assert.deepEqual(bad.response!.rawContent, Buffer.from('body'), command);
    assert.equal(bad.modified(), false, command);
  }
  const good = flow('GET', 'http://example.com/gz', 200);
  good.response!.encode('gzip');
  view.add([good]);
  await m.commands.execute(`flow.decode @${good.id} response`);
  assert.equal(good.response!.headers.get('content-encoding'), undefined);
  assert.deepEqual(good.response!.rawContent, Buffer.from('body'));
});

test('command line lexing and string escapes', async () => {
  assert.deepEqual(lexCommand('a "b c" \'d e\' f'), ['a', 'b c', 'd e', 'f']);
  assert.deepEqual(lexCommand('  spaced   out  '), ['spaced', 'out']);
  const { m } = await masterWithView();
  let got: unknown;
  m.commands.add('test.echo', { params: [{ name: 's', type: 'str' }, { name: 'b', type: 'bytes' }] }, (s: string, b: Buffer) => (got = [s, b]));
  await m.commands.execute('test.echo a\\nb\\x41\\u00e9 \\xff\\x00');
  assert.deepEqual(got, ['a\nbAé', Buffer.from([0xff, 0x00])]);
});

test('mitmdump --commands prints every signature with its help above it, sorted, as mitmproxy', async () => {
  const r = await runCliToEnd(['dump', '--commands']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^# Mark flows\.\nflow\.mark flows marker\n\n/m);
  const signatures = r.stdout.split('\n').filter((l, i, all) => l !== '' && !l.startsWith('# ') && all[i + 1] === '');
  assert.deepEqual(signatures, [...signatures].sort(), 'sorted by signature');
  assert.match(r.stdout, /^set option \*value\n/m);
  assert.match(r.stdout, /^export\.formats {2}-> str\[\]\n/m);
});
