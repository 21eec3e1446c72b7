/**
 * Half-close in relays: a peer that sends FIN has finished sending, not receiving. A raw TCP or
 * passthrough relay passes each direction's FIN on without cutting the other direction short
 * (a client that sends its input and FIN at once, a server that greets and closes its side).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { testProxy } from '../helpers/proxy.js';
import { rawServer } from '../helpers/servers.js';
import { connectTunnel } from '../helpers/tunnel.js';
import { waitFor } from './modes-helpers.js';

/** Everything `s` receives until its peer's FIN (or close). */
function readToEnd(s: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => {
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    s.once('end', done);
    s.once('close', done);
  });
}

/** A server that reads until the client's FIN, then answers with what it got and closes. */
async function answerAfterEof(t: Parameters<typeof rawServer>[0]) {
  return rawServer(t, (s) => {
    s.allowHalfOpen = true;
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length));
    s.on('end', () => s.end(`got ${n} bytes`));
  });
}

test('raw TCP: the client half-closes, the server answers after its EOF', async (t) => {
  const server = await answerAfterEof(t);
  const proxy = await testProxy(t);
  const s = await connectTunnel(proxy.port, `127.0.0.1:${server.port}`);
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  const got = readToEnd(s);
  s.end(Buffer.from([0, 1, 2, 3, 4]));
  assert.equal(await got, 'got 5 bytes');
});

test('raw TCP: the server half-closes first, the client still sends to it', async (t) => {
  let serverGot = '';
  let serverEnded = false;
  const server = await rawServer(t, (s) => {
    s.allowHalfOpen = true;
    s.end('\x00greeting, then FIN');
    s.on('data', (d: Buffer) => (serverGot += d.toString('latin1')));
    s.on('end', () => (serverEnded = true));
  });
  // tcp_start takes its time: the server's FIN arrives before the relay starts.
  const slowStart = { tcp_start: () => new Promise<void>((r) => setTimeout(r, 500)) };
  const proxy = await testProxy(t, { addons: [slowStart] });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${server.port}`);
  t.after(() => s.destroy());
  s.allowHalfOpen = true;
  s.on('error', () => undefined);
  assert.equal(await readToEnd(s), '\x00greeting, then FIN');
  s.end('\x00client data after the server FIN');
  await waitFor(() => serverEnded, 10000, "the client's FIN at the server");
  assert.equal(serverGot, '\x00client data after the server FIN');
});

test('ignored host (passthrough): the client half-closes, the server answers after its EOF', async (t) => {
  const server = await answerAfterEof(t);
  const proxy = await testProxy(t, { options: { ignore_hosts: ['127.0.0.1'] } });
  const s = await connectTunnel(proxy.port, `127.0.0.1:${server.port}`);
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  const got = readToEnd(s);
  s.end(Buffer.from([0, 1, 2]));
  assert.equal(await got, 'got 3 bytes');
});
