import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prettify, prettifyMessage } from '../../src/contentviews/index.js';
import { parseProto } from '../../src/contentviews/proto-parser.js';
import { HTTPFlow, Request, Response } from '../../src/http.js';
import { tempDir } from '../helpers/tempdir.js';
import { fixture } from './helpers.js';

const PROTO_DIR = fileURLToPath(new URL('../fixtures/contentviews/proto/', import.meta.url));
const SHOP = join(PROTO_DIR, 'shop.proto');
const MESSAGES_ONLY = join(PROTO_DIR, 'messages-only.proto');

// Minimal protobuf encoding, enough to build the bodies under test.
function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return Buffer.from(out);
}
const vint = (field: number, n: number | bigint) => Buffer.concat([varint((field << 3) | 0), varint(n)]);
const ld = (field: number, ...parts: Array<Buffer | string>) => {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
};
const f64 = (field: number, x: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Buffer.concat([varint((field << 3) | 1), b]);
};
const f32 = (field: number, x: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return Buffer.concat([varint((field << 3) | 5), b]);
};
const grpcFrames = (...messages: Buffer[]) =>
  Buffer.concat(
    messages.flatMap((m) => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(m.length, 1);
      return [head, m];
    }),
  );

/** shop.v1.PlaceRequest: nested repeated messages, an imported enum, a map, packed numbers, a oneof. */
const PLACE_REQUEST = Buffer.concat([
  ld(1, 'ann'),
  ld(2, ld(1, 'A-1'), vint(2, 2)),
  ld(2, ld(1, 'B'), vint(2, 1)),
  vint(3, 2),
  ld(4, ld(1, 'A-1'), vint(2, 2)),
  ld(4, ld(1, 'B'), vint(2, 1)),
  ld(4, ld(1, 'A-1'), vint(2, 5)), // a repeated key: the later value wins, in the first place
  ld(5, varint(3), varint(270), varint(86942)),
  ld(7, ld(1, 'X')),
  ld(12, vint(1, 1700000000), vint(2, 5)),
  vint(15, 150), // not declared
]);
const PLACE_REQUEST_YAML = [
  'customer: ann',
  'items:',
  '- sku: A-1',
  '  count: 2',
  '- sku: B',
  '  count: 1',
  'status: SHIPPED',
  'quantities:',
  '  A-1: 5',
  '  B: 1',
  'codes:',
  '- 3',
  '- 270',
  '- 86942',
  'voucher:',
  '  code: X',
  'created:',
  '  1: 1700000000  # !sint: 850000000',
  '  2: 5  # !sint: -3',
  '15: 150  # !sint: 75',
  '',
].join('\n');

/** shop.v1.PlaceReply. */
const PLACE_REPLY = Buffer.concat([
  vint(1, 1),
  f64(2, 12.5),
  vint(3, 1),
  ld(4, vint(1, -7), ld(2, ld(1, 'Z'))),
  f32(5, 0.5),
  vint(6, 3),
  ld(7, Buffer.from([0, 1, 0xff])),
]);
const PLACE_REPLY_YAML = [
  'ok: true',
  'total: 12.5',
  'priority: HIGH',
  'by_id:',
  '  -7:',
  '    sku: Z',
  'ratio: 0.5',
  'delta: -2',
  "token: !binary 0001ff",
  '',
].join('\n');

function grpcFlow(path: string, request: Buffer, response: Buffer): HTTPFlow {
  const req = Request.make('POST', `https://shop.example${path}`, request, [['content-type', 'application/grpc']]);
  const flow = new HTTPFlow(undefined, undefined, false, req);
  flow.response = Response.make(200, response, [['content-type', 'application/grpc']]);
  return flow;
}

test('gRPC with protobuf_definitions: /package.Service/Method picks the input type for the request, the output type for the response', () => {
  const flow = grpcFlow('/shop.v1.Orders/Place', grpcFrames(PLACE_REQUEST), grpcFrames(PLACE_REPLY, vint(3, 7)));
  const req = prettifyMessage(flow.request, flow, 'auto', { protobufDefinitions: SHOP });
  assert.equal(req.viewName, 'gRPC');
  assert.equal(req.text, PLACE_REQUEST_YAML);
  const resp = prettifyMessage(flow.response!, flow, 'auto', { protobufDefinitions: SHOP });
  // An enum number the enum does not name stays a number.
  assert.equal(resp.text, `${PLACE_REPLY_YAML}\n---\n\npriority: 7\n`);
  // A method whose input type comes from the imported proto2 file (required field, packed fixed32).
  const legacy = grpcFlow('/shop.v1.Orders/Lookup', grpcFrames(Buffer.concat([ld(1, 'L1'), ld(3, Buffer.from([1, 0, 0, 0, 2, 0, 0, 0]))])), grpcFrames(ld(1, 'r-9')));
  assert.equal(prettifyMessage(legacy.request, legacy, 'grpc', { protobufDefinitions: SHOP }).text, 'id: L1\nsums:\n- 1\n- 2\n');
  assert.equal(prettifyMessage(legacy.response!, legacy, 'grpc', { protobufDefinitions: SHOP }).text, 'id: r-9\n');
});

