/**
 * ignore_hosts, allow_hosts and tcp_hosts as mitmproxy's NextLayer applies them: which names of
 * a connection each one matches (tcp_hosts the bare host or the client's SNI; ignore_hosts and
 * allow_hosts "host:port" names), and in which order the decisions are made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TCPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer } from '../helpers/servers.js';
import { recorder, waitFor } from './modes-helpers.js';

test('tcp_hosts matches the bare host, not host:port', async (t) => {
  const up = await echoServer(t);
  const tcpFlows: TCPFlow[] = [];
  const spy = { name: 'spy', tcp_start: (f: TCPFlow) => void tcpFlows.push(f) };
  const bare = await testProxy(t, { options: { tcp_hosts: ['^127\\.0\\.0\\.1$'] }, addons: [spy] });
  // curl -p: a CONNECT tunnel even for plain http, so the bytes inside are the tunnel's.
  const r = await curl(['-p', '-x', bare.url, `http://127.0.0.1:${up.port}/raw`]);
  assert.equal(r.status, 200, r.stderr);
  await waitFor(() => tcpFlows.length === 1, 5000, 'a TCP flow');

  const rec = recorder();
  const withPort = await testProxy(t, { options: { tcp_hosts: [`^127\\.0\\.0\\.1:${up.port}$`] }, addons: [rec.addon] });
  const h = await curl(['-p', '-x', withPort.url, `http://127.0.0.1:${up.port}/http`]);
  assert.equal(h.status, 200, h.stderr);
  assert.equal(rec.tcp.length, 0, 'a host:port pattern names no host');
  assert.equal(rec.flows.filter((f) => f.request.path === '/http').length, 1, 'an HTTP flow');
});
