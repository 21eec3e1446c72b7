// Every flow file in shared/spec/upstream-samples (written by mitmproxy releases from 0.11 to 12)
// read back with the flow counts and per-flow facts that the newest mitmproxy reports
// (MANIFEST.json), and the savehar golden files reproduced byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FlowReader, readFlows } from '../../src/io/flowreader.js';
import { harToJson } from '../../src/io/har.js';
import { encodeFlow } from '../../src/io/flowwriter.js';
import { HTTPFlow } from '../../src/http.js';
import { TCPFlow } from '../../src/tcp.js';
import type { AnyFlow } from '../../src/flows.js';

const SAMPLES = [join(import.meta.dirname, '../../../shared/spec/upstream-samples'), '/work/shared/spec/upstream-samples'].find((d) => existsSync(join(d, 'MANIFEST.json')));

interface ManifestEntry {
  file: string;
  flow_count: number;
  exception: string | null;
  summary: Array<Record<string, unknown>> | null;
}

/** The per-flow facts MANIFEST.json lists, computed from our flow objects. */
function summarize(f: AnyFlow): Record<string, unknown> {
  if (f instanceof HTTPFlow) {
    let decoded: number | null = null;
    if (f.response && f.response.rawContent !== null) {
      try {
        decoded = f.response.getContent(true)!.length;
      } catch {
        decoded = null;
      }
    }
    return {
      type: 'http',
      error: f.error ? f.error.msg : null,
      method: f.request.method,
      url: f.request.url,
      http_version: f.request.httpVersion,
      status: f.response ? f.response.statusCode : null,
      request_body_size: f.request.rawContent === null ? null : f.request.rawContent.length,
      response_body_raw_size: f.response && f.response.rawContent !== null ? f.response.rawContent.length : null,
      response_body_decoded_size: decoded,
      response_content_encoding: f.response ? (f.response.headers.get('content-encoding') ?? null) : null,
      websocket_messages: f.websocket ? f.websocket.messages.length : null,
      tls: f.clientConn.tls,
    };
  }
  if (f instanceof TCPFlow) {
    const sum = (fromClient: boolean) => f.messages.filter((m) => m.fromClient === fromClient).reduce((n, m) => n + m.content.length, 0);
    return {
      type: f.type,
      error: f.error ? f.error.msg : null,
      messages: f.messages.length,
      bytes_from_client: sum(true),
      bytes_from_server: sum(false),
      server: f.serverConn.address ? [...f.serverConn.address] : null,
    };
  }
  return { type: f.type };
}

test('upstream samples exist', () => {
  assert.ok(SAMPLES, 'shared/spec/upstream-samples not found');
});

const manifest: ManifestEntry[] = SAMPLES ? JSON.parse(readFileSync(join(SAMPLES, 'MANIFEST.json'), 'utf8')) : [];

for (const entry of manifest) {
  test(`reads ${entry.file} as the newest mitmproxy does`, async () => {
    const reader = new FlowReader(join(SAMPLES!, entry.file));
    const flows: AnyFlow[] = [];
    let error: Error | null = null;
    try {
      for await (const f of reader) flows.push(f);
    } catch (e) {
      error = e as Error;
    }
    if (entry.exception) {
      assert.ok(error, 'expected a read error');
      assert.equal(`FlowReadException: ${error.message}`, entry.exception);
    } else {
      assert.equal(error, null, String(error));
    }
    assert.equal(flows.length, entry.flow_count);
    if (entry.summary) {
      flows.forEach((f, i) => assert.deepEqual(summarize(f), entry.summary![i], `${entry.file} flow ${i}`));
    }
  });
}

const HAR_GOLDEN = ['corrupted_gzip_body', 'diff_data', 'error_log', 'event_stream', 'incomplete_log', 'successful_log', 'websocket'];

for (const name of HAR_GOLDEN) {
  test(`HAR export of ${name}.mitm equals mitmproxy's golden ${name}.har`, async () => {
    const flows = await readFlows(join(SAMPLES!, `${name}.mitm`));
    const got = harToJson(flows, { creatorVersion: '1.2.3' });
    // Some golden files got a trailing newline in the upstream repository; mitmproxy writes none.
    const want = readFileSync(join(SAMPLES!, `${name}.har`), 'utf8').replace(/\n$/, '');
    assert.equal(got, want);
  });
}

