// Reading and writing flow files: the mitmproxy 8.1.1 fixture (every field compared with what
// mitmproxy itself reads), byte-identical re-writes, damaged files, sources and HAR sniffing.
import { test } from 'node:test';
import { constants } from 'node:buffer';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { FlowReader, FlowReadError, MAX_HAR_BYTES, readFlows, sniffFlowFile } from '../../src/io/flowreader.js';
import { FlowWriter, encodeFlow, writeFlowsToFile } from '../../src/io/flowwriter.js';
import { downgradeTo17 } from '../../src/io/format17.js';
import { dumps, loads, PyFloat, pyFloatRepr, type TNetInput, type TNetDict } from '../../src/io/tnetstring.js';
import { harToJson } from '../../src/io/har.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { DNSFlow } from '../../src/dns.js';
import { TCPFlow, UDPFlow } from '../../src/tcp.js';
import type { AnyFlow } from '../../src/flows.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/flows');
const FIXTURE_811 = join(FIXTURES, 'mitmdump-8.1.1.mitm');

/** The tagged JSON form of dump-state.py: bytes {"$b": hex}, floats {"$f": repr}. */
function tagged(v: TNetInput | undefined): unknown {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return v ?? null;
  if (typeof v === 'number') return Number.isInteger(v) ? v : { $f: pyFloatRepr(v) };
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof PyFloat) return { $f: pyFloatRepr(v.value) };
  if (v instanceof Uint8Array) return { $b: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(tagged);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = tagged((v as Record<string, TNetInput>)[k]);
  return out;
}

/** Key order kept, except that dicts under "metadata" and "backup" get sorted keys. */
function ordered(v: unknown, sortKeys = false): unknown {
  if (Array.isArray(v)) return v.map((x) => ordered(x, sortKeys));
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = sortKeys ? Object.keys(o).sort() : Object.keys(o);
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = ordered(o[k], sortKeys || k === 'metadata' || k === 'backup');
  return out;
}

/** Split a flow file into its top-level items (as bytes). */
function splitItems(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < data.length) {
    const colon = data.indexOf(0x3a, p);
    const len = Number(data.toString('latin1', p, colon));
    out.push(data.subarray(p, colon + 2 + len));
    p = colon + 2 + len;
  }
  return out;
}

async function readWithError(source: Parameters<typeof readFlows>[0]): Promise<{ flows: AnyFlow[]; error: FlowReadError | null }> {
  const flows: AnyFlow[] = [];
  try {
    for await (const f of new FlowReader(source)) flows.push(f);
    return { flows, error: null };
  } catch (e) {
    assert.ok(e instanceof FlowReadError, `expected FlowReadError, got ${String(e)}`);
    return { flows, error: e };
  }
}

test('mitmproxy 8.1.1 fixture: every field equals what mitmproxy 8.1.1 reads from it', async () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'mitmdump-8.1.1.expected.json'), 'utf8')) as { flows: unknown[] };
  const flows = await readFlows(FIXTURE_811);
  assert.equal(flows.length, expected.flows.length);
  assert.deepEqual(
    flows.map((f) => f.type),
    ['http', 'http', 'http', 'http', 'http', 'http', 'http', 'http', 'http', 'http', 'http', 'http', 'tcp', 'dns'],
  );
  flows.forEach((f, i) => {
    // Our format-21 state, written back as format 17, must be mitmproxy's own state for the flow.
    const ours = tagged(downgradeTo17(f.getState()));
    assert.deepEqual(ours, expected.flows[i], `flow ${i}`);
    // Key order too, except inside free-form dicts: mitmproxy's reader leaves those in disk
    // order (reversed), ours restores the writer's order so that re-writing is byte-identical.
    assert.equal(JSON.stringify(ordered(ours)), JSON.stringify(ordered(expected.flows[i])), `flow ${i}: key order`);
  });
});

