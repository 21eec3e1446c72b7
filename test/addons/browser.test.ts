import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser } from '../../src/addons/browser.js';
import { which } from '../../src/util/which.js';
import { addonMaster, logged } from './helpers.js';

/** Run `fn` (and everything it awaits) with PATH set to `path`. */
async function withPath<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = path;
  try {
    return await fn();
  } finally {
    process.env.PATH = old;
  }
}

test('browser.start without a browser (or with an unknown name) says so in the event log and returns nothing, as mitmproxy', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'nobrowser-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const m = await addonMaster([new Browser()]);
  await withPath(empty, async () => {
    assert.equal(await m.commands.callStrings('browser.start', ['chrome']), undefined);
    assert.equal(await m.commands.callStrings('browser.start', ['firefox']), undefined);
    assert.equal(await m.commands.callStrings('browser.start', []), undefined, 'chrome is the default');
  });
  assert.equal(await m.commands.callStrings('browser.start', ['lynx']), undefined);
  const alerts = logged(m.logs, 'alert');
  assert.match(alerts[0]!, /^No Chrome or Chromium executable found \(looked for google-chrome, google-chrome-stable, chrome, chromium/);
  assert.match(alerts[1]!, /^No Firefox executable found/);
  assert.match(alerts[2]!, /^No Chrome or Chromium/);
  assert.equal(alerts[3], 'Invalid browser name: lynx. Use chrome, chromium or firefox.');
  assert.equal(alerts.length, 4);
  assert.equal(m.commands.get('browser.start')!.signatureHelp(), 'browser.start browser');
});

test('a found browser is started with an isolated profile pointed at the proxy', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'fakebrowser-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const out = join(bin, 'args.txt');
  writeFileSync(join(bin, 'chromium'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${out}'\n`);
  chmodSync(join(bin, 'chromium'), 0o755);
  assert.equal(which('chromium', bin), join(bin, 'chromium'));
  const b = new Browser();
  const m = await addonMaster([b], { listen_host: '127.0.0.1', listen_port: 3128 });
  await withPath(bin, () => b.start('chromium'));
  const child = b.browsers[0]!;
  await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  const args = readFileSync(out, 'utf8').trim().split('\n');
  const profile = args.find((a) => a.startsWith('--user-data-dir='))!.slice('--user-data-dir='.length);
  assert.ok(existsSync(profile), 'a temporary profile directory');
  assert.ok(args.includes('--proxy-server=127.0.0.1:3128'));
  assert.ok(args.includes('--no-first-run') && args.at(-1) === 'about:blank');
  await m.shutdown();
  assert.equal(existsSync(profile), false, 'the profile is removed on shutdown');
});
