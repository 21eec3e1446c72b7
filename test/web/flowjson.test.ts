/**
 * The flow JSON (web-api.md §4): the spec's full HTTP example rebuilt from the model and compared
 * field by field (values and key order), then the other flow kinds, markers, content hashes,
 * certificates and the JSON writer.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { generateCa } from '../../src/certs/index.js';
import { certificatePem } from '../../src/certs/x509.js';
import { Client, Server } from '../../src/connection.js';
import { FlowError } from '../../src/flow.js';
import { dnsTypeName } from '../../src/dns.js';
import { Headers } from '../../src/headers.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { certToJson, flowJsonText, flowToJson, logEntryToJson, sha256Hex } from '../../src/tools/web/flowjson.js';
import { renderMarker } from '../../src/util/markers.js';
import { pyJson } from '../../src/tools/web/json.js';
import { tdnsflow, tflow, ttcpflow } from './fixtures.js';

/** The TLS fields of a connection without TLS: both connections of the spec example below. */
const NO_TLS = { tls_established: false, cert: null, sni: null, cipher: null, alpn: null, tls_version: null };

/** The example of web-api.md §4.6, as written there (its TLS fields once, in NO_TLS). */
const SPEC_EXAMPLE = {
  id: '8ad9c653-096a-48b6-bb4e-499954971f74',
  intercepted: false,
  is_replay: null,
  type: 'http',
  modified: false,
  marked: '',
  comment: '',
  timestamp_created: 1795793503.39157,
  client_conn: {
    id: 'ab230570-4815-4d1d-8512-b375d61d6ec6',
    peername: ['127.0.0.1', 48770],
    sockname: ['127.0.0.1', 28080],
    ...NO_TLS,
    timestamp_start: 1795793503.3892024,
    timestamp_tls_setup: null,
    timestamp_end: 1795793503.408296,
  },
  server_conn: {
    id: 'b502434d-ad21-4ef1-abd3-4b1f15733e26',
    peername: ['127.0.0.1', 18090],
    sockname: ['127.0.0.1', 33566],
    address: ['127.0.0.1', 18090],
    ...NO_TLS,
    timestamp_start: 1795793503.3931842,
    timestamp_tcp_setup: 1795793503.3969164,
    timestamp_tls_setup: null,
    timestamp_end: 1795793503.4080462,
  },
  request: {
    method: 'GET',
    scheme: 'http',
    host: '127.0.0.1',
    port: 18090,
    path: '/data.json',
    http_version: 'HTTP/1.1',
    headers: [
      ['Host', '127.0.0.1:18090'],
      ['User-Agent', 'curl/7.88.1'],
      ['Accept', '*/*'],
      ['Proxy-Connection', 'Keep-Alive'],
    ],
    contentLength: 0,
    contentHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    timestamp_start: 1795793503.3913202,
    timestamp_end: 1795793503.3921907,
    pretty_host: '127.0.0.1',
  },
  response: {
    http_version: 'HTTP/1.0',
    status_code: 200,
    reason: 'OK',
    headers: [
      ['Server', 'SimpleHTTP/0.6 Python/3.11.7'],
      ['Date', 'Fri, 27 Nov 2026 15:31:43 GMT'],
      ['Content-type', 'application/json'],
      ['Content-Length', '33'],
    ],
    contentLength: 33,
    contentHash: '9192faba4a1e8d51eb7851e32a3ada92ca0540114b8e1055fb225474893224a2',
    timestamp_start: 1795793503.4060082,
    timestamp_end: 1795793503.4070976,
  },
};

/** Key order, recursively, of a JSON value. */
function keyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyOrder);
  if (v && typeof v === 'object') return Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, keyOrder(x)]);
  return null;
}

