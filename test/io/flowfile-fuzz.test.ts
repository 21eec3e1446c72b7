// Flow files from an untrusted source: mitmproxy's real samples (every format version, HAR),
// mutated in their structure (values of other types, missing and extra keys) and in their
// bytes. Reading either gives flows or a FlowReadError, in bounded time, and every flow it gives
// can be written, shown and filtered without an exception (the style of http1-fuzz.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FlowReader, FlowReadError } from '../../src/io/flowreader.js';
import { dumps, loadsAll, type TNetInput, type TNetValue } from '../../src/io/tnetstring.js';
import { encodeFlow } from '../../src/io/flowwriter.js';
import { harToJson } from '../../src/io/har.js';
import { flowToJson } from '../../src/tools/web/flowjson.js';
import { parse } from '../../src/flowfilter/index.js';
import type { AnyFlow } from '../../src/flows.js';

const SAMPLES = [join(import.meta.dirname, '../../../shared/spec/upstream-samples'), '/work/shared/spec/upstream-samples'].find((d) => existsSync(join(d, 'MANIFEST.json')));
const files = SAMPLES ? readdirSync(SAMPLES).filter((f) => /\.(mitm|har)$/.test(f)).map((f) => ({ name: f, bytes: readFileSync(join(SAMPLES, f)) })) : [];
const dumps_ = files.filter((f) => f.name.endsWith('.mitm')).map((f) => ({ name: f.name, items: loadsAll(f.bytes) }));
const hars = files.filter((f) => f.name.endsWith('.har')).map((f) => ({ name: f.name, doc: JSON.parse(f.bytes.toString('utf8')) as unknown }));
const FILTERS = ['~q', '~s', '~b a', '~h host', '~u /', '~t json', '~c 200', '~websocket', '~dns', '~e', '~m GET', '~marked', '~meta x'].map((s) => parse(s));

async function readGivesFlowsOrFlowReadError(bytes: Buffer): Promise<AnyFlow[]> {
  try {
    return await new FlowReader(bytes).readAll();
  } catch (e) {
    assert.ok(e instanceof FlowReadError, `not a FlowReadError: ${(e as Error)?.stack ?? String(e)}`);
    return [];
  }
}

/** What the dumper, mitmweb and `-w` do with a flow that was read. */
async function useFlow(f: AnyFlow): Promise<void> {
  f.getState();
  const again = await new FlowReader(encodeFlow(f)).readAll();
  assert.equal(again.length, 1);
  JSON.stringify(flowToJson(f));
  for (const filter of FILTERS) filter.match(f);
  harToJson([f]);
  f.copy();
}

const odd: TNetValue[] = [null, true, 0, -1, 2 ** 60, 1.5, '', 'x', Buffer.from('x'), [], {}, [1], { a: 1 }, 'http', 'HTTP/1.1', 'tcp', 'websocket', 'TLSv1.2'];

/** A value with one part replaced, removed or added, picked by `path`. */
function mutate(v: TNetValue, path: number[]): TNetValue {
  const [step = 0, ...rest] = path;
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || rest.length === 0) return odd[step % odd.length]!;
  if (Array.isArray(v)) {
    if (v.length === 0) return [odd[step % odd.length]!];
    const c = v.slice();
    c[step % c.length] = mutate(c[step % c.length]!, rest);
    return c;
  }
  const keys = Object.keys(v);
  const c = { ...v };
  if (keys.length === 0 || step % 11 === 10) c[`extra${step}`] = odd[step % odd.length]!;
  else if (step % 11 === 9) delete c[keys[step % keys.length]!];
  else c[keys[step % keys.length]!] = mutate(c[keys[step % keys.length]!]!, rest);
  return c;
}

test('upstream samples exist', () => {
  assert.ok(SAMPLES && dumps_.length > 5 && hars.length > 3, 'shared/spec/upstream-samples not found');
});

test('fuzz: flows of every format version with a part changed are read or refused with FlowReadError, and what is read is usable', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.nat(), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), async (which, item, path) => {
      const file = dumps_[which % dumps_.length]!;
      const value = mutate(file.items[item % file.items.length]!, path);
      for (const f of await readGivesFlowsOrFlowReadError(dumps(value as TNetInput))) await useFlow(f);
    }),
    { numRuns: 400 },
  );
});

test('fuzz: flow files with bytes changed, cut or spliced are read or refused with FlowReadError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 8 }), async (which, a, b, insert) => {
      const bytes = files[which % files.length]!.bytes;
      const [lo, hi] = [a % bytes.length, b % bytes.length].sort((x, y) => x - y) as [number, number];
      const mutated = Buffer.concat([bytes.subarray(0, lo), Buffer.from(insert), bytes.subarray(hi)]);
      for (const f of await readGivesFlowsOrFlowReadError(mutated)) await useFlow(f);
    }),
    { numRuns: 150 },
  );
});

test('fuzz: HAR files with a part changed are read or refused with FlowReadError', async () => {
  const oddJson: unknown[] = [null, true, 0, -1, 1e300, 'x', '', [], {}, '2020-13-45T99:99:99Z', 'http://', 'HTTP/9', -0];
  const mutateJson = (v: unknown, path: number[]): unknown => {
    const [step = 0, ...rest] = path;
    if (v === null || typeof v !== 'object' || rest.length === 0) return oddJson[step % oddJson.length];
    if (Array.isArray(v)) return v.length === 0 ? v : v.map((x, i) => (i === step % v.length ? mutateJson(x, rest) : x));
    const keys = Object.keys(v);
    if (keys.length === 0) return v;
    const k = keys[step % keys.length]!;
    return { ...(v as object), [k]: mutateJson((v as Record<string, unknown>)[k], rest) };
  };
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), async (which, path) => {
      const doc = mutateJson(hars[which % hars.length]!.doc, path);
      for (const f of await readGivesFlowsOrFlowReadError(Buffer.from(JSON.stringify(doc)))) await useFlow(f);
    }),
    { numRuns: 200 },
  );
});

test('adversarial flow files: absurd lengths, deep nesting and huge numbers fail fast, without gigabytes', async () => {
  let deep = '0:~';
  for (let i = 0; i < 5000; i++) deep = `${deep.length}:${deep}]`;
  const digits = '1'.repeat(1 << 20);
  const cases = [
    '999999999999:abc',
    '9999999999999:abc',
    deep,
    `${digits.length + 1}:${digits}x^`,
    `${digits.length}:${digits}#`,
    `${'0:~'.repeat(300_000).length}:${'0:~'.repeat(300_000)}]`,
    '{"log":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}',
  ];
  for (const c of cases) {
    const started = performance.now();
    await assert.rejects(new FlowReader(Buffer.from(c)).readAll(), FlowReadError);
    const ms = performance.now() - started;
    assert.ok(ms < 3000, `${c.slice(0, 30)}: ${ms.toFixed(0)} ms`);
  }
});
