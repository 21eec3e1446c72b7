// Parsers that take bytes from peers and servers, fuzzed in the style of http1-fuzz.test.ts:
// content views, DNS messages, filter expressions, and the cookie, multipart and urlencoded
// helpers of the model. Bad input gives a result or the parser's own error, in bounded time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinViews, prettify } from '../../src/contentviews/index.js';
import { DNSMessage } from '../../src/dns.js';
import { dnsMessageJson } from '../../src/tools/web/flowjson.js';
import { parse, FilterError } from '../../src/flowfilter/index.js';
import { parseCookieHeader, parseSetCookie } from '../../src/util/cookies.js';
import { parseCookieHeader as parseCookieHeaderIo, parseSetCookieHeader } from '../../src/io/cookies.js';
import { decodeMultipart } from '../../src/util/multipart.js';
import { parseUrlencoded } from '../../src/util/urlencoded.js';
import { S, W, T, D, E } from '../flowfilter/flows.js';

const CONTENT_TYPES = [undefined, 'application/json', 'text/html', 'text/css', 'application/javascript', 'application/x-protobuf', 'application/grpc', 'application/msgpack', 'multipart/form-data', 'application/x-www-form-urlencoded', 'image/png', 'application/vnd.wap.wbxml', 'text/event-stream', 'application/dns-message'];
const textish = fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', "'", '\\', '<', '>', '/', '*', '!', '-', ':', ';', ',', '=', '&', '%', '+', ' ', '\n', 'a', '1', '.', 'e', '\0', '\xff'), maxLength: 200 }).map((s) => Buffer.from(s, 'latin1'));
const body = fc.oneof(textish, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)));

test('fuzz: every content view on random bodies gives a result, never an exception', () => {
  fc.assert(
    fc.property(body, fc.constantFrom(...CONTENT_TYPES), (data, contentType) => {
      const metadata = contentType ? { contentType } : {};
      for (const view of [...builtinViews.map((v) => v.name), 'auto']) {
        const r = prettify(view, data, metadata, { linesCutoff: 50 });
        assert.equal(typeof r.text, 'string');
      }
    }),
    { numRuns: 400 },
  );
});

test('every content view renders 256 KB built to backtrack, recurse or repeat in bounded time', () => {
  const N = 256 * 1024;
  const repeat = (s: string) => Buffer.from(s.repeat(Math.ceil(N / s.length)).slice(0, N), 'latin1');
  const bodies: Record<string, Buffer> = {
    blanks: repeat(' '),
    'open brackets': repeat('['),
    'nested objects': repeat('{"a":'),
    'escaped quotes': repeat('"\\'),
    'open tags': repeat('<a>'),
    'CDATA of ">"': Buffer.concat([Buffer.from('<![CDATA['), repeat('>')]),
    'msgpack arrays': Buffer.alloc(N, 0x91),
    'protobuf groups': Buffer.alloc(N, 0x0b),
    'protobuf length prefixes': Buffer.alloc(N, 0x0a),
    'varints': Buffer.alloc(N, 0xff),
    'percent signs': repeat('%2'),
    colons: repeat('a:'),
    random: Buffer.from(fc.sample(fc.uint8Array({ minLength: N, maxLength: N }), { numRuns: 1, seed: 42 })[0]!),
  };
  for (const [name, data] of Object.entries(bodies)) {
    for (const view of [...builtinViews.map((v) => v.name), 'auto']) {
      const started = performance.now();
      prettify(view, data, view === 'Multipart Form' ? { contentType: 'multipart/form-data' } : {}, { linesCutoff: 512 });
      const ms = performance.now() - started;
      assert.ok(ms < 3000, `${view} on ${name}: ${ms.toFixed(0)} ms`);
    }
  }
});

