/**
 * proxy_debug: the proxy core traces its decisions (layer choices, server connections, both TLS
 * handshakes, request and response heads, relays) as debug log lines of the client connection,
 * and says nothing of the kind while the option is off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { httpsOrigin, proxyCaFile } from './modes-helpers.js';

const TRACE = /^\[(nextlayer|server|tls|http|tcp)\] /;

test('proxy_debug traces the proxy core as debug lines of the connection; off by default and when switched off', async (t) => {
  const origin = await httpsOrigin(t, (req, res) => res.end(`secure ${req.url}`));
  const plain = await echoServer(t);
  const caFile = await proxyCaFile();
  const proxy = await testProxy(t, { options: { ssl_verify_upstream_trusted_ca: origin.caFile } });
  const traces = () => proxy.logs.filter((e) => TRACE.test(e.message));

  // Off by default: no trace lines.
  const before = await curl(['-x', proxy.url, `${plain.url}/quiet`]);
  assert.equal(before.status, 200);
  assert.deepEqual(traces(), []);

  await proxy.master.options.update({ proxy_debug: true });
  const r = await curl(['--cacert', caFile, '-x', proxy.url, `${origin.url}/traced`]);
  assert.equal(r.stdout, 'secure /traced');
  const lines = traces();
  const messages = lines.map((e) => e.message);
  const has = (re: RegExp) => assert.ok(messages.some((m) => re.test(m)), `no line like ${re} in:\n${messages.join('\n')}`);
  has(/^\[nextlayer\] tls$/);
  has(/^\[tls\] client hello: SNI localhost, ALPN offers \[.*"http\/1\.1".*\]$/);
  has(new RegExp(`^\\[server\\] opening a connection to localhost:${origin.port}$`));
  has(new RegExp(`^\\[server\\] connected to 127\\.0\\.0\\.1:${origin.port} from 127\\.0\\.0\\.1:\\d+$`));
  has(/^\[tls\] server handshake with localhost:\d+: SNI localhost, ALPN offers \[.*"http\/1\.1".*\]$/);
  has(/^\[tls\] server handshake done: TLSv1\.[23], \S+, ALPN http\/1\.1/);
  has(/^\[tls\] client handshake done: TLSv1\.[23], \S+, ALPN http\/1\.1$/);
  has(new RegExp(`^\\[http\\] request GET https://localhost:${origin.port}/traced \\(HTTP/1\\.1\\)$`));
  has(new RegExp(`^\\[http\\] response 200 OK \\(HTTP/1\\.1\\) for GET https://localhost:${origin.port}/traced$`));
  assert.ok(lines.every((e) => e.level === 'debug'), 'trace lines are debug lines');
  assert.ok(lines.every((e) => /^127\.0\.0\.1:\d+$/.test(e.client ?? '')), 'trace lines name their client');

  // Inside a CONNECT tunnel, plain HTTP is chosen as such.
  const tunnel = await curl(['-x', proxy.url, '-p', `${plain.url}/through-a-tunnel`]);
  assert.equal(tunnel.status, 200);
  has(/^\[nextlayer\] http$/);

  // Switched off again: silence.
  await proxy.master.options.update({ proxy_debug: false });
  const count = traces().length;
  const after = await curl(['--cacert', caFile, '-x', proxy.url, `${origin.url}/silent`]);
  assert.equal(after.stdout, 'secure /silent');
  assert.equal(traces().length, count);
});
