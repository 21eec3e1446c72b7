/**
 * web_static_viewer (mitmproxy's StaticViewer): the flows of rfile written as a static site the
 * front end reads: flows.json, filter-help.json, settings.json, and per HTTP message its body
 * and Auto content view; the front end's own files copied with the MITMWEB_STATIC flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import { writeFlowsToFile } from '../../src/io/flowwriter.js';
import { startWeb } from './helpers.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mitmweb-static-viewer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('web_static_viewer writes the flows of rfile as a static site, with the front end copied', async (t) => {
  const dir = tempDir(t);
  const withResponse = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/data'));
  withResponse.response = Response.make(200, '{"a": [1, 2]}', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  const noResponse = new HTTPFlow(undefined, undefined, false, Request.make('POST', 'http://example.com/form', 'x=1'));
  const rfile = join(dir, 'in.mitm');
  writeFlowsToFile(rfile, [withResponse, noResponse, new TCPFlow()]);
  const frontEnd = join(dir, 'frontend');
  mkdirSync(join(frontEnd, 'static'), { recursive: true });
  writeFileSync(join(frontEnd, 'index.html'), '<!doctype html><script src="./static/static.js"></script>');
  writeFileSync(join(frontEnd, 'static', 'app.js'), 'app();');
  const out = join(dir, 'site');

  const w = await startWeb(t, { proxy: false, staticDir: frontEnd, options: { rfile, web_static_viewer: out } });
  assert.equal(readFileSync(join(out, 'static', 'static.js'), 'utf8'), 'MITMWEB_STATIC = true;');
  assert.equal(readFileSync(join(out, 'static', 'app.js'), 'utf8'), 'app();');
  assert.ok(existsSync(join(out, 'index.html')));
  const flows = JSON.parse(readFileSync(join(out, 'flows.json'), 'utf8'));
  assert.deepEqual(
    flows.map((f: { id: string; type: string }) => [f.id, f.type]),
    [
      [withResponse.id, 'http'],
      [noResponse.id, 'http'],
      [flows[2].id, 'tcp'],
    ],
  );
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')), { version: '13.0.0.dev' });
  assert.ok(JSON.parse(readFileSync(join(out, 'filter-help.json'), 'utf8')).commands.some((c: string[]) => c[0] === '~d regex'));
  const resp = join(out, 'flows', withResponse.id, 'response');
  assert.equal(withResponse.response.rawContent![0], 0x1f, 'stored gzipped');
  assert.equal(readFileSync(join(resp, 'content.data'), 'utf8'), '{"a": [1, 2]}', 'the body decoded');
  const view = JSON.parse(readFileSync(join(resp, 'content', 'Auto.json'), 'utf8'));
  assert.equal(view.view_name, 'JSON');
  assert.match(view.text, /"a": \[/);
  const missing = join(out, 'flows', noResponse.id, 'response');
  assert.equal(readFileSync(join(missing, 'content.data'), 'utf8'), 'No content.');
  assert.deepEqual(JSON.parse(readFileSync(join(missing, 'content', 'Auto.json'), 'utf8')), { text: 'No content.', syntax_highlight: 'none', view_name: '/', description: '' });
  assert.ok(w.logs.some((l) => l === `info: Static viewer of 3 flows written to ${out}.`), JSON.stringify(w.logs));
});

test('web_static_viewer without a front end writes the data and says so; without rfile it is refused', async (t) => {
  const dir = tempDir(t);
  const rfile = join(dir, 'in.mitm');
  writeFlowsToFile(rfile, [new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/'))]);
  const out = join(dir, 'site');
  const w = await startWeb(t, { proxy: false, options: { rfile, web_static_viewer: out } });
  assert.ok(existsSync(join(out, 'flows.json')));
  assert.ok(!existsSync(join(out, 'static')));
  assert.ok(w.logs.some((l) => l.startsWith('warn: web_static_viewer: no web front end to copy')));
  await assert.rejects(w.master.options.update({ rfile: null, web_static_viewer: join(dir, 'other') }), /set rfile \(-r\) too/);
});