const label = fc.uint8Array({ minLength: 1, maxLength: 63 }).filter((b) => !b.includes(0x2e)).map((b) => Buffer.concat([Buffer.from([b.length]), Buffer.from(b)]));
const name = fc.array(fc.oneof(label, fc.nat(60).map((p) => Buffer.from([0xc0, p])), fc.integer({ min: 64, max: 191 }).map((n) => Buffer.from([n]))), { maxLength: 4 }).map((ls) => Buffer.concat([...ls, Buffer.from([0])]));
const u16 = fc.constantFrom(0, 1, 2, 5, 12, 16, 28, 65, 255, 0xffff);
const be16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const record = fc.tuple(name, u16, fc.oneof(fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)), name)).map(([n, type, data]) => Buffer.concat([n, be16(type), be16(1), Buffer.alloc(4), be16(data.length), data]));
const dnsMessage = fc
  .tuple(fc.nat(0xffff), fc.array(fc.tuple(name, u16).map(([n, t]) => Buffer.concat([n, be16(t), be16(1)])), { maxLength: 3 }), fc.array(record, { maxLength: 3 }), fc.uint8Array({ maxLength: 4 }))
  .map(([flags, questions, answers, tail]) => Buffer.concat([be16(7), be16(flags), be16(questions.length), be16(answers.length), be16(0), be16(0), ...questions, ...answers, Buffer.from(tail)]));

test('fuzz: a DNS message that unpacks packs again to the same message; one that does not throws an Error', () => {
  fc.assert(
    fc.property(fc.oneof(dnsMessage, fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b))), (bytes) => {
      let m: DNSMessage;
      try {
        m = DNSMessage.unpack(bytes);
      } catch (e) {
        assert.ok(e instanceof Error);
        return;
      }
      assert.deepEqual(DNSMessage.unpack(m.pack()).getState(), m.getState());
      m.fail(2).pack();
      JSON.stringify(dnsMessageJson(m));
      for (const rr of m.answers) rr.dataText();
      prettify('DNS-over-UDP', bytes);
    }),
    { numRuns: 3000 },
  );
});

const FILTER_TOKENS = ['~q', '~s', '~b', '~bq', '~h', '~u', '~d', '~t', '~c', '~m', '~e', '~all', '~dns', '~websocket', '~marked', '~meta', '~comment', '~src', '~dst', '!', '&', '|', '(', ')', '"', "'", '\\', ' ', 'a', '.*', '(a+)+', '[', ']', '{2}', '(?P<x>a)', '(?i)', '\\d', '(?<=a)', '*', '+', '?', '{', '}', '^', '$', '\0', 'é', '200', '-1', '99999999999999999999'];
const filterText = fc.oneof(fc.array(fc.constantFrom(...FILTER_TOKENS), { maxLength: 10 }).map((a) => a.join(' ')), fc.array(fc.constantFrom(...FILTER_TOKENS), { maxLength: 10 }).map((a) => a.join('')), fc.string({ maxLength: 30 }));

test('fuzz: a filter expression parses, or fails with FilterError; a parsed one matches every kind of flow', () => {
  const flows = [S(), W(), T(), D(), E()];
  fc.assert(
    fc.property(filterText, (text) => {
      let filter;
      try {
        filter = parse(text);
      } catch (e) {
        assert.ok(e instanceof FilterError, `${JSON.stringify(text)}: ${String(e)}`);
        return;
      }
      for (const f of flows) assert.equal(typeof filter.match(f), 'boolean');
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: cookie, multipart and urlencoded parsing take any text, and 1 MB of it in linear time', () => {
  const header = fc.string({ unit: fc.constantFrom(';', '=', ',', '"', ' ', 'a', '\t', '%', '+', '&', '-', '\r', '\n'), maxLength: 80 });
  fc.assert(
    fc.property(header, (h) => {
      parseCookieHeader(h);
      parseSetCookie(h);
      parseCookieHeaderIo(h);
      parseSetCookieHeader(h);
      parseUrlencoded(h);
      try {
        decodeMultipart('multipart/form-data; boundary=a', Buffer.from(h, 'latin1'));
      } catch (e) {
        assert.match((e as Error).message, /multipart part without a blank line/);
      }
    }),
    { numRuns: 2000 },
  );
  const MB = 1 << 20;
  for (const piece of [';', '=', '; a=', '"', ' ', '%', '%2', '&', '--a\r\n', 'name="']) {
    const text = piece.repeat(Math.ceil(MB / piece.length));
    const started = performance.now();
    parseCookieHeader(text);
    parseSetCookieHeader(text);
    parseUrlencoded(text);
    try {
      decodeMultipart('multipart/form-data; boundary=a', Buffer.from(text, 'latin1'));
    } catch {
      // refused, as it should be
    }
    const ms = performance.now() - started;
    assert.ok(ms < 3000, `${JSON.stringify(piece)}: ${ms.toFixed(0)} ms`);
  }
});
