/**
 * A kept-alive server connection that fails before any of the response arrives may just have
 * gone stale (the server closed it while idle): an idempotent request is sent again on a new
 * connection. A non-idempotent one is not (RFC 9110 §9.2.2: a proxy MUST NOT retry them
 * automatically): the server may have acted on it, and a second POST would do it twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { testProxy } from '../helpers/proxy.js';
import { httpServer } from '../helpers/servers.js';

/** A server that hangs up without an answer on any request after the first on a connection. */
async function hangUpOnReuse(t: TestContext) {
  const perSocket = new WeakMap<Socket, number>();
  const seen: string[] = [];
  const server = await httpServer(t, (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (n > 1) req.socket.destroy();
      else res.end('answered');
    });
  });
  return { server, seen };
}

/** Requests one after another on one kept-alive client connection; resolves with "status body" or the error. */
async function sequence(t: TestContext, proxyPort: number, target: string, requests: Array<{ method: string; path: string }>): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const out: string[] = [];
  for (const r of requests) {
    out.push(
      await new Promise<string>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: proxyPort, agent, method: r.method, path: `${target}${r.path}` }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(`${res.statusCode} ${res.statusCode === 200 ? body : ''}`.trim()));
        });
        req.on('error', (e) => resolve(`error ${e.message}`));
        req.end(r.method === 'POST' ? 'order=1' : undefined);
      }),
    );
  }
  return out;
}

test('a GET on a kept-alive server connection that turns out dead is sent again on a new one', async (t) => {
  const { server, seen } = await hangUpOnReuse(t);
  const proxy = await testProxy(t);
  const got = await sequence(t, proxy.port, server.url, [
    { method: 'GET', path: '/first' },
    { method: 'GET', path: '/second' },
  ]);
  assert.deepEqual(got, ['200 answered', '200 answered']);
  assert.deepEqual(seen, ['GET /first', 'GET /second', 'GET /second']);
});

test('a POST on a kept-alive server connection that dies before answering is not sent again', async (t) => {
  const { server, seen } = await hangUpOnReuse(t);
  const proxy = await testProxy(t);
  const got = await sequence(t, proxy.port, server.url, [
    { method: 'GET', path: '/first' },
    { method: 'POST', path: '/order' },
  ]);
  assert.deepEqual(seen, ['GET /first', 'POST /order'], 'the server got the POST once');
  assert.equal(got[0], '200 answered');
  assert.equal(got[1], '502');
});
