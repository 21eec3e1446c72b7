/**
 * The WebSocket frame parser and serializer (RFC 6455 §5) and the permessage-deflate pieces
 * (RFC 7692), without sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import fc from 'fast-check';
import {
  FrameParser,
  WebSocketProtocolError,
  closePayload,
  encodeFrame,
  maskInPlace,
  parseClosePayload,
  type Frame,
} from '../../src/proxy/websocket/frame.js';
import { MessageDeflater, MessageInflater, parseNegotiatedExtensions } from '../../src/proxy/websocket/permessage-deflate.js';

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A frame as raw bytes, built by hand (independent of encodeFrame). */
function rawFrame(b0: number, payload: Buffer, opts: { mask?: Buffer; lengthBytes?: 0 | 2 | 8 } = {}): Buffer {
  const len = payload.length;
  const lb = opts.lengthBytes ?? (len <= 125 ? 0 : len <= 0xffff ? 2 : 8);
  const head: number[] = [b0];
  const m = opts.mask ? 0x80 : 0;
  if (lb === 0) head.push(m | len);
  else if (lb === 2) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  let body = Buffer.from(payload);
  if (opts.mask) {
    head.push(...opts.mask);
    body = Buffer.from(payload.map((b, i) => b ^ opts.mask![i & 3]!));
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** The frames in `bytes`; throws the parser's error if a frame was bad. */
function parse(bytes: Buffer, opts: { fromClient?: boolean; allowRsv1?: boolean; maxPayload?: number } = {}): Frame[] {
  const p = new FrameParser({ fromClient: opts.fromClient ?? false, allowRsv1: opts.allowRsv1 ?? false, maxPayload: opts.maxPayload ?? 1 << 20 });
  const frames = p.push(bytes);
  if (p.error) throw p.error;
  return frames;
}

function summary(frames: Frame[]): Array<[boolean, boolean, number, string]> {
  return frames.map((f) => [f.fin, f.rsv1, f.opcode, f.payload.toString('latin1')]);
}

test('valid frames parse to fin, rsv1, opcode and the unmasked payload', () => {
  const cases: Array<{ name: string; bytes: Buffer; fromClient?: boolean; allowRsv1?: boolean; want: Array<[boolean, boolean, number, string]> }> = [
    { name: 'server text', bytes: rawFrame(0x81, Buffer.from('hi')), want: [[true, false, 1, 'hi']] },
    { name: 'client text, masked', bytes: rawFrame(0x81, Buffer.from('hello'), { mask: MASK }), fromClient: true, want: [[true, false, 1, 'hello']] },
    { name: 'binary, empty', bytes: rawFrame(0x82, Buffer.alloc(0)), want: [[true, false, 2, '']] },
    { name: 'first fragment then continuation', bytes: Buffer.concat([rawFrame(0x01, Buffer.from('ab')), rawFrame(0x80, Buffer.from('cd'))]), want: [[false, false, 1, 'ab'], [true, false, 0, 'cd']] },
    { name: 'ping and pong', bytes: Buffer.concat([rawFrame(0x89, Buffer.from('p')), rawFrame(0x8a, Buffer.alloc(0))]), want: [[true, false, 9, 'p'], [true, false, 10, '']] },
    { name: 'close', bytes: rawFrame(0x88, Buffer.from([0x03, 0xe8])), want: [[true, false, 8, '\x03\xe8']] },
    { name: '126 bytes: 2-byte length', bytes: rawFrame(0x82, Buffer.alloc(126, 'a')), want: [[true, false, 2, 'a'.repeat(126)]] },
    { name: '65536 bytes: 8-byte length', bytes: rawFrame(0x82, Buffer.alloc(65536, 'b')), want: [[true, false, 2, 'b'.repeat(65536)]] },
    { name: 'compressed (rsv1) when allowed', bytes: rawFrame(0xc1, Buffer.from([0x01])), allowRsv1: true, want: [[true, true, 1, '\x01']] },
  ];
  for (const c of cases) {
    assert.deepEqual(summary(parse(c.bytes, c)), c.want, c.name);
  }
});

test('frames split at every byte boundary parse the same as whole', () => {
  const bytes = Buffer.concat([
    rawFrame(0x01, Buffer.from('frag-'), { mask: MASK }),
    rawFrame(0x89, Buffer.from('ping'), { mask: MASK }),
    rawFrame(0x80, Buffer.alloc(300, 'x'), { mask: MASK }),
    rawFrame(0x82, Buffer.alloc(70000, 'y'), { mask: MASK }),
  ]);
  const whole = summary(parse(Buffer.from(bytes), { fromClient: true }));
  assert.equal(whole.length, 4);
  for (const cut of [1, 2, 3, 5, 6, 7, 10, 11, 12, 13, 14, 200, 320, 330, 70000]) {
    const p = new FrameParser({ fromClient: true, allowRsv1: false, maxPayload: 1 << 20 });
    const frames = [...p.push(Buffer.from(bytes.subarray(0, cut))), ...p.push(Buffer.from(bytes.subarray(cut)))];
    assert.deepEqual(summary(frames), whole, `cut at ${cut}`);
    assert.equal(p.bufferedLength, 0);
  }
  // And byte by byte.
  const p = new FrameParser({ fromClient: true, allowRsv1: false, maxPayload: 1 << 20 });
  const frames: Frame[] = [];
  for (let i = 0; i < 400; i++) frames.push(...p.push(Buffer.from([bytes[i]!])));
  frames.push(...p.push(Buffer.from(bytes.subarray(400))));
  assert.deepEqual(summary(frames), whole);
});

test('framing errors are protocol errors with the close code to answer with', () => {
  const cases: Array<{ bytes: Buffer; fromClient?: boolean; allowRsv1?: boolean; maxPayload?: number; message: string; code: number }> = [
    { bytes: rawFrame(0x83, Buffer.alloc(0)), message: 'Invalid opcode 0x3', code: 1002 },
    { bytes: rawFrame(0x8b, Buffer.alloc(0)), message: 'Invalid opcode 0xb', code: 1002 },
    { bytes: rawFrame(0x09, Buffer.alloc(0)), message: 'Invalid attempt to fragment control frame', code: 1002 },
    { bytes: rawFrame(0x81, Buffer.from('x')), fromClient: true, message: 'server received unexpected unmasked frame', code: 1002 },
    { bytes: rawFrame(0x81, Buffer.from('x'), { mask: MASK }), message: 'client received unexpected masked frame', code: 1002 },
    { bytes: rawFrame(0x89, Buffer.alloc(126)), message: 'Control frame with payload len > 125', code: 1002 },
    { bytes: rawFrame(0xc1, Buffer.from('x')), message: 'Reserved bit set unexpectedly', code: 1002 },
    { bytes: rawFrame(0xa1, Buffer.from('x')), allowRsv1: true, message: 'Reserved bit set unexpectedly', code: 1002 },
    { bytes: rawFrame(0xc9, Buffer.from('x')), allowRsv1: true, message: 'Reserved bit set unexpectedly', code: 1002 },
    { bytes: rawFrame(0x82, Buffer.alloc(10), { lengthBytes: 2 }), message: 'Payload length used 2 bytes when 1 would have sufficed', code: 1002 },
    { bytes: rawFrame(0x82, Buffer.alloc(200), { lengthBytes: 8 }), message: 'Payload length used 8 bytes when 2 would have sufficed', code: 1002 },
    { bytes: Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]), message: '8-byte payload length with non-zero MSB', code: 1002 },
    { bytes: rawFrame(0x82, Buffer.alloc(2000)), maxPayload: 1000, message: 'Message too big: frame of 2000 bytes exceeds the limit of 1000 bytes', code: 1009 },
  ];
  for (const c of cases) {
    assert.throws(
      () => parse(c.bytes, c),
      (e: unknown) => e instanceof WebSocketProtocolError && e.message === c.message && e.code === c.code,
      c.message,
    );
  }
});

