import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { testProxy } from '../helpers/proxy.js';
import { curl } from '../helpers/clients.js';
import { echoServer, httpServer } from '../helpers/servers.js';
import { waitFor } from './modes-helpers.js';
import { Response, type HTTPFlow, type Client, type ServerConnectionHookData } from '../../src/index.js';

test('hooks fire in mitmproxy order for one plain HTTP flow, each flow hook followed by update', async (t) => {
  const up = await echoServer(t);
  const events: string[] = [];
  const spy = {
    name: 'spy',
    client_connected: (_c: Client) => void events.push('client_connected'),
    requestheaders: () => void events.push('requestheaders'),
    request: () => void events.push('request'),
    server_connect: (_d: ServerConnectionHookData) => void events.push('server_connect'),
    server_connected: () => void events.push('server_connected'),
    responseheaders: () => void events.push('responseheaders'),
    response: () => void events.push('response'),
    update: (flows: unknown[]) => void (flows.length && events.push('update')),
    server_disconnected: () => void events.push('server_disconnected'),
    client_disconnected: () => void events.push('client_disconnected'),
  };
  const proxy = await testProxy(t, { addons: [spy] });
  await curl(['-x', proxy.url, `${up.url}/`]);
  for (let i = 0; i < 50 && !events.includes('client_disconnected'); i++) await sleep(20);
  assert.deepEqual(events, [
    'client_connected',
    'requestheaders',
    'update',
    'request',
    'update',
    'server_connect',
    'server_connected',
    'responseheaders',
    'update',
    'response',
    'update',
    'server_disconnected',
    'client_disconnected',
  ]);
});

test('async hooks are awaited in addon order before the flow goes on', async (t) => {
  const up = await echoServer(t);
  const order: string[] = [];
  const slow = {
    name: 'slow',
    async request(f: HTTPFlow) {
      await sleep(100);
      order.push('slow');
      f.request.headers.set('x-slow', 'done');
    },
  };
  const second = {
    name: 'second',
    request(f: HTTPFlow) {
      order.push(`second saw ${f.request.headers.get('x-slow')}`);
    },
  };
  const proxy = await testProxy(t, { addons: [slow, second] });
  const r = await curl(['-x', proxy.url, `${up.url}/`]);
  assert.deepEqual(order, ['slow', 'second saw done']);
  assert.ok(JSON.parse(r.stdout).rawHeaders.includes('x-slow'), 'the change made in an async hook reaches the server');
});

test('an addon that throws is logged with its name and hook; the flow continues', async (t) => {
  const up = await echoServer(t);
  const seen: string[] = [];
  const broken = {
    name: 'broken',
    request() {
      throw new Error('boom');
    },
  };
  const after = { name: 'after', request: () => void seen.push('after ran') };
  const proxy = await testProxy(t, { addons: [broken, after] });
  const r = await curl(['-x', proxy.url, `${up.url}/`]);
  assert.equal(r.status, 200);
  assert.deepEqual(seen, ['after ran']);
  const line = proxy.logs.find((e) => e.level === 'error' && e.message.includes('boom'));
  assert.ok(line, 'error logged');
  assert.match(line!.message, /^Addon error: boom\n[\s\S]*\n {4}at broken\.request \(addon hook\)$/);
});

test('setting flow.response in request short-circuits the upstream and fires responseheaders/response', async (t) => {
  const up = await echoServer(t);
  const events: string[] = [];
  const answer = {
    name: 'answer',
    request(f: HTTPFlow) {
      f.response = Response.make(418, 'short circuit', { 'X-Answered': 'yes' });
    },
    responseheaders: () => void events.push('responseheaders'),
    response: () => void events.push('response'),
    server_connect: () => void events.push('server_connect'),
  };
  const proxy = await testProxy(t, { addons: [answer] });
  const r = await curl(['-x', proxy.url, '-i', `${up.url}/`]);
  assert.equal(r.status, 418);
  assert.match(r.stdout, /X-Answered: yes/);
  assert.match(r.stdout, /short circuit$/);
  assert.equal(up.connections, 0, 'no upstream connection');
  assert.deepEqual(events, ['responseheaders', 'response']);
});

test('setting flow.response in requestheaders also short-circuits', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, {
    addons: [{ name: 'early', requestheaders: (f: HTTPFlow) => void (f.response = Response.make(204)) }],
  });
  const r = await curl(['-x', proxy.url, '-d', 'x', `${up.url}/`]);
  assert.equal(r.status, 204);
  assert.equal(up.connections, 0);
});

