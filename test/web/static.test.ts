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
import { gunzipSync } from 'node:zlib';
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
});

test('front end files of 1 KiB and more are gzipped for clients that accept it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmweb-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html>');
  const bundle = 'export const x = 1;\n'.repeat(500);
  writeFileSync(join(dir, 'static', 'vendor.js'), bundle);
  writeFileSync(join(dir, 'static', 'tiny.js'), 'x();');
  writeFileSync(join(dir, 'static', 'logo.png'), Buffer.alloc(4096, 7));
  const w = await startWeb(t, { proxy: false, staticDir: dir });
  const gzip = { 'Accept-Encoding': 'gzip, deflate' };
  for (let i = 0; i < 2; i++) {
    const r = await w.raw('/static/vendor.js', { headers: gzip });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers.vary, 'Accept-Encoding');
    assert.equal(Number(r.headers['content-length']), r.body.length);
    assert.ok(r.body.length < bundle.length / 10);
    assert.equal(gunzipSync(r.body).toString(), bundle);
  }
  const plain = await w.raw('/static/vendor.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.text, bundle);
  assert.equal((await w.raw('/static/tiny.js', { headers: gzip })).headers['content-encoding'], undefined, 'under 1 KiB');
  assert.equal((await w.raw('/static/logo.png', { headers: gzip })).headers['content-encoding'], undefined, 'not a compressible type');
});

test('a rebuilt index.html is served without a restart', async (t) => {
  // A front end rebuild writes a new index.html naming new hashed bundles and deletes the old
  // ones; serving the index read at the first request would load bundles that no longer exist.
  const dir = mkdtempSync(join(tmpdir(), 'mitmweb-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./static/index-old.js"></script>');
  const w = await startWeb(t, { proxy: false, staticDir: dir });
  assert.match((await w.api('/')).text, /index-old\.js/);
  // Same length as before, so only the content (and the modification time) tells them apart.
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./static/index-new.js"></script>');
  const again = await w.api('/');
  assert.equal(again.status, 200);
  assert.match(again.text, /index-new\.js/);
  assert.doesNotMatch(again.text, /index-old\.js/);
});
