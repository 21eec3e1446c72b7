import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prettify, getView } from '../../src/contentviews/index.js';
import { formatXml } from '../../src/contentviews/views/xml-html.js';
import { beautifyCss } from '../../src/contentviews/views/css.js';
import { beautifyJavaScript } from '../../src/contentviews/views/javascript.js';
import { Request, Response } from '../../src/http.js';
import { fixture, fixtureJson } from './helpers.js';
import { decodeMsgpackToYaml } from '../../src/contentviews/msgpack-decode.js';

const upstream = fixtureJson<Record<string, string | [string, string]>>('expected-upstream.json');

function render(view: string, data: Buffer | string, metadata = {}): string {
  const r = prettify(view, Buffer.isBuffer(data) ? data : Buffer.from(data), metadata);
  assert.notEqual(r.syntaxHighlight, 'error', r.text);
  return r.text;
}

test('image: PNG, JPEG, GIF, ICO as mitmproxy lists them; WebP with its size', () => {
  for (const name of ['image.png', 'image.jpg', 'image.gif', 'image.ico']) {
    assert.equal(render('image', fixture(name)), upstream[name], name);
  }
  assert.equal(render('image', fixture('image.webp')), '# WEBP Image\nFormat: WebP (lossy)\nSize: 7 x 5 px\n');
  assert.equal(render('image', 'not an image'), '# Unknown Image\n');
  // WebP data we cannot read (an unknown first chunk, a bad or short VP8/VP8L header) still shows its heading.
  const riff = (fourcc: string, payload: Buffer): Buffer => {
    const chunk = Buffer.concat([Buffer.from(fourcc, 'latin1'), Buffer.alloc(4), payload]);
    chunk.writeUInt32LE(payload.length, 4);
    const head = Buffer.from('RIFF\0\0\0\0WEBP', 'latin1');
    head.writeUInt32LE(4 + chunk.length, 4);
    return Buffer.concat([head, chunk]);
  };
  for (const webp of [riff('VP8 ', Buffer.alloc(14)), riff('ALPH', Buffer.alloc(4)), riff('VP8L', Buffer.from([0x2f, 1])), riff('VP8X', Buffer.alloc(3)), riff('VP8 ', Buffer.alloc(0)).subarray(0, 14)]) {
    const r = prettify('auto', webp, { contentType: 'image/webp' });
    assert.deepEqual([r.viewName, r.text], ['Image', '# WEBP Image\n'], webp.toString('hex'));
  }
  // A PNG cut short cannot be read: the view fails (and auto mode falls back to Raw).
  const broken = prettify('auto', fixture('image.png').subarray(0, 40), { contentType: 'image/png' });
  assert.equal(broken.viewName, 'Raw');
  assert.equal(broken.description, '[failed to parse as Image]');
});

test('multipart form sent by curl', () => {
  const ct = fixture('multipart-curl.content-type').toString();
  const req = new Request({ host: 'example.com', port: 80, method: 'POST', headers: [['content-type', ct]], content: fixture('multipart-curl.bin') });
  const r = prettify('auto', fixture('multipart-curl.bin'), { contentType: 'multipart/form-data', httpMessage: req });
  assert.equal(r.viewName, 'Multipart Form');
  assert.equal(r.text, upstream['multipart-curl.bin']);
  assert.equal(r.text, 'field:\n- value one\n- second\nfile: helloworld\n');
});

test('URL-encoded form: bytes escaped, repeats merged, blanks kept', () => {
  const [form, want] = upstream.form as [string, string];
  assert.equal(render('url-encoded', form), want);
});

test('protobuf encoded by google.protobuf, decoded without a schema', () => {
  assert.equal(
    render('protobuf', fixture('message.pb')),
    [
      '1: mitmproxy',
      '2: 150  # !sint: 75',
      '3:',
      '- a',
      '- b c',
      '4:',
      '  1: 42  # !sint: 21',
      '  2: !fixed64 2.5  # u64: 4612811918334230528',
      '5: !binary 000102ff',
      '6: !fixed32 3.14159  # u32: 1078530000',
      '7: 5  # !sint: -3',
      '8: !binary 038e029ea705',
      '9: -2  # u64: 18446744073709551614',
      '',
    ].join('\n'),
  );
});