test('mitmproxy 8.1.1 fixture: the interesting flows look right through the model', async () => {
  const flows = await readFlows(FIXTURE_811);
  const http = flows.filter((f): f is HTTPFlow => f instanceof HTTPFlow);
  const byPath = (p: string) => http.find((f) => f.request.path.startsWith(p))!;
  const gz = byPath('/gzip?x=1');
  assert.equal(gz.response!.headers.get('content-encoding'), 'gzip');
  assert.match(gz.response!.getText()!, /compressed body/);
  const marked = byPath('/marked');
  assert.equal(marked.marked, ':grapes:');
  assert.equal(marked.comment, 'fixture comment ✓');
  assert.deepEqual(marked.metadata['fixture'], { int: 7, float: 2.5, str: 'text', none: null, bool: true, list: [1, 'two', [3.25]] });
  assert.ok(marked.modified(), 'the flow carries a backup that differs from it');
  marked.revert();
  assert.equal(marked.response!.headers.get('x-edited'), undefined);
  const refused = byPath('/refused');
  assert.equal(refused.response, null);
  assert.match(refused.error!.msg, /Connect call failed/);
  const h2 = byPath('/gzip?h2=1');
  assert.equal(h2.request.httpVersion, 'HTTP/2.0');
  assert.equal(h2.clientConn.tls, true);
  assert.ok(h2.serverConn.certificateList[0]!.startsWith('-----BEGIN CERTIFICATE-----'));
  const ws = byPath('/ws');
  assert.deepEqual(
    ws.websocket!.messages.map((m) => [m.type, m.fromClient, m.content.toString('latin1')]),
    [
      [1, true, 'hello websocket'],
      [1, false, 'hello websocket'],
      [2, true, '\x00\x01\x02\xff'],
      [2, false, '\x00\x01\x02\xff'],
    ],
  );
  assert.equal(ws.websocket!.closeCode, 1000);
  const tcp = flows.find((f): f is TCPFlow => f instanceof TCPFlow)!;
  assert.equal(tcp.messages[0]!.content.toString(), '> hello tcp\n');
  const dns = flows.find((f): f is DNSFlow => f instanceof DNSFlow)!;
  assert.equal(dns.request.questions[0]!.name, 'localhost');
  assert.ok(dns.response!.answers.length >= 1);
});

test('mitmproxy 8.1.1 fixture: written as format 17 it is byte-identical to the original', async () => {
  const data = readFileSync(FIXTURE_811);
  const items = splitItems(data);
  const flows = await readFlows(data);
  flows.forEach((f, i) => assert.deepEqual(encodeFlow(f, 17), items[i], `flow ${i}`));
});

test('format 21: our own output reads back to the same flows and re-writes byte for byte', async () => {
  const flows = await readFlows(FIXTURE_811);
  const v21 = Buffer.concat(flows.map((f) => encodeFlow(f)));
  assert.match(v21.toString('latin1', 0, 40), /^\d+:9:websocket;/);
  const again = await readFlows(v21);
  assert.deepEqual(
    again.map((f) => f.getState()),
    flows.map((f) => f.getState()),
  );
  assert.deepEqual(Buffer.concat(again.map((f) => encodeFlow(f))), v21);
  // timestamps are floats on disk even when integral
  const f = flows[0]!;
  f.timestampCreated = 1795793585;
  assert.match(encodeFlow(f).toString('latin1'), /17:timestamp_created;12:1795793585\.0\^/);
});

