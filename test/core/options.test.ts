import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Master } from '../../src/master.js';
import { OptManager, OptionsError } from '../../src/optmanager.js';
import { defaultAddons } from '../../src/addons/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, runCliToEnd } from '../helpers/cli.js';
import { testConfdir } from '../helpers/proxy.js';

async function master(): Promise<Master> {
  const m = new Master();
  await m.addons.add(...defaultAddons());
  return m;
}

test('core option defaults match mitmproxy', async () => {
  const m = await master();
  const o = m.options;
  assert.deepEqual(o.get('mode'), ['regular']);
  assert.equal(o.get('listen_host'), '');
  assert.equal(o.get('listen_port'), null);
  assert.equal(o.get('confdir'), '~/.mitmproxy');
  assert.equal(o.get('ssl_insecure'), false);
  assert.equal(o.get('upstream_cert'), true);
  assert.equal(o.get('http2'), true);
  assert.equal(o.get('connection_strategy'), 'eager');
  assert.equal(o.get('stream_large_bodies'), null);
  assert.equal(o.get('body_size_limit'), null);
  assert.equal(o.get('tcp_timeout'), 600);
  assert.equal(o.get('key_size'), 2048);
  assert.equal(o.get('content_view_lines_cutoff'), 512);
  assert.equal(o.get('validate_inbound_headers'), true);
  assert.equal(o.get('block_global'), true);
  assert.equal(o.get('onboarding_host'), 'mitm.it');
  assert.equal(o.get('tls_version_client_min'), 'TLS1_2');
  const json = o.toJSON();
  assert.deepEqual(json.anticomp, { type: 'bool', default: false, value: false, help: 'Try to convince servers to send us un-compressed data.', choices: null });
  assert.equal(json.listen_port!.type, 'optional int');
  assert.equal(json.mode!.type, 'sequence of str');
  assert.equal(json.stream_large_bodies!.type, 'optional str');
  assert.deepEqual(json.connection_strategy!.choices, ['eager', 'lazy']);
});

test('--set parsing: bare names, sequences, toggles, nullable values and errors', async () => {
  const o = new OptManager();
  o.add('flag', 'bool', false, 'a flag');
  o.add('count', 'int', 1, 'an int');
  o.add('maybe', 'optional int', 5, 'a nullable int');
  o.add('name', 'str', 'x', 'a str');
  o.add('list', 'sequence of str', ['a'], 'a list');
  o.add('pick', 'str', 'one', 'a choice', ['one', 'two']);
  await o.setFromSpecs(['flag', 'count=7', 'maybe', 'list=b', 'list=c']);
  assert.equal(o.get('flag'), true);
  assert.equal(o.get('count'), 7);
  assert.equal(o.get('maybe'), null);
  assert.deepEqual(o.get('list'), ['b', 'c'], 'repeated --set builds the list');
  await o.setFromSpecs(['flag=toggle']);
  assert.equal(o.get('flag'), false);
  await o.setFromSpecs(['list']);
  assert.deepEqual(o.get('list'), [], 'a bare sequence is emptied');

  await assert.rejects(o.setFromSpecs(['name']), /Option is required: name/);
  await assert.rejects(o.setFromSpecs(['count=abc']), /Not an integer: "abc"/);
  await assert.rejects(o.setFromSpecs(['flag=yes']), /accepts true, false or toggle/);
  await assert.rejects(o.setFromSpecs(['count=1', 'count=2']), /Received multiple values for count/);
  await assert.rejects(o.setFromSpecs(['pick=three']), (e: Error) => e instanceof OptionsError && /Invalid value "three" for option pick\. Valid choices: one, two/.test(e.message));
  await assert.rejects(o.update({ count: 'x' }), /Option count expects an integer, got "x"/);
  await assert.rejects(o.update({ nope: 1 }), /Unknown option: nope/);
  assert.equal(o.get('count'), 7, 'a failed update leaves the old value in place');
  assert.equal(o.get('pick'), 'one');
});

test('unknown --set names wait until an addon declares the option', async () => {
  const m = new Master();
  await m.options.setFromSpecs(['late_option=42']);
  assert.deepEqual(m.options.unknownDeferred(), ['late_option']);
  await m.addons.add({ name: 'late', load: (l) => l.addOption('late_option', 'int', 0, 'declared later') });
  assert.equal(m.options.get('late_option'), 42);
  assert.deepEqual(m.options.unknownDeferred(), []);
});

