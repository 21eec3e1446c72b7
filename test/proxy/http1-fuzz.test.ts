import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpSyntaxError, parseRequestHead, parseResponseHead } from '../../src/proxy/http1/parse.js';
import { FramingError, requestBodyFraming, validateFraming } from '../../src/proxy/http1/framing.js';
import { testProxy } from '../helpers/proxy.js';
import { curl, rawRequest } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';

const VALID = 'POST http://example.com/path?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n';

/** Random cut-and-splice mutations of a valid head (the shape of mitmproxy's hypothesis fuzzing). */
const mutated = fc
  .tuple(fc.nat(VALID.length), fc.nat(VALID.length), fc.uint8Array({ maxLength: 12 }))
  .map(([a, b, bytes]) => {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    return Buffer.concat([Buffer.from(VALID.slice(0, lo), 'latin1'), Buffer.from(bytes), Buffer.from(VALID.slice(hi), 'latin1'), Buffer.from('\r\n\r\n')]);
  });

test('the HTTP/1 head parsers and framing checks only ever fail with their own errors', () => {
  fc.assert(
    fc.property(mutated, (input) => {
      try {
        const head = parseRequestHead(input);
        try {
          validateFraming(head.headers, { isRequest: true, httpVersion: head.httpVersion });
          requestBodyFraming(head.headers);
        } catch (e) {
          if (!(e instanceof FramingError)) throw e;
        }
      } catch (e) {
        if (!(e instanceof HttpSyntaxError) && !(e instanceof FramingError)) throw e;
      }
      try {
        parseResponseHead(input);
      } catch (e) {
        if (!(e instanceof HttpSyntaxError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

test('random garbage and mutated requests never take the proxy down', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  const samples = fc.sample(fc.oneof(mutated, fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b))), 60);
  for (const s of samples) {
    await rawRequest(proxy.port, s, { idleMs: 200 }).catch(() => Buffer.alloc(0));
  }
  const r = await curl(['-x', proxy.url, `${up.url}/still-alive`]);
  assert.equal(r.status, 200);
});

test('a client that sends part of a method name and hangs up does not stall the proxy (found by the fuzz test)', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  await rawRequest(proxy.port, 'EO+', { idleMs: 200 });
  await rawRequest(proxy.port, 'GE', { idleMs: 200 });
  const r = await curl(['-x', proxy.url, `${up.url}/after`], { timeoutMs: 10000 });
  assert.equal(r.status, 200);
});