test('mitmproxy 8.1.1 itself reads our format-17 output (when mitmdump is installed)', async (t) => {
  const probe = spawnSync('mitmdump', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || !probe.stdout.includes('8.1.1')) return t.skip('mitmdump 8.1.1 not installed');
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const flows = await readFlows(FIXTURE_811);
  const path = join(dir, 'ours.mitm');
  writeFlowsToFile(path, flows, { format: 17 });
  const r = spawnSync('/usr/bin/python3', [join(FIXTURES, 'dump-state.py'), path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'mitmdump-8.1.1.expected.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout).flows, expected.flows);
});

test('format 17 leaves out what mitmproxy 8 cannot read: UDP flows, and metadata that is not JSON', async () => {
  const http = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/'));
  http.metadata = { raw: Buffer.from([0xff]), n: 1, nested: { bytes: Buffer.from('x'), s: 'kept' }, list: [1, Buffer.from('y'), 'z'] };
  const sink: Buffer[] = [];
  const { Writable } = await import('node:stream');
  const w = new FlowWriter(new Writable({ write: (chunk, _e, cb) => (sink.push(chunk), cb()) }), 17);
  w.add(new UDPFlow());
  w.add(http);
  assert.equal(w.count, 1);
  assert.equal(w.skipped, 1);
  const [back] = await readFlows(Buffer.concat(sink));
  assert.equal(back!.type, 'http');
  assert.deepEqual(back!.metadata, { n: 1, nested: { s: 'kept' }, list: [1, 'z'] });
  assert.deepEqual(http.metadata.raw, Buffer.from([0xff]), 'the flow itself is not changed');
});

test('FlowWriter: truncating and appending (+path semantics), stream sinks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-'));
  try {
    const flows = await readFlows(FIXTURE_811);
    const path = join(dir, 'sub', 'out.mitm');
    const w = FlowWriter.open(path, { mkdirs: true });
    w.add(flows[0]!);
    w.close();
    const w2 = FlowWriter.open(path, { append: true });
    w2.add(flows[1]!);
    w2.close();
    assert.equal((await readFlows(path)).length, 2);
    writeFlowsToFile(path, [flows[2]!]);
    assert.equal((await readFlows(path)).length, 1);
    const chunks: Buffer[] = [];
    const { Writable } = await import('node:stream');
    const sink = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const sw = new FlowWriter(sink);
    for (const f of flows) sw.add(f);
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat(flows.map((f) => encodeFlow(f))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sources: path, Buffer, byte-at-a-time stream, stdin-like Readable', async () => {
  const data = readFileSync(FIXTURE_811);
  const ids = (await readFlows(FIXTURE_811)).map((f) => f.id);
  assert.deepEqual((await readFlows(data)).map((f) => f.id), ids);
  const bytewise = Readable.from((function* () {
    for (let i = 0; i < data.length; i += 1) yield data.subarray(i, i + 1);
  })());
  assert.deepEqual((await readFlows(bytewise)).map((f) => f.id), ids);
  assert.deepEqual((await readFlows(Readable.from([data.subarray(0, 3), data.subarray(3)]))).map((f) => f.id), ids);
});

test('empty input is zero flows', async () => {
  assert.deepEqual(await readFlows(Buffer.alloc(0)), []);
});

test('a missing file gives a FlowReadError with the OS reason', async () => {
  const r = await readWithError('/nonexistent/dir/x.mitm');
  assert.match(r.error!.message, /ENOENT|no such file/i);
});

test('damaged files: the flows before the damage are returned, then a clear error with the offset', async () => {
  const data = readFileSync(FIXTURE_811);
  const items = splitItems(data);
  const two = Buffer.concat(items.slice(0, 2));
  const third = items[2]!;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['half of a third flow', Buffer.concat([two, third.subarray(0, third.length >> 1)]), /^Invalid data format\. \(flow 3, at byte offset (\d+): not a tnetstring: input ends inside an item of \d+ bytes, \d+ bytes available\)$/],
    ['first digits of a length prefix', Buffer.concat([two, third.subarray(0, 2)]), /^Invalid data format\. \(flow 3, at byte offset (\d+): not a tnetstring: input ends inside a length prefix, after 2 bytes\)$/],
    ['a third flow missing its final }', Buffer.concat([two, third.subarray(0, third.length - 1)]), /^Invalid data format\. \(flow 3, at byte offset (\d+): /],
    ['a trailing newline', Buffer.concat([two, Buffer.from('\n')]), /^Invalid data format\. \(flow 3, at byte offset (\d+): not a tnetstring: invalid length prefix byte 0x0a\)$/],
  ];
  for (const [name, input, re] of cases) {
    const r = await readWithError(input);
    assert.equal(r.flows.length, 2, name);
    assert.ok(r.error, `${name}: expected an error`);
    const m = re.exec(r.error.message);
    assert.ok(m, `${name}: ${r.error.message}`);
    assert.equal(Number(m[1]), two.length, `${name}: offset`);
    assert.equal(r.error.offset, two.length);
    assert.equal(r.error.flowsRead, 2);
  }
  // the same through a file path
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-'));
  try {
    writeFileSync(join(dir, 'cut.mitm'), Buffer.concat([two, third.subarray(0, 100)]));
    const r = await readWithError(join(dir, 'cut.mitm'));
    assert.equal(r.flows.length, 2);
    assert.match(r.error!.message, /^Invalid data format\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad flow dicts: mitmproxy messages for version, type and non-dict items; details for schema errors', async () => {
  const good = loads(splitItems(readFileSync(FIXTURE_811))[0]!) as TNetDict;
  const variant = (change: (d: TNetDict) => void): Buffer => {
    const d = structuredClone(good) as TNetDict;
    // structuredClone turns Buffers into Uint8Arrays; the encoder accepts both.
    change(d);
    return dumps(d as TNetInput);
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['text garbage', Buffer.from('this is not a flow file'), /^Invalid data format\./],
    ['top-level list', Buffer.from('8:5:hello,]'), /^Invalid flow: loaded=\[b'hello'\]$/],
    ['version 99', dumps({ version: 99, type: 'http' }), /^mitmproxy 13\.0\.0\.dev cannot read files with flow format version 99, please update mitmproxy\.$/],
    ['version (0, 10)', dumps({ version: [0, 10, 1], type: 'http' }), /^mitmproxy 13\.0\.0\.dev cannot read files with flow format version \(0, 10\)\.$/],
    ['unknown type', variant((d) => (d['type'] = 'quux')), /^Unknown flow type: quux$/],
    ['extra top-level key', variant((d) => (d['foo'] = 'bar')), /^Invalid data format\. \(flow 1, at byte offset 0: unexpected key in the http flow: foo\)$/],
    ['missing comment', variant((d) => delete d['comment']), /^Invalid data format\. \(flow 1, at byte offset 0: comment: missing from the http flow\)$/],
    ['bytes where text belongs', variant((d) => ((d['client_conn'] as TNetDict)['sni'] = Buffer.from('x'))), /client_conn\.sni: expected str, got bytes/],
    ['bad tls_version', variant((d) => ((d['client_conn'] as TNetDict)['tls_version'] = 'TLSv9')), /client_conn\.tls_version: invalid value "TLSv9"/],
  ];
  for (const [name, input, re] of cases) {
    const r = await readWithError(input);
    assert.equal(r.flows.length, 0, name);
    assert.match(r.error!.message, re, name);
  }
  // a zero-padded length prefix is fine
  const item = splitItems(readFileSync(FIXTURE_811))[0]!;
  assert.equal((await readFlows(Buffer.concat([Buffer.from('0'), item]))).length, 1);
});

test('HAR files are sniffed: plain, with a BOM, zlib-compressed (.zhar); broken HAR is all-or-nothing', async () => {
  assert.equal(sniffFlowFile(Buffer.from('{"log"')), 'har');
  assert.equal(sniffFlowFile(Buffer.from('\ufeff{"log"')), 'har');
  assert.equal(sniffFlowFile(deflateSync(Buffer.from('{}'))), 'zhar');
  assert.equal(sniffFlowFile(Buffer.from('123:')), 'tnetstring');
  assert.equal(sniffFlowFile(Buffer.alloc(0)), 'empty');
  const flows = (await readFlows(FIXTURE_811)).filter((f) => f instanceof HTTPFlow);
  const har = Buffer.from(harToJson(flows));
  assert.equal((await readFlows(har)).length, flows.length);
  assert.equal((await readFlows(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), har]))).length, flows.length);
  assert.equal((await readFlows(deflateSync(har))).length, flows.length);
  const broken = await readWithError(Buffer.from('{"log": {"entries": [{"startedDateTime": "nope"}]}}'));
  assert.equal(broken.flows.length, 0);
  assert.match(broken.error!.message, /^Unable to read HAR file\. Please provide a valid HAR file/);
  const notJson = await readWithError(Buffer.from('{not json'));
  assert.match(notJson.error!.message, /^Unable to read HAR file/);
});