test('a frame over the size limit is refused from its header, before its payload arrives', () => {
  const p = new FrameParser({ fromClient: false, allowRsv1: false, maxPayload: 1000 });
  assert.deepEqual(p.push(Buffer.from([0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0])), []);
  assert.match(p.error!.message, /Message too big/);
});

test('frames before a bad one in the same chunk are returned; the error stops the parser', () => {
  const p = new FrameParser({ fromClient: false, allowRsv1: false, maxPayload: 1 << 20 });
  const bytes = Buffer.concat([rawFrame(0x81, Buffer.from('first')), rawFrame(0x82, Buffer.from('second')), rawFrame(0x83, Buffer.alloc(0)), rawFrame(0x81, Buffer.from('after'))]);
  assert.deepEqual(summary(p.push(bytes)), [
    [true, false, 0x1, 'first'],
    [true, false, 0x2, 'second'],
  ]);
  assert.equal(p.error?.message, 'Invalid opcode 0x3');
  assert.deepEqual(p.push(rawFrame(0x81, Buffer.from('later'))), [], 'nothing is parsed after the error');
  // A bad header completed by a later chunk: the earlier chunk's frames came back already.
  const q = new FrameParser({ fromClient: false, allowRsv1: false, maxPayload: 1 << 20 });
  assert.deepEqual(summary(q.push(Buffer.concat([rawFrame(0x81, Buffer.from('ok')), Buffer.from([0x82])]))), [[true, false, 0x1, 'ok']]);
  assert.equal(q.error?.message, undefined);
  assert.deepEqual(q.push(Buffer.from([0x7e, 0, 5])), []);
  assert.equal(q.error?.message, 'Payload length used 2 bytes when 1 would have sufficed');
});