function specExampleFlow(responseBody: Buffer): HTTPFlow {
  const ex = SPEC_EXAMPLE;
  const c = new Client({ peername: ['127.0.0.1', 48770], sockname: ['127.0.0.1', 28080], timestampStart: ex.client_conn.timestamp_start });
  c.id = ex.client_conn.id;
  c.timestampEnd = ex.client_conn.timestamp_end;
  const s = new Server({ address: ['127.0.0.1', 18090] });
  s.id = ex.server_conn.id;
  s.peername = ['127.0.0.1', 18090];
  s.sockname = ['127.0.0.1', 33566];
  s.timestampStart = ex.server_conn.timestamp_start;
  s.timestampTcpSetup = ex.server_conn.timestamp_tcp_setup;
  s.timestampEnd = ex.server_conn.timestamp_end;
  const req = new Request({
    host: '127.0.0.1',
    port: 18090,
    method: 'GET',
    scheme: 'http',
    path: '/data.json',
    headers: new Headers(ex.request.headers as Array<[string, string]>),
    content: Buffer.alloc(0),
    timestampStart: ex.request.timestamp_start,
    timestampEnd: ex.request.timestamp_end,
  });
  const f = new HTTPFlow(c, s, false, req);
  f.id = ex.id;
  f.timestampCreated = ex.timestamp_created;
  f.response = new Response({
    statusCode: 200,
    reason: 'OK',
    httpVersion: 'HTTP/1.0',
    headers: new Headers(ex.response.headers as Array<[string, string]>),
    content: responseBody,
    timestampStart: ex.response.timestamp_start,
    timestampEnd: ex.response.timestamp_end,
  });
  return f;
}

test('the HTTP flow JSON equals the spec example, field by field and in key order', () => {
  // A 33-byte body whose SHA-256 is not the example's: checked separately below.
  const body = Buffer.from('{"files": ["a.txt", "b.txt"], "n"}');
  const f = specExampleFlow(body.subarray(0, 33));
  const j = flowToJson(f) as unknown as Record<string, unknown>;
  const expected = structuredClone(SPEC_EXAMPLE) as Record<string, any>;
  expected.response.contentHash = createHash('sha256').update(body.subarray(0, 33)).digest('hex');
  for (const key of Object.keys(expected)) assert.deepEqual(j[key], expected[key], key);
  assert.deepEqual(j, expected);
  assert.deepEqual(keyOrder(j), keyOrder(expected));
  // The empty body hashes to the spec's value.
  assert.equal((j.request as { contentHash: string }).contentHash, SPEC_EXAMPLE.request.contentHash);
});

