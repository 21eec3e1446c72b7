/**
 * The real command line: `mitmproxy-ts web` (the built CLI) prints the API URL with its token,
 * proxies traffic, and serves the flows on the API; SIGINT stops it. Needs `npm run build`
 * (which `npm test` runs first).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runCli } from '../helpers/cli.js';
import { httpServer } from '../helpers/servers.js';
import { httpRequest, viaProxy } from './helpers.js';

const built = existsSync(join(ROOT, 'dist/src/tools/web/master.js'));

test('mitmproxy-ts web: URL with token at startup, traffic shows up in the API', { skip: built ? false : 'run `npm run build` first' }, async (t) => {
  const confdir = mkdtempSync(join(tmpdir(), 'mitmweb-e2e-'));
  t.after(() => rmSync(confdir, { recursive: true, force: true }));
  const upstream = await httpServer(t, (req, res) => res.end(`hello from ${req.url}`));
  const cli = await runCli(t, ['web', '--listen-host', '127.0.0.1', '-p', '0', '--web-port', '0', '--set', `confdir=${confdir}`]);
  await cli.waitFor(/Web server listening at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/);
  const out = await cli.waitFor(/web_open_browser/);
  const url = new URL(/Web server listening at (\S+)/.exec(out)![1]!);
  const token = url.searchParams.get('token')!;
  const webPort = Number(url.port);
  assert.match(out, /does not start a browser \(web_open_browser is ignored\)/);
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
