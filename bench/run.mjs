#!/usr/bin/env node
// npm run bench [-- name ...]: run the benchmarks (all, or those whose name contains a word).
// Each prints its figures; none is part of `npm test`. The side-by-side comparison with a bare
// Node proxy and Debian's mitmdump uses ../shared/bench/compare.sh when it is present (needs wrk).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const benches = [
  ['filter', 'bench/filter-bench.ts'],
  ['flowfile', 'bench/flowfile-bench.ts'],
  ['contentview', 'bench/contentview-bench.ts'],
  ['cert', 'bench/cert-bench.ts'],
  ['conntrack', 'bench/conntrack-bench.ts'],
  ['websocket', 'bench/websocket-bench.ts'],
  ['h2', 'bench/h2-bench.ts'],
  ['web', 'bench/web-bench.ts'],
  ['soak', 'bench/soak.ts'],
];
const wanted = process.argv.slice(2);
const pick = (name) => wanted.length === 0 || wanted.some((w) => name.includes(w));

for (const [name, file] of benches) {
  if (!pick(name) || !existsSync(join(root, file))) continue;
  console.log(`\n== ${name} (${file})`);
  spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], { cwd: root, stdio: 'inherit' });
}

const compare = join(root, '..', 'shared', 'bench', 'compare.sh');
if (pick('compare') && existsSync(compare)) {
  console.log('\n== compare (../shared/bench/compare.sh: direct, naive node proxy, mitmdump if installed, mitmproxy-ts)');
  spawnSync('bash', [compare, 'mitmproxy-ts', `${process.execPath} ${join(root, 'bin/mitmproxy-ts.js')} dump -q --listen-host 127.0.0.1 -p {PORT} --ssl-insecure`], { cwd: root, stdio: 'inherit' });
}
