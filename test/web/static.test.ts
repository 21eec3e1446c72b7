/**
 * Serving a built web front end (MITMWEB_STATIC_DIR / WebMasterOptions.staticDir): `/` becomes
 * its index.html (after authentication), `/static/*` and `/favicon.ico` are served without
 * authentication, `.js` as text/javascript, and nothing outside the directory is reachable.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startWeb } from './helpers.js';

test('a front end directory is served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmweb-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./static/index-abc.js"></script>');
  writeFileSync(join(dir, 'static', 'index-abc.js'), 'console.log("mitmweb");');
  writeFileSync(join(dir, 'static', 'favicon.ico'), Buffer.from([0, 0, 1, 0]));
  writeFileSync(join(dir, 'secret.txt'), 'outside static/');
  const w = await startWeb(t, { proxy: false, staticDir: dir });
  const index = await w.api('/');
  assert.equal(index.status, 200);
  assert.match(index.text, /index-abc\.js/);
  assert.ok(!index.text.includes('="/'));
  assert.equal((await w.raw('/')).status, 403, 'the page itself needs authentication');
  const js = await w.raw('/static/index-abc.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript');
  assert.equal(js.text, 'console.log("mitmweb");');
  assert.match(String(js.headers.etag), /^"[0-9a-f]{40}"$/);
  assert.equal((await w.raw('/static/index-abc.js', { headers: { 'If-None-Match': String(js.headers.etag) } })).status, 304);
  assert.equal((await w.raw('/favicon.ico')).status, 200);
  assert.equal((await w.raw('/static/missing.js')).status, 404);
  for (const p of ['/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/..%2fsecret.txt']) {
    const r = await w.raw(p);
    assert.notEqual(r.status, 200, p);
    assert.ok(!r.text.includes('outside static/'), p);
  }
  // The Host check applies to static files as well.
  assert.equal((await w.raw('/static/index-abc.js', { headers: { Host: 'evil.example' } })).status, 403);
});
