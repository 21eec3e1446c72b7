/**
 * A large buffered body sent to an HTTP/2 peer that reads it slowly must not take its whole
 * connection down: node counts what waits in a session's outbound queue against the session's
 * memory limit (64 MB here) and refuses every other stream past it (ENHANCE_YOUR_CALM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';
import { tlsH2Server, waitFor } from './modes-helpers.js';

/** More than the sessions' maxSessionMemory. */
const BIG = Buffer.alloc(72 * 1024 * 1024, 0x61);

/** A request on `session`; resolves with its status, or its reset code as `rst N`. */
function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: !body });
    stream.on('error', () => undefined);
    let status = '';
    stream.on('response', (h) => (status = String(h[':status'])));
    stream.resume();
    stream.on('close', () => resolve(stream.rstCode ? `rst ${stream.rstCode}` : status));
    if (body) stream.end(body);
  });
}

test('a large buffered response to a slow HTTP/2 client leaves its other streams working', async (t) => {
  const server = await httpServer(t, (req, res) => res.end(req.url === '/big' ? BIG : 'small'));
  const proxy = await testProxy(t);
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const authority = `127.0.0.1:${server.port}`;
  // The client reads the first bytes of the big body, then stops reading.
  const big = session.request({ ':path': '/big', ':authority': authority });
  big.on('error', () => undefined);
  await new Promise<void>((resolve) => big.once('data', () => resolve()));
  big.pause();
  assert.equal(await request(session, { ':path': '/small', ':authority': authority }), '200');
});

test('a large buffered request to a slow HTTP/2 server leaves the other streams of its connection working', async (t) => {
  // An HTTP/2 server that does not read the big upload.
  let uploading = false;
  const server = await tlsH2Server(t, (req, res) => {
    if (req.url !== '/upload') return void res.end('small');
    uploading = true;
    req.pause();
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const authority = `localhost:${(server.address() as AddressInfo).port}`;
  void request(session, { ':method': 'POST', ':path': '/upload', ':scheme': 'https', ':authority': authority }, BIG);
  // The proxy buffers the upload, then sends it on; the next request shares that server connection.
  await waitFor(() => uploading, 20000, 'the upload at the server');
  assert.equal(await request(session, { ':path': '/small', ':scheme': 'https', ':authority': authority }), '200');
  assert.equal(proxy.logs.filter((l) => l.message.startsWith('server connect')).length, 1, 'one HTTP/2 connection to the server, shared');
});

test('an HTTP/2 server that answers before reading the upload (a 413) is answered at once, not after a body it never reads', async (t) => {
  const server = await tlsH2Server(t, (req) => {
    // Reads nothing of the body: the flow-control window stays shut after its first 64 KiB.
    req.pause();
    req.stream.respond({ ':status': 413 });
    req.stream.end('too big');
  });
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const authority = `localhost:${(server.address() as AddressInfo).port}`;
  const status = await new Promise<string>((resolve) => {
    const stream = session.request({ ':method': 'POST', ':path': '/upload', ':scheme': 'https', ':authority': authority });
    stream.on('error', () => undefined);
    stream.on('response', (h) => resolve(String(h[':status'])));
    stream.on('close', () => resolve(`closed (rst ${stream.rstCode})`));
    stream.end(Buffer.alloc(1024 * 1024, 0x61));
  });
  assert.equal(status, '413');
});
