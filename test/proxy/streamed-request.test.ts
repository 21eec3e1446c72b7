/**
 * StreamedRequest on its own, with a fake server side: what a flow keeps of a streamed request
 * body and how the request ends, whatever way it stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionHooks } from '../../src/proxy/connection-hooks.js';
import type { UpstreamExchange } from '../../src/proxy/http-stream.js';
import { StreamedRequest } from '../../src/proxy/streamed-request.js';
import { tflow } from '../web/fixtures.js';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

/** A server side whose writes fail from the `failAt`-th on (0: never); what it took is in `written`. */
function fakeUpstream(failAt: number): UpstreamExchange & { written: string[]; ended: boolean } {
  const written: string[] = [];
  const up = {
    written,
    ended: false,
    writeRequestData: async (c: Buffer) => {
      if (failAt && written.length + 1 >= failAt) throw new Error('EPIPE');
      written.push(c.toString());
    },
    endRequest: async () => void (up.ended = true),
  };
  return up as unknown as UpstreamExchange & { written: string[]; ended: boolean };
}

const noHooks = { triggerFlow: async () => undefined } as unknown as ConnectionHooks;

test('a streamed request the server stopped taking keeps what went out (store_streamed_bodies)', async () => {
  const flow = tflow();
  const up = fakeUpstream(3);
  const sr = new StreamedRequest(noHooks, flow, up, [Buffer.from('a')], chunks('b', 'c', 'd'), true, () => null);
  const end = await sr.ended;
  assert.equal(end.kind, 'server-stopped');
  assert.deepEqual(up.written, ['a', 'b']);
  // What the recorder holds: each chunk is recorded as it goes to the server's side.
  assert.equal(flow.request.rawContent?.toString(), 'abc');
  assert.equal(sr.sent, false);
  assert.equal(sr.bodyRead, false);
});

test('a streamed request sent whole says so synchronously (sent) and keeps its body', async () => {
  const flow = tflow();
  const up = fakeUpstream(0);
  const sr = new StreamedRequest(noHooks, flow, up, [], chunks('x', 'y'), true, () => null);
  assert.equal(sr.sent, false);
  assert.deepEqual(await sr.ended, { kind: 'sent' });
  assert.equal(sr.sent, true);
  assert.equal(up.ended, true);
  assert.equal(flow.request.rawContent?.toString(), 'xy');
});
