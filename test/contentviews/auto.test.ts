import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { availableViews, contentViewChoices, prettify, prettifyMessage, prettifyMessages, registry, ContentViewRegistry, cutAfterNLines, contentViewResultJson } from '../../src/contentviews/index.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { WebSocketData, WebSocketMessage, Opcode } from '../../src/websocket.js';
import { Server } from '../../src/connection.js';
import { TCPFlow, TCPMessage } from '../../src/tcp.js';
import type { ContentView } from '../../src/contentviews/types.js';
import { fixture } from './helpers.js';

test("auto picks mitmproxy's view for each content type", () => {
  const cases: Array<[string | undefined, Buffer | string, string]> = [
    ['application/json', '{"a": 1}', 'JSON'],
    ['application/vnd.api+json', '{}', 'JSON'],
    ['application/json-rpc', '[]', 'JSON'],
    ['application/json', '{"query": "query {\\n me }"}', 'GraphQL'],
    ['text/html', '<html></html>', 'XML/HTML'],
    ['text/xml', '<a/>', 'XML/HTML'],
    ['text/flibble', '<xml></xml>', 'XML/HTML'],
    ['image/svg+xml', '<svg></svg>', 'XML/HTML'],
    ['text/flibble', 'foo', 'Raw'],
    ['text/event-stream', 'data: x\n\n', 'Server-Sent Events'],
    [undefined, 'foo', 'Raw'],
    [undefined, '', 'Raw'],
    ['text/css', 'a{b:c}', 'ViewCSS'],
    ['application/javascript', 'var a;', 'JavaScript'],
    ['text/javascript', 'var a;', 'JavaScript'],
    ['application/x-www-form-urlencoded', 'a=1', 'URL-encoded'],
    ['multipart/form-data', 'x', 'Multipart Form'],
    ['image/png', fixture('image.png'), 'Image'],
    ['image/jpeg', fixture('image.jpg'), 'Image'],
    ['image/gif', fixture('image.gif'), 'Image'],
    ['image/x-icon', fixture('image.ico'), 'Image'],
    ['image/webp', fixture('image.webp'), 'Image'],
    ['image/new-magic-image-format', 'verybinary', 'Image'],
    ['application/msgpack', fixture('data.msgpack'), 'MsgPack'],
    ['application/x-msgpack', fixture('data.msgpack'), 'MsgPack'],
    ['application/x-protobuf', fixture('message.pb'), 'Protobuf'],
    ['application/x-protobuffer', fixture('message.pb'), 'Protobuf'],
    ['application/grpc', Buffer.from([0, 0, 0, 0, 0]), 'gRPC'],
    ['application/grpc+proto', Buffer.from([0, 0, 0, 0, 0]), 'gRPC'],
    ['application/dns-message', fixture('dns-query.bin'), 'DNS'],
    ['application/zip', 'PK', 'ZIP Archive'],
    ['application/vnd.ms-sync.wbxml', fixture('wbxml/sync-response.wbxml'), 'WBXML'],
    ['application/vnd.wap.wbxml', Buffer.from([3, 1, 0x6a, 0]), 'WBXML'],
    ['application/vnd.ms-sync.wbxml', '', 'Raw'],
    [undefined, Buffer.alloc(30, 0xff), 'Hex Dump'],
    ['application/octet-stream', fixture('message.pb'), 'Hex Dump'],
  ];
  for (const [ct, data, want] of cases) {
    const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
    assert.equal(registry.pick(d, ct ? { contentType: ct } : {}).name, want, `${ct} ${d.subarray(0, 20).toString('hex')}`);
  }
});

test('auto: DNS by server port, Socket.IO by WebSocket path, Query for a GET with parameters', () => {
  const dnsFlow = new TCPFlow(undefined, new Server({ address: ['1.1.1.1', 53] }));
  assert.equal(registry.pick(fixture('dns-query.bin'), { flow: dnsFlow, tcpMessage: new TCPMessage(true, fixture('dns-query.bin')) }).name, 'DNS');
  const ws = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/socket.io/?EIO=4&transport=websocket'));
  ws.websocket = new WebSocketData();
  assert.equal(registry.pick(Buffer.from('42["x"]'), { flow: ws }).name, 'Socket.IO');
  const get = Request.make('GET', 'http://example.com/?a=1');
  assert.equal(registry.pick(Buffer.alloc(0), { httpMessage: get }).name, 'Query');
});

test('/state view list: auto, then sorted lowercase names without query', () => {
  assert.deepEqual(availableViews(), [
    'auto', 'dns', 'graphql', 'grpc', 'hex dump', 'hex stream', 'image', 'javascript', 'json', 'mqtt', 'msgpack',
    'multipart form', 'protobuf', 'raw', 'server-sent events', 'socket.io', 'url-encoded', 'viewcss', 'wbxml', 'xml/html', 'zip archive',
  ]);
  assert.ok(contentViewChoices().includes('query'));
});