test('encodeFrame round-trips through the parser; masked frames use a fresh key and leave the payload alone', () => {
  const payload = Buffer.from('the payload, 26 bytes long');
  const original = Buffer.from(payload);
  const masks = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const bytes = Buffer.concat(encodeFrame(1, payload, { fin: true, rsv1: false, mask: true }));
    assert.equal(bytes[1]! & 0x80, 0x80, 'mask bit');
    masks.add(bytes.subarray(2, 6).toString('hex'));
    assert.deepEqual(summary(parse(bytes, { fromClient: true })), [[true, false, 1, payload.toString()]]);
  }
  assert.ok(masks.size >= 19, 'a new masking key per frame');
  assert.deepEqual(payload, original);
  const unmasked = Buffer.concat(encodeFrame(2, payload, { fin: false, rsv1: true, mask: false }));
  assert.equal(unmasked[0], 0x42);
  assert.deepEqual(summary(parse(unmasked, { allowRsv1: true })), [[false, true, 2, payload.toString()]]);
});

test('encodeFrame picks the shortest length encoding and keeps big unmasked payloads uncopied', () => {
  for (const [len, headerLength] of [
    [0, 2],
    [125, 2],
    [126, 4],
    [65535, 4],
    [65536, 10],
    [200000, 10],
  ] as const) {
    const payload = Buffer.alloc(len, 7);
    const parts = encodeFrame(2, payload, { fin: true, rsv1: false, mask: false });
    const bytes = Buffer.concat(parts);
    assert.equal(bytes.length, headerLength + len, `length ${len}`);
    assert.equal(parse(bytes, { maxPayload: 1 << 20 })[0]!.payload.length, len);
    if (len > 64 * 1024) assert.equal(parts[1], payload, 'the payload itself is the second buffer');
  }
});

test('property: any sequence of frames survives encoding, arbitrary chunking and parsing', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ opcode: fc.constantFrom(0, 1, 2), fin: fc.boolean(), payload: fc.uint8Array({ maxLength: 300 }) }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      fc.array(fc.nat(50), { maxLength: 10 }),
      (frames, masked, cuts) => {
        const bytes = Buffer.concat(frames.flatMap((f) => encodeFrame(f.opcode, Buffer.from(f.payload), { fin: f.fin, rsv1: false, mask: masked })));
        const p = new FrameParser({ fromClient: masked, allowRsv1: false, maxPayload: 1 << 20 });
        const got: Frame[] = [];
        let at = 0;
        for (const c of cuts) {
          const end = Math.min(bytes.length, at + c);
          got.push(...p.push(Buffer.from(bytes.subarray(at, end))));
          at = end;
        }
        got.push(...p.push(Buffer.from(bytes.subarray(at))));
        assert.deepEqual(
          got.map((f) => [f.opcode, f.fin, f.payload.toString('hex')]),
          frames.map((f) => [f.opcode, f.fin, Buffer.from(f.payload).toString('hex')]),
        );
      },
    ),
  );
});

test('maskInPlace matches a byte-by-byte XOR for every length and memory alignment, and is its own inverse', () => {
  const backing = Buffer.alloc(400);
  for (let offset = 0; offset < 4; offset++) {
    for (const len of [0, 1, 3, 4, 5, 63, 64, 65, 66, 67, 127, 128, 200, 301]) {
      const data = backing.subarray(offset, offset + len);
      for (let i = 0; i < len; i++) data[i] = (i * 37 + offset) & 0xff;
      const copy = Buffer.from(data);
      maskInPlace(data, MASK);
      assert.deepEqual(data, Buffer.from(copy.map((b, i) => b ^ MASK[i & 3]!)), `offset ${offset}, length ${len}`);
      maskInPlace(data, MASK);
      assert.deepEqual(data, copy);
    }
  }
});

