import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { runCli, ROOT } from '../helpers/cli.js';
import { curl } from '../helpers/clients.js';
import { echoServer, httpServer } from '../helpers/servers.js';

const example = (name: string) => join(ROOT, 'examples', name);

test('examples/add-header.ts numbers every response', async (t) => {
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('add-header.ts')]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const a = await curl(['-x', proxy, '-i', `${up.url}/1`]);
  const b = await curl(['-x', proxy, '-i', `${up.url}/2`]);
  assert.match(a.stdout, /x-mitmproxy-ts: response 1\r\n/i);
  assert.match(b.stdout, /x-mitmproxy-ts: response 2\r\n/i);
});

test('examples/block-host.ts answers 403 for the blocked host and its subdomains only', async (t) => {
  const up = await echoServer(t);
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('block-host.ts'), '--set', 'block_host=blocked.invalid']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const blocked = await curl(['-x', proxy, 'http://blocked.invalid/x']);
  const sub = await curl(['-x', proxy, 'http://ads.blocked.invalid/x']);
  const other = await curl(['-x', proxy, `${up.url}/fine`]);
  assert.equal(blocked.status, 403);
  assert.equal(blocked.stdout, 'Blocked by mitmproxy-ts: blocked.invalid\n');
  assert.equal(sub.status, 403);
  assert.equal(other.status, 200);
  await tool.waitFor(/blocked http:\/\/blocked\.invalid\/x/);
});

test('examples/log-slow-requests.ts warns about slow responses only', async (t) => {
  const up = await httpServer(t, (req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('late'), 1500);
    else res.end('quick');
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('log-slow-requests.ts'), '--set', 'slow_threshold_ms=1000']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  await curl(['-x', proxy, `${up.url}/fast`]);
  await curl(['-x', proxy, `${up.url}/slow`]);
  const out = await tool.waitFor(/slow request: \d+ ms for GET http:\/\/127\.0\.0\.1:\d+\/slow/);
  assert.doesNotMatch(out, /slow request: .*\/fast/);
});

test('examples/swapcase-contentview.ts shows text/example bodies case-swapped, others as they are', async (t) => {
  const up = await httpServer(t, (req, res) => {
    res.setHeader('content-type', req.url === '/example' ? 'text/example' : 'text/plain');
    res.end(req.url === '/example' ? 'Hello Example' : 'Hello Plain');
  });
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('swapcase-contentview.ts'), '--flow-detail', '3']);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const ex = await curl(['-x', proxy, `${up.url}/example`]);
  assert.equal(ex.stdout, 'Hello Example', 'the view changes what is shown, not the body');
  await curl(['-x', proxy, `${up.url}/plain`]);
  const out = await tool.waitFor(/Hello Plain/);
  assert.match(out, /^ {4}hELLO eXAMPLE$/m);
  assert.doesNotMatch(out, /hELLO pLAIN/);
});

test('examples/dns-spoof-ipv6.ts answers AAAA queries: ::1, NXDOMAIN, no records', async (t) => {
  const tool = await runCli(t, ['dump', '--mode', 'dns@0', '--listen-host', '127.0.0.1', '-s', example('dns-spoof-ipv6.ts')]);
  const resolver = new Resolver({ timeout: 5000, tries: 1 });
  resolver.setServers([`127.0.0.1:${tool.port}`]);
  assert.deepEqual(await resolver.resolve6('example.com'), ['::1']);
  await assert.rejects(resolver.resolve6('example.org'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve6('example.net'), { code: 'ENODATA' });
  await tool.waitFor(/Spoofing IPv6 records for example\.net\.\.\./);
});

test('examples/hosted-app.ts answers example.com and api.example.com from inside the proxy', async (t) => {
  const tool = await runCli(t, ['dump', '-p', '0', '--listen-host', '127.0.0.1', '-s', example('hosted-app.ts')]);
  const proxy = `http://127.0.0.1:${tool.port}`;
  const page = await curl(['-x', proxy, 'http://example.com/']);
  assert.equal(page.status, 200);
  assert.equal(page.stdout, 'Hello World!\n');
  const api = await curl(['-x', proxy, 'http://api.example.com/time']);
  assert.equal(api.status, 200);
  assert.equal((JSON.parse(api.stdout) as { path: string }).path, '/time');
});