test('configure fires with the changed names; an OptionsError from an addon rolls the change back', async () => {
  const m = await master();
  const seen: string[][] = [];
  await m.addons.add({
    name: 'watcher',
    configure(updated: Set<string>) {
      seen.push([...updated].sort());
      if (m.options.get('listen_port') === 1) throw new OptionsError('port 1 is not allowed here');
    },
  });
  await m.options.update({ listen_port: 0, listen_host: '127.0.0.1' });
  await m.run();
  assert.ok(seen[0]!.length > 50, 'the first configure gets every option name');
  await m.options.update({ anticache: true });
  assert.deepEqual(seen.at(-1), ['anticache']);
  await assert.rejects(m.options.update({ listen_port: 1 }), /port 1 is not allowed/);
  assert.equal(m.options.get('listen_port'), 0, 'rolled back');
  await assert.rejects(m.options.update({ dumper_filter_does_not_exist: 'x' }), /Unknown option/);
  // mitmproxy's messages for values the proxy server refuses.
  await assert.rejects(m.options.update({ body_size_limit: '3 apples' }), { message: 'Invalid body_size_limit specification: 3 apples' });
  assert.equal(m.options.get('body_size_limit'), null);
  await assert.rejects(m.options.update({ stream_large_bodies: 'abc' }), { message: 'Invalid stream_large_bodies specification: abc' });
  await assert.rejects(m.options.update({ connect_addr: 'notanip' }), { message: "Invalid value for connect_addr: 'notanip'. Specify a valid IP address." });
  await assert.rejects(m.options.update({ mode: ['nonsense'] }), { message: 'Invalid proxy mode specification: nonsense (unknown mode)' });
  await assert.rejects(m.options.update({ mode: ['regular@8089', 'socks5@8089'] }), { message: 'Cannot spawn multiple servers on the same address: 127.0.0.1:8089' });
  // Host patterns are Python regexes: (?P<name>...) compiles; an unbalanced group does not.
  await m.options.update({ ignore_hosts: ['^(?P<h>example)\\.com:'] });
  await assert.rejects(m.options.update({ tcp_hosts: ['(unclosed'] }), /Invalid regular expression in tcp_hosts/);
  await assert.rejects(m.options.update({ udp_hosts: ['(unclosed'] }), /Invalid regular expression in udp_hosts/);
  await m.options.update({ udp_hosts: ['^(?P<h>example)\\.com$'] });
  await m.shutdown();
});

test('options.name = value (a script written as in Python) sets the option and refuses a wrong value at the assignment', async () => {
  const m = await master();
  const options = m.options as unknown as Record<string, unknown>;
  options.anticache = true;
  assert.equal(m.options.get('anticache'), true);
  assert.throws(() => (options.anticache = 'yes please'), { name: 'OptionsError', message: 'Option anticache expects a boolean (true or false), got "yes please".' });
  assert.throws(() => (options.connection_strategy = 'bogus'), /Valid choices: eager, lazy/);
  assert.equal(m.options.get('anticache'), true);
  assert.equal(m.options.get('connection_strategy'), 'eager');
});

test('options.name = value that an addon refuses in configure is rolled back and logged, not an unhandled rejection', async (t) => {
  const m = new Master();
  await m.addons.add({
    name: 'strict',
    load: (l) => l.addOption('level', 'int', 1, 'a level up to 5'),
    configure(updated: Set<string>) {
      if (updated.has('level') && m.options.get<number>('level') > 5) throw new OptionsError('level too high');
    },
  });
  await m.run();
  t.after(() => m.shutdown());
  const errors: string[] = [];
  m.log.subscribe((e) => void (e.level === 'error' && errors.push(e.message)));
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => void rejections.push(e);
  process.on('unhandledRejection', onRejection);
  t.after(() => void process.off('unhandledRejection', onRejection));
  (m.options as unknown as Record<string, unknown>).level = 9;
  await sleep(100);
  assert.deepEqual(rejections, []);
  assert.equal(m.options.get('level'), 1, 'rolled back');
  assert.deepEqual(errors, ['Cannot set option level to 9: level too high']);
});

