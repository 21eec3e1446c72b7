/**
 * The REST routes against a running API server, with mitmweb's own test data (flows "42", "43"
 * and an error flow, one "test log" event): every item of web-api.md §9.2 plus the error cases
 * and general conventions of §1 and §3.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test, type TestContext } from 'node:test';
import { HTTPFlow } from '../../src/http.js';
import { readFlows } from '../../src/io/flowreader.js';
import { TRANSPARENT_PNG } from '../../src/tools/web/routes.js';
import { appTestFlows, tflow } from './fixtures.js';
import { authHeaders, startWeb, type TestWeb } from './helpers.js';

async function fixture(t: TestContext): Promise<TestWeb & { f42: HTTPFlow; f43: HTTPFlow }> {
  const web = await startWeb(t, { proxy: false });
  const flows = appTestFlows();
  web.master.view.add(flows);
  web.master.events.clear();
  web.master.log.info('test log');
  return Object.assign(web, { f42: flows[0]!, f43: flows[1]! });
}

test('GET / is the API page with relative, token-bearing links', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=UTF-8');
  assert.ok(!r.text.includes('="/'), 'no root-relative paths');
  assert.ok(r.text.includes(`href="./flows?token=${w.token}"`));
  assert.ok(r.text.includes(`href="./state?token=${w.token}"`));
  assert.match(r.text, /mitmweb API/);
  assert.match(r.text, /MITMWEB_STATIC_DIR/);
});

test('default headers are on API answers, including errors', async (t) => {
  const w = await fixture(t);
  for (const r of [await w.api('/flows'), await w.api('/flows/dead', { method: 'DELETE' }), await w.raw('/flows')]) {
    assert.equal(r.headers.server, 'mitmproxy 13.0.0.dev');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['x-xss-protection'], '1; mode=block');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['content-security-policy'], "default-src 'self'; connect-src 'self' ws:; img-src 'self' data:; style-src   'self' 'unsafe-inline'");
  }
});

test('GET /filter-help lists the filter operators', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/filter-help');
  assert.equal(r.status, 200);
  const j = r.json<{ commands: Array<[string, string]> }>();
  assert.deepEqual(j.commands.find((c) => c[0] === '~c int'), ['~c int', 'HTTP response code']);
  assert.deepEqual(j.commands.find((c) => c[0] === '~b regex'), ['~b regex', 'Body']);
  assert.equal((await w.api('/filter-help.json')).status, 200);
});

test('GET /flows: the view as flow JSON, in order, with content hashes and errors', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/flows');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json; charset=UTF-8');
  const j = r.json<Array<Record<string, any>>>();
  assert.equal(j.length, 3);
  assert.deepEqual(j.map((f) => f.id).slice(0, 2), ['42', '43']);
  assert.equal(j[0]!.request.contentHash, createHash('sha256').update('foo\nbar').digest('hex'));
  assert.equal(j[0]!.request.contentLength, 7);
  assert.deepEqual(j[2]!.error, { msg: 'error', timestamp: 946681207 });
  assert.equal(j[1]!.request.contentHash, null);
  assert.equal(j[1]!.websocket.messages_meta.count, 3);
  // Python's json.dumps layout: ", " and ": " separators.
  assert.ok(r.text.startsWith('[{"id": "42", "intercepted": false, '));
  assert.equal((await w.api('/flows.json')).status, 200);
});

test('REST JSON escapes non-ASCII and "</" like Tornado', async (t) => {
  const w = await fixture(t);
  w.f42.comment = 'Grüße </script>';
  const r = await w.api('/flows');
  assert.ok(r.text.includes('"comment": "Gr\\u00fc\\u00dfe <\\/script>"'), r.text.slice(0, 400));
  assert.equal(r.json<Array<{ comment: string }>>()[0]!.comment, 'Grüße </script>');
});

test('Etag and If-None-Match give 304; large bodies are gzipped', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/flows');
  assert.match(String(r.headers.etag), /^"[0-9a-f]{40}"$/);
  assert.equal(r.headers.vary, 'Accept-Encoding');
  const again = await w.api('/flows', { headers: { 'If-None-Match': String(r.headers.etag) } });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  const gz = await w.api('/flows', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), r.json());
  // Small bodies are not compressed.
  const small = await w.api('/flows/kill', { method: 'POST', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
});

test('GET /flows/dump: the flow file, filtered, and a bad filter is a 400', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/flows/dump');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.equal(r.headers['content-disposition'], 'attachment; filename=flows');
  assert.ok(r.body.includes('address'));
  const flows = await readFlows(r.body);
  assert.deepEqual(flows.map((f) => f.id).slice(0, 2), ['42', '43']);
  const filtered = await w.api('/flows/dump?filter=foo');
  assert.equal(filtered.status, 200);
  assert.equal(filtered.body.length, 0);
  const only42 = await readFlows((await w.api(`/flows/dump?filter=${encodeURIComponent('~bq foo')}`)).body);
  assert.deepEqual(only42.map((f) => f.id), ['42']);
  const bad = await w.api('/flows/dump?filter=[');
  assert.equal(bad.status, 400);
  assert.equal(bad.text, 'Invalid filter argument / regex');
});

test('GET /flows/dump of a view larger than a few megabytes streams every flow, in view order', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const flows: HTTPFlow[] = [];
  for (let i = 0; i < 1500; i++) {
    const f = tflow({ resp: true });
    f.response!.content = Buffer.alloc(2048, 0x61 + (i % 26));
    flows.push(f);
  }
  w.master.view.add(flows);
  const r = await w.api('/flows/dump');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.ok(r.body.length > 3 * 1024 * 1024, `${r.body.length} bytes`);
  const back = await readFlows(r.body);
  assert.deepEqual(back.map((f) => f.id), flows.map((f) => f.id));
  assert.equal((back[1499] as HTTPFlow).response!.content!.toString(), String.fromCharCode(0x61 + (1499 % 26)).repeat(2048));
  const some = await readFlows((await w.api(`/flows/dump?filter=${encodeURIComponent(`~b ${'c'.repeat(2048)}`)}`)).body);
  assert.equal(some.length, flows.filter((_, i) => i % 26 === 2).length);
});

test('a client that leaves while a large flow list or dump is streamed is no error', async (t) => {
  const w = await startWeb(t, { proxy: false });
  const flows: HTTPFlow[] = [];
  for (let i = 0; i < 1500; i++) {
    const f = tflow({ resp: true });
    f.response!.content = Buffer.alloc(2048, 0x61);
    flows.push(f);
  }
  w.master.view.add(flows);
  for (const path of ['/flows', '/flows/dump']) {
    for (const encoding of ['identity', 'gzip']) {
      // Read the first piece of the streamed answer, then hang up (a tab closed while loading).
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: w.port, path, headers: { ...authHeaders(w.token), 'Accept-Encoding': encoding }, agent: false }, (res) => {
          assert.equal(res.headers['content-length'], undefined, 'the answer is streamed');
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
      });
    }
  }
  // Nothing to report: the failed writes end the requests quietly (within milliseconds when they do not).
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    assert.deepEqual(w.logs.filter((l) => l.startsWith('error:')), []);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await w.api('/flows')).json<unknown[]>().length, 1500);
});

test('POST /flows/dump replaces the view with the uploaded flows (raw body and multipart)', async (t) => {
  const w = await fixture(t);
  const dump = (await w.api('/flows/dump')).body;
  w.master.view.clear();
  const ws = await w.ws();
  const r = await w.api('/flows/dump', { method: 'POST', body: dump });
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  assert.deepEqual(w.master.view.flows().map((f) => f.id).slice(0, 2), ['42', '43']);
  assert.equal(w.master.view.length, 3);
  await ws.next('flows/reset');
  // Multipart, as the front end uploads it.
  const boundary = 'xyzzy';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    dump,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const m = await w.api('/flows/dump', { method: 'POST', body, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
  assert.equal(m.status, 200);
  assert.equal(w.master.view.length, 3);
  const corrupt = await w.api('/flows/dump', { method: 'POST', body: 'this is not a flow file' });
  assert.equal(corrupt.status, 400);
  assert.match(corrupt.text, /Invalid data format/);
});

test('POST /clear empties the view and the event log', async (t) => {
  const w = await fixture(t);
  const ws = await w.ws();
  const r = await w.api('/clear', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=UTF-8');
  assert.equal(w.master.view.length, 0);
  assert.equal(w.master.events.length, 0);
  await ws.next('flows/reset');
  await ws.next('events/reset');
});

test('resume one flow, then all', async (t) => {
  const w = await fixture(t);
  for (const f of w.master.view) f.intercept();
  assert.equal((await w.api('/flows/42/resume', { method: 'POST' })).status, 200);
  assert.equal(w.f42.intercepted, false);
  assert.ok(w.master.view.flows().filter((f) => f.intercepted).length >= 1);
  assert.equal((await w.api('/flows/resume', { method: 'POST' })).status, 200);
  assert.ok(w.master.view.flows().every((f) => !f.intercepted));
  assert.equal((await w.api('/flows/dead/resume', { method: 'POST' })).status, 404);
});

test('kill one flow, then all', async (t) => {
  const w = await fixture(t);
  for (const f of w.master.view) f.intercept();
  assert.equal((await w.api('/flows/42/kill', { method: 'POST' })).status, 200);
  assert.equal(w.f42.error?.msg, 'Connection killed.');
  assert.equal(w.f42.intercepted, false);
  assert.ok(w.master.view.flows().some((f) => f.killable));
  assert.equal((await w.api('/flows/kill', { method: 'POST' })).status, 200);
  assert.ok(w.master.view.flows().every((f) => !f.killable));
  // Killing a killed flow changes nothing.
  assert.equal((await w.api('/flows/42/kill', { method: 'POST' })).status, 200);
});

test('DELETE /flows/<id> removes the flow; unknown ids are 404', async (t) => {
  const w = await fixture(t);
  const ws = await w.ws();
  const r = await w.api('/flows/42', { method: 'DELETE' });
  assert.equal(r.status, 200);
  assert.equal(w.master.view.getById('42'), undefined);
  assert.equal(w.f42.error?.msg, 'Connection killed.', 'a live flow is killed first');
  const removed = await ws.next('flows/remove');
  assert.equal(removed.payload, '42');
  const missing = await w.api('/flows/1234', { method: 'DELETE' });
  assert.equal(missing.status, 404);
  assert.equal(missing.text, 'Flow not found.');
});

test('PUT /flows/<id> applies every field of mitmweb test body', async (t) => {
  const w = await fixture(t);
  const f = w.f42;
  const upd = {
    request: { method: 'PATCH', port: 123, headers: [['foo', 'bar']], trailers: [['foo', 'bar']], content: 'req' },
    response: { reason: 'Non-Authorisé', code: 404, headers: [['bar', 'baz']], trailers: [['foo', 'bar']], content: 'resp' },
    marked: ':red_circle:',
    comment: "I'm a modified comment!",
  };
  const r = await w.api('/flows/42', { method: 'PUT', json: upd });
  assert.equal(r.status, 200, r.text);
  assert.equal(f.request.method, 'PATCH');
  assert.equal(f.request.port, 123);
  assert.equal(f.request.headers.get('foo'), 'bar');
  assert.equal(f.request.text, 'req');
  assert.equal(f.request.trailers?.get('foo'), 'bar');
  assert.equal(f.response!.reason, 'Non-Authoris\xe9');
  assert.equal(f.response!.statusCode, 404);
  assert.equal(f.response!.headers.get('bar'), 'baz');
  assert.equal(f.response!.text, 'resp');
  assert.equal(f.marked, ':red_circle:');
  assert.equal(f.comment, "I'm a modified comment!");
  const j = (await w.api('/flows')).json<Array<Record<string, any>>>()[0]!;
  assert.equal(j.marked, '🔴');
  assert.equal(j.modified, true);
  assert.equal(j.response.reason, 'Non-Authorisé');

  const trailers = await w.api('/flows/42', { method: 'PUT', json: { request: { trailers: [['foo', 'baz']] }, response: { trailers: [['foo', 'baz']] } } });
  assert.equal(trailers.status, 200);
  assert.equal(f.request.trailers?.get('foo'), 'baz');
  assert.deepEqual((await w.api('/flows')).json<Array<Record<string, any>>>()[0]!.response.trailers, [['foo', 'baz']]);
});

test('PUT /flows/<id> refuses bad edits with 400 and reverts the flow', async (t) => {
  const w = await fixture(t);
  const f = w.f42;
  const cases: Array<[unknown, string]> = [
    [{ foo: 42 }, 'Unknown update foo: 42'],
    [{ request: { foo: 42 } }, 'Unknown update request.foo: 42'],
    [{ response: { foo: 42 } }, 'Unknown update response.foo: 42'],
    [{ response: { msg: 'x' } }, 'Unknown update response.msg: x'],
    [{ foo: 'bar' }, 'Unknown update foo: bar'],
    [{ comment: 'changed', foo: { a: 1 } }, "Unknown update foo: {'a': 1}"],
    [{ request: { port: 'eighty' } }, "Invalid port: 'eighty' is not an integer."],
    [{ request: { headers: [['only-name']] } }, "Invalid headers: expected a [name, value] pair of strings, got ['only-name']."],
  ];
  for (const [body, message] of cases) {
    const r = await w.api('/flows/42', { method: 'PUT', json: body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.text, message);
    assert.equal(f.comment, '', 'reverted');
    assert.equal(f.modified(), false);
  }
  const noJson = await w.api('/flows/42', { method: 'PUT', body: '{}' });
  assert.equal(noJson.status, 400);
  assert.equal(noJson.text, 'Invalid Content-Type, expected application/json.');
  const badJson = await w.api('/flows/42', { method: 'PUT', body: '!!', headers: { 'Content-Type': 'application/json' } });
  assert.equal(badJson.status, 400);
  assert.match(badJson.text, /^Malformed JSON: /);
  // Bytes that are not UTF-8: refused with Python's codec message, not stored as U+FFFD.
  const notUtf8 = await w.api('/flows/42', { method: 'PUT', body: Buffer.from('7b22636f6d6d656e74223a2022fffe227d', 'hex'), headers: { 'Content-Type': 'application/json' } });
  assert.equal(notUtf8.status, 400);
  assert.equal(notUtf8.text, "Malformed JSON: 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte");
  assert.equal(f.comment, '');
  // A response edit on a flow without a response.
  const noResp = tflow();
  w.master.view.add([noResp]);
  const r = await w.api(`/flows/${noResp.id}`, { method: 'PUT', json: { response: { code: 200 } } });
  assert.equal(r.status, 400);
  assert.equal((await w.api('/flows/beef', { method: 'PUT', json: {} })).status, 404);
});

test('PUT /flows/<id> http_version only, and text the charset cannot hold', async (t) => {
  const w = await fixture(t);
  assert.equal((await w.api('/flows/42', { method: 'PUT', json: { response: { http_version: '2.0' } } })).status, 200);
  assert.equal(w.f42.response!.httpVersion, '2.0');
  assert.equal((await w.api('/flows/42', { method: 'PUT', json: { response: { content: '日本' } } })).status, 200);
  assert.equal(w.f42.response!.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(w.f42.response!.text, '日本');
  assert.equal(w.f42.response!.headers.get('content-length'), '6');
});

test('POST /flows/<id>/duplicate answers the new id', async (t) => {
  const w = await fixture(t);
  const r = await w.api('/flows/42/duplicate', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=UTF-8');
  assert.notEqual(r.text, '42');
  const copy = w.master.view.getById(r.text) as HTTPFlow;
  assert.ok(copy);
  assert.equal(copy.live, false);
  assert.equal(copy.request.text, 'foo\nbar');
  assert.equal(copy.clientConn.id, w.f42.clientConn.id);
});

test('POST /flows/<id>/revert discards the backup', async (t) => {
  const w = await fixture(t);
  w.f42.backup();
  w.f42.request.method = 'PATCH';
  assert.equal((await w.api('/flows/42/revert', { method: 'POST' })).status, 200);
  assert.equal(w.f42.hasBackup, false);
  assert.equal(w.f42.request.method, 'GET');
});

test('POST /flows/<id>/replay hands the flow to replay.client', async (t) => {
  const w = await fixture(t);
  const calls: unknown[] = [];
  w.master.commands.add('replay.client', { params: [{ name: 'flows', type: 'flow[]' }] }, ((flows: unknown[]) => void calls.push(flows)) as never);
  const r = await w.api('/flows/42/replay', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.deepEqual(calls, [[w.f42]]);
  assert.equal((await w.api('/flows/abc/replay', { method: 'POST' })).status, 404);
});

test('GET content.data: decoded body, download name, empty body, undecodable body', async (t) => {
  const w = await fixture(t);
  const resp = w.f42.response!;
  resp.headers.set('Content-Disposition', 'inline; filename="filename.jpg"');
  let r = await w.api('/flows/42/response/content.data');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'message');
  assert.equal(r.headers['content-disposition'], 'attachment; filename="filename.jpg"');
  assert.equal(r.headers['content-type'], 'application/text');
  resp.headers.delete('Content-Disposition');
  w.f42.request.path = '/foo/bar.jpg';
  r = await w.api('/flows/42/response/content.data');
  assert.equal(r.headers['content-disposition'], 'attachment; filename=bar.jpg');
  resp.content = Buffer.alloc(0);
  r = await w.api('/flows/42/response/content.data');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  // A gzip body is decoded; a broken one comes back as it is.
  resp.headers.set('Content-Encoding', 'gzip');
  resp.rawContent = gzipSync('Hello world!');
  assert.equal((await w.api('/flows/42/response/content.data')).text, 'Hello world!');
  const broken = gzipSync('Hello world!');
  broken[0] = 0xff;
  broken[1] = 0xff;
  resp.rawContent = broken;
  r = await w.api('/flows/42/response/content.data');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, broken);
  // No response, messages, unknown flow.
  const noResp = tflow();
  w.master.view.add([noResp]);
  assert.equal((await w.api(`/flows/${noResp.id}/response/content.data`)).status, 400);
  assert.equal((await w.api('/flows/42/messages/content.data')).status, 400);
  assert.equal((await w.api('/flows/dead/request/content.data')).status, 404);
});

test('POST content.data replaces the body (raw and multipart)', async (t) => {
  const w = await fixture(t);
  let r = await w.api('/flows/42/request/content.data', { method: 'POST', body: 'new' });
  assert.equal(r.status, 200);
  assert.equal(w.f42.request.content!.toString(), 'new');
  assert.equal(w.f42.modified(), true);
  w.f42.revert();
  const body =
    '--somefancyboundary\r\nContent-Disposition: form-data; name="a"; filename="a.txt"\r\n\r\nsuch multipart. very wow.\r\n--somefancyboundary--\r\n';
  r = await w.api('/flows/42/request/content.data', { method: 'POST', body, headers: { 'Content-Type': 'multipart/form-data; boundary="somefancyboundary"' } });
  assert.equal(r.status, 200);
  assert.equal(w.f42.request.content!.toString(), 'such multipart. very wow.');
  assert.equal(w.f42.modified(), true);
});

test('content views: raw, lines, messages of a WebSocket flow, errors', async (t) => {
  const w = await fixture(t);
  assert.deepEqual((await w.api('/flows/42/request/content/raw')).json(), { text: 'foo\nbar', view_name: 'Raw', syntax_highlight: 'none', description: '' });
  const cut = await w.api('/flows/42/request/content/raw.json?lines=1');
  assert.ok(cut.text.startsWith('{"text": "foo\\n", "view_name": "Raw"'), cut.text);
  assert.deepEqual(cut.json(), { text: 'foo\n', view_name: 'Raw', syntax_highlight: 'none', description: '' });
  assert.equal((await w.api('/flows/42/messages/content/raw')).status, 400);
  assert.equal((await w.api('/flows/42/messages/content/raw')).text, 'This flow has no messages.');
  assert.deepEqual((await w.api('/flows/43/messages/content/raw?lines=2')).json(), [
    { text: 'hello binary', view_name: 'Raw', syntax_highlight: 'none', description: '', from_client: true, timestamp: 946681203 },
    { text: 'hello text', view_name: 'Raw', syntax_highlight: 'none', description: '', from_client: true, timestamp: 946681204 },
  ]);
  assert.equal((await w.api('/flows/43/messages/content/auto')).json<unknown[]>().length, 3);
  // A missing body, an encoded view name, an unknown view name, bad lines.
  assert.deepEqual((await w.api('/flows/43/request/content/Auto')).json(), { text: 'Content is missing.', view_name: null, syntax_highlight: 'error', description: '' });
  assert.equal((await w.api('/flows/42/request/content/hex%20dump')).json<{ view_name: string }>().view_name, 'Hex Dump');
  assert.equal((await w.api('/flows/42/request/content/nosuchview')).status, 200);
  assert.ok(w.logs.some((l) => l.includes("Unknown contentview 'nosuchview'")));
  assert.equal((await w.api('/flows/42/request/content/raw?lines=x')).status, 400);
  assert.equal((await w.api('/flows/42/request/content/raw?lines=-1')).status, 400);
});

test('GET /commands and POST /commands/<cmd>', async (t) => {
  const w = await fixture(t);
  const cmds = (await w.api('/commands')).json<Record<string, { help: string; parameters: unknown[]; return_type: string | null; signature_help: string }>>();
  assert.ok(cmds.set!.help);
  assert.deepEqual(cmds.set!.parameters, [
    { name: 'option', type: 'str', kind: 'POSITIONAL_OR_KEYWORD' },
    { name: 'value', type: 'str', kind: 'VAR_POSITIONAL' },
  ]);
  assert.equal(cmds['view.flows.resolve']!.return_type, 'flow[]');
  let r = await w.api('/commands/unknown', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { error: 'Unknown command: unknown' });
  r = await w.api('/commands/view.properties.length', { method: 'POST' });
  assert.deepEqual(r.json(), { value: 3 });
  r = await w.api('/commands/view.flows.resolve', { method: 'POST', json: { arguments: ['~bq foo'] } });
  assert.deepEqual(r.json<{ value: Array<{ id: string }> }>().value.map((f) => f.id), ['42']);
  r = await w.api('/commands/flow.mark', { method: 'POST', json: { arguments: ['@42', ':grapes:'] } });
  assert.deepEqual(r.json(), { value: null });
  r = await w.api('/commands/set', { method: 'POST', json: { arguments: ['showhost', 'true'] } });
  assert.deepEqual(r.json(), { value: null });
  assert.equal(w.master.options.get('showhost'), true);
  r = await w.api('/commands/set', { method: 'POST', json: { arguments: 'showhost' } });
  assert.ok('error' in r.json<object>());
  r = await w.api('/commands/set', { method: 'POST', json: { nothing: [] } });
  assert.equal(r.status, 400);
  await w.master.commands.call('commands.history.clear');
  assert.deepEqual((await w.api('/commands/commands.history.get', { method: 'POST' })).json(), { value: [] });
});

test('GET /events lists the log', async (t) => {
  const w = await fixture(t);
  const j = (await w.api('/events')).json<Array<{ id: number; message: string; level: string }>>();
  assert.equal(j[0]!.level, 'info');
  assert.match(j[0]!.message, /^\[\d\d:\d\d:\d\d\.\d{3}\] test log$/);
  assert.equal(typeof j[0]!.id, 'number');
});

test('GET /options and PUT /options with its errors', async (t) => {
  const w = await fixture(t);
  const opt = 'anticache';
  const other = 'anticomp';
  const opts = (await w.api('/options')).json<Record<string, Record<string, unknown>>>();
  assert.deepEqual(Object.keys(opts[opt]!), ['type', 'default', 'value', 'help', 'choices']);
  assert.deepEqual(Object.keys(opts), Object.keys(opts).sort());
  assert.deepEqual(opts.view_order!.choices, ['time', 'method', 'url', 'size']);
  assert.equal(opts.web_columns!.type, 'sequence of str');
  assert.equal((await w.api('/options', { method: 'PUT', json: { [opt]: true } })).status, 200);
  assert.equal(w.master.options.get(opt), true);
  const before = w.master.options.get<boolean>(other);
  const unknown = await w.api('/options', { method: 'PUT', json: { wtf: true, [other]: !before } });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.text, "'Unknown options: wtf'");
  assert.equal(w.master.options.get(other), !before, 'known options in the same request are applied');
  const wrongType = await w.api('/options', { method: 'PUT', json: { [opt]: 'foo' } });
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.text, `Expected <class 'bool'> for ${opt}, but got <class 'str'>.`);
  const badFilter = await w.api('/options', { method: 'PUT', json: { view_filter: '~~' } });
  assert.equal(badFilter.status, 400);
  assert.match(badFilter.text, /Invalid filter expression/);
  assert.equal(w.master.options.get('view_filter'), null, 'rolled back');
  assert.equal((await w.api('/options', { method: 'PUT', json: { listen_port: true } })).status, 200, 'bools pass as ints');
  assert.equal((await w.api('/options/save', { method: 'POST' })).status, 200);
});

test('GET /state', async (t) => {
  const w = await fixture(t);
  const s = (await w.api('/state')).json<Record<string, any>>();
  assert.deepEqual(Object.keys(s), ['version', 'contentViews', 'servers', 'platform', 'localModeUnavailable']);
  assert.equal(s.version, '13.0.0.dev');
  assert.equal(s.contentViews[0], 'auto');
  assert.ok(!s.contentViews.includes('query'));
  assert.ok(s.contentViews.includes('wbxml'));
  assert.equal(s.platform, process.platform);
  assert.equal(typeof s.localModeUnavailable, 'string');
  assert.deepEqual(s.servers.regular, { type: 'regular', description: 'HTTP(S) proxy', full_spec: 'regular', is_running: false, last_exception: null, listen_addrs: [] });
});

test('GET /processes and /executable-icon answer as mitmweb does without local mode', async (t) => {
  const w = await fixture(t);
  const p = await w.api('/processes');
  assert.equal(p.status, 500);
  const missing = await w.api('/executable-icon');
  assert.equal(missing.status, 400);
  assert.ok(missing.text.includes("Missing 'path' parameter."));
  const icon = await w.api('/executable-icon?path=invalid_path');
  assert.equal(icon.status, 200);
  assert.equal(icon.headers['content-type'], 'image/png');
  assert.equal(icon.headers['cache-control'], 'max-age=604800');
  assert.deepEqual(icon.body, TRANSPARENT_PNG);
  assert.equal(TRANSPARENT_PNG.subarray(1, 4).toString(), 'PNG');
});

test('unknown paths are 404, other methods 405, GET of one flow 405', async (t) => {
  const w = await fixture(t);
  for (const p of ['/nothing', '/flows/', '/flows/xyz/resume', '/FLOWS']) {
    const r = await w.api(p);
    assert.equal(r.status, 404, p);
    assert.equal(r.text, '<html><title>404: Not Found</title><body>404: Not Found</body></html>');
  }
  assert.equal((await w.api('/flows/42')).status, 405);
  assert.equal((await w.api('/flows', { method: 'HEAD' })).status, 405);
  assert.equal((await w.api('/flows', { method: 'OPTIONS' })).status, 405);
  assert.equal((await w.api('/flows', { method: 'POST' })).status, 405);
  // A PATCH without the XSRF token is refused by the XSRF check before the 405.
  assert.equal((await w.raw('/flows', { method: 'PATCH' })).status, 403);
  assert.equal((await w.api('/flows', { method: 'PATCH' })).status, 405);
  // content.data's dot matches any character, as in mitmweb.
  assert.equal((await w.api('/flows/42/request/content_data')).text, 'foo\nbar');
});

test('a handler that throws is a 500 page; with web_debug it shows the traceback', async (t) => {
  const w = await fixture(t);
  w.master.commands.add('boom.list', { returns: 'str[]' }, () => ['x']);
  const orig = w.master.view.flows.bind(w.master.view);
  w.master.view.flows = () => {
    throw new Error('kaputt');
  };
  let r = await w.api('/flows/resume', { method: 'POST' });
  assert.equal(r.status, 500);
  assert.equal(r.text, '<html><title>500: Internal Server Error</title><body>500: Internal Server Error</body></html>');
  assert.ok(w.logs.some((l) => l.startsWith('error: Uncaught exception in POST /flows/resume') && l.includes('kaputt')));
  await w.master.options.update({ web_debug: true });
  r = await w.api('/flows/resume', { method: 'POST' });
  assert.equal(r.status, 500);
  assert.match(r.text, /kaputt/);
  w.master.view.flows = orig;
});