test('gRPC with protobuf_definitions: data that does not fit the type is shown without it', () => {
  // PlaceReply.ok is a bool: a string in field 1 does not fit, so every frame is decoded
  // schema-less, also the first one, which alone would fit.
  const fits = grpcFlow('/shop.v1.Orders/Place', grpcFrames(), grpcFrames(vint(1, 1)));
  assert.equal(prettifyMessage(fits.response!, fits, 'grpc', { protobufDefinitions: SHOP }).text, 'ok: true\n');
  const flow = grpcFlow('/shop.v1.Orders/Place', grpcFrames(), grpcFrames(vint(1, 1), ld(1, 'hello')));
  assert.equal(prettifyMessage(flow.response!, flow, 'grpc', { protobufDefinitions: SHOP }).text, '1: 1  # !sint: -1\n\n---\n\n1: hello\n');
  // proto2: a message without its required field does not fit either.
  const legacy = grpcFlow('/shop.v1.Orders/Lookup', grpcFrames(vint(2, 4)), grpcFrames());
  assert.equal(prettifyMessage(legacy.request, legacy, 'grpc', { protobufDefinitions: SHOP }).text, '2: 4  # !sint: 2\n');
  // An int32 field with a value beyond 32 bits does not fit.
  const wide = grpcFlow('/shop.v1.Orders/Place', grpcFrames(ld(2, vint(2, 1n << 40n))), grpcFrames());
  assert.equal(prettifyMessage(wide.request, wide, 'grpc', { protobufDefinitions: SHOP }).text, '2:\n  2: 1099511627776  # !sint: 549755813888\n');
});

test('Protobuf with protobuf_definitions: without a gRPC path, the first method of the first service, else the first message', () => {
  // Not a request body (no flow): the first method's output type, shop.v1.PlaceReply.
  assert.equal(prettify('protobuf', PLACE_REPLY, { protobufDefinitions: SHOP }).text, PLACE_REPLY_YAML);
  // A request of a flow whose path names no method: the first method's input type.
  const req = Request.make('POST', 'https://shop.example/api/v2/orders', PLACE_REQUEST, [['content-type', 'application/x-protobuf']]);
  const flow = new HTTPFlow(undefined, undefined, false, req);
  const r = prettifyMessage(req, flow, 'auto', { protobufDefinitions: SHOP });
  assert.deepEqual([r.viewName, r.text], ['Protobuf', PLACE_REQUEST_YAML]);
  // A file without services: its first message, here with zigzag-decoded sint32 fields (serde_yaml
  // quotes the key y, a YAML 1.1 boolean).
  const point = Buffer.concat([vint(1, 5), vint(2, 4), ld(3, 'p')]);
  assert.equal(prettify('protobuf', point, { protobufDefinitions: MESSAGES_ONLY }).text, "x: -3\n'y': 2\nlabel: p\n");
  // A directory: every .proto file under it, sorted; the first (common.proto) has no service, so
  // its first message common.Legacy; gRPC paths are looked up in all files.
  assert.equal(prettify('protobuf', ld(1, 'id1'), { protobufDefinitions: PROTO_DIR }).text, 'id: id1\n');
  const inDir = grpcFlow('/shop.v1.Orders/Place', grpcFrames(), grpcFrames(PLACE_REPLY));
  assert.equal(prettifyMessage(inDir.response!, inDir, 'grpc', { protobufDefinitions: PROTO_DIR }).text, PLACE_REPLY_YAML);
  // Without the option the same bytes are numbered.
  assert.equal(prettify('protobuf', point, {}).text, '1: 5  # !sint: -3\n2: 4  # !sint: 2\n3: p\n');
});

test('Protobuf with protobuf_definitions: a definition that does not match falls back to the schema-less rendering', () => {
  // sample.proto's first message is Inner {int64 x = 1; double y = 2}; message.pb is a Sample,
  // whose field 1 is a string: it does not fit, so the output is exactly the schema-less one.
  const sample = fileURLToPath(new URL('../fixtures/contentviews/sample.proto', import.meta.url));
  assert.equal(prettify('protobuf', Buffer.concat([vint(1, -4), f64(2, 2.5)]), { protobufDefinitions: sample }).text, "x: -4\n'y': 2.5\n");
  const withDefs = prettify('protobuf', fixture('message.pb'), { protobufDefinitions: sample });
  assert.equal(withDefs.syntaxHighlight, 'yaml');
  assert.equal(withDefs.text, prettify('protobuf', fixture('message.pb'), {}).text);
  assert.match(withDefs.text, /^1: mitmproxy\n/);
  assert.equal(prettify('protobuf', Buffer.alloc(0), { protobufDefinitions: SHOP }).text, '{}  # empty protobuf message');
});

