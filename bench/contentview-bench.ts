/**
 * Content view speed on large bodies: a 5 MB JSON document rendered in full (flow_detail 4 /
 * mitmweb without `lines`) and with the default 512-line cutoff (flow_detail 3), plus raw and hex
 * dump. Run: node --import tsx bench/contentview-bench.ts
 */
import { performance } from 'node:perf_hooks';
import { prettify, CONTENT_VIEW_LINES_CUTOFF } from '../src/contentviews/index.js';

function makeJson(targetBytes: number): Buffer {
  const items: string[] = [];
  let size = 2;
  for (let i = 0; size < targetBytes; i++) {
    const item = JSON.stringify({ id: i, name: `item ${i} é`, price: i * 1.25, tags: ['a', 'b', String(i % 7)], ok: i % 2 === 0, nested: { x: i, y: null } });
    items.push(item);
    size += item.length + 1;
  }
  return Buffer.from(`[${items.join(',')}]`);
}

function time(label: string, fn: () => { text: string }): number {
  fn(); // warm-up
  const runs = 5;
  const t0 = performance.now();
  let text = '';
  for (let i = 0; i < runs; i++) text = fn().text;
  const ms = (performance.now() - t0) / runs;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms   (${(text.length / 1e6).toFixed(2)} MB of text)`);
  return ms;
}

const body = makeJson(5 * 1024 * 1024);
console.log(`body: ${(body.length / 1024 / 1024).toFixed(2)} MiB of JSON`);
const full = time('json, auto, everything (flow_detail 4)', () => prettify('auto', body, { contentType: 'application/json' }));
time(`json, auto, ${CONTENT_VIEW_LINES_CUTOFF} lines (flow_detail 3)`, () => prettify('auto', body, { contentType: 'application/json' }, { linesCutoff: CONTENT_VIEW_LINES_CUTOFF }));
time('raw, everything', () => prettify('raw', body));
time(`raw, ${CONTENT_VIEW_LINES_CUTOFF} lines`, () => prettify('raw', body, {}, { linesCutoff: CONTENT_VIEW_LINES_CUTOFF }));
time('hex dump, everything', () => prettify('hex dump', body));
time(`hex dump, ${CONTENT_VIEW_LINES_CUTOFF} lines`, () => prettify('hex dump', body, {}, { linesCutoff: CONTENT_VIEW_LINES_CUTOFF }));
if (full >= 1000) {
  console.error(`FAIL: rendering 5 MB of JSON took ${full.toFixed(0)} ms (budget 1000 ms)`);
  process.exitCode = 1;
}
