/**
 * mitmdump's exit after `-r`, `-C` and `-S` (the keepserving addon): it exits once reading and
 * replays are done and no client connection is open, unless `keepserving` is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, runCliToEnd } from '../helpers/cli.js';
import { testConfdir } from '../helpers/proxy.js';

const FLOWS = fileURLToPath(new URL('../fixtures/flows/mitmdump-8.1.1.mitm', import.meta.url));

/** Resolves with the exit code once the process exits, or with 'running' after `ms`. */
function exitWithin(child: import('node:child_process').ChildProcess, ms: number): Promise<number | null | 'running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('running'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

test('mitmdump -r exits once the file is read; with keepserving it keeps running', async (t) => {
  const done = await runCliToEnd(['dump', '-n', '-q', '--set', `confdir=${testConfdir()}`, '-r', FLOWS], { timeoutMs: 60_000 });
  assert.equal(done.code, 0, done.stderr);

  const kept = await runCli(t, ['dump', '-n', '--set', `confdir=${testConfdir()}`, '-r', FLOWS, '--set', 'keepserving=true'], { waitListening: false });
  await kept.waitFor(/ << /);
  assert.equal(await exitWithin(kept.child, 3000), 'running', 'still serving after the file was read');
  assert.equal(await kept.stop(), 0);
});

test('after -r, mitmdump waits for the open client connections before it exits (as mitmproxy\'s keepserving does)', async (t) => {
  const cli = await runCli(t, ['dump', '--listen-host', '127.0.0.1', '-p', '0', '--set', `confdir=${testConfdir()}`, '-r', '-']);
  const client = net.connect(cli.port, '127.0.0.1');
  t.after(() => client.destroy());
  await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
  await cli.waitFor(/client connect/);
  // The flows arrive on stdin; reading ends with it.
  cli.child.stdin!.end(readFileSync(FLOWS));
  await cli.waitFor(/ << /);
  assert.equal(await exitWithin(cli.child, 3000), 'running', 'a client is still connected');
  client.destroy();
  assert.equal(await exitWithin(cli.child, 20_000), 0, 'exits once the client has gone');
});