test('protobuf_definitions that cannot be read or parsed: the view fails with the reason', (t) => {
  const missing = join(PROTO_DIR, 'does-not-exist.proto');
  const named = prettify('protobuf', PLACE_REPLY, { protobufDefinitions: missing });
  assert.equal(named.syntaxHighlight, 'error');
  assert.match(named.text, /^Couldn't parse as Protobuf:\nValueError: failed to parse proto file\(s\)\n\nCaused by:\n {4}cannot read .*does-not-exist\.proto: ENOENT/);
  const logged: string[] = [];
  const auto = prettify('auto', PLACE_REPLY, { contentType: 'application/x-protobuf', protobufDefinitions: missing }, { log: (_l, m) => logged.push(m) });
  assert.deepEqual([auto.viewName, auto.description], ['Raw', '[failed to parse as Protobuf]']);
  assert.match(logged.join('\n'), /failed to parse proto file\(s\)/);
  const grpc = prettify('grpc', grpcFrames(PLACE_REPLY), { protobufDefinitions: missing });
  assert.match(grpc.text, /^Couldn't parse as gRPC:\nValueError: failed to parse proto file\(s\)/);

  // A syntax error names the file and line; fixing the file is seen at once (cached by mtime).
  const dir = tempDir(t, 'proto-defs-');
  const file = join(dir, 'edit.proto');
  writeFileSync(file, 'syntax = "proto3";\nmessage M {\n  string name = 1\n}\n');
  const broken = prettify('protobuf', ld(1, 'n1'), { protobufDefinitions: file });
  assert.match(broken.text, /Caused by:\n {4}.*edit\.proto: line 4: expected ";", found "}"/);
  writeFileSync(file, 'syntax = "proto3";\nmessage M {\n  string name = 1;\n}\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal(prettify('protobuf', ld(1, 'n1'), { protobufDefinitions: file }).text, 'name: n1\n');
  // An import that is not there is an error too (google/protobuf/* excepted, see shop.proto).
  writeFileSync(file, 'syntax = "proto3";\nimport "other.proto";\nmessage M { string name = 1; }\n');
  utimesSync(file, new Date(), new Date(Date.now() + 10000));
  assert.match(prettify('protobuf', ld(1, 'n1'), { protobufDefinitions: file }).text, /import "other\.proto" was not found/);
  writeFileSync(join(dir, 'other.proto'), 'syntax = "proto3";\n');
  assert.equal(prettify('protobuf', ld(1, 'n1'), { protobufDefinitions: file }).text, 'name: n1\n');
});

test('.proto parser: proto2 labels, groups, extensions, options, comments and string literals', () => {
  const ast = parseProto(`
    // line comment
    syntax = 'proto2'; /* block
    comment */
    package a.b;
    import public "x/y.proto";
    option (my.opt) = { s: "};" list: [1, 2] };
    message M {
      option deprecated = true;
      required int64 id = 1 [default = -1];
      optional group G = 2 { optional string s = 1; }
      repeated M children = 3;
      extensions 10 to 20, 30 to max;
      extend M { optional int32 ext = 10; }
      oneof o { bytes raw = 4; string text = 5; }
      map<uint32, M> by = 6;
      reserved 7, 8;
      optional string optional = 9;
    }
    extend M { optional int32 ext2 = 11; }
    enum E { option allow_alias = true; A = 0; B = 0x10; C = -2 [deprecated = true]; reserved 5; }
    service S { rpc R (stream M) returns (.a.b.M); }
  `);
  assert.equal(ast.package, 'a.b');
  assert.deepEqual(ast.imports, [{ path: 'x/y.proto', public: true }]);
  const m = ast.messages[0]!;
  assert.deepEqual(
    m.fields.map((f) => [f.name, f.number, f.label ?? '', f.type]),
    [['id', 1, 'required', 'int64'], ['g', 2, 'optional', 'G'], ['children', 3, 'repeated', 'M'], ['raw', 4, '', 'bytes'], ['text', 5, '', 'string'], ['by', 6, 'repeated', 'map'], ['optional', 9, 'optional', 'string']],
  );
  assert.deepEqual(m.fields[5]!.map, { key: 'uint32', value: 'M' });
  assert.deepEqual(m.messages.map((x) => x.name), ['G']);
  assert.deepEqual(ast.enums[0]!.values, [{ name: 'A', number: 0 }, { name: 'B', number: 16 }, { name: 'C', number: -2 }]);
  assert.deepEqual(ast.services[0]!.methods, [{ name: 'R', inputType: 'M', outputType: '.a.b.M' }]);
  assert.throws(() => parseProto('message M { string s = 1; '), /end of file/);
  assert.throws(() => parseProto('message M { string s = "x"; }'), /line 1: expected an integer/);
});