test('protobuf: the readings mitmproxy documents for each wire type', () => {
  const cases: Array<[number[], string]> = [
    [[0x08, 0x96, 0x01], '1: 150  # !sint: 75\n'],
    [[0x08, 0x0b], '1: 11  # !sint: -6\n'],
    [[0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], '1: -2  # u64: 18446744073709551614\n'],
    [[0x32, 0x03, 0x01, 0x02, 0x03], "6: !binary '010203'\n"],
    [[0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f], '1: hello\n'],
    [[0x2a, 0x04, 0x2a, 0x02, 0x08, 0x2a], '5:\n  5:\n    1: 42  # !sint: 21\n'],
    [[0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xbf], '3: !fixed64 -1.0  # u64: 13830554455654793216, i64: -4616189618054758400\n'],
    [[0x19, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], '3: !fixed64 -1  # u64: 18446744073709551615\n'],
    [[0x19, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f], '3: !fixed64 9221120237041090561\n'],
    [[0x15, 0x00, 0x00, 0x80, 0xbf], '2: !fixed32 -1.0  # u32: 3212836864, i32: -1082130432\n'],
    [[0x15, 0x01, 0x00, 0xc0, 0x7f], '2: !fixed32 2143289345\n'],
    [[0x08, 0x01, 0x08, 0x02, 0x08, 0x03], '1:\n- 1  # !sint: -1\n- 2  # !sint: 1\n- 3  # !sint: -2\n'],
    [[], '{}  # empty protobuf message'],
  ];
  for (const [bytes, want] of cases) assert.equal(render('protobuf', Buffer.from(bytes)), want, Buffer.from(bytes).toString('hex'));
  const bad = prettify('protobuf', Buffer.from([0xff, 0xff]), {});
  assert.equal(bad.syntaxHighlight, 'error');
  assert.match(bad.text, /^Couldn't parse as Protobuf:\n/);
});

test('gRPC: length-prefixed frames, gzip-compressed frames', async () => {
  const { gzipSync } = await import('node:zlib');
  const plain = Buffer.from([0, 0, 0, 0, 3, 8, 150, 1, 0, 0, 0, 0, 3, 8, 150, 1]);
  assert.equal(render('grpc', plain), '1: 150  # !sint: 75\n\n---\n\n1: 150  # !sint: 75\n');
  const z = gzipSync(Buffer.from([8, 150, 1]));
  const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, z.length]), z]);
  const req = new Request({ host: 'h', port: 443, headers: [['grpc-encoding', 'gzip']], content: frame });
  assert.equal(render('grpc', frame, { httpMessage: req }), '1: 150  # !sint: 75\n');
  assert.equal(render('grpc', Buffer.alloc(0)), '');
});

test('msgpack made by Python msgpack, as YAML', () => {
  assert.equal(
    render('msgpack', fixture('data.msgpack')),
    [
      'name: mitmproxy',
      'version: 13',
      'ratio: 0.5',
      'ok: true',
      'nothing: null',
      'list:',
      '- 1',
      '- -2',
      '- three',
      'nested:',
      '  k: v',
      "  '2': two",
      'big: 18446744073709551615',
      'neg: -9223372036854775808',
      '',
    ].join('\n'),
  );
});

test('msgpack maps with array and map keys (serde_yaml writes them as explicit keys)', () => {
  const s = (t: string): number[] => [0xa0 | t.length, ...Buffer.from(t)];
  // {[1, 2]: "value", {"a": 1}: ["x"]}
  const data = Buffer.from([0x82, 0x92, 1, 2, ...s('value'), 0x81, ...s('a'), 1, 0x91, ...s('x')]);
  assert.equal(render('msgpack', data), '? - 1\n  - 2\n: value\n? a: 1\n: - x\n');
  // Maps nested 500 deep as keys around a 100 000-element array: each key's identity is computed
  // once (spelling it out at every level took seconds).
  const n = 100_000;
  const array = Buffer.alloc(5 + n, 1);
  array[0] = 0xdd;
  array.writeUInt32BE(n, 1);
  const nested = Buffer.concat([Buffer.alloc(500, 0x81), array, Buffer.alloc(500, 0xc0)]);
  const started = performance.now();
  assert.ok(decodeMsgpackToYaml(nested));
  assert.ok(performance.now() - started < 3000, `${(performance.now() - started).toFixed(0)} ms`);
});

test('DNS: a query sent by node, and a response', () => {
  assert.equal(
    render('dns', fixture('dns-query.bin')),
    [
      'id: 32741',
      'query: true',
      'op_code: QUERY',
      'authoritative_answer: false',
      'truncation: false',
      'recursion_desired: true',
      'recursion_available: false',
      'response_code: NOERROR',
      'questions:',
      '- name: example.com',
      '  type: A',
      '  class: IN',
      'answers: []',
      'authorities: []',
      'additionals: []',
      'size: 0',
      '',
    ].join('\n'),
  );
  const response = Buffer.concat([
    Buffer.from('7fe5818000010001000000000565786d706c03636f6d0000010001c00c000100010000012c00045db8d822', 'hex'),
  ]);
  const text = render('dns', response);
  assert.match(text, /^answers:\n- name: exmpl\.com\n  type: A\n  class: IN\n  ttl: 300\n  data: 93\.184\.216\.34\n/m);
});