test('contentHash and contentLength are of the raw (still encoded) body; null without a body', () => {
  const f = tflow({ resp: true });
  const gz = gzipSync('hello hello hello');
  f.response!.headers.set('content-encoding', 'gzip');
  f.response!.rawContent = gz;
  f.request.rawContent = null;
  const j = flowToJson(f) as Record<string, any>;
  assert.equal(j.response.contentHash, createHash('sha256').update(gz).digest('hex'));
  assert.equal(j.response.contentLength, gz.length);
  assert.equal(j.request.contentHash, null);
  assert.equal(j.request.contentLength, null);
  // A new body gives a new hash (the digest cache is per Buffer).
  f.response!.content = Buffer.from('other');
  assert.notEqual((flowToJson(f) as Record<string, any>).response.contentHash, j.response.contentHash);
  assert.equal(sha256Hex(Buffer.alloc(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('error, websocket, trailers and the connection fields of a TLS flow', () => {
  const f = tflow({ resp: true, ws: true, err: true });
  f.response!.trailers = new Headers([['x-trailer', 'v']]);
  const j = flowToJson(f) as Record<string, any>;
  assert.deepEqual(Object.keys(j), ['id', 'intercepted', 'is_replay', 'type', 'modified', 'marked', 'comment', 'timestamp_created', 'client_conn', 'server_conn', 'error', 'request', 'response', 'websocket']);
  assert.deepEqual(j.error, { msg: 'error', timestamp: 946681207 });
  assert.deepEqual(j.websocket, {
    messages_meta: { contentLength: 12 + 10 + 7, count: 3, timestamp_last: 946681205 },
    closed_by_client: false,
    close_code: 1000,
    close_reason: 'Close Reason',
    timestamp_end: 946681205,
  });
  assert.deepEqual(j.response.trailers, [['x-trailer', 'v']]);
  assert.equal('trailers' in j.request, false, 'requests never carry trailers');
  assert.deepEqual(j.client_conn, {
    id: f.clientConn.id,
    peername: ['127.0.0.1', 22],
    sockname: ['', 0],
    tls_established: true,
    cert: null,
    sni: 'address',
    cipher: 'cipher',
    alpn: 'http/1.1',
    tls_version: 'TLSv1.2',
    timestamp_start: 946681200,
    timestamp_tls_setup: 946681201,
    timestamp_end: 946681206,
  });
  assert.deepEqual(Object.keys(j.server_conn), ['id', 'peername', 'sockname', 'address', 'tls_established', 'cert', 'sni', 'cipher', 'alpn', 'tls_version', 'timestamp_start', 'timestamp_tcp_setup', 'timestamp_tls_setup', 'timestamp_end']);
  assert.equal(j.server_conn.tls_established, true);
  const noResp = flowToJson(tflow()) as Record<string, any>;
  assert.equal('response' in noResp, false);
  assert.equal('error' in noResp, false);
  assert.equal('websocket' in noResp, false);
});

test('TCP and UDP flows carry messages_meta instead of request/response', () => {
  for (const udp of [false, true]) {
    const j = flowToJson(ttcpflow({ udp })) as Record<string, any>;
    assert.equal(j.type, udp ? 'udp' : 'tcp');
    assert.deepEqual(j.messages_meta, { contentLength: 12, count: 2, timestamp_last: 946681204.5 });
    assert.equal('request' in j, false);
    assert.deepEqual(Object.keys(j).slice(-1), ['messages_meta']);
  }
});

test('DNS flows carry DNS message objects', () => {
  const j = flowToJson(tdnsflow({ resp: true })) as Record<string, any>;
  assert.equal(j.type, 'dns');
  assert.deepEqual(j.request, {
    id: 42,
    query: true,
    op_code: 'QUERY',
    authoritative_answer: false,
    truncation: false,
    recursion_desired: true,
    recursion_available: false,
    response_code: 'NOERROR',
    status_code: 200,
    questions: [{ name: 'dns.google', type: 'A', class: 'IN' }],
    answers: [],
    authorities: [],
    additionals: [],
    size: 0,
    timestamp: 946681200,
  });
  assert.deepEqual(j.response.answers, [
    { name: 'dns.google', type: 'A', class: 'IN', ttl: 32, data: '8.8.8.8' },
    { name: 'dns.google', type: 'A', class: 'IN', ttl: 32, data: '8.8.4.4' },
  ]);
  assert.equal(j.response.size, 8);
});

test('DNS record types are named as mitmproxy names them (TLSA, SSHFP, NULL, AXFR, ...), not TYPE(<n>)', () => {
  const f = tdnsflow({ resp: true });
  f.request.questions[0]!.type = 52;
  f.response!.answers[0]!.type = 44;
  f.response!.answers[1]!.type = 10;
  const j = flowToJson(f) as Record<string, any>;
  assert.equal(j.request.questions[0].type, 'TLSA');
  assert.deepEqual(j.response.answers.map((a: { type: string }) => a.type), ['SSHFP', 'NULL']);
  assert.deepEqual([251, 252, 32769, 54].map(dnsTypeName), ['IXFR', 'AXFR', 'DLV', 'TYPE(54)']);
});

test('markers: shortcodes become emoji, :default: a dot, letters stay, the rest a red circle', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    [':grapes:', '🍇'],
    [':red_circle:', '🔴'],
    [':default:', '●'],
    ['a', 'a'],
    ['7', '7'],
    [':+1:', '👍'],
    [':not_an_emoji:', '🔴'],
    ['ab', '🔴'],
    ['é', '🔴'],
  ];
  for (const [marker, shown] of cases) assert.equal(renderMarker(marker), shown, marker);
  const f = tflow();
  f.marked = ':grapes:';
  assert.equal(flowToJson(f).marked, '🍇');
});

test('modified is true only when a backup exists and differs', () => {
  const f = tflow({ resp: true });
  assert.equal(flowToJson(f).modified, false);
  f.backup();
  assert.equal(flowToJson(f).modified, false);
  f.request.path = '/changed';
  assert.equal(flowToJson(f).modified, true);
});

test('certificates: only the first of the chain, mitmproxy fields', async () => {
  const { certDer } = await generateCa({ keySize: 1024, commonName: 'Test CA', organization: 'Example Org' });
  const pem = certificatePem(certDer);
  const x = new X509Certificate(certDer);
  const j = certToJson([pem, pem])!;
  assert.deepEqual(j.keyinfo, ['RSA', 1024]);
  assert.equal(j.sha256, x.fingerprint256.replace(/:/g, '').toLowerCase());
  assert.equal(j.serial, BigInt(`0x${x.serialNumber}`).toString());
  assert.equal(j.notbefore, Math.floor(Date.parse(x.validFrom) / 1000));
  assert.equal(j.notafter, Math.floor(Date.parse(x.validTo) / 1000));
  assert.deepEqual(j.subject, [['CN', 'Test CA'], ['O', 'Example Org']]);
  assert.deepEqual(j.issuer, j.subject);
  assert.deepEqual(j.altnames, []);
  assert.deepEqual(Object.keys(j), ['keyinfo', 'sha256', 'notbefore', 'notafter', 'serial', 'subject', 'issuer', 'altnames']);
  assert.equal(certToJson([]), null);
  assert.equal(certToJson(['not a pem']), null);
  const f = tflow();
  f.serverConn.certificateList = [pem];
  assert.deepEqual(flowToJson(f).server_conn.cert, j);
});

test('JSON writer: Python separators; ASCII escaping and <\\/ for REST only', () => {
  const v = { a: [1, 2.5, null, true], 'ü': 'x</y\u2028\n"', e: {} };
  assert.equal(pyJson(v, true), '{"a": [1, 2.5, null, true], "\\u00fc": "x<\\/y\\u2028\\n\\"", "e": {}}');
  assert.equal(pyJson(v, false), '{"a": [1, 2.5, null, true], "ü": "x</y\u2028\\n\\"", "e": {}}');
  assert.equal(pyJson('😀', true), '"\\ud83d\\ude00"');
  assert.equal(pyJson({ skip: undefined as never, n: Number.NaN }, true), '{"n": null}');
  assert.deepEqual(JSON.parse(pyJson(v, true)), v);
});

test('event log messages: time, then the client address when there is one', () => {
  const ts = new Date(2026, 0, 2, 3, 4, 5, 67).getTime() / 1000;
  const message = (e: Parameters<typeof logEntryToJson>[0]) => logEntryToJson(e).message;
  assert.equal(message({ id: 1, level: 'info', message: 'client connect', timestamp: ts, client: '127.0.0.1:48770' }), '[03:04:05.067][127.0.0.1:48770] client connect');
  assert.equal(message({ id: 2, level: 'info', message: 'hello', timestamp: ts }), '[03:04:05.067] hello');
  // A replayed flow's lines read as in the terminal, not `[[replay]]`.
  assert.equal(message({ id: 3, level: 'info', message: 'server connect 127.0.0.1:80', timestamp: ts, client: '[replay]' }), '[03:04:05.067] [replay] server connect 127.0.0.1:80');
  const f = tflow();
  f.error = new FlowError('x', 1);
  assert.equal(flowToJson(f).error!.msg, 'x');
});

test('the fast text serialiser writes exactly what pyJson(flowToJson()) writes, for every kind of flow', async () => {
  const { certDer } = await generateCa({ keySize: 1024, commonName: 'Ünïcode CA </x>' });
  const weird = tflow({ resp: true, err: true });
  weird.id = 'f00d';
  weird.comment = 'quote " backslash \\ tab \t newline \n </script> ü 😀 \u007f \u2028';
  weird.marked = ':grapes:';
  weird.request.headers.add('X-Bytes', 'caf\u00e9 ü');
  weird.request.path = '/päth?q="x"';
  weird.response!.reason = 'Non-Authoris\xe9';
  weird.response!.trailers = new Headers([['x-t', 'v']]);
  weird.clientConn.alpn = 'h2\u00ff';
  weird.serverConn.certificateList = [certificatePem(certDer)];
  weird.serverConn.peername = ['::1', 443, 0, 0];
  weird.backup();
  weird.request.method = 'PUT';
  weird.intercepted = true;
  weird.isReplay = 'request';
  const flows = [
    ...[tflow(), tflow({ resp: true }), tflow({ ws: true, resp: true }), tflow({ err: true }), weird],
    ttcpflow(),
    ttcpflow({ udp: true, err: true }),
    tdnsflow(),
    tdnsflow({ resp: true }),
  ];
  const memo = new Map();
  for (const f of flows) {
    for (const ascii of [true, false]) {
      const expected = pyJson(flowToJson(f) as never, ascii);
      assert.equal(flowJsonText(f, ascii), expected, `${f.type} ${f.id} ascii=${ascii}`);
      if (ascii) assert.equal(flowJsonText(f, ascii, memo), expected, 'with a connection memo');
    }
  }
  // Flows sharing a connection share its JSON through the memo.
  const a = tflow();
  const b = tflow();
  b.clientConn = a.clientConn;
  const m2 = new Map();
  flowJsonText(a, true, m2);
  assert.ok(m2.has(a.clientConn));
  assert.equal(flowJsonText(b, true, m2), pyJson(flowToJson(b) as never, true));
});
