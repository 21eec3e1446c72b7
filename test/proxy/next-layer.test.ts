/**
 * Choosing the layer of a connection: the `next_layer` hook (the proxy's choice in `layer`, an
 * addon may change it) and what TLS without an HTTP ALPN carries (a server that greets first
 * makes it TCP, over the connection that was opened for the handshake).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HTTPFlow, NextLayerData, TCPFlow } from '../../src/index.js';
import { testProxy, testConfdir } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { connectTunnel, proxyCa } from '../helpers/tunnel.js';
import { httpsOrigin } from './modes-helpers.js';
import { CertStore } from '../../src/certs/index.js';

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await sleep(20);
  assert.ok(check(), `timed out waiting for ${what}`);
}

test('next_layer sees the proxy choice and the first bytes; "ignore" passes a tunnel through unrecorded', async (t) => {
  const up = await echoServer(t);
  const seen: Array<{ layer: string | null; client: string; host: string | undefined }> = [];
  const flows: HTTPFlow[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'chooser',
        next_layer(d: NextLayerData) {
          seen.push({ layer: d.layer, client: d.dataClient().toString('latin1').split('\r\n')[0]!, host: d.context.server.address?.[0] });
          if (d.dataClient().includes('/skip')) d.layer = 'ignore';
        },
        response: (f: HTTPFlow) => void flows.push(f),
      },
    ],
  });
  const normal = await curl(['-p', '-x', proxy.url, `${up.url}/kept`]);
  assert.equal(normal.status, 200);
  const skipped = await curl(['-p', '-x', proxy.url, `${up.url}/skip`]);
  assert.equal(skipped.status, 200, 'the passed-through request still reaches the server');
  assert.deepEqual(
    flows.map((f) => f.request.path),
    ['/kept'],
    'the ignored tunnel is not recorded',
  );
  // Each connection: the regular proxy's choice (HTTP, the CONNECT line), then the tunnel's.
  assert.deepEqual(seen, [
    { layer: 'http', client: `CONNECT 127.0.0.1:${up.port} HTTP/1.1`, host: undefined },
    { layer: 'http', client: 'GET /kept HTTP/1.1', host: '127.0.0.1' },
    { layer: 'http', client: `CONNECT 127.0.0.1:${up.port} HTTP/1.1`, host: undefined },
    { layer: 'http', client: 'GET /skip HTTP/1.1', host: '127.0.0.1' },
  ]);
});

test('next_layer: "tcp" records a tunnel as TCP; a layer that cannot serve the connection is refused with a warning', async (t) => {
  const up = await echoServer(t);
  const tcp: TCPFlow[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'chooser',
        next_layer(d: NextLayerData) {
          // Without a destination (the proxy's own first request) only HTTP or TLS can work.
          d.layer = 'tcp';
        },
        tcp_start: (f: TCPFlow) => void tcp.push(f),
      },
    ],
  });
  const r = await curl(['-p', '-x', proxy.url, `${up.url}/as-tcp`]);
  assert.equal(r.status, 200);
  assert.equal(tcp.length, 1);
  await until(() => tcp[0]!.messages.length >= 2, 'both directions recorded');
  assert.match(tcp[0]!.messages[0]!.content.toString(), /^GET \/as-tcp HTTP\/1\.1\r\n/);
  assert.ok(proxy.logs.some((e) => e.level === 'warn' && e.message.startsWith('next_layer: cannot serve this connection as "tcp" (possible here: "http", "tls")')));
});

test('TLS without an HTTP ALPN to a server that greets first is a TCP flow, over the one server connection', async (t) => {
  // A TLS server that speaks first (SMTPS, IMAPS): it never sees a second connection.
  const store = await CertStore.open({ confdir: testConfdir() });
  const leaf = await store.getCert({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
  let connections = 0;
  const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (s) => {
    connections++;
    s.write('* OK IMAP ready\r\n');
    s.on('data', (d) => s.write(`echo ${d}`));
    s.on('error', () => undefined);
  });
  server.on('connection', (s: net.Socket) => t.after(() => s.destroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const tcp: TCPFlow[] = [];
  const proxy = await testProxy(t, { options: { ssl_insecure: true }, addons: [{ name: 'spy', tcp_start: (f: TCPFlow) => void tcp.push(f) }] });
  const raw = await connectTunnel(proxy.port, `127.0.0.1:${port}`);
  const client = tls.connect({ socket: raw, ca: proxyCa(testConfdir()), servername: 'localhost' });
  t.after(() => client.destroy());
  const got: string[] = [];
  client.on('data', (d) => got.push(d.toString()));
  await until(() => got.join('') === '* OK IMAP ready\r\n', 'the greeting');
  client.write('a1 LOGOUT\r\n');
  await until(() => got.join('').endsWith('echo a1 LOGOUT\r\n'), 'the answer');
  assert.equal(tcp.length, 1);
  assert.equal(tcp[0]!.serverConn.tls, true);
  assert.deepEqual(tcp[0]!.messages.slice(0, 2).map((m) => [m.fromClient, m.content.toString()]), [
    [false, '* OK IMAP ready\r\n'],
    [true, 'a1 LOGOUT\r\n'],
  ]);
  assert.equal(connections, 1);
});

test('HTTPS without ALPN is still HTTP', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`hello ${req.url}`));
  const proxy = await testProxy(t, { options: { ssl_insecure: true } });
  const r = await curl(['--no-alpn', '--cacert', `${testConfdir()}/mitmproxy-ca-cert.pem`, '-x', proxy.url, `${origin.url}/plain`]);
  assert.equal(r.status, 200);
  assert.equal(r.stdout, 'hello /plain');
});

test('next_layer: TLS with the client only, plain bytes to the server, when the handler clears context.server.tls (mitmproxy\'s custom_next_layer example)', async (t) => {
  const up = await echoServer(t);
  const seen: string[] = [];
  const proxy = await testProxy(t, {
    options: { connection_strategy: 'lazy' },
    addons: [
      {
        name: 'downgrade',
        next_layer(d: NextLayerData) {
          const a = d.context.server.address;
          seen.push(`${d.layer} ${a?.join(':')} client.tls=${d.context.client.tls}`);
          if (a?.[0] === 'secure.invalid' && a[1] === 443) {
            d.context.server.address = ['127.0.0.1', up.port];
            d.context.client.alpn = null;
          } else if (a?.[1] === up.port && d.context.client.tls) {
            d.context.server.tls = false;
            d.layer = 'tcp';
          }
        },
      },
    ],
  });
  const raw = await connectTunnel(proxy.port, 'secure.invalid:443');
  const s = tls.connect({ socket: raw, ca: proxyCa(testConfdir()), servername: 'secure.invalid' });
  t.after(() => s.destroy());
  await once(s, 'secureConnect');
  s.write('GET /plain HTTP/1.1\r\nHost: secure.invalid\r\nConnection: close\r\n\r\n');
  let answer = '';
  s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  await until(() => answer.includes('"url":"/plain"'), 'the plain server\'s answer through the client TLS');
  assert.match(answer, /^HTTP\/1\.1 200 OK/);
  assert.deepEqual(seen.slice(1), ['tls secure.invalid:443 client.tls=false', `http 127.0.0.1:${up.port} client.tls=true`]);
});
