/**
 * reverse mode: http and https targets (Host header per keep_host_header, upstream certificate
 * verified unless ssl_insecure, the target's name as SNI), TLS clients terminated by the proxy
 * (the leaf names 127.0.0.1 / the client's SNI), WebSocket upgrades (ws:// and wss:// targets),
 * raw tcp:// and tls:// targets (server-first protocols through the eager connection), and what
 * a client sees when the target is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer, httpServer, rawServer } from '../helpers/servers.js';
import { ProxyMode } from '../../src/proxy/modes.js';
import { RawClient, httpsOrigin, proxyCaFile, recorder, waitFor } from './modes-helpers.js';

test('reverse:http: requests go to the target, Host rewritten (non-default port kept) unless keep_host_header', async (t) => {
  const up = await echoServer(t);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${up.port}`] }, addons: [rec.addon] });
  const r = await curl([`http://127.0.0.1:${proxy.port}/path?q=1`]);
  assert.equal(r.status, 200, r.stderr);
  const echoed = JSON.parse(r.stdout);
  assert.equal(echoed.url, '/path?q=1');
  assert.equal(echoed.rawHeaders[echoed.rawHeaders.findIndex((h: string) => h.toLowerCase() === 'host') + 1], `127.0.0.1:${up.port}`);
  const f = rec.flows[0]!;
  assert.equal(f.request.host, '127.0.0.1');
  assert.equal(f.request.port, up.port);
  assert.equal(f.request.scheme, 'http');
  assert.equal(f.clientConn.proxyMode, `reverse:http://127.0.0.1:${up.port}`);

  const keep = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${up.port}`], keep_host_header: true } });
  const k = await curl(['-H', 'Host: public.example', `http://127.0.0.1:${keep.port}/k`]);
  const ke = JSON.parse(k.stdout);
  assert.equal(ke.rawHeaders[ke.rawHeaders.findIndex((h: string) => h.toLowerCase() === 'host') + 1], 'public.example');
});

test('reverse:https to an HTTPS upstream: verified against ssl_verify_upstream_trusted_ca, refused without it, allowed with ssl_insecure', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`secure ${req.url} host=${req.headers.host}`));
  const proxy = await testProxy(t, { options: { mode: [`reverse:https://localhost:${origin.port}`], ssl_verify_upstream_trusted_ca: origin.caFile } });
  const r = await curl([`http://127.0.0.1:${proxy.port}/a`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, `secure /a host=localhost:${origin.port}`);
  assert.deepEqual(origin.servernames, ['localhost']);

  const rec = recorder();
  const strict = await testProxy(t, { options: { mode: [`reverse:https://localhost:${origin.port}`] }, addons: [rec.addon] });
  const bad = await curl([`http://127.0.0.1:${strict.port}/b`]);
  assert.equal(bad.status, 502);
  assert.match(bad.stdout, /Certificate verify failed/);
  assert.match(rec.flows[0]!.error!.msg, /Certificate verify failed/);

  const insecure = await testProxy(t, { options: { mode: [`reverse:https://localhost:${origin.port}`], ssl_insecure: true } });
  const ok = await curl([`http://127.0.0.1:${insecure.port}/c`]);
  assert.equal(ok.status, 200, ok.stderr);
});

test('a TLS client to the reverse proxy: curl --cacert <CA> https://127.0.0.1:PORT/ works; the leaf names 127.0.0.1', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`hello ${req.url}`));
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:https://localhost:${origin.port}`], ssl_verify_upstream_trusted_ca: origin.caFile }, addons: [rec.addon] });
  const r = await curl(['--cacert', await proxyCaFile(), `https://127.0.0.1:${proxy.port}/tls`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'hello /tls');
  const f = rec.flows[0]!;
  assert.equal(f.clientConn.tls, true);
  assert.equal(f.clientConn.sni, null, 'curl sends no SNI for an IP address');
  assert.deepEqual(origin.servernames, ['localhost'], "the target's name goes upstream as SNI");

  const ca = await proxyCaFile();
  const san = await new Promise<string | undefined>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: readFileSync(ca), checkServerIdentity: () => undefined }, () => {
      resolve(s.getPeerCertificate().subjectaltname);
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.ok(san?.split(', ').includes('IP Address:127.0.0.1'), `SANs: ${san}`);
  assert.ok(san?.split(', ').includes('DNS:localhost'), `the upstream certificate's names are copied (upstream_cert): ${san}`);

  // With an SNI of its own the client gets a leaf for that name; upstream still sees the target's name.
  const named = await curl(['--cacert', await proxyCaFile(), '--resolve', `proxy.test:${proxy.port}:127.0.0.1`, `https://proxy.test:${proxy.port}/named`]);
  assert.equal(named.status, 200, named.stderr);
  assert.equal(origin.servernames.at(-1), 'localhost');
});

test('reverse:https, eager: the target\'s TLS handshake comes before the client\'s (its ALPN choice and certificate names reach the client)', async (t) => {
  // The origin speaks HTTP/1.1 only: an h2-capable client must not be handed h2 it would then
  // speak to a proxy that translates, but http/1.1 as the server chose; and a client without
  // SNI gets the target certificate's names.
  const origin = await httpsOrigin(t, (req, res) => res.end(`hello ${req.url}`));
  const rec = recorder();
  const proxy = await testProxy(t, {
    options: { mode: [`reverse:https://localhost:${origin.port}`], ssl_verify_upstream_trusted_ca: origin.caFile, connection_strategy: 'eager' },
    addons: [rec.addon],
  });
  const ca = readFileSync(await proxyCaFile());
  const { alpn, san } = await new Promise<{ alpn: string | false | null; san: string | undefined }>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: proxy.port, ca, ALPNProtocols: ['h2', 'http/1.1'], checkServerIdentity: () => undefined }, () => {
      resolve({ alpn: s.alpnProtocol, san: s.getPeerCertificate().subjectaltname });
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(alpn, 'http/1.1', 'the server chose http/1.1');
  assert.ok(san?.split(', ').includes('DNS:localhost'), `the upstream certificate's names are in the leaf: ${san}`);
  const r = await curl(['--cacert', await proxyCaFile(), `https://127.0.0.1:${proxy.port}/eager`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'hello /eager');
  const f = rec.flows.find((x) => x.request.path === '/eager')!;
  assert.equal(f.request.httpVersion, 'HTTP/1.1', 'curl offers h2 but gets the server\'s http/1.1');
  assert.equal(f.clientConn.alpn, 'http/1.1');
});

test('TLS termination in front of a plain HTTP backend (reverse:http with a TLS client)', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${up.port}`] } });
  const r = await curl(['--cacert', await proxyCaFile(), `https://127.0.0.1:${proxy.port}/terminated`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(JSON.parse(r.stdout).url, '/terminated');
});

test('WebSocket upgrades are routed to the target: reverse:http:// and the ws:// / wss:// aliases', async (t) => {
  assert.equal(ProxyMode.parse('reverse:ws://example.com').server?.scheme, 'http');
  assert.deepEqual(ProxyMode.parse('reverse:wss://example.com').server, { scheme: 'https', address: ['example.com', 443] });
  assert.equal(ProxyMode.parse('reverse:wss://example.com:8443@9000').description, 'reverse proxy to wss://example.com:8443');

  const server = await httpServer(t, (_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server: server.server });
  t.after(() => wss.close());
  wss.on('connection', (ws, req) => ws.on('message', (m) => ws.send(`echo ${m} via ${req.headers.host}`)));
  for (const spec of [`reverse:http://127.0.0.1:${server.port}`, `reverse:ws://127.0.0.1:${server.port}`]) {
    const rec = recorder();
    const proxy = await testProxy(t, { options: { mode: [spec] }, addons: [rec.addon] });
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/socket`);
    t.after(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('hi');
    assert.equal(await reply, `echo hi via 127.0.0.1:${server.port}`, spec);
    assert.equal(rec.flows[0]!.response!.statusCode, 101);
    ws.close();
  }
});

test('reverse:tcp and reverse:tls: raw bytes relayed as TCP flows; a server that speaks first is heard', async (t) => {
  const greeter = await rawServer(t, (s) => {
    s.write('220 ready\r\n');
    s.on('data', (d) => s.write(`got ${d}`));
  });
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:tcp://127.0.0.1:${greeter.port}`] }, addons: [rec.addon] });
  const c = await RawClient.connect(proxy.port, t);
  assert.equal((await c.read(11)).toString(), '220 ready\r\n', 'the eager connection lets the server speak first');
  c.write('hello');
  assert.equal((await c.read(9)).toString(), 'got hello');
  c.socket.end();
  await waitFor(() => rec.tcp.length === 1, 5000, 'tcp flow');
  assert.deepEqual(
    rec.tcp[0]!.messages.map((m) => [m.fromClient, m.content.toString()]),
    [
      [false, '220 ready\r\n'],
      [true, 'hello'],
      [false, 'got hello'],
    ],
  );

  // tls://: the client's TLS is terminated, the target gets its own TLS connection.
  const origin = await httpsOrigin(t, () => undefined);
  origin.server.removeAllListeners('request');
  origin.server.removeAllListeners('secureConnection');
  origin.server.on('secureConnection', (s: tls.TLSSocket) => {
    origin.servernames.push(String((s as tls.TLSSocket & { servername?: string }).servername ?? ''));
    s.on('data', (d) => s.write(`tls:${d}`));
  });
  const tp = await testProxy(t, { options: { mode: [`reverse:tls://localhost:${origin.port}`], ssl_verify_upstream_trusted_ca: origin.caFile } });
  const ca = await proxyCaFile();
  const reply = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: tp.port, ca: readFileSync(ca) }, () => s.write('ping'));
    s.on('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(reply, 'tls:ping');
  assert.equal(origin.servernames.at(-1), 'localhost');
});

test('reverse:tls wraps a plaintext client in TLS upstream; reverse:tcp unwraps a TLS client to plain TCP', async (t) => {
  const origin = await httpsOrigin(t, () => undefined);
  // A TLS echo: node's own HTTP handling of the connection is taken off.
  origin.server.removeAllListeners('secureConnection');
  origin.server.on('secureConnection', (s: tls.TLSSocket) => {
    origin.servernames.push(String((s as tls.TLSSocket & { servername?: string }).servername ?? ''));
    s.on('data', (d) => s.write(`tls:${d}`));
  });
  const rec = recorder();
  const tp = await testProxy(t, { options: { mode: [`reverse:tls://localhost:${origin.port}`], ssl_verify_upstream_trusted_ca: origin.caFile }, addons: [rec.addon] });
  const c = await RawClient.connect(tp.port, t);
  c.write('ping');
  assert.equal((await c.read(8)).toString(), 'tls:ping');
  assert.equal(origin.servernames.at(-1), 'localhost', 'the target name is the SNI');
  c.socket.end();
  await waitFor(() => rec.tcp.length === 1, 5000, 'tcp flow');
  assert.equal(rec.tcp[0]!.serverConn.tls, true);

  const plain = await rawServer(t, (s) => s.on('data', (d) => s.write(`plain:${d}`)));
  const pp = await testProxy(t, { options: { mode: [`reverse:tcp://127.0.0.1:${plain.port}`] } });
  const ca = await proxyCaFile();
  const reply = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: pp.port, ca: readFileSync(ca) }, () => s.write('pong'));
    t.after(() => s.destroy());
    s.on('data', (d) => resolve(d.toString()));
    s.on('error', reject);
    s.on('close', () => reject(new Error('closed without a reply')));
    setTimeout(() => reject(new Error('no reply within 10 s')), 10000).unref();
  });
  assert.equal(reply, 'plain:pong');
  assert.equal(Buffer.concat(plain.received.at(-1)!).toString(), 'pong', 'the server got the decrypted bytes, no TLS');
});

test('reverse:http serves HTTP whatever the client sends: bytes that are no HTTP are refused, not relayed', async (t) => {
  // mitmproxy's _setup_reverse_proxy: the scheme names the layers, nothing is sniffed.
  const backend = await rawServer(t, () => undefined);
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${backend.port}`] }, addons: [rec.addon] });
  const c = await RawClient.connect(proxy.port, t);
  c.write(Buffer.from('\x00\x01binary\r\n\r\n', 'latin1'));
  assert.match((await c.read(12)).toString(), /^HTTP\/1\.1 400/);
  await waitFor(() => proxy.logs.some((l) => l.message === 'client disconnect'), 10000, 'client disconnect');
  assert.equal(rec.tcp.length, 0, 'no TCP flow');
  assert.deepEqual(backend.received.flat(), [], 'the backend got nothing');
});

test('a backend that drops the idle eager connection before the first request: still HTTP, on a new connection', async (t) => {
  const accepted: number[] = [];
  const backend = await rawServer(t, (s, i) => {
    accepted.push(i);
    if (i === 0) {
      s.end();
      return;
    }
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfresh'));
  });
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${backend.port}`] }, addons: [rec.addon] });
  const c = await RawClient.connect(proxy.port, t);
  await waitFor(() => accepted.length === 1, 5000, 'eager connection');
  await new Promise((r) => setTimeout(r, 200));
  c.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
  const resp = (await c.read(1000, 5000)).toString();
  assert.match(resp, /^HTTP\/1\.1 200 OK\r\n[\s\S]*fresh$/);
  assert.equal(rec.flows.length, 1, 'an HTTP flow');
  assert.equal(rec.tcp.length, 0, 'not a raw TCP relay');
  assert.equal(backend.connections, 2);
});

test('target down (eager): the client is disconnected, HTTP or raw TCP, with one log line', async (t) => {
  // mitmproxy's ReverseProxy layer closes the client when its eager connection fails: no 502 page.
  const dead = await closedPort();
  const rec = recorder();
  const proxy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${dead}`] }, addons: [rec.addon] });
  const r = await curl([`http://127.0.0.1:${proxy.port}/`]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /Empty reply from server/);
  assert.equal(rec.flows.length, 0);
  const failures = (p: typeof proxy) => p.logs.filter((l) => /connect/i.test(l.message) && /refused/i.test(l.message)).map((l) => l.message);
  await waitFor(() => proxy.logs.some((l) => l.message === 'client disconnect'), 5000, 'client disconnect');
  assert.deepEqual(failures(proxy), [`error establishing server connection: Connection refused (127.0.0.1:${dead})`]);

  const tcp = await testProxy(t, { options: { mode: [`reverse:tcp://127.0.0.1:${dead}`] } });
  const c = await RawClient.connect(tcp.port, t);
  assert.equal(await c.closed(), true);
  await waitFor(() => tcp.logs.some((l) => l.message === 'client disconnect'), 5000, 'client disconnect');
  assert.deepEqual(failures(tcp), [`error establishing server connection: Connection refused (127.0.0.1:${dead})`]);

  // With the lazy strategy there is no early connection: each request gets the 502 page.
  const lazy = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${dead}`], connection_strategy: 'lazy' } });
  const l = await curl([`http://127.0.0.1:${lazy.port}/`]);
  assert.equal(l.status, 502);
  assert.match(l.stdout, /Connection refused/);

  // And the proxy is still fine for the next client of a live target.
  const up = await echoServer(t);
  const live = await testProxy(t, { options: { mode: [`reverse:http://127.0.0.1:${up.port}`] } });
  const ok = await new Promise<number>((resolve, reject) => {
    const s = net.connect(live.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    s.once('data', (d) => {
      resolve(Number(d.toString().split(' ')[1]));
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(ok, 200);
});
