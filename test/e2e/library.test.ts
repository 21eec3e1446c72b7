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
  ProxyStartError,
  View,
  createWebMaster,
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

  await proxy.master.options.update({ mode: ['regular@0', 'socks5@0'] });
  assert.deepEqual(
    proxy.listeners.map((l) => l.mode),
    ['regular@0', 'socks5@0'],
  );
  // The new listener may get the same port number back from the OS: compare with what is running.
  assert.equal(proxy.port, proxy.listeners[0]!.port, 'port follows the running listeners');
  assert.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);
  await proxy.master.options.update({ mode: ['socks5@0'] });
  assert.equal(proxy.url, `socks5://127.0.0.1:${proxy.port}`);

  await proxy.close();
  await assert.rejects(proxy.master.run(), /has been shut down/);
});

test('startProxy fails, leaving nothing running, when an addon cannot load: a ProxyStartError with the addon\'s error as cause', async () => {
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  class ConfigMissing extends Error {
    readonly code = 'E_CONFIG';
  }
  const thrown = new ConfigMissing('boom at load');
  try {
    await assert.rejects(startProxy({ log: 'none', options: { confdir }, addons: [{ name: 'broken', load: () => { throw thrown; } }] }), (e: unknown) => {
      assert.ok(e instanceof ProxyStartError);
      assert.match(e.message, /Addon error: boom at load\n[\s\S]*at broken\.load \(addon hook\)/);
      assert.equal(e.cause, thrown);
      assert.equal(e.code, 'E_CONFIG');
      return true;
    });
    // A port someone holds: the socket error's code.
    const busy = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    try {
      const port = (busy.address() as { port: number }).port;
      await assert.rejects(startProxy({ log: 'none', options: { confdir }, listenPort: port }), (e: unknown) => e instanceof ProxyStartError && e.code === 'EADDRINUSE');
    } finally {
      busy.close();
    }
  } finally {
    fs.rmSync(confdir, { recursive: true, force: true });
  }
});

test('an error in your hook is not silent: it reaches stderr by default (as Python logging shows it), not with log "none"', async (t) => {
  const up = await echoServer(t);
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  t.after(() => void (process.stderr.write = write));
  const failing: Addon = {
    name: 'asserting',
    response() {
      throw new Error('expected 201, got 200');
    },
  };
  for (const log of [undefined, 'none'] as const) {
    const proxy = await startProxy({ log, options: { confdir }, addons: [failing] });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get(`${up.url}/x`, { agent: false, host: '127.0.0.1', port: proxy.port, path: `${up.url}/x` }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject);
      });
      assert.equal(status, 200, 'the flow goes on, as in mitmproxy');
    } finally {
      await proxy.close();
    }
  }
  const errors = written.filter((w) => w.includes('Addon error: expected 201, got 200'));
  assert.equal(errors.length, 1, written.join(''));
  assert.match(errors[0]!, /at asserting\.response \(addon hook\)/);
});

test('your addons run where mitmproxy runs scripts: what -w saves is what they made of the flow', async (t) => {
  const up = await echoServer(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'saved.mitm');
  const proxy = await startProxy({
    log: 'none',
    options: { confdir: dir, save_stream_file: file },
    addons: [{ name: 'rewriter', response: (flow: HTTPFlow) => void (flow.response!.text = 'CHANGED BY MY ADDON') }],
  });
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxy.port, path: `${up.url}/x`, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  await proxy.close();
  assert.equal(body, 'CHANGED BY MY ADDON');
  const [saved] = await readFlows(file);
  assert.equal((saved as HTTPFlow).response!.text, 'CHANGED BY MY ADDON');
});

test('makeHar gives plain JSON numbers; with a View, flow specs such as @all work in commands', async (t) => {
  const up = await echoServer(t);
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const proxy = await startProxy({ log: 'none', options: { confdir }, addons: [new View()] });
  t.after(() => proxy.close());
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxy.port, path: `${up.url}/counted`, agent: false }, (res) => (res.resume(), res.on('end', resolve))).on('error', reject);
  });
  const flows = (await proxy.master.commands.execute('view.flows.resolve @all')) as HTTPFlow[];
  assert.equal(flows.length, 1);
  const har = JSON.parse(JSON.stringify(makeHar(flows))) as { log: { entries: Array<{ time: unknown; timings: Record<string, unknown> }> } };
  assert.equal(typeof har.log.entries[0]!.time, 'number');
  for (const v of Object.values(har.log.entries[0]!.timings)) assert.equal(typeof v, 'number');
});

test('a failed flow file write stops the embedded proxy with master.exitCode 1, leaving process.exitCode alone', { skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const exitCodeBefore = process.exitCode;
  const up = await echoServer(t);
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const logs: string[] = [];
  const proxy = await startProxy({ log: 'none', options: { confdir, save_stream_file: '/dev/full' }, addons: [{ name: 'logs', add_log: (e) => void logs.push(e.message) }] });
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

test('the web API runs in a program: createWebMaster on free ports, its URL carries the token', async (t) => {
  const confdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mitmproxy-ts-lib-'));
  t.after(() => fs.rmSync(confdir, { recursive: true, force: true }));
  const master = await createWebMaster({ withTermlog: false });
  t.after(() => master.shutdown());
  await master.options.update({ confdir, listen_host: '127.0.0.1', listen_port: 0, web_host: '127.0.0.1', web_port: 0, web_open_browser: false });
  await master.run();
  const url = new URL(master.auth.webUrl);
  assert.notEqual(url.port, '0');
  const token = url.searchParams.get('token')!;
  const flows = await fetch(`http://127.0.0.1:${url.port}/flows`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(flows.status, 200);
  assert.deepEqual(await flows.json(), []);
  assert.equal((await fetch(`http://127.0.0.1:${url.port}/flows`)).status, 403);
});