test('config.yaml is read from confdir; precedence: --set < config.yaml < dedicated flags', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), 'anticomp: true\nshowhost: true\nmodify_headers:\n  - /~q/X-From/config\n');
  // A missing script is an option error: mitmdump refuses to start and names it.
  const missing = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n', '-s', join(dir, 'print-options.mjs')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /No such script: .*print-options\.mjs/);

  writeFileSync(
    join(dir, 'print-options.mjs'),
    "export function load(loader) { const o = loader.master.options; setTimeout(() => { console.log('OPTS ' + JSON.stringify({ showhost: o.get('showhost'), anticache: o.get('anticache'), anticomp: o.get('anticomp'), modify_headers: o.get('modify_headers') })); }, 0); }\n",
  );
  const r = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '--set', 'showhost=false', '--set', 'anticache=true', '--no-anticomp', '-n', '-q', '--set', 'rfile=/dev/null', '-s', join(dir, 'print-options.mjs')]);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('OPTS '));
  assert.ok(line, r.stdout);
  const opts = JSON.parse(line!.slice(5));
  assert.equal(opts.showhost, true, 'config.yaml beats --set');
  assert.equal(opts.anticache, true, '--set applies where config.yaml is silent');
  assert.equal(opts.anticomp, false, 'a dedicated flag beats config.yaml');
  assert.deepEqual(opts.modify_headers, ['/~q/X-From/config']);
});

test('long flags may be shortened to any unambiguous prefix, as argparse allows (--script, --ignore, --tcp)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-abbrev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'print.mjs'),
    "export function load(loader) { const o = loader.master.options; setTimeout(() => console.log('OPTS ' + JSON.stringify([o.get('ignore_hosts'), o.get('tcp_hosts'), o.get('flow_detail')])), 0); }\n",
  );
  const r = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n', '--rfile=/dev/null', '--ignore', 'foo', '--tcp', 'bar', '--flow', '3', '--script', join(dir, 'print.mjs')]);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('OPTS '));
  assert.deepEqual(JSON.parse(line!.slice(5)), [['foo'], ['bar'], 3]);
  // -q holds from the first line (the filter line is logged before the addons are configured).
  const quiet = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-q', '-n', '--rfile=/dev/null', '~d localhost']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout, '');
  const loud = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n', '--rfile=/dev/null', '~d localhost']);
  assert.match(loud.stdout, /Only processing flows that match "~d localhost"/);
  // --options comes after the option values are checked, as mitmdump's.
  const bad = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '--set', 'flow_detail=x', '--options']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /flow_detail/);
  // An option an addon refuses at startup: the program name, Python's OSError text, status 1.
  const toDir = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n', '-w', dir]);
  assert.equal(toDir.code, 1);
  assert.match(toDir.stderr, new RegExp(`^mitmproxy-ts dump: \\[Errno 21\\] Is a directory: '${dir}'$`, 'm'));
  // A prefix of two flags is argparse's error; -h exits 1, as mitmdump's does.
  const ambiguous = await runCliToEnd(['dump', '--se', 'x']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /ambiguous option: --se could match --set, /);
});