test('intercept pauses a flow until resume(); kill() closes the client connection without a response', async (t) => {
  const up = await echoServer(t);
  const intercepted: HTTPFlow[] = [];
  const errors: string[] = [];
  const interceptor = {
    name: 'interceptor',
    request(f: HTTPFlow) {
      f.intercept();
      intercepted.push(f);
    },
    error: (f: HTTPFlow) => void errors.push(f.error!.msg),
  };
  const proxy = await testProxy(t, { addons: [interceptor] });
  const pending = curl(['-x', proxy.url, `${up.url}/one`]);
  for (let i = 0; i < 100 && intercepted.length < 1; i++) await sleep(20);
  assert.equal(intercepted.length, 1);
  await sleep(200);
  assert.equal(up.connections, 0, 'nothing sent upstream while intercepted');
  assert.equal(intercepted[0]!.intercepted, true);
  intercepted[0]!.request.path = '/edited-while-paused';
  intercepted[0]!.resume();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.stdout).url, '/edited-while-paused');

  const killed = curl(['-x', proxy.url, `${up.url}/two`]);
  for (let i = 0; i < 100 && intercepted.length < 2; i++) await sleep(20);
  intercepted[1]!.kill();
  const k = await killed;
  assert.equal(k.status, 0, 'no response at all');
  assert.notEqual(k.code, 0, 'curl reports the closed connection');
  assert.equal(intercepted[1]!.error!.msg, 'Connection killed.');
  assert.deepEqual(errors, ['Connection killed.']);
});

test('a client_connected hook that sets client.error refuses the connection', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, {
    addons: [{ name: 'refuse', client_connected: (c: Client) => void (c.error = 'not welcome') }],
  });
  const r = await curl(['-x', proxy.url, `${up.url}/`]);
  assert.equal(r.status, 0);
  assert.equal(up.connections, 0);
});

test('server_connect can cancel the upstream connection by setting server.error', async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t, {
    addons: [{ name: 'nope', server_connect: (d: ServerConnectionHookData) => void (d.server.error = 'blocked by addon') }],
  });
  const r = await curl(['-x', proxy.url, `${up.url}/`]);
  assert.equal(r.status, 502);
  assert.match(r.stdout, /blocked by addon/);
  assert.equal(up.connections, 0);
});

test('server_connect can send the connection elsewhere by changing server.address', async (t) => {
  const up = await echoServer(t);
  const seen: string[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'reroute',
        server_connect(d: ServerConnectionHookData) {
          if (d.server.address?.[1] === 1) d.server.address = ['127.0.0.1', up.port];
        },
        server_connected: (d: ServerConnectionHookData) => void seen.push(`${d.server.address?.[1]} ${d.server.peername?.[1]}`),
      },
    ],
  });
  const r = await curl(['-x', proxy.url, 'http://127.0.0.1:1/rerouted']);
  assert.equal(r.status, 200, r.stdout);
  assert.equal(up.connections, 1);
  assert.deepEqual(seen, [`${up.port} ${up.port}`]);
});

test('a flow killed in its error hook gets no error reply: the client sees the connection dropped', async (t) => {
  const errors: string[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'suppress',
        error(f: HTTPFlow) {
          errors.push(f.error!.msg);
          f.kill();
        },
      },
    ],
  });
  const r = await curl(['-x', proxy.url, 'http://127.0.0.1:1/refused']);
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.stdout, '');
  assert.equal(r.code, 52, r.stderr);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /Connection refused/);
});

test('shutting down while a flow is intercepted kills the flow instead of hanging', async (t) => {
  const up = await echoServer(t);
  const held: HTTPFlow[] = [];
  const { startProxy } = await import('../../src/index.js');
  const proxy = await startProxy({ addons: [{ name: 'hold', request: (f: HTTPFlow) => void (f.intercept(), held.push(f)) }] });
  const pending = curl(['-x', proxy.url, `${up.url}/held`]);
  for (let i = 0; i < 100 && held.length === 0; i++) await sleep(20);
  assert.equal(held.length, 1);
  const closed = await Promise.race([proxy.close().then(() => 'closed'), sleep(5000).then(() => 'hung')]);
  assert.equal(closed, 'closed');
  assert.equal(held[0]!.error?.msg, 'Connection killed.');
  assert.equal((await pending).status, 0);
});

test("the event log has mitmproxy's server lines: server connect, server disconnect, error establishing server connection", async (t) => {
  const up = await echoServer(t);
  const proxy = await testProxy(t);
  assert.equal((await curl(['-x', proxy.url, `${up.url}/x`])).status, 200);
  const closed = await curl(['-x', proxy.url, 'http://127.0.0.1:1/']);
  assert.equal(closed.status, 502);
  const lines = () => proxy.logs.filter((e) => /^(server |error establishing)/.test(e.message)).map((e) => e.message);
  for (let i = 0; i < 100 && !lines().includes(`server disconnect 127.0.0.1:${up.port}`); i++) await sleep(20);
  assert.deepEqual(lines().slice(0, 2), [`server connect 127.0.0.1:${up.port}`, `server disconnect 127.0.0.1:${up.port}`]);
  assert.ok(lines().some((l) => /^error establishing server connection: Connection refused/.test(l)), JSON.stringify(lines()));
  // Said once: the flow's own failure line does not repeat what the connection line said.
  const refused = proxy.logs.filter((e) => e.message.includes('Connection refused')).map((e) => e.message);
  assert.deepEqual(refused, ['error establishing server connection: Connection refused (127.0.0.1:1)']);
});