test('a .zhar is inflated only up to maxHarBytes (MAX_HAR_BYTES by default): a decompression bomb is refused instead of taking gigabytes', async () => {
  assert.equal(MAX_HAR_BYTES, constants.MAX_STRING_LENGTH);
  // 64 MB of padding in a valid, empty HAR, compressed to some 64 KB.
  const text = Buffer.concat([Buffer.from('{"log": {"entries": ['), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from(']}}')]);
  const bomb = deflateSync(text, { level: 9 });
  assert.ok(bomb.length < 128 * 1024);
  const limit = 1024 * 1024;
  await assert.rejects(new FlowReader(bomb, { maxHarBytes: limit }).readAll(), (e: Error) => {
    assert.ok(e instanceof FlowReadError);
    assert.equal(e.message, `Unable to read HAR file. Please provide a valid HAR file (decompresses to more than ${limit} bytes)`);
    return true;
  });
  // Plain HAR text is held to the same limit; within it, both read.
  await assert.rejects(new FlowReader(text, { maxHarBytes: limit }).readAll(), /\(is more than 1048576 bytes\)$/);
  assert.deepEqual(await new FlowReader(deflateSync('{"log": {"entries": []}}'), { maxHarBytes: 100 }).readAll(), []);
});

test('UDP and DNS flows survive a round trip', async () => {
  const flows = await readFlows(FIXTURE_811);
  const dns = flows.find((f) => f.type === 'dns')!;
  const back = (await readFlows(encodeFlow(dns)))[0]!;
  assert.deepEqual(back.getState(), dns.getState());
  const { UDPFlow, UDPMessage } = await import('../../src/tcp.js');
  const udp = new UDPFlow();
  udp.clientConn.transportProtocol = 'udp';
  udp.messages.push(new UDPMessage(true, Buffer.from([1, 2, 3]), 1700000000.5));
  const u2 = (await readFlows(encodeFlow(udp)))[0]!;
  assert.equal(u2.type, 'udp');
  assert.deepEqual(u2.getState(), udp.getState());
});