test('close payloads: decoding what peers send', () => {
  const ok: Array<[Buffer, number, string]> = [
    [Buffer.alloc(0), 1005, ''],
    [Buffer.from([0x03, 0xe8]), 1000, ''],
    [Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye ✓')]), 4000, 'bye ✓'],
    [Buffer.from([0x03, 0xf4]), 1012, ''],
  ];
  for (const [payload, code, reason] of ok) assert.deepEqual(parseClosePayload(payload), { code, reason });
  const bad: Array<[Buffer, string, number]> = [
    [Buffer.from([0x03]), 'CLOSE with 1 byte payload', 1002],
    [Buffer.from([0x03, 0xe7]), 'CLOSE with invalid code', 1002],
    [Buffer.from([0x13, 0x88]), 'CLOSE with invalid code', 1002],
    [Buffer.from([0x03, 0xed]), 'remote CLOSE with local-only reason', 1002],
    [Buffer.from([0x03, 0xee]), 'remote CLOSE with local-only reason', 1002],
    [Buffer.from([0x03, 0xec]), 'CLOSE with unknown reserved code', 1002],
    [Buffer.from([0x07, 0xd0]), 'CLOSE with unknown reserved code', 1002],
    [Buffer.from([0x03, 0xe8, 0xff]), 'Error decoding CLOSE reason: invalid UTF-8', 1007],
  ];
  for (const [payload, message, code] of bad) {
    assert.throws(() => parseClosePayload(payload), (e: unknown) => e instanceof WebSocketProtocolError && e.message === message && e.code === code, message);
  }
});

test('close payloads: what the proxy sends', () => {
  assert.deepEqual(closePayload(null, null), Buffer.alloc(0));
  assert.deepEqual(closePayload(1005, ''), Buffer.alloc(0), '1005 means no status: empty payload');
  assert.deepEqual(closePayload(1006, null), Buffer.from([0x03, 0xe8]), 'local-only codes go out as 1000');
  assert.deepEqual(closePayload(4001, 'done'), Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('done')]));
  const long = closePayload(1000, 'é'.repeat(100));
  assert.ok(long.length <= 125);
  assert.equal(long.length, 2 + 122, 'cut before a split UTF-8 sequence (61 two-byte characters)');
  assert.equal(parseClosePayload(long).reason, 'é'.repeat(61));
});

test('Sec-WebSocket-Extensions of the 101 response', () => {
  const d = (over: object = {}) => ({ serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...over });
  const cases: Array<[string | undefined, ReturnType<typeof parseNegotiatedExtensions>]> = [
    [undefined, { deflate: null, unknown: [] }],
    ['', { deflate: null, unknown: [] }],
    ['permessage-deflate', { deflate: d(), unknown: [] }],
    ['permessage-deflate; client_max_window_bits=10; server_no_context_takeover', { deflate: d({ clientMaxWindowBits: 10, serverNoContextTakeover: true }), unknown: [] }],
    ['Permessage-Deflate;Server_Max_Window_Bits="12";client_no_context_takeover', { deflate: d({ serverMaxWindowBits: 12, clientNoContextTakeover: true }), unknown: [] }],
    ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits', { deflate: d(), unknown: ['x-webkit-deflate-frame'] }],
    ['permessage-deflate; server_max_window_bits=99', { deflate: d(), unknown: [] }],
  ];
  for (const [header, want] of cases) assert.deepEqual(parseNegotiatedExtensions(header), want, String(header));
});

test('permessage-deflate: what the deflater writes, an independent raw inflater reads (context takeover and not)', async () => {
  for (const noContextTakeover of [false, true]) {
    const deflater = new MessageDeflater(15, noContextTakeover);
    const receiver = zlib.createInflateRaw();
    const out: Buffer[] = [];
    receiver.on('data', (c: Buffer) => out.push(c));
    const sizes: number[] = [];
    for (const text of ['hello hello hello hello', 'hello hello hello hello', '']) {
      const compressed = await deflater.deflate(Buffer.from(text));
      sizes.push(compressed.length);
      assert.ok(!compressed.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])) || compressed.length < 4, 'trailer stripped');
      out.length = 0;
      receiver.write(Buffer.concat([compressed, Buffer.from([0, 0, 0xff, 0xff])]));
      await new Promise<void>((r) => receiver.flush(() => r()));
      assert.equal(Buffer.concat(out).toString(), text);
    }
    // With the window kept, the repeated message is a back-reference and much shorter.
    if (noContextTakeover) assert.equal(sizes[0], sizes[1]);
    else assert.ok(sizes[1]! < sizes[0]!, `context takeover shrinks the repeat: ${sizes.join(',')}`);
    deflater.close();
    receiver.close();
  }
});

