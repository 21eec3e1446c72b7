import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, runCli } from '../helpers/cli.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { testConfdir, testProxy } from '../helpers/proxy.js';
import { readFlows } from '../../src/io/index.js';
import type { HTTPFlow } from '../../src/index.js';
import { Master } from '../../src/master.js';
import { ctx } from '../../src/ctx.js';
import { ScriptLoader } from '../../src/addons/script.js';
import { HTTPFlow as HTTPFlowClass, Request, Response } from '../../src/http.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mitmproxy-ts-scripts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Rewrite a file and move its mtime forward, so the reload check sees a change even within one second. */
function rewrite(path: string, text: string, bump: number): void {
  writeFileSync(path, text);
  const when = new Date(Date.now() + bump * 1000);
  utimesSync(path, when, when);
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('scripts in .js, .mjs and .ts load; a script outside the package can import mitmproxy-ts', async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  writeFileSync(join(dir, 'a.mjs'), "export function request(flow) { flow.request.headers.set('x-mjs', '1'); }\n");
  writeFileSync(join(dir, 'b.js'), "exports.request = function (flow) { flow.request.headers.set('x-cjs', '1'); };\n");
  writeFileSync(
    join(dir, 'c.ts'),
    "import { Response, type HTTPFlow } from 'mitmproxy-ts';\n" +
      "const n: number = 418;\n" +
      "export const addons = [{ name: 'teapot', request(flow: HTTPFlow): void { if (flow.request.path === '/tea') flow.response = Response.make(n, 'short and stout'); } }];\n",
  );
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', join(dir, 'a.mjs'), '-s', join(dir, 'b.js'), '-s', join(dir, 'c.ts')]);
  assert.ok(tool.stdout().indexOf(`Loading script ${join(dir, 'a.mjs')}`) < tool.stdout().indexOf(`Loading script ${join(dir, 'b.js')}`), tool.stdout());
  assert.ok(tool.stdout().indexOf(`Loading script ${join(dir, 'a.mjs')}`) >= 0, tool.stdout());
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/x`]);
  const headers: string[] = JSON.parse(r.stdout).rawHeaders;
  assert.ok(headers.includes('x-mjs'), 'ESM script ran');
  assert.ok(headers.includes('x-cjs'), 'CommonJS script ran');
  const tea = await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/tea`]);
  assert.equal(tea.status, 418);
  assert.equal(tea.stdout, 'short and stout');
});

test('editing a script reloads it (done on the old, load/configure/running on the new); a syntax error is reported with file and line and the proxy keeps running', async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  const script = join(dir, 'live.mjs');
  writeFileSync(script, "export function load() { console.log('LOAD v1'); }\nexport function done() { console.log('DONE v1'); }\nexport function request(flow) { flow.request.headers.set('x-version', '1'); }\n");
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', script]);
  const version = async () => {
    const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/v`]);
    const h: string[] = JSON.parse(r.stdout).rawHeaders;
    const i = h.indexOf('x-version');
    return i < 0 ? null : h[i + 1];
  };
  assert.equal(await version(), '1');

  rewrite(script, "export function load() { console.log('LOAD v2'); }\nexport function configure(u) { console.log('CONFIGURE v2 ' + (u.size > 10)); }\nexport function running() { console.log('RUNNING v2'); }\nexport function request(flow) { flow.request.headers.set('x-version', '2'); }\n", 5);
  await tool.waitFor(/RUNNING v2/);
  assert.match(tool.stdout(), /DONE v1[\s\S]*LOAD v2[\s\S]*CONFIGURE v2 true[\s\S]*RUNNING v2/);
  assert.equal(await version(), '2');

  rewrite(script, "export function request(flow) {\n  flow.request.headers.set('x-version', '3';\n}\n", 10);
  await tool.waitFor(/Script error: .*live\.mjs:2/);
  assert.equal(await version(), null, 'the broken script is unloaded, the proxy still answers');

  rewrite(script, "export function request(flow) { flow.request.headers.set('x-version', '4'); }\n", 15);
  await until(async () => (await version()) === '4', 'the fixed script');
});

test('a TypeScript syntax error names the file and line; a throwing load hook is reported too', async (t) => {
  const dir = tmp(t);
  const bad = join(dir, 'bad.ts');
  writeFileSync(bad, 'const x: number = 1;\nexport function request( {\n');
  const throwing = join(dir, 'throwing.mjs');
  writeFileSync(throwing, "export function load() { throw new Error('no thanks'); }\n");
  const proxy = await testProxy(t);
  await proxy.master.options.update({ scripts: [bad, throwing] });
  await until(() => proxy.logs.some((e) => e.level === 'error' && /Script error: .*bad\.ts:\d+:\d+: \S/.test(e.message)), 'the syntax error with its line');
  await until(() => proxy.logs.some((e) => e.level === 'error' && e.message.includes('no thanks')), 'the load error');
  const r = await curl(['-x', proxy.url, `http://127.0.0.1:${proxy.port}/`]);
  assert.equal(r.status, 502, 'the proxy still serves');
});

