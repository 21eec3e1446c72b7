/**
 * The real command line: `mitmproxy-ts web` (the built CLI) prints the API URL with its token,
 * proxies traffic, and serves the flows on the API; SIGINT stops it. Needs `npm run build`
 * (which `npm test` runs first).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runCli } from '../helpers/cli.js';
import { httpServer } from '../helpers/servers.js';
import { httpRequest, viaProxy } from './helpers.js';
import { waitFor } from '../proxy/modes-helpers.js';

/**
 * A directory to use as PATH with stand-in browser commands: `wslview` fails (exit status 1), so
 * the next candidate is tried, and `x-www-browser` writes the URL it was given to `opened`.
 */
function fakeBrowsers(t: { after(fn: () => void): void }): { dir: string; opened: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mitmweb-browsers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opened = join(dir, 'opened');
  writeFileSync(join(dir, 'wslview'), '#!/bin/sh\nexit 1\n');
  writeFileSync(join(dir, 'x-www-browser'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
  chmodSync(join(dir, 'wslview'), 0o755);
  chmodSync(join(dir, 'x-www-browser'), 0o755);
  return { dir, opened };
}

const built = existsSync(join(ROOT, 'dist/src/tools/web/master.js'));

test('mitmproxy-ts web: URL with token at startup, traffic shows up in the API', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const confdir = mkdtempSync(join(tmpdir(), 'mitmweb-e2e-'));
  t.after(() => rmSync(confdir, { recursive: true, force: true }));
  const upstream = await httpServer(t, (req, res) => res.end(`hello from ${req.url}`));
  // web_open_browser (on by default) opens the URL with its token in the first browser that works.
  const browsers = fakeBrowsers(t);
  const cli = await runCli(t, ['web', '--listen-host', '127.0.0.1', '-p', '0', '--web-port', '0', '--set', `confdir=${confdir}`], {
    env: { PATH: browsers.dir, DISPLAY: ':99', WAYLAND_DISPLAY: '' },
  });
  const out = await cli.waitFor(/Web server listening at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/);
  const url = new URL(/Web server listening at (\S+)/.exec(out)![1]!);
  const token = url.searchParams.get('token')!;
  const webPort = Number(url.port);
  await waitFor(() => existsSync(browsers.opened), 20000, 'the browser to be started');
  await waitFor(() => readFileSync(browsers.opened, 'utf8') === url.href, 20000, 'the browser to be given the URL');
  assert.doesNotMatch(cli.stdout(), /No web browser found/);
  // The web port default is not 0 when given on the command line: we asked for any free port.
  assert.notEqual(webPort, 0);
  assert.equal((await httpRequest(webPort, '/flows')).status, 403);
  const r = await viaProxy(cli.port, `${upstream.url}/e2e`);
  assert.equal(r.text, 'hello from /e2e');
  const flows = (await httpRequest(webPort, '/flows', { headers: { Authorization: `Bearer ${token}` } })).json<Array<{ request: { path: string }; response: { status_code: number } }>>();
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.request.path, '/e2e');
  assert.equal(flows[0]!.response.status_code, 200);
  // The API is not reachable through the proxy port.
  const via = await viaProxy(cli.port, `http://127.0.0.1:${webPort}/flows?token=${token}`);
  assert.notEqual(via.status, 200);
  assert.equal(await cli.stop(), 0);
});

test('mitmproxy-ts web: a busy web port fails startup with a hint', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const confdir = mkdtempSync(join(tmpdir(), 'mitmweb-e2e-'));
  t.after(() => rmSync(confdir, { recursive: true, force: true }));
  const busy = await httpServer(t, (_req, res) => res.end());
  const cli = await runCli(t, ['web', '--listen-host', '127.0.0.1', '-p', '0', '--web-port', String(busy.port), '--set', `confdir=${confdir}`], { waitListening: false });
  const code = await new Promise<number | null>((resolve) => {
    if (cli.child.exitCode !== null) resolve(cli.child.exitCode);
    else cli.child.once('exit', (c) => resolve(c));
  });
  const output = cli.stdout() + cli.stderr();
  assert.match(output, new RegExp(`Web server failed to listen on 127\\.0\\.0\\.1:${busy.port}`));
  assert.match(output, new RegExp(`--set web_port=${busy.port + 2}`));
  assert.notEqual(code, 0);
});

test('mitmproxy-ts web: without a browser (no display, none on PATH) it says where to point one; --no-web-open-browser says nothing', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const confdir = mkdtempSync(join(tmpdir(), 'mitmweb-e2e-'));
  t.after(() => rmSync(confdir, { recursive: true, force: true }));
  // x-www-browser needs a display, as in mitmweb (Python's webbrowser): without one it is not tried.
  const browsers = fakeBrowsers(t);
  const env = { PATH: browsers.dir, DISPLAY: '', WAYLAND_DISPLAY: '' };
  const args = ['web', '--listen-host', '127.0.0.1', '-p', '0', '--web-port', '0', '--set', `confdir=${confdir}`];
  const cli = await runCli(t, args, { env });
  const out = await cli.waitFor(/You can configure a fixed authentication token/);
  const url = /Web server listening at (\S+)/.exec(out)![1]!;
  assert.ok(out.includes(`No web browser found. Please open a browser and point it to ${url}\n`), out);
  assert.ok(out.includes('by setting the `web_password` option (https://docs.mitmproxy.org/stable/concepts-options/#web_password).'), out);
  assert.equal(existsSync(browsers.opened), false);
  assert.equal(await cli.stop(), 0);

  // With a password the hint about web_password is left out.
  const withPassword = await runCli(t, [...args, '--set', 'web_password=secret'], { env });
  const pwOut = await withPassword.waitFor(/No web browser found/);
  assert.match(pwOut, /No web browser found\. Please open a browser and point it to http:\/\/127\.0\.0\.1:\d+\/\n/);
  assert.equal(await withPassword.stop(), 0);
  assert.doesNotMatch(withPassword.stdout(), /fixed authentication token/);

  const off = await runCli(t, [...args, '--no-web-open-browser'], { env: { ...env, DISPLAY: ':99' } });
  await off.waitFor(/Web server listening at/);
  assert.equal(await off.stop(), 0);
  assert.doesNotMatch(off.stdout(), /web browser/i);
  assert.equal(existsSync(browsers.opened), false);
});
