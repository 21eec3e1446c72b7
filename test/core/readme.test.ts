import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCliToEnd } from '../helpers/cli.js';

test('the README option reference is the one generated from the option registry', async () => {
  // @ts-expect-error: a plain .mjs script without type declarations
  const { optionsReference, START, END } = (await import('../../scripts/options-doc.mjs')) as { optionsReference(): Promise<string>; START: string; END: string };
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
  assert.equal(section, (await optionsReference()).trim(), 'run `node scripts/options-doc.mjs --write` after changing options');
});

test('the README quick start commands exist: mitmproxy-ts dump/web, --help lists every flag, --version prints ours', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(pkg.bin).sort(), ['mitmdump', 'mitmproxy-ts', 'mitmweb']);
  assert.equal(pkg.scripts.prepare, 'npm run build');
  const help = await runCliToEnd(['dump', '--help']);
  assert.equal(help.code, 1, 'as mitmdump: argparse stopping the parse is status 1');
  for (const flag of ['--listen-port', '-p', '--mode', '--set', '--scripts', '--save-stream-file', '--rfile', '--ssl-insecure', '--flow-detail', '--modify-headers', '--map-remote', '--proxyauth', '--no-http2', '--anticache', '--ignore-hosts', '--certs']) {
    assert.ok(help.stdout.includes(flag), `--help mentions ${flag}`);
  }
  assert.match(help.stdout, /--anticache +Strip out request headers that might cause the server to return 304-not-modified\./);
  const web = await runCliToEnd(['web', '--help']);
  assert.match(web.stdout, /--web-port <PORT>/);
  const version = await runCliToEnd(['--version']);
  // mitmdump's shape: "Mitmproxy: <version>" first, then ours.
  assert.match(version.stdout, new RegExp(`^Mitmproxy: \\d+\\.\\S+ \\(mitmproxy-ts ${pkg.version.replace(/\./g, '\\.')}\\)\nNode\\.js: {3}\\d`));
});