test('permessage-deflate: the inflater keeps its window across messages and bounds the output size', async () => {
  const sender = zlib.createDeflateRaw();
  const chunks: Buffer[] = [];
  sender.on('data', (c: Buffer) => chunks.push(c));
  const compress = async (b: Buffer) => {
    chunks.length = 0;
    sender.write(b);
    await new Promise<void>((r) => sender.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    return Buffer.concat(chunks).subarray(0, -4);
  };
  const inflater = new MessageInflater(1000);
  const msg = Buffer.from('abcdefghij'.repeat(20));
  assert.deepEqual(await inflater.inflate(await compress(msg)), msg);
  assert.deepEqual(await inflater.inflate(await compress(msg)), msg, 'second message refers to the first');
  await assert.rejects(inflater.inflate(await compress(Buffer.alloc(5000, 'z'))), (e: unknown) => e instanceof WebSocketProtocolError && e.code === 1009);
  inflater.close();
  sender.close();

  const broken = new MessageInflater(1000);
  await assert.rejects(broken.inflate(Buffer.from([0xff, 0xff, 0xff])), (e: unknown) => e instanceof WebSocketProtocolError && e.code === 1007);
  broken.close();
});

test('running out of memory while joining an inflated message fails that message with 1009, not the process', async (t) => {
  const big = Buffer.alloc(200_000, 'q');
  const compressed = zlib.deflateRawSync(big, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const inflater = new MessageInflater(1 << 20);
  t.after(() => inflater.close());
  const concat = Buffer.concat;
  // zlib hands the 200 KB over in several chunks, which are joined with Buffer.concat.
  Buffer.concat = (() => {
    throw new RangeError('Array buffer allocation failed');
  }) as typeof Buffer.concat;
  try {
    await assert.rejects(inflater.inflate(compressed), (e: unknown) => e instanceof WebSocketProtocolError && e.code === 1009 && /allocation failed/.test(e.message));
  } finally {
    Buffer.concat = concat;
  }
});

test('an inflater past its message size in all refuses a conversation that inflates more than its ratio', async () => {
  const inflater = new MessageInflater(3000, 100);
  // 2 900 zeros compress to about 15 bytes.
  const zeros = zlib.deflateRawSync(Buffer.alloc(2900), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  assert.ok(zeros.length * 100 < 2900);
  assert.equal((await inflater.inflate(zeros)).length, 2900, 'under the floor, any ratio');
  await assert.rejects(inflater.inflate(zeros), (e: unknown) => e instanceof WebSocketProtocolError && e.code === 1009);
  inflater.close();
});

test('Frame.raw is the frame exactly as received (a client frame still masked) when it arrived in one chunk, else null', () => {
  const fromClient = new FrameParser({ fromClient: true, allowRsv1: false, maxPayload: 1 << 20 });
  const masked1 = rawFrame(0x82, Buffer.from('hello'), { mask: MASK });
  const masked2 = rawFrame(0x81, Buffer.alloc(300, 'x'), { mask: MASK });
  const empty = rawFrame(0x82, Buffer.alloc(0), { mask: MASK });
  const frames = fromClient.push(Buffer.concat([masked1, masked2, empty]));
  assert.deepEqual(frames.map((f) => f.payload.toString()), ['hello', 'x'.repeat(300), '']);
  assert.deepEqual(frames.map((f) => f.raw?.toString('hex')), [masked1, masked2, empty].map((b) => b.toString('hex')), 'raw bytes stay masked');

  // A frame split across reads has no raw form (its bytes were reassembled).
  const split = rawFrame(0x82, Buffer.alloc(200, 'y'), { mask: MASK });
  assert.deepEqual(fromClient.push(split.subarray(0, 50)), []);
  const [late] = fromClient.push(split.subarray(50));
  assert.equal(late!.payload.toString(), 'y'.repeat(200));
  assert.equal(late!.raw, null);

  const fromServer = new FrameParser({ fromClient: false, allowRsv1: false, maxPayload: 1 << 20 });
  const plain = rawFrame(0x81, Buffer.from('hi'));
  const [f] = fromServer.push(plain);
  assert.equal(f!.raw!.toString('hex'), plain.toString('hex'));
});
