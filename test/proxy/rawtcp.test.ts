/**
 * The rawtcp option off: bytes that are no HTTP are never relayed (as TCP flows or unseen); the
 * HTTP layer gets them, as in mitmproxy: a client's stray bytes are reported when it leaves, and
 * a server that speaks first is cut off with "Unexpected data from server".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testProxy } from '../helpers/proxy.js';
import { rawServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { recorder, waitFor } from './modes-helpers.js';

test('rawtcp off, client speaks first: its bytes go to the HTTP layer, never to the server', async (t) => {
  const echo = await rawServer(t, (s) => s.on('data', (d) => s.write(d)));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { rawtcp: false }, addons: [rec.addon] });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${echo.port}`);
  t.after(() => s.destroy());
  s.on('data', () => assert.fail('nothing may come back'));
  s.end(Buffer.from([0, 1, 2, 3]));
  await waitFor(() => proxy.logs.some((l) => l.message === 'client disconnect'), 10000, 'client disconnect');
  assert.ok(proxy.logs.some((l) => l.message === "Client closed connection before completing request headers: b'\\x00\\x01\\x02\\x03'"), proxy.logs.map((l) => l.message).join('\n'));
  assert.deepEqual(echo.received.flat(), [], 'the server got nothing');
  assert.equal(rec.tcp.length, 0);
});

test('rawtcp off, server speaks first: its greeting is dropped with its connection, the client is served HTTP', async (t) => {
  const greeter = await rawServer(t, (s) => s.write('220 greeting\r\n'));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { rawtcp: false }, addons: [rec.addon] });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${greeter.port}`);
  t.after(() => s.destroy());
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  await waitFor(() => proxy.logs.some((l) => l.message === "Unexpected data from server: b'220 greeting\\r\\n'"), 10000, 'the log line');
  await waitFor(() => proxy.logs.some((l) => l.message.startsWith('server disconnect')), 10000, 'server disconnect');
  s.write('hello\r\n\r\n');
  await waitFor(() => Buffer.concat(got).includes('\r\n\r\n'), 10000, 'an answer');
  assert.match(Buffer.concat(got).toString('latin1'), /^HTTP\/1\.1 400 /, 'the HTTP layer answered; no greeting reached the client');
  assert.equal(rec.tcp.length, 0);
});

// A greeting shorter than an HTTP/2 frame header that could begin one (three bytes whose length
// field is a multiple of 6, or one or two bytes) must not be held for the rest of a SETTINGS
// frame: the client waits for the greeting and sends nothing until it has it.
for (const greeting of ['hi\n', '> ']) {
  test(`rawtcp on, a server that greets with ${JSON.stringify(greeting)} and waits: the tunnel is TCP and the client gets it`, async (t) => {
    const greeter = await rawServer(t, (s) => {
      s.write(greeting);
      s.on('data', (d) => s.write(`echo ${d}`));
    });
    const rec = recorder();
    const proxy = await testProxy(t, { addons: [rec.addon] });
    const s = await connectTunnel(proxy.port, `127.0.0.1:${greeter.port}`);
    t.after(() => s.destroy());
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await waitFor(() => got === greeting, 10000, 'the greeting');
    s.write('x');
    await waitFor(() => got === `${greeting}echo x`, 10000, 'the echo');
    s.end();
    await waitFor(() => rec.tcp.length === 1, 10000, 'the TCP flow');
    assert.equal(rec.tcp[0]!.messages[0]?.content.toString('latin1'), greeting);
  });
}
