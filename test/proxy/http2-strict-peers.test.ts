/**
 * HTTP/2 at the edges of the spec, as strict peers (nghttp2's tools, hyper-h2) see the proxy:
 * header blocks larger than one frame, and peers that break the protocol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { selfSignedCert } from './websocket-helpers.js';

/** A TLS h2 server answering every stream with `respond`; its port. Its sessions end with the test. */
async function h2Origin(t: TestContext, options: http2.SecureServerOptions, respond: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
  const server = http2.createSecureServer({ ...(await selfSignedCert()), ...options });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    respond(stream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** A reverse proxy to https://127.0.0.1:`port` recording finished flows, and an h2 client session to it. */
async function reverseH2(t: TestContext, port: number) {
  const flows: HTTPFlow[] = [];
  const record = (f: HTTPFlow) => void flows.push(f);
  const proxy = await testProxy(t, { addons: [{ name: 'record', response: record, error: record }], options: { mode: [`reverse:https://127.0.0.1:${port}`], ssl_insecure: true } });
  const session = http2.connect(`https://127.0.0.1:${proxy.port}`, { rejectUnauthorized: false });
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return { proxy, session, flows };
}

test('a response header block larger than node\'s 64 KiB default for sending (CONTINUATION frames) reaches the client whole', async (t) => {
  // ~120 KB of fields that HPACK cannot shrink much: well over one frame and over 64 KiB encoded,
  // within what an HTTP/2 peer may send in one header block.
  const big: http2.OutgoingHttpHeaders = {};
  for (let i = 0; i < 120; i++) big[`x-big-${i}`] = randomBytes(750).toString('base64');
  const port = await h2Origin(t, { maxSendHeaderBlockLength: 1 << 20 }, (stream) => {
    stream.respond({ ':status': 200, ...big });
    stream.end('ok');
  });
  const { session, flows } = await reverseH2(t, port);
  const result = await new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = session.request({ ':path': '/big' });
    let headers: http2.IncomingHttpHeaders = {};
    let body = '';
    req.on('response', (h) => (headers = h));
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => resolve({ headers, body }));
    req.on('error', reject);
  });
  assert.equal(result.headers[':status'], 200);
  assert.equal(result.body, 'ok');
  for (let i = 0; i < 120; i++) assert.equal(result.headers[`x-big-${i}`], big[`x-big-${i}`]);
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.error, null);
});