test('config.yaml errors name the file and line; an invalid value is refused with the reason (status 1, as mitmdump)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), 'anticomp: true\n  bad: [indent\n');
  const r = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^mitmproxy-ts dump: Error reading ${join(dir, 'config.yaml')}: Config error at line \\d+`));
  writeFileSync(join(dir, 'config.yaml'), 'listen_port: many\n');
  const r2 = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n']);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /Option listen_port expects an integer or null, got "many"/);
});

test('unknown options (a config.yaml shared with mitmweb, a typo) are ignored with a warning, as mitmdump ignores them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), 'web_port: 8082\nconsole_palette: dark\n');
  const r = await runCliToEnd(['dump', '--set', `confdir=${dir}`, '-n', '--set', 'no_such_option=1', '--set', 'rfile=/dev/null']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /Ignoring unknown option\(s\): (?=.*web_port)(?=.*console_palette)(?=.*no_such_option)/);
});

test('-n with nothing to read keeps running until interrupted', async (t) => {
  // A script says when startup is over: on a busy machine it can take longer than the wait below,
  // and an interrupt while starting is a failure of its own ("stopped while starting").
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-n-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ready.mjs'), "export function running() { console.log('RUNNING'); }\n");
  const tool = await runCli(t, ['dump', '-n', '--set', `confdir=${testConfdir()}`, '-s', join(dir, 'ready.mjs')], { waitListening: false });
  await tool.waitFor(/RUNNING/);
  await sleep(2000);
  assert.equal(tool.child.exitCode, null, `exited early:\n${tool.stdout()}\n${tool.stderr()}`);
  assert.equal(await tool.stop(), 0);
});

test('--options prints every default as YAML with help comments; options.save writes only changes', async (t) => {
  const r = await runCliToEnd(['dump', '--options']);
  assert.equal(r.code, 0);
  // mitmproxy's dump_defaults layout: a blank line, the help with its type (or valid values)
  // wrapped at 70 columns, then the value; None is an empty value, '' a quoted empty string.
  assert.match(r.stdout, /\n\n# Try to convince servers to send us un-compressed data\. Type bool\.\nanticomp: false\n/);
  assert.match(r.stdout, /\n# Determine when server connections should be established\. When set to\n/);
  assert.match(r.stdout, /Valid values are 'eager', 'lazy'\.\nconnection_strategy: eager\n/);
  assert.match(r.stdout, /\nlisten_port:\n/);
  assert.match(r.stdout, /\nhardump: ''\n/);
  for (const line of r.stdout.split('\n')) if (line.startsWith('# ')) assert.ok(line.length <= 72, line);
  const m = await master();
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-save-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await m.options.update({ anticache: true, ignore_hosts: ['example\\.com'] });
  await m.commands.execute(`options.save ${join(dir, 'saved.yaml')}`);
  assert.equal(readFileSync(join(dir, 'saved.yaml'), 'utf8'), 'anticache: true\nignore_hosts:\n  - example\\.com\n');
  await m.commands.execute('options.reset');
  assert.equal(m.options.get('anticache'), false);
  await m.commands.execute(`options.load ${join(dir, 'saved.yaml')}`);
  assert.equal(m.options.get('anticache'), true);
});

test('options.save edits an existing file in place: known keys stay (even at their default), unknown keys go, changes are added', async (t) => {
  const m = await master();
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-save-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'anticomp: true\nzzz_unknown: 1\nhttp2: true\nanticache: false\n');
  await m.options.update({ anticache: true, ignore_hosts: ['a'] });
  await m.commands.execute(`options.save ${file}`);
  assert.equal(readFileSync(file, 'utf8'), 'anticomp: true\nhttp2: true\nanticache: true\nignore_hosts:\n  - a\n', "the file's keys keep their order and values unless the option changed");
  writeFileSync(file, 'anticomp: [unclosed\n');
  await assert.rejects(m.commands.execute(`options.save ${file}`), /Could not save options - Config error/);
  assert.equal(readFileSync(file, 'utf8'), 'anticomp: [unclosed\n', 'a file that cannot be read as options is left alone');
});

test('options.load: relative scripts resolve against the file\'s directory; a missing file is ignored', async (t) => {
  const m = await master();
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 's.mjs'), 'export function load() {}\n');
  writeFileSync(join(dir, 'sub', 'o.yaml'), 'scripts:\n  - s.mjs\nanticache: true\n');
  await m.commands.execute(`options.load ${join(dir, 'sub', 'o.yaml')}`);
  assert.deepEqual(m.options.get('scripts'), [join(dir, 'sub', 's.mjs')]);
  assert.equal(m.options.get('anticache'), true);
  assert.equal(await m.commands.execute(`options.load ${join(dir, 'missing.yaml')}`), undefined);
  await assert.rejects(m.commands.execute(`options.load ${join(dir, 'sub', 's.mjs')}`), /Could not load options - Error reading /);
});

test('command line errors: the usage line and one error line, status 1, as argparse in mitmdump; --x with --no-x is refused', async () => {
  const missing = await runCliToEnd(['dump', '-p']);
  assert.equal(missing.code, 1);
  assert.deepEqual(missing.stderr.trim().split('\n'), ['usage: mitmproxy-ts dump [options] [filter]', "mitmproxy-ts dump: option '-p, --listen-port <PORT>' argument missing"]);
  const both = await runCliToEnd(['dump', '--anticache', '--no-anticache']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /mitmproxy-ts dump: argument --no-anticache: not allowed with argument --anticache/);
  const unknown = await runCliToEnd(['dump', '--bogus-flag']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim().split('\n').length, 2);
});