test('a response an addon made unsendable (a header value with a line break) becomes a 502 saying why, with an error hook', async (t) => {
  const up = await echoServer(t);
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, {
    addons: [{ name: 'breaker', response: (f: HTTPFlow) => void f.response!.headers.set('X-Bad', 'value\n'), error: (f: HTTPFlow) => void errors.push(f) }],
  });
  const r = await curl(['-x', proxy.url, `${up.url}/x`]);
  assert.equal(r.status, 502);
  assert.match(r.stdout, /Cannot send the response: .*X-Bad/);
  assert.equal(errors.length, 1);
});

test('a response that cannot be sent, killed in its error hook: no 502, the connection is dropped', async (t) => {
  const up = await echoServer(t);
  const errors: HTTPFlow[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'breaker',
        response: (f: HTTPFlow) => void f.response!.headers.set('X-Bad', 'value\n'),
        error: (f: HTTPFlow) => void (errors.push(f), f.kill()),
      },
    ],
  });
  const r = await curl(['-x', proxy.url, `${up.url}/x`]);
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.code, 52, r.stderr);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.live, false);
});

test('a client killed in client_connected is logged in mitmproxy\'s words', async (t) => {
  const proxy = await testProxy(t, { addons: [{ name: 'kill', client_connected: (c: { error: string | null }) => void (c.error = 'not welcome') }] });
  const r = await curl(['-x', proxy.url, 'http://127.0.0.1:1/']);
  assert.equal(r.status, 0);
  await waitFor(() => proxy.logs.some((l) => l.message === 'client disconnect'), 10000, 'client disconnect');
  assert.ok(proxy.logs.some((l) => l.message === 'client kill connection'), proxy.logs.map((l) => l.message).join('\n'));
});

test('close() finishes even when a hook never returns (its connection handler is left waiting)', async (t) => {
  let entered!: () => void;
  const inHook = new Promise<void>((r) => (entered = r));
  const stuck = {
    name: 'stuck',
    request(): Promise<void> {
      entered();
      return new Promise(() => undefined);
    },
  };
  const proxy = await testProxy(t, { addons: [stuck] });
  const pending = curl(['-x', proxy.url, 'http://127.0.0.1:9/never'], { timeoutMs: 30_000 });
  await inHook;
  const started = Date.now();
  await proxy.close();
  assert.ok(Date.now() - started < 15_000, `close() took ${Date.now() - started} ms`);
  assert.ok(proxy.logs.some((e) => /still waiting/.test(e.message)));
  await pending;
});

test("request.multipartForm, mitmproxy's multipart_form: a script adds a field to a browser's form or writes a new one, and the server's multipart parser reads them", async (t) => {
  const seen: Array<{ contentType: string; fields: Array<[string, string]> }> = [];
  const up = await httpServer(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const contentType = req.headers['content-type'] ?? '';
      // undici's FormData parser (what fetch's Response.formData() uses) as the reference reader.
      const form = await new globalThis.Response(Buffer.concat(chunks), { headers: { 'content-type': contentType } }).formData();
      const fields: Array<[string, string]> = [];
      for (const [k, v] of form) fields.push([k, typeof v === 'string' ? v : `file:${v.name}`]);
      seen.push({ contentType, fields });
      res.end('ok');
    });
  });
  const forms: Array<Array<[string, string]>> = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        request(f: HTTPFlow) {
          const form = f.request.multipartForm;
          forms.push(form.fields.map(([k, v]) => [k, v.toString()]));
          if (form.length) form.set('mitmproxy', Buffer.from('rocks'));
          else f.request.multipartForm = [['foo', Buffer.from('bar')], ['übung', 'multi\r\nline']];
        },
      },
    ],
  });
  const browser = await curl(['-x', proxy.url, '-F', 'a=1', '-F', 'b=two words', `${up.url}/form`]);
  assert.equal(browser.stdout, 'ok');
  const plain = await curl(['-x', proxy.url, '--data-binary', 'not a form', `${up.url}/plain`]);
  assert.equal(plain.stdout, 'ok');
  assert.deepEqual(forms, [[['a', '1'], ['b', 'two words']], []]);
  assert.deepEqual(seen[0]!.fields, [['a', '1'], ['b', 'two words'], ['mitmproxy', 'rocks']]);
  assert.match(seen[1]!.contentType, /^multipart\/form-data; boundary=-{20}[0-9a-f]{32}$/);
  assert.deepEqual(seen[1]!.fields, [['foo', 'bar'], ['übung', 'multi\r\nline']]);
});