test('a gzip-encoded JSON response is decoded through the model and noted', () => {
  const body = Buffer.from('{"hello": "world", "n": 1}');
  const resp = new Response({ statusCode: 200, headers: [['Content-Type', 'application/json; charset=utf-8'], ['Content-Encoding', 'gzip']], content: gzipSync(body) });
  const r = prettifyMessage(resp);
  assert.deepEqual(r, { text: '{\n    "hello": "world",\n    "n": 1\n}', viewName: 'JSON', syntaxHighlight: 'yaml', description: '[decoded gzip]', cut: false });
  assert.deepEqual(Object.keys(contentViewResultJson(r)), ['text', 'view_name', 'syntax_highlight', 'description']);
  const broken = new Response({ statusCode: 200, headers: [['content-encoding', 'gzip']], content: Buffer.from('not gzip') });
  const b = prettifyMessage(broken, undefined, 'auto');
  assert.deepEqual([b.text, b.description, b.viewName], ['not gzip', '[cannot decode]', 'Raw']);
});

test('missing content, explicit failing view, unknown view name', () => {
  const resp = new Response({ statusCode: 200, content: null });
  assert.deepEqual(prettifyMessage(resp), { text: 'Content is missing.', viewName: null, syntaxHighlight: 'error', description: '', cut: false });
  const warnings: string[] = [];
  const r = prettify('no-such-view', Buffer.from('{"a":1}'), { contentType: 'application/json' }, { log: () => {} });
  assert.equal(r.viewName, 'JSON');
  const own = new ContentViewRegistry([], (_l, m) => warnings.push(m));
  const failing: ContentView = { name: 'FailingPrettify', syntaxHighlight: 'none', render() { throw new Error('nope'); }, renderPriority() { return 1; } };
  const throwingPriority: ContentView = { name: 'FailingRenderPriority', syntaxHighlight: 'none', render: () => 'x', renderPriority() { throw new Error('bad'); } };
  own.register(throwingPriority);
  own.register(failing);
  assert.equal(own.pick(Buffer.from('x'), {}, 'unknown').name, 'FailingPrettify');
  assert.ok(warnings.includes("Unknown contentview 'unknown', selecting best match instead."));
  assert.ok(warnings.some((w) => w.startsWith('Error in FailingRenderPriority.render_priority')));
});

test('a failing view: Raw fallback in auto mode, an error text when chosen by name', async () => {
  const { prettifyWith } = await import('../../src/contentviews/prettify.js');
  const { raw } = await import('../../src/contentviews/views/raw.js');
  const failing: ContentView = { name: 'FailingPrettify', syntaxHighlight: 'none', render() { throw new Error('nope'); }, renderPriority() { return 1; } };
  const own = new ContentViewRegistry([failing, raw]);
  const auto = prettifyWith(own, 'auto', Buffer.from('content'), {});
  assert.deepEqual([auto.text, auto.viewName, auto.description], ['content', 'Raw', '[failed to parse as FailingPrettify]']);
  const named = prettifyWith(own, 'failingprettify', Buffer.from('content'), {});
  assert.deepEqual([named.text, named.viewName, named.syntaxHighlight], ["Couldn't parse as FailingPrettify:\nError: nope\n", 'FailingPrettify', 'error']);
});

test('control characters become dots, tab/LF/CR stay; raw escapes invalid UTF-8', () => {
  const r = prettify('raw', Buffer.from([0x61, 0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x7f, 0xff, 0xc3, 0xa9]));
  assert.equal(r.text, 'a.\t\n\r..\\xffé');
});

test('line cutoff: cut after N newlines, flagged for the dumper', () => {
  assert.equal(cutAfterNLines('foo\nbar', 1), 'foo\n');
  assert.equal(cutAfterNLines('foo\nbar\n', 5), 'foo\nbar\n');
  assert.equal(cutAfterNLines('foo', 1), 'foo');
  const json = Buffer.from(JSON.stringify({ a: Array.from({ length: 1000 }, (_, i) => i) }));
  for (const view of ['json', 'raw', 'hex dump', 'xml/html']) {
    const full = prettify(view, json, {}).text;
    const cut = prettify(view, json, {}, { linesCutoff: 3 });
    assert.equal(cut.text, cutAfterNLines(full, 3), view);
    assert.equal(cut.cut, full !== cut.text, view);
  }
  assert.equal(prettify('raw', Buffer.from('foo\nbar'), {}, { linesCutoff: 1 }).text, 'foo\n');
});

test("messages share one line budget (mitmweb's messages route)", () => {
  const flow = new HTTPFlow(undefined, undefined, false, Request.make('GET', 'http://example.com/ws'));
  flow.websocket = new WebSocketData();
  flow.websocket.messages.push(
    new WebSocketMessage(Opcode.BINARY, true, 'hello binary', 946681203),
    new WebSocketMessage(Opcode.TEXT, true, 'hello text', 946681204),
    new WebSocketMessage(Opcode.TEXT, false, 'it is me', 946681205),
  );
  const out = prettifyMessages(flow.websocket.messages, flow, 'raw', { linesCutoff: 2 });
  assert.deepEqual(out.map((m) => contentViewResultJson(m.result, m)), [
    { text: 'hello binary', view_name: 'Raw', syntax_highlight: 'none', description: '', from_client: true, timestamp: 946681203 },
    { text: 'hello text', view_name: 'Raw', syntax_highlight: 'none', description: '', from_client: true, timestamp: 946681204 },
  ]);
  assert.equal(prettifyMessages(flow.websocket.messages, flow, 'raw').length, 3);
});
