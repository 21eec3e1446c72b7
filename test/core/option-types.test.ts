/**
 * src/option-types.ts is generated from the option registry and kept up to date; the types it
 * gives (typed startProxy options and OptManager.get) hold, checked by the compiler over the
 * tests, benchmarks and examples (tsconfig.test.json, with test/fixtures/types/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ROOT } from '../helpers/cli.js';

test('src/option-types.ts matches the option registry (run scripts/option-types.mjs --write after changing options)', async () => {
  // A plain JavaScript build script (no types of its own).
  const script: string = '../../scripts/option-types.mjs';
  const { optionTypesSource } = (await import(script)) as { optionTypesSource(): Promise<string> };
  assert.equal(readFileSync(`${ROOT}src/option-types.ts`, 'utf8'), await optionTypesSource());
});

test('the tests, benchmarks, examples and typing fixtures compile under strict TypeScript', async () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const out = await new Promise<string>((resolve) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.test.json', '--noEmit'], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => resolve(err ? `${stdout}${stderr}` : ''));
  });
  assert.equal(out, '');
});