test("a script's own TypeScript helper files are compiled, and reload with the script", async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  const helper = join(dir, 'helper.ts');
  const script = join(dir, 'main.ts');
  writeFileSync(helper, "export const version: string = 'helper 1';\n");
  writeFileSync(script, "import { version } from './helper.js';\nexport function request(flow: { request: { headers: { set(k: string, v: string): void } } }): void { flow.request.headers.set('x-helper', version); }\n");
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', script]);
  const helperVersion = async () => {
    const h: string[] = JSON.parse((await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/v`])).stdout).rawHeaders;
    return h[h.indexOf('x-helper') + 1];
  };
  assert.equal(await helperVersion(), 'helper 1');
  rewrite(helper, "export const version: string = 'helper 2';\n", 5);
  rewrite(script, readFileSync(script, 'utf8') + '// touched\n', 5);
  await until(async () => (await helperVersion()) === 'helper 2', 'the helper edited with the script');
});

test("the script loader leaves the embedding program's own modules alone", async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'script.ts'), "import { VERSION } from 'mitmproxy-ts';\nexport function running(): void { console.log('SCRIPT RAN ' + typeof VERSION); }\n");
  // TypeScript that node cannot load by itself (an enum: not even Node 24's type stripping takes it).
  writeFileSync(join(dir, 'host.ts'), 'enum Color { Red }\nexport const red = Color.Red;\n');
  const program = [
    `import { startProxy } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/index.js')).href)};`,
    `const proxy = await startProxy({ options: { confdir: ${JSON.stringify(testConfdir())}, scripts: [${JSON.stringify(join(dir, 'script.ts'))}] } });`,
    `try { await import(${JSON.stringify(pathToFileURL(join(dir, 'host.ts')).href)}); console.log('HOST TS COMPILED BY THE PROXY'); }`,
    `catch (e) { console.log('HOST TS LEFT TO NODE: ' + e.code); }`,
    'await proxy.close();',
  ].join('\n');
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', program], { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(out, /SCRIPT RAN string/, 'the script itself was compiled and found mitmproxy-ts');
  assert.match(out, /HOST TS LEFT TO NODE: ERR_/);
});

test("scripts run at the script loader's place: what a response hook changes is in the saved flow and the dumper's output", async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  const script = join(dir, 'mark.mjs');
  writeFileSync(script, "export function response(flow) { flow.response.headers.set('x-added-by-script', 'yes'); flow.comment = 'seen'; flow.marked = ':star:'; }\n");
  const out = join(dir, 'out.mitm');
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', script, '-w', out, '--flow-detail', '2']);
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/x`]);
  assert.equal(r.status, 200);
  await tool.waitFor(/x-added-by-script: yes/);
  assert.equal(await tool.stop(), 0);
  const [flow] = (await readFlows(out)) as HTTPFlow[];
  assert.equal(flow!.response!.headers.get('x-added-by-script'), 'yes');
  assert.equal(flow!.comment, 'seen');
  assert.equal(flow!.marked, ':star:');
});

/**
 * Two scripts a.mjs and b.mjs that log their load, configure (ALL when given every option) and
 * running hooks to `events`, with an option `<name>_opt` each when asked; and a master with a
 * script loader, not yet running.
 */
async function lifecycleScripts(t: { after: (fn: () => void | Promise<void>) => void }, opts: { withOption: boolean }) {
  const dir = tmp(t);
  const events: string[] = ((globalThis as { __scriptEvents?: string[] }).__scriptEvents = []);
  const declare = (name: string) => (opts.withOption ? `loader.addOption('${name}_opt', 'int', 1, 'an option of the script'); ` : '');
  const script = (name: string) =>
    `const log = (e) => globalThis.__scriptEvents.push('${name} ' + e);\n` +
    `export function load(loader) { ${declare(name)}log("load"); }\n` +
    'export function configure(updated) { log("configure " + (updated.size > 1 ? "ALL" : [...updated].join(","))); }\n' +
    'export function running() { log("running"); }\n';
  const a = join(dir, 'a.mjs');
  const b = join(dir, 'b.mjs');
  writeFileSync(a, script('a'));
  writeFileSync(b, script('b'));
  const m = new Master();
  t.after(() => m.shutdown());
  await m.addons.add(new ScriptLoader());
  return { events, a, b, m };
}

test('a script gets load, one configure with every option and running: at startup and when added by `scripts` at runtime', async (t) => {
  const { events, a, b, m } = await lifecycleScripts(t, { withOption: false });
  await m.options.update({ scripts: [a] });
  await m.run();
  assert.deepEqual(events, ['a load', 'a configure ALL', 'a running']);
  events.length = 0;
  await m.options.update({ scripts: [a, b] });
  assert.deepEqual(events, ['b load', 'b configure ALL', 'b running', 'a configure scripts'], 'the new script is not also sent the configure that loaded it');
});

test('a script whose own option was set before it loaded (--set) still gets one configure, with every option; the other addons hear of the option', async (t) => {
  const { events, a, b, m } = await lifecycleScripts(t, { withOption: true });
  await m.options.setFromSpecs(['scripts=' + a, 'a_opt=7', 'b_opt=8']);
  await m.run();
  assert.deepEqual(events, ['a load', 'a configure ALL', 'a running']);
  assert.equal(m.options.get<number>('a_opt'), 7);
  events.length = 0;
  await m.options.update({ scripts: [a, b] });
  assert.deepEqual(events, ['b load', 'a configure b_opt', 'b configure ALL', 'b running', 'a configure scripts']);
  assert.equal(m.options.get<number>('b_opt'), 8);
});

test('a deleted script leaves the scripts option: every addon gets configure({"scripts"}) and the script its done', async (t) => {
  const dir = tmp(t);
  const events: string[] = ((globalThis as { __deletedScriptEvents?: string[] }).__deletedScriptEvents = []);
  const gone = join(dir, 'gone.mjs');
  const kept = join(dir, 'kept.mjs');
  writeFileSync(gone, 'export function done() { globalThis.__deletedScriptEvents.push("gone done"); }\n');
  writeFileSync(kept, 'export function request() {}\n');
  const observer = { name: 'observer', configure: (u: Set<string>) => void events.push(`configure ${[...u].join(',')}`) };
  const m = new Master();
  t.after(() => m.shutdown());
  await m.addons.add(new ScriptLoader(), observer);
  await m.options.update({ scripts: [gone, kept] });
  await m.run();
  const log: string[] = [];
  m.log.subscribe((e) => log.push(`${e.level} ${e.message}`));
  events.length = 0;
  rmSync(gone);
  await until(() => events.includes('configure scripts'), 'the scripts option to change');
  assert.deepEqual(m.options.get('scripts'), [kept]);
  assert.deepEqual(events, ['gone done', 'configure scripts'], 'the script loader (which unloads it) comes before the observer');
  assert.deepEqual(log, [`info Removing script ${gone}`, `info Un-loading script: ${gone}`]);
});

test('script.run runs a script over flows; a missing or broken script, or a failing hook, is logged and the command returns nothing', async (t) => {
  const dir = tmp(t);
  const m = new Master();
  t.after(() => m.shutdown());
  await m.addons.add(new ScriptLoader());
  await m.run();
  const log: string[] = [];
  m.log.subscribe((e) => log.push(`${e.level} ${e.message}`));
  const f = new HTTPFlowClass(undefined, undefined, false, Request.make('GET', 'http://example.com/'));
  f.response = Response.make(200, 'x');
  const good = join(dir, 'good.mjs');
  writeFileSync(good, "export function response(flow) { flow.response.headers.set('x-ran', '1'); }\n");
  assert.equal(await m.commands.call('script.run', [f], good), undefined);
  assert.equal(f.response.headers.get('x-ran'), '1');

  assert.equal(await m.commands.call('script.run', [f], join(dir, 'missing.mjs')), undefined);
  assert.deepEqual(log, [`error No such script: ${join(dir, 'missing.mjs')}`]);
  log.length = 0;

  const broken = join(dir, 'broken.mjs');
  writeFileSync(broken, 'export function request( {\n');
  assert.equal(await m.commands.call('script.run', [f], broken), undefined);
  assert.equal(log.length, 1);
  assert.match(log[0]!, /^error Script error: .*broken\.mjs/);
  log.length = 0;

  const throwing = join(dir, 'throwing.mjs');
  writeFileSync(throwing, "export function request() { throw new Error('hook failed'); }\n");
  assert.equal(await m.commands.call('script.run', [f], throwing), undefined);
  assert.match(log[0]!, /^error Addon error: hook failed\n/);
});

test('an error nothing awaits (a forgotten promise, a throwing timer) in a script is logged as "Unhandled error in task." and the proxy keeps running', async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  const script = join(dir, 'forgetful.ts');
  writeFileSync(
    script,
    "import type { HTTPFlow, Loader, Master } from 'mitmproxy-ts';\n" +
      'let master: Master;\n' +
      'export function load(loader: Loader): void { master = loader.master; }\n' +
      'export function request(flow: HTTPFlow): void {\n' +
      "  if (flow.request.path === '/forget') void master.commands.call('no.such.command');\n" +
      "  if (flow.request.path === '/timer') setTimeout(() => { throw new Error('thrown in a timer'); }, 0);\n" +
      '}\n',
  );
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', script]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  assert.equal((await curl(['-x', proxy, `${up.url}/forget`])).status, 200);
  await tool.waitFor(/Unhandled error in task\.\nCommandError: Unknown command: no\.such\.command/);
  assert.equal((await curl(['-x', proxy, `${up.url}/timer`])).status, 200);
  const out = await tool.waitFor(/Unhandled error in task\.\nError: thrown in a timer\n\s+at Timeout\.\S* \(.*forgetful\.ts:6:\d+\)/);
  assert.equal((await curl(['-x', proxy, `${up.url}/after`])).status, 200, out);
  assert.equal(tool.child.exitCode, null, 'the proxy is still running');
});

test("a script reaches the tool's master, options and event log through mitmproxy's `ctx`, without keeping loader.master", async (t) => {
  const dir = tmp(t);
  const up = await echoServer(t);
  const script = join(dir, 'with-ctx.ts');
  writeFileSync(
    script,
    "import { ctx, type HTTPFlow } from 'mitmproxy-ts';\n" +
      'export function request(flow: HTTPFlow): void {\n' +
      "  ctx.log.info(`ctx says anticache=${String(ctx.options.get('anticache'))} for ${flow.request.path}`);\n" +
      "  flow.request.headers.set('x-same-master', String(ctx.master.options === ctx.options));\n" +
      '}\n',
  );
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '--anticache', '-s', script]);
  const r = await curl(['-x', `http://127.0.0.1:${tool.port}`, `${up.url}/ctx`]);
  const headers: string[] = JSON.parse(r.stdout).rawHeaders;
  assert.equal(headers[headers.indexOf('x-same-master') + 1], 'true');
  await tool.waitFor(/ctx says anticache=true for \/ctx/);
});

test('ctx is the most recently created master, as in mitmproxy', () => {
  const first = new Master();
  assert.equal(ctx.master, first);
  const second = new Master();
  assert.equal(ctx.master, second);
  assert.equal(ctx.options, second.options);
  assert.equal(ctx.log, second.log);
});

test('Ctrl-C or SIGTERM ends mitmdump while a script load hook never settles (before: ignored until SIGKILL, or exit 13 without a word)', async (t) => {
  const dir = tmp(t);
  for (const [name, body] of [
    ['pending.mjs', 'export function load() { return new Promise(() => {}); }\n'],
    ['pending-busy.mjs', 'export function load() { setInterval(() => {}, 1000); return new Promise(() => {}); }\n'],
  ] as const) {
    const script = join(dir, name);
    writeFileSync(script, body);
    const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', script], { waitListening: false });
    await tool.waitFor(/Loading script/);
    await sleep(500);
    assert.equal(tool.child.exitCode, null, `${name}: still starting`);
    const started = Date.now();
    tool.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => tool.child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, name);
    assert.ok(Date.now() - started < 5000, `${name}: ended at once`);
    assert.match(tool.stderr(), /stopped while starting/);
  }
});