test('hex dump and hex stream', () => {
  assert.equal(render('hex dump', 'abcd'), '0000:   61 62 63 64                                          abcd');
  assert.equal(
    render('hex dump', Buffer.from('0123456789abcdef\x00\xff', 'latin1')),
    '0000:   30 31 32 33  34 35 36 37  38 39 61 62  63 64 65 66   0123456789abcdef\n0010:   00 ff                                                ..',
  );
  assert.equal(render('hex dump', ''), '');
  assert.equal(render('hex stream', 'content'), '636f6e74656e74');
});

test('JSON view and its fallback', () => {
  assert.equal(render('json', '{"a": [1, 2.50, "é"]}'), '{\n    "a": [\n        1,\n        2.5,\n        "é"\n    ]\n}');
  const r = prettify('auto', Buffer.from('{"a": '), { contentType: 'application/json' });
  assert.deepEqual([r.viewName, r.text, r.description], ['Raw', '{"a": ', '[failed to parse as JSON]']);
});

test('GraphQL query and batch', () => {
  const q = '{"query": "query {\\n  me\\n}", "variables": {"é": 1}}';
  assert.equal(render('graphql', q), '{\n  "query": "...",\n  "variables": {\n    "\\u00e9": 1\n  }\n}\n---\nquery {\n  me\n}\n');
  const batch = '[{"query": "a"}, {"query": "b"}]';
  assert.equal(render('graphql', batch), '--- 0/1\n{\n  "query": "..."\n}\n---\na\n--- 1/1\n{\n  "query": "..."\n}\n---\nb\n');
});

test('XML/HTML, CSS and JavaScript prettifiers agree with mitmproxy on 900 recorded snippets', () => {
  const cases = fixtureJson<Record<'xml' | 'css' | 'js', Array<[string, string]>>>('beautifier-upstream-cases.json');
  for (const [input, want] of cases.xml) assert.equal(formatXml(input), want, input);
  for (const [input, want] of cases.css) assert.equal(beautifyCss(input), want, input);
  for (const [input, want] of cases.js) assert.equal(beautifyJavaScript(input), want, input);
});

test('XML/HTML reads an HTTP body in its declared charset', () => {
  const resp = new Response({ statusCode: 200, headers: [['content-type', 'text/html; charset=iso-8859-1']], content: Buffer.from('<p>caf\xe9</p>', 'latin1') });
  assert.equal(render('xml/html', resp.rawContent!, { httpMessage: resp, contentType: 'text/html' }), '<p>café</p>\n');
});

test('XML/HTML: UTF-8 without a declaration, a UTF-16 BOM (kept, as Python keeps it), invalid UTF-8 as surrogate escapes', () => {
  const xmlView = (ct: string, body: Buffer): string => {
    const resp = new Response({ statusCode: 200, headers: [['content-type', ct]], content: body });
    return render('xml/html', body, { httpMessage: resp, contentType: ct.split(';')[0] });
  };
  assert.equal(xmlView('text/html', Buffer.from('<p>café €</p>')), '<p>café €</p>\n');
  assert.equal(xmlView('application/xml', Buffer.from('<?xml version="1.0"?><p>café</p>')), '<?xml version="1.0"?>\n<p>café</p>\n');
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>é</a>', 'utf16le')]);
  assert.equal(xmlView('text/xml', utf16), '\ufeff\n<a>é</a>\n');
  assert.equal(xmlView('text/xml', Buffer.from('<a>\xff\xfe caf\xe9</a>', 'latin1')), '<a>\udcff\udcfe caf\udce9</a>\n');
});

test('query view: the parameters of a request without a body', () => {
  const req = Request.make('GET', 'http://example.com/search?q=mitm+proxy&x=1&x=2');
  const r = prettify('auto', Buffer.alloc(0), { httpMessage: req });
  assert.equal(r.viewName, 'Query');
  assert.equal(r.text, "q: mitm proxy\nx:\n- '1'\n- '2'\n");
});

