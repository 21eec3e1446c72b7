import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
// The package's own public entry point, as an embedding program imports it (the built dist).
import {
  startProxy,
  Response,
  HTTPFlow,
  parseFilter,
  FilterError,
  writeFlowsToFile,
  readFlows,
  makeHar,
  exportToString,
  type Addon,
  type EventLog,
  type RunningProxy,
} from 'mitmproxy-ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { echoServer } from '../helpers/servers.js';

test('a program embeds the proxy: start on port 0, add a typed addon, proxy a request, inspect the flow', async (t) => {
  const up = await echoServer(t);
  const seen: HTTPFlow[] = [];
  const addon: Addon = {
    name: 'embedder',
    request(flow) {
      flow.request.headers.set('x-embedded', 'yes');
      if (flow.request.path === '/canned') flow.response = Response.make(201, 'canned');
    },
    response(flow) {
      seen.push(flow);
    },
  };
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const proxy: RunningProxy = await startProxy({ options: { confdir }, addons: [addon] });
  t.after(() => proxy.close());
  assert.equal(proxy.host, '127.0.0.1');
  assert.ok(proxy.port > 0);

  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: proxy.host, port: proxy.port, path: `${up.url}${path}`, headers: { host: `127.0.0.1:${up.port}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const r = await get('/hello');
  assert.equal(r.status, 200);
  assert.ok(JSON.parse(r.body).rawHeaders.includes('x-embedded'));
  const canned = await get('/canned');
  assert.equal(canned.status, 201);
  assert.equal(canned.body, 'canned');

  assert.equal(seen.length, 2);
  assert.ok(seen[0] instanceof HTTPFlow, 'flows are instances of the exported classes');
  assert.equal(seen[0]!.request.prettyUrl, `${up.url}/hello`);
  assert.equal(seen[0]!.response!.statusCode, 200);
  assert.equal(seen[1]!.response!.text, 'canned');
  const state = seen[0]!.getState();
  assert.equal(state.type, 'http');
  assert.equal(state.version, 21);
});

test('the package entry point also offers filters, flow files, HAR and export for captured flows', async (t) => {
  const up = await echoServer(t);
  const seen: HTTPFlow[] = [];
  const proxy = await startProxy({ addons: [{ response: (flow: HTTPFlow) => void seen.push(flow) }] });
  t.after(() => proxy.close());
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: proxy.host, port: proxy.port, path: `${up.url}/lib?x=1`, headers: { host: `127.0.0.1:${up.port}` } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(seen.length, 1);
  const flow = seen[0]!;

  assert.equal(parseFilter('~u /lib & ~c 200').match(flow), true);
  assert.equal(parseFilter('~c 404').match(flow), false);
  assert.throws(() => parseFilter('~c'), FilterError);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmts-lib-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'out.mitm');
  assert.equal(writeFlowsToFile(file, [flow]), 1);
  const back = await readFlows(file);
  assert.equal(back.length, 1);
  assert.ok(back[0] instanceof HTTPFlow);
  assert.equal((back[0] as HTTPFlow).request.path, '/lib?x=1');

  const har = makeHar([flow]) as { log: { entries: Array<{ request: { url: string } }> } };
  assert.equal(har.log.entries[0]!.request.url, `${up.url}/lib?x=1`);
  assert.match(exportToString('curl', flow), /^curl .*\/lib\?x=1/);
});

test('startProxy resolves with the CA ready and live addresses; add_log sees every entry; a master does not run twice', async (t) => {
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const logged: string[] = [];
  let echoes = 0;
  let log: EventLog | null = null;
  const proxy = await startProxy({
    options: { confdir },
    addons: [
      {
        name: 'logwatch',
        load(loader) {
          log = loader.master.log;
        },
        add_log(entry) {
          logged.push(entry.message);
          // Logging from add_log is not fed back to it (that would never end).
          if (echoes++ < 1000) log?.info(`echo of ${entry.message}`);
        },
      },
    ],
  });
  t.after(() => proxy.close());
  assert.match(proxy.caCertPem, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(fs.readFileSync(path.join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8'), proxy.caCertPem, 'the CA files exist when startProxy resolves');
  await new Promise((r) => setImmediate(r));
  assert.ok(logged.includes(`HTTP(S) proxy listening at 127.0.0.1:${proxy.port}.`), JSON.stringify(logged));
  assert.ok(!logged.some((m) => m.startsWith('echo of ')), 'entries logged by add_log itself are not sent back to it');
  assert.ok(echoes < 50);

  const firstPort = proxy.port;
  await proxy.master.options.update({ mode: ['regular@0', 'socks5@0'] });
  assert.deepEqual(
    proxy.listeners.map((l) => l.mode),
    ['regular@0', 'socks5@0'],
  );
  assert.notEqual(proxy.port, firstPort, 'port follows the running listeners');
  assert.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);

  await proxy.close();
  await assert.rejects(proxy.master.run(), /has been shut down/);
});

test('startProxy fails, leaving nothing running, when an addon cannot load', async () => {
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  try {
    await assert.rejects(
      startProxy({ options: { confdir }, addons: [{ name: 'broken', load: () => { throw new Error('boom at load'); } }] }),
      /Addon error: boom at load\n[\s\S]*at broken\.load \(addon hook\)/,
    );
  } finally {
    fs.rmSync(confdir, { recursive: true, force: true });
  }
});

test('a failed flow file write stops the embedded proxy with master.exitCode 1, leaving process.exitCode alone', { skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const exitCodeBefore = process.exitCode;
  const up = await echoServer(t);
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const logs: string[] = [];
  const proxy = await startProxy({ options: { confdir, save_stream_file: '/dev/full' }, addons: [{ name: 'logs', add_log: (e) => void logs.push(e.message) }] });
  t.after(() => proxy.close());
  await new Promise<void>((resolve) => {
    const req = http.request({ host: proxy.host, port: proxy.port, path: `${up.url}/x` }, (res) => res.resume().on('end', resolve));
    req.on('error', () => resolve());
    req.end();
  });
  await proxy.master.shouldExit;
  await proxy.close();
  assert.equal(proxy.master.exitCode, 1);
  assert.equal(logs.filter((m) => m.startsWith('Error while writing to /dev/full: ')).length, 1, 'reported once');
  assert.equal(process.exitCode, exitCodeBefore);
});
