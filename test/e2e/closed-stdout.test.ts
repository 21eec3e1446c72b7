/**
 * `mitmdump | head`: once the reader of standard output goes away, writes to it fail with EPIPE.
 * The proxy says so once on stderr and keeps serving, as mitmdump does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

test('a closed standard output does not stop the proxy: one line on stderr, and every request is still served', async (t) => {
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '--listen-host', '127.0.0.1', '-p', '0']);
  // What `head` does once it has its lines: close its end of the pipe.
  tool.child.stdout!.destroy();
  const proxy = `http://127.0.0.1:${tool.port}`;
  for (let i = 0; i < 5; i++) {
    const r = await curl(['-x', proxy, `${up.url}/after-close-${i}`]);
    assert.equal(r.status, 200, `request ${i}: ${tool.stderr()}`);
  }
  assert.equal(tool.child.exitCode, null, `the proxy is still running: ${tool.stderr()}`);
  assert.equal(tool.stderr().match(/Standard output closed \(EPIPE\)/g)?.length, 1, tool.stderr());
  assert.doesNotMatch(tool.stderr(), /Error: write EPIPE|at /);
  tool.child.kill('SIGINT');
  const [code] = (await once(tool.child, 'exit')) as [number | null];
  assert.equal(code, 0);
});
