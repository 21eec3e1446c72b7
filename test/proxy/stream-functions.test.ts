import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPFlow, StreamChunks } from '../../src/index.js';
import { curl } from '../helpers/clients.js';
import { flowRecorder } from '../helpers/recorder.js';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';

/**
 * mitmproxy's stream callable (examples/addons/http-stream-modify.py): called with every chunk
 * and once more with b"" at the end of the body. This one wraps every chunk in <...>, as several
 * chunks, and answers the end with "|END".
 */
function wrapper(calls: number[]): (chunk: Buffer) => StreamChunks {
  return (chunk) => {
    calls.push(chunk.length);
    return chunk.length ? [Buffer.from('<'), chunk, new Uint8Array([0x3e])] : Buffer.from('|END');
  };
}

/** The body a wrapped stream must arrive as: its chunks unwrapped give the original, the end marker follows once, unwrapped. */
function assertWrapped(received: string, original: string): void {
  assert.ok(received.endsWith('>|END'), `the end call's result is sent as it is, after the body: ${JSON.stringify(received.slice(-20))}`);
  const body = received.slice(0, -'|END'.length);
  assert.match(body, /^(<[^<>]+>)+$/, 'every chunk arrives wrapped');
  assert.equal(body.replace(/[<>]/g, ''), original);
}

test('a stream function gets each chunk and one empty call at the end; what it returns, one Buffer or several, is sent as it is', async (t) => {
  const up = await httpServer(t, (req, res) => {
    const got: Buffer[] = [];
    req.on('data', (c: Buffer) => got.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`got ${Buffer.concat(got).toString('base64')};`);
      setTimeout(() => res.end('second part'), 100);
    });
  });
  const requestCalls: number[] = [];
  const responseCalls: number[] = [];
  const rec = flowRecorder();
  const proxy = await testProxy(t, {
    options: { store_streamed_bodies: true },
    addons: [
      {
        requestheaders(f: HTTPFlow) {
          f.request.stream = wrapper(requestCalls);
        },
        responseheaders(f: HTTPFlow) {
          f.response!.stream = wrapper(responseCalls);
        },
      },
      rec.addon,
    ],
  });
  const r = await curl(['-x', proxy.url, '--data-binary', 'hello upstream', `${up.url}/s`]);
  assert.equal(r.status, 200, r.stderr);
  // The server saw the request body as the function made it, end marker included, exactly once;
  // the response body is what the server sent, wrapped in turn.
  const unwrapped = r.stdout.slice(0, -'|END'.length).replace(/[<>]/g, '');
  const echoed = /^got ([A-Za-z0-9+/=]*);second part$/.exec(unwrapped)?.[1];
  assert.ok(echoed !== undefined, r.stdout);
  const sentUpstream = Buffer.from(echoed, 'base64').toString();
  assertWrapped(sentUpstream, 'hello upstream');
  assertWrapped(r.stdout, `got ${echoed};second part`);
  for (const calls of [requestCalls, responseCalls]) {
    assert.equal(calls.filter((n) => n === 0).length, 1, `one end call: ${JSON.stringify(calls)}`);
    assert.equal(calls.at(-1), 0, 'the end call comes last');
  }
  const f = rec.flows[0]!;
  assert.equal(f.request.rawContent!.toString(), sentUpstream, 'store_streamed_bodies keeps what was sent');
  assert.equal(f.response!.rawContent!.toString(), r.stdout);
});

test('a stream function that throws (also as a generator, on either side) or returns text fails its flow with a 502 naming the problem; the proxy keeps serving', async (t) => {
  const up = await httpServer(t, (req, res) => {
    req.resume();
    req.on('end', () => res.end('fine'));
  });
  const rec = flowRecorder();
  const proxy = await testProxy(t, {
    addons: [
      {
        requestheaders(f: HTTPFlow) {
          if (f.request.path === '/text') f.request.stream = ((c: Buffer) => c.toString()) as unknown as (c: Buffer) => StreamChunks;
          if (f.request.path === '/throws') {
            f.request.stream = () => {
              throw new Error('boom');
            };
          }
          // A generator throws only when it is iterated, after the call returned.
          if (f.request.path === '/gen-request') {
            f.request.stream = function* () {
              throw new Error('generator boom');
            };
          }
        },
        responseheaders(f: HTTPFlow) {
          if (f.request.path === '/gen-response') {
            f.response!.stream = function* (c: Buffer) {
              if (c.length) throw new Error('response generator boom');
            };
          }
        },
      },
      rec.addon,
    ],
  });
  const text = await curl(['-x', proxy.url, '--data-binary', 'abc', `${up.url}/text`]);
  assert.equal(text.status, 502);
  assert.match(text.stdout, /A stream function must return a Buffer, an iterable of Buffers, or nothing; it returned a string\./);
  const throws = await curl(['-x', proxy.url, '--data-binary', 'abc', `${up.url}/throws`]);
  assert.equal(throws.status, 502);
  assert.match(throws.stdout, /Error in stream function: boom/);
  const genRequest = await curl(['-x', proxy.url, '--data-binary', 'abc', `${up.url}/gen-request`]);
  assert.equal(genRequest.status, 502);
  assert.match(genRequest.stdout, /Error in stream function: generator boom/);
  // The response head is out when the body's first chunk fails: the client sees a cut response.
  await curl(['-x', proxy.url, `${up.url}/gen-response`]);
  assert.deepEqual(
    rec.flows.map((f) => f.error?.msg),
    [
      'A stream function must return a Buffer, an iterable of Buffers, or nothing; it returned a string.',
      'Error in stream function: boom',
      'Error in stream function: generator boom',
      'Error in stream function: response generator boom',
    ],
  );
  const after = await curl(['-x', proxy.url, `${up.url}/after`]);
  assert.equal(after.stdout, 'fine');
});