test('a format-21 file written by mitmproxy is re-written byte for byte', async () => {
  const path = join(SAMPLES!, 'corrupted_gzip_body.mitm');
  const flows = await readFlows(path);
  assert.deepEqual(Buffer.concat(flows.map((f) => encodeFlow(f))), readFileSync(path));
});

test('old files migrate to format 21 and survive a write/read cycle unchanged', async () => {
  for (const entry of manifest) {
    if (entry.exception || !entry.file.endsWith('.mitm')) continue;
    const flows = await readFlows(join(SAMPLES!, entry.file));
    const written = Buffer.concat(flows.map((f) => encodeFlow(f)));
    const again = await readFlows(written);
    assert.deepEqual(
      again.map((f) => f.getState()),
      flows.map((f) => f.getState()),
      entry.file,
    );
    assert.deepEqual(Buffer.concat(again.map((f) => encodeFlow(f))), written, `${entry.file}: second write differs`);
  }
});

test('old WebSocket flows (format 7) are merged into their handshakes, as mitmproxy does', async () => {
  const flows = (await readFlows(join(SAMPLES!, 'dumpfile-7-websocket.mitm'))) as HTTPFlow[];
  const withWs = flows.filter((f) => f.websocket);
  assert.equal(withWs.length, 3);
  for (const f of withWs) assert.match(String(f.metadata['duplicated']), /migrated from an old file format version/);
  // The text messages of format 7 were stored as str; they come back as UTF-8 bytes.
  const msgs = withWs[0]!.websocket!.messages;
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]!.injected, false);
  assert.equal(typeof msgs[0]!.timestamp, 'number');
  // The handshake whose pair is missing becomes mitmproxy's placeholder request.
  assert.ok(flows.some((f) => f.request.url === 'http://unknown/' && f.websocket));
});

test('Python-2 era file (0.11): bytes everywhere become the right text fields', async () => {
  const [f] = (await readFlows(join(SAMPLES!, 'dumpfile-011.mitm'))) as HTTPFlow[];
  assert.equal(typeof f!.id, 'string');
  assert.equal(f!.marked, '');
  assert.equal(f!.comment, '');
  assert.equal(f!.clientConn.proxyMode, 'regular');
  assert.equal(f!.clientConn.id.length, 36);
  assert.equal(typeof f!.request.host, 'string');
});

test('the direct flow encoder writes exactly what encoding getState() writes', async () => {
  const files = manifest.filter((e) => !e.exception).map((e) => join(SAMPLES!, e.file));
  files.push(join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm'));
  let n = 0;
  for (const file of files) {
    for (const f of await readFlows(file)) {
      assert.deepEqual(encodeFlow(f), encodeFlow(f.getState()), `${file}: ${f.id}`);
      n++;
    }
  }
  assert.ok(n > 60);
});

test('the direct flow decoder builds exactly the flows the general path builds', async () => {
  const { decodeFlowFast } = await import('../../src/io/flow-decoder.js');
  const { flowFromDecoded } = await import('../../src/io/flowreader.js');
  const { loads } = await import('../../src/io/tnetstring.js');
  const files = manifest.filter((e) => !e.exception && e.file.endsWith('.mitm')).map((e) => join(SAMPLES!, e.file));
  files.push(join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm'));
  let fast = 0;
  let total = 0;
  for (const file of files) {
    for (const f of await readFlows(file)) {
      const item = encodeFlow(f);
      const slow = flowFromDecoded(loads(item));
      const direct = decodeFlowFast(item, 0, item.length);
      total++;
      if (direct === null) {
        assert.ok(f.type === 'dns' || f.hasBackup, `${file}: ${f.type} flow ${f.id} not decoded directly`);
        continue;
      }
      fast++;
      assert.equal(direct.constructor, slow.constructor);
      assert.deepEqual(direct.getState(), slow.getState(), `${file}: ${f.id}`);
    }
  }
  assert.ok(fast > 40 && fast >= total - 3, `${fast} of ${total} decoded directly`);
  // off-layout input is left to the general path
  assert.equal(decodeFlowFast(Buffer.from('8:5:hello,]'), 0, 11), null);
});