test('free-form metadata keeps every tnetstring type (big ints as bigint)', async () => {
  const f = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/'));
  f.response = Response.make(200, 'ok');
  f.metadata = { big: 2n ** 70n, bytes: Buffer.from([0, 255]), nested: { list: [1, 1.5, 'x', null, true] } };
  const back = (await readFlows(encodeFlow(f)))[0]!;
  assert.deepEqual(back.metadata, f.metadata);
  assert.deepEqual(encodeFlow(back), encodeFlow(f));
});

test('a flow file containing flows of several versions (after appending) reads fine', async () => {
  const v17 = readFileSync(FIXTURE_811);
  const flows = await readFlows(v17);
  const mixed = Buffer.concat([v17, encodeFlow(flows[0]!), existsSync(FIXTURE_811) ? v17 : Buffer.alloc(0)]);
  assert.equal((await readFlows(mixed)).length, flows.length * 2 + 1);
});

test('a metadata key "__proto__" in a flow file stays a key: it sets no prototype and survives a re-write', async () => {
  const flow = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/'));
  const nested = { a: 1 };
  Object.defineProperty(nested, '__proto__', { value: { polluted: 'nested' }, enumerable: true, writable: true, configurable: true });
  flow.metadata = { kept: 'yes', inner: nested };
  Object.defineProperty(flow.metadata, '__proto__', { value: { polluted: 'yes' }, enumerable: true, writable: true, configurable: true });
  const [read] = await readFlows(encodeFlow(flow));
  const metadata = read!.metadata as Record<string, unknown>;
  assert.deepEqual(Object.keys(metadata).sort(), ['__proto__', 'inner', 'kept']);
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype, 'the prototype is untouched');
  assert.equal('polluted' in metadata, false);
  const inner = metadata['inner'] as Record<string, unknown>;
  assert.deepEqual(Object.keys(inner).sort(), ['__proto__', 'a']);
  assert.equal('polluted' in inner, false);
  // Written again, and after a copy (duplicate, revert and the web API go through the flow's state), the keys are still there.
  const again = loads(encodeFlow(read!)) as TNetDict;
  assert.deepEqual(Object.keys(again['metadata'] as TNetDict).sort(), ['__proto__', 'inner', 'kept']);
  const copied = read!.copy().metadata as Record<string, unknown>;
  assert.deepEqual(Object.keys(copied).sort(), ['__proto__', 'inner', 'kept']);
  assert.equal('polluted' in copied, false);
  assert.equal('polluted' in (copied['inner'] as object), false);
});