test('invalid UTF-8 as Python surrogate escapes (query, CSS); a UTF-8 BOM is kept as U+FEFF (Raw, CSS)', () => {
  const req = Request.make('GET', 'http://example.com/?a=%ff&b=%C3%A9');
  assert.equal(prettify('auto', Buffer.alloc(0), { httpMessage: req }).text, 'a: "\\uDCFF"\nb: é\n');
  assert.equal(render('viewcss', Buffer.from('a{content:"\xff\xe9"}', 'latin1')), 'a {\n    content: "\udcff\udce9"\n}\n');
  const bom = Buffer.from('\ufeffa{b:c}');
  assert.equal(render('viewcss', bom), '\ufeffa {\n    b: c\n}\n');
  assert.equal(render('raw', bom), '\ufeffa{b:c}');
});

test('Server-Sent Events: one event per block, fields as sent, JSON data indented, comments kept; not UTF-8 is no event stream', () => {
  const stream = [
    ': keep-alive',
    '',
    'event: delta\r\nid: 7\r\ndata: {"choices": [{"text": "Hé"}]}\r\n\r\n',
    'data: first line',
    'data:second line',
    '',
    'retry: 3000',
    'data: [DONE]',
    '',
    'data: {not json',
    '',
  ].join('\n');
  assert.equal(
    render('server-sent events', stream),
    [
      ': keep-alive',
      '',
      'event: delta\nid: 7\ndata: {\n    "choices": [\n        {\n            "text": "Hé"\n        }\n    ]\n}',
      '',
      'data: first line\nsecond line',
      '',
      'retry: 3000\ndata: [DONE]',
      '',
      'data: {not json',
    ].join('\n'),
  );
  // An event the stream has not ended yet (no blank line) is shown too: the stream may still be open.
  assert.equal(render('server-sent events', 'data: partial'), 'data: partial');
  assert.throws(() => getView('server-sent events')!.render(Buffer.from([0xff, 0xfe]), {}));
});

test('Socket.IO and MQTT', () => {
  assert.equal(render('socket.io', '42["chat","hi"]'), 'SocketIO.EVENT ["chat","hi"]');
  assert.equal(render('socket.io', '2'), '');
  assert.equal(render('socket.io', '0{"sid":"x"}'), 'EngineIO.OPEN {"sid":"x"}');
  const publish = Buffer.from([0x30, 0x0c, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x21, 0x21]);
  assert.equal(render('mqtt', publish), "[PUBLISH] 'hello!!' to topic 'a/b'");
  assert.equal(render('mqtt', Buffer.from([0xc0, 0x00])), '[PINGREQ]');
  const connect = Buffer.concat([Buffer.from([0x10, 0x0e, 0x00, 0x04]), Buffer.from('MQTT'), Buffer.from([0x04, 0x02, 0x00, 0x3c, 0x00, 0x02]), Buffer.from('id')]);
  assert.equal(render('mqtt', connect), '[CONNECT]\n\nClient Id: id\nWill Topic: None\nWill Message: None\nUser Name: None\nPassword: None\n');
});

test('ZIP archive names', async () => {
  // A stored (uncompressed) ZIP with two entries, assembled per the ZIP specification.
  const entries = ['a.txt', 'dir/b.txt'];
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const name of entries) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(n.length, 26);
    locals.push(local, n);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, n);
    offset += 30 + n.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  assert.equal(render('zip archive', Buffer.concat([...locals, cd, eocd])), '- a.txt\n- dir/b.txt\n');
});

test('every view has its mitmproxy name and highlight', () => {
  const want: Record<string, [string, string]> = {
    raw: ['Raw', 'none'], json: ['JSON', 'yaml'], 'xml/html': ['XML/HTML', 'xml'], viewcss: ['ViewCSS', 'css'],
    javascript: ['JavaScript', 'javascript'], 'url-encoded': ['URL-encoded', 'yaml'], 'multipart form': ['Multipart Form', 'yaml'],
    query: ['Query', 'yaml'], image: ['Image', 'yaml'], msgpack: ['MsgPack', 'yaml'], protobuf: ['Protobuf', 'yaml'],
    grpc: ['gRPC', 'yaml'], dns: ['DNS', 'yaml'], 'socket.io': ['Socket.IO', 'none'], graphql: ['GraphQL', 'none'],
    mqtt: ['MQTT', 'none'], 'zip archive': ['ZIP Archive', 'yaml'], 'hex dump': ['Hex Dump', 'none'], 'hex stream': ['Hex Stream', 'none'],
    wbxml: ['WBXML', 'xml'], 'server-sent events': ['Server-Sent Events', 'none'],
  };
  for (const [key, [name, hl]] of Object.entries(want)) {
    const v = getView(key.toUpperCase());
    assert.ok(v, key);
    assert.deepEqual([v.name, v.syntaxHighlight], [name, hl]);
  }
});
