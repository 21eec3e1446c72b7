import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Master } from '../../src/master.js';
import { Cut, extract, extractStr, csvRow } from '../../src/addons/cut.js';
import { fakeClipboard } from '../helpers/clipboard.js';
import { runningMaster } from '../helpers/master.js';
import { CommandError } from '../../src/command.js';
import { readFlows } from '../../src/io/flowreader.js';
import { HTTPFlow } from '../../src/http.js';
import type { LogEntry } from '../../src/log.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/flows/mitmdump-8.1.1.mitm');

async function fixture(): Promise<HTTPFlow[]> {
  return (await readFlows(FIXTURE)).filter((f): f is HTTPFlow => f instanceof HTTPFlow);
}

test('cut specs: attributes with mitmproxy names, host/port of addresses, headers, bytes, bools', async () => {
  const flows = await fixture();
  const post = flows.find((f) => f.request.method === 'POST')!;
  const h2 = flows.find((f) => f.request.httpVersion === 'HTTP/2.0')!;
  const cases: Array<[string, HTTPFlow, string | Buffer]> = [
    ['request.method', post, 'POST'],
    ['request.path', post, '/echo?q=1'],
    ['request.host', post, '127.0.0.1'],
    ['request.port', post, String(post.request.port)],
    ['request.http_version', post, 'HTTP/1.1'],
    ['request.url', post, `http://127.0.0.1:${post.request.port}/echo?q=1`],
    ['request.pretty_url', post, `http://127.0.0.1:${post.request.port}/echo?q=1`],
    ['request.header[content-type]', post, 'application/x-www-form-urlencoded'],
    ['request.header[x-missing]', post, ''],
    ['request.content', post, post.request.content!],
    ['request.text', post, post.request.content!.toString('latin1')],
    ['response.status_code', post, '201'],
    ['response.reason', post, 'Created'],
    ['response.header[Set-Cookie]', post, 'sid=abc123; Path=/; HttpOnly, theme=dark; Domain=127.0.0.1; Secure; SameSite=Lax'],
    ['client_conn.peername.host', post, '127.0.0.1'],
    ['client_conn.peername.port', post, String(post.clientConn.peername![1])],
    ['server_conn.address.port', post, String(post.request.port)],
    ['client_conn.tls', post, 'false'],
    ['client_conn.tls', h2, 'true'],
    ['client_conn.tls_established', h2, 'true'],
    ['client_conn.alpn', h2, Buffer.from('h2')],
    ['client_conn.sni', h2, 'localhost'],
    ['server_conn.certificate_list', h2, h2.serverConn.certificateList[0]!],
    ['client_conn.timestamp_start', post, String(post.clientConn.timestampStart)],
    ['marked', post, ''],
    ['error.msg', post, ''],
    ['response.nonexistent', post, ''],
  ];
  for (const [spec, f, want] of cases) assert.deepEqual(extract(spec, f), want, spec);
  assert.throws(() => extract('request._host', post), (e: unknown) => e instanceof CommandError && e.message === "Can't access internal attribute _host");
  assert.throws(() => extract('request.header[x', post), /Invalid header spec: header\[x/);
  assert.equal(extractStr('client_conn.alpn', h2), "b'h2'");
});

test('request.content of a WebSocket flow gives its messages', async () => {
  const ws = (await fixture()).find((f) => f.websocket)!;
  assert.equal(extract('response.content', ws).toString('latin1'), '[OUTGOING] hello websocket\n[INCOMING] hello websocket\n[OUTGOING] \x00\x01\x02\xff\n[INCOMING] \x00\x01\x02\xff');
});

test('CSV rows as Python csv.writer', () => {
  assert.equal(csvRow(['a', 'b c', 'd,e', 'f"g', 'h\ni']), 'a,b c,"d,e","f""g","h\ni"\r\n');
  assert.equal(csvRow(['']), '""\r\n');
  assert.equal(csvRow(['', 'x']), ',x\r\n');
});

test('cut, cut.save (single value raw, several as CSV, +append), cut.clip', async (t) => {
  const master = new Master();
  await master.addons.add(new Cut());
  await master.run();
  const log: LogEntry[] = [];
  master.log.subscribe((e) => log.push(e));
  const dir = mkdtempSync(join(tmpdir(), 'mitmts-cut-'));
  t.after(async () => {
    await master.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const flows = (await fixture()).slice(0, 3);
  assert.deepEqual(await master.commands.call('cut', flows, ['request.method', 'response.status_code']), [
    ['GET', '200'],
    ['GET', '200'],
    ['POST', '201'],
  ]);
  const single = join(dir, 'body.bin');
  await master.commands.call('cut.save', flows.slice(1, 2), ['response.content'], single);
  assert.deepEqual(readFileSync(single), flows[1]!.response!.content);
  assert.ok(log.some((e) => e.message === 'Saved single cut.'));
  await master.commands.call('cut.save', flows.slice(0, 1), ['request.method'], '+' + single);
  assert.deepEqual(readFileSync(single), Buffer.concat([flows[1]!.response!.content!, Buffer.from('\nGET')]));
  const csv = join(dir, 'cuts.csv');
  writeFileSync(csv, 'old\r\n');
  await master.commands.call('cut.save', flows, ['request.method', 'request.content'], csv);
  assert.equal(readFileSync(csv, 'utf8'), `GET,b''\r\nGET,b''\r\nPOST,b'name=it%27s&empty=&x=%E2%9C%93'\r\n`);
  assert.ok(log.some((e) => e.message === 'Saved 2 cuts over 3 flows as CSV.'));
  await master.commands.call('cut.save', flows.slice(0, 2), ['request.method'], '+' + csv);
  assert.match(readFileSync(csv, 'utf8'), /%93'\r\nGET\r\nGET\r\n$/);
});

test('cut.clip puts text on the clipboard (one value as it is, several as CSV) after its alert; no clipboard is an error line, not a failed command', async (t) => {
  const { master, log } = await runningMaster(t, new Cut());
  const flows = (await fixture()).slice(0, 3);
  const clipboard = fakeClipboard(t);
  await master.commands.call('cut.clip', flows.slice(2, 3), ['request.content']);
  // Bytes as Python's repr, as mitmproxy clips them.
  assert.equal(clipboard.copied(), "b'name=it%27s&empty=&x=%E2%9C%93'");
  assert.ok(log.some((e) => e.level === 'alert' && e.message === 'Clipped single cut.'));
  await master.commands.call('cut.clip', flows, ['request.method', 'response.status_code']);
  assert.equal(clipboard.copied(), 'GET,200\r\nGET,200\r\nPOST,201\r\n');
  assert.ok(log.some((e) => e.level === 'alert' && e.message === 'Clipped 2 cuts as CSV.'));
  assert.ok(!log.some((e) => e.level === 'error'), JSON.stringify(log));
});

test('cut.clip with no copy program logs how to get one', async (t) => {
  const { master, log } = await runningMaster(t, new Cut());
  fakeClipboard(t, { programs: false });
  await master.commands.call('cut.clip', (await fixture()).slice(0, 1), ['request.method']);
  assert.ok(log.some((e) => e.level === 'error' && /^No clipboard available: install xclip, xsel or wl-clipboard/.test(e.message)), JSON.stringify(log));
});
