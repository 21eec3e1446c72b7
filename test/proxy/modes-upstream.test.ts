/**
 * upstream mode: curl -> our proxy (upstream:...) -> a second in-process proxy (regular mode)
 * -> origin, for http and https, with upstream_auth against a second proxy that wants
 * proxyauth; the exact bytes sent to an upstream proxy (absolute form, CONNECT, headers); and
 * every failure path (refused CONNECT, dead or garbage-speaking upstream proxy; for a tunnel,
 * reported inside it after the client's CONNECT got its 200, as mitmproxy does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { closedPort, echoServer, rawServer } from '../helpers/servers.js';
import { httpsOrigin, proxyCaFile, recorder, waitFor } from './modes-helpers.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

test('plain http through two chained proxies: absolute form to the upstream proxy, via recorded', async (t) => {
  const up = await echoServer(t);
  const second = recorder();
  const p2 = await testProxy(t, { addons: [second.addon] });
  const first = recorder();
  const p1 = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${p2.port}`] }, addons: [first.addon] });
  assert.equal(p1.listeners[0]!.mode, `upstream:http://127.0.0.1:${p2.port}`);

  for (const path of ['/one?a=1', '/two']) {
    const r = await curl(['-x', p1.url, `http://127.0.0.1:${up.port}${path}`]);
    assert.equal(r.status, 200, r.stderr);
    assert.equal(JSON.parse(r.stdout).url, path, 'the origin gets the request in origin form from the second proxy');
  }
  const f = first.flows[0]!;
  assert.equal(f.request.authority, `127.0.0.1:${up.port}`, 'upstream mode keeps the absolute form');
  assert.deepEqual(f.serverConn.via, ['http', ['127.0.0.1', p2.port]]);
  assert.deepEqual(f.serverConn.address, ['127.0.0.1', up.port]);
  assert.deepEqual(f.serverConn.peername?.slice(0, 2), ['127.0.0.1', p2.port], 'the TCP peer is the upstream proxy');
  assert.equal(second.flows.length, 2, 'both requests went through the second proxy');
  assert.equal(second.flows[0]!.request.host, '127.0.0.1');
  assert.equal(second.flows[0]!.request.port, up.port);
  assert.equal(first.connectsUpstream.length, 0, 'no CONNECT for plain requests');
});

test('the bytes an upstream proxy receives: absolute-form requests with Proxy-Authorization, one connection per origin', async (t) => {
  const fake = await rawServer(t, (s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  const p1 = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${fake.port}`], upstream_auth: 'me:pw' } });
  const r = await curl(['-x', p1.url, 'http://origin.example:8000/path?q=1', 'http://origin.example:8000/again']);
  assert.equal(r.status, 200, r.stderr);
  const sent = Buffer.concat(fake.received[0]!).toString('latin1');
  assert.match(sent, /^GET http:\/\/origin\.example:8000\/path\?q=1 HTTP\/1\.1\r\n/);
  assert.match(sent, /\r\nGET http:\/\/origin\.example:8000\/again HTTP\/1\.1\r\n/, 'the second request reuses the proxy connection');
  assert.equal(sent.match(/Proxy-Authorization: (.*)\r\n/g)?.length, 2);
  assert.ok(sent.includes(`Proxy-Authorization: ${basic('me:pw')}\r\n`));
  assert.equal(fake.connections, 1);

  // An origin-form request with a Host header is sent to the proxy in absolute form too.
  const raw = await curl(['--request-target', '/origin-form', '-H', 'Host: other.example', p1.url]);
  assert.equal(raw.status, 200, raw.stderr);
  assert.match(Buffer.concat(fake.received.at(-1)!).toString('latin1'), /^GET http:\/\/other\.example\/origin-form HTTP\/1\.1\r\n/);
});

test('https through two chained proxies: CONNECT upstream, TLS intercepted on both, certificates verified at every hop', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`secure ${req.method} ${req.url}`));
  const second = recorder();
  // Both proxies use this process's CA: the first one trusts it for the second one's leaves.
  const p2 = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: origin.caFile }, addons: [second.addon] });
  const first = recorder();
  const p1 = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${p2.port}`], ssl_verify_upstream_trusted_ca: await proxyCaFile() }, addons: [first.addon] });

  const r = await curl(['-x', p1.url, '--cacert', await proxyCaFile(), `${origin.url}/tls?x=1`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'secure GET /tls?x=1');

  assert.equal(first.connectsUpstream.length, 1, 'http_connect_upstream fired');
  const c = first.connectsUpstream[0]!;
  assert.equal(c.request.method, 'CONNECT');
  assert.equal(c.request.authority, `localhost:${origin.port}`);
  assert.equal(c.request.headers.get('host'), `localhost:${origin.port}`);
  assert.deepEqual(c.serverConn.address, ['127.0.0.1', p2.port], 'the CONNECT flow is about the proxy connection');

  const f = first.flows[0]!;
  assert.equal(f.request.scheme, 'https');
  assert.equal(f.request.host, 'localhost');
  assert.deepEqual(f.serverConn.via, ['http', ['127.0.0.1', p2.port]]);
  assert.equal(f.serverConn.tls, true);
  assert.equal(f.serverConn.sni, 'localhost');
  assert.ok(f.serverConn.certificateList.length > 0, "the first proxy saw the second proxy's leaf");
  assert.equal(second.flows.length, 1);
  assert.equal(second.flows[0]!.request.scheme, 'https');
  assert.deepEqual(origin.servernames, ['localhost']);
});

test('upstream:https:// proxy: TLS to the proxy itself, then CONNECT and TLS inside it', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('inner'));
  const up = await echoServer(t);
  const p2 = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: origin.caFile } });
  const p1 = await testProxy(t, { options: { mode: [`upstream:https://127.0.0.1:${p2.port}`], ssl_verify_upstream_trusted_ca: await proxyCaFile() } });
  const r = await curl(['-x', p1.url, '--cacert', await proxyCaFile(), `${origin.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'inner');
  const plain = await curl(['-x', p1.url, `http://127.0.0.1:${up.port}/plain`]);
  assert.equal(plain.status, 200, plain.stderr);
  assert.equal(JSON.parse(plain.stdout).url, '/plain');
});

test('upstream_auth with a second proxy that requires proxyauth; without it the refusal reaches the client', async (t) => {
  const up = await echoServer(t);
  const origin = await httpsOrigin(t, (_req, res) => res.end('authorized'));
  const p2 = await testProxy(t, { options: { proxyauth: 'alice:s3cret', ssl_verify_upstream_trusted_ca: origin.caFile } });
  const authed = await testProxy(t, {
    options: { mode: [`upstream:http://127.0.0.1:${p2.port}`], upstream_auth: 'alice:s3cret', ssl_verify_upstream_trusted_ca: await proxyCaFile() },
  });
  const h = await curl(['-x', authed.url, `http://127.0.0.1:${up.port}/a`]);
  assert.equal(h.status, 200, h.stderr);
  assert.ok(!JSON.parse(h.stdout).rawHeaders.map((x: string) => x.toLowerCase()).includes('proxy-authorization'), 'the second proxy consumed the credentials');
  const s = await curl(['-x', authed.url, '--cacert', await proxyCaFile(), `${origin.url}/s`]);
  assert.equal(s.status, 200, s.stderr);
  assert.equal(s.stdout, 'authorized');

  const rec = recorder();
  const anon = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${p2.port}`] }, addons: [rec.addon] });
  const h407 = await curl(['-x', anon.url, `http://127.0.0.1:${up.port}/b`]);
  assert.equal(h407.status, 407, 'a plain request gets the upstream proxy answer as it is');
  // The CONNECT is answered at once (mitmproxy's upstream mode); the refusal shows inside the tunnel.
  const refused = await curl(['-x', anon.url, '--cacert', await proxyCaFile(), `${origin.url}/s`]);
  assert.equal(refused.status, 502, refused.stderr);
  assert.match(refused.stdout, new RegExp(`Upstream proxy 127\\.0\\.0\\.1:${p2.port} refused HTTP CONNECT request: 407 Proxy Authentication Required`));
  assert.doesNotMatch(refused.stdout, /connection_strategy/);
  assert.equal(rec.hooks.find((h) => h.startsWith('http_connect_error')), undefined, 'the CONNECT itself succeeded');
  assert.ok(
    rec.hooks.includes(`server_connect_error Upstream proxy 127.0.0.1:${p2.port} refused HTTP CONNECT request: 407 Proxy Authentication Required`),
    rec.hooks.join('\n'),
  );
});

test('CONNECT bytes: Host header per http_connect_send_host_header, Proxy-Authorization from upstream_auth, addon edits kept', async (t) => {
  const seen: string[] = [];
  const fake = await rawServer(t, (s) => {
    s.once('data', (d) => {
      seen.push(d.toString('latin1'));
      s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    });
  });
  const withHost = await testProxy(t, {
    options: { mode: [`upstream:http://127.0.0.1:${fake.port}`], upstream_auth: 'u:p' },
    addons: [{ name: 'edit', http_connect_upstream: (f: { request: { headers: { set(n: string, v: string): void } } }) => f.request.headers.set('X-Extra', '1') }],
  });
  const r = await curl(['-x', withHost.url, '-k', 'https://[::1]:8443/']);
  assert.equal(r.status, 502, r.stderr);
  // The addon runs where scripts do, before upstream_auth (as in mitmproxy), so its header comes first.
  assert.equal(seen[0], `CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nX-Extra: 1\r\nProxy-Authorization: ${basic('u:p')}\r\n\r\n`);

  const noHost = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${fake.port}`], http_connect_send_host_header: false } });
  await curl(['-x', noHost.url, '-k', 'https://bücher.example/']);
  assert.equal(seen[1], 'CONNECT xn--bcher-kva.example:443 HTTP/1.1\r\n\r\n', 'IDNA host, no Host header');
});

test('failures: dead upstream proxy, garbage answer, silent close: a 502 with the reason, the error hook and a log line', async (t) => {
  const dead = await closedPort();
  const rec = recorder();
  const p = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${dead}`] }, addons: [rec.addon] });
  const h = await curl(['-x', p.url, 'http://example.test/']);
  assert.equal(h.status, 502);
  assert.match(h.stdout, new RegExp(`Cannot connect to upstream proxy 127\\.0\\.0\\.1:${dead}: Connection refused`));
  assert.equal(rec.flows.length, 1);
  assert.match(rec.flows[0]!.error!.msg, /Cannot connect to upstream proxy/);
  await waitFor(() => p.logs.some((l) => l.message.includes('Cannot connect to upstream proxy')), 5000, 'log line');
  // A tunnel's failure is reported inside it, after the CONNECT got its 200.
  const s = await curl(['-x', p.url, '-k', 'https://example.test/']);
  assert.equal(s.status, 502, s.stderr);
  assert.match(s.stdout, new RegExp(`Cannot connect to upstream proxy 127\\.0\\.0\\.1:${dead}: Connection refused`));

  const garbage = await rawServer(t, (sock) => sock.once('data', () => sock.end('SSH-2.0-OpenSSH\r\n\r\n')));
  const pg = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${garbage.port}`] } });
  const g = await curl(['-x', pg.url, '-k', 'https://example.test/']);
  assert.equal(g.status, 502, g.stderr);
  await waitFor(() => pg.logs.some((l) => l.message.includes(`127.0.0.1:${garbage.port}: Cannot parse HTTP response`)), 5000, 'garbage log');

  const silent = await rawServer(t, (sock) => sock.once('data', () => sock.end()));
  const ps = await testProxy(t, { options: { mode: [`upstream:http://127.0.0.1:${silent.port}`] } });
  const sc = await curl(['-x', ps.url, '-k', 'https://example.test/']);
  assert.equal(sc.status, 502, sc.stderr);
  const plain = await curl(['-x', ps.url, 'http://example.test/']);
  assert.equal(plain.status, 502);
  assert.match(plain.stdout, /server closed connection/);
});

test('lazy strategy: CONNECT is answered at once, the upstream CONNECT happens for the first request', async (t) => {
  const origin = await httpsOrigin(t, (_req, res) => res.end('lazy'));
  const p2 = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: origin.caFile } });
  const rec = recorder();
  const p1 = await testProxy(t, {
    options: { mode: [`upstream:http://127.0.0.1:${p2.port}`], connection_strategy: 'lazy', ssl_verify_upstream_trusted_ca: await proxyCaFile() },
    addons: [rec.addon],
  });
  const r = await curl(['-x', p1.url, '--cacert', await proxyCaFile(), `${origin.url}/`]);
  assert.equal(r.status, 200, r.stderr);
  assert.equal(r.stdout, 'lazy');
  assert.equal(rec.connectsUpstream.length, 1);
  assert.deepEqual(rec.flows[0]!.serverConn.via, ['http', ['127.0.0.1', p2.port]]);
});
