/**
 * A streamed request and its response at the same time (full duplex, as mitmproxy): a server may
 * answer before it has the whole body, either refusing it (a 413, after which it reads no more)
 * or talking back while it still reads (a gRPC bidirectional call, an HTTP/1 echo).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import type { HTTPFlow } from '../../src/index.js';
import { testProxy } from '../helpers/proxy.js';
import { curl, rawRequest, responseText } from '../helpers/clients.js';
import { httpServer, rawServer, refusingUploadServer } from '../helpers/servers.js';
import { tlsH2Server, waitFor } from './modes-helpers.js';

/** Streams both bodies of every flow (as an addon does for gRPC), and records the hooks each flow went through. */
function streamingAddon() {
  const hooks: string[] = [];
  const flows: HTTPFlow[] = [];
  return {
    hooks,
    flows,
    addon: {
      name: 'stream-both',
      requestheaders: (f: HTTPFlow) => {
        f.request.stream = true;
        flows.push(f);
      },
      request: () => void hooks.push('request'),
      responseheaders: (f: HTTPFlow) => {
        f.response!.stream = true;
        hooks.push('responseheaders');
      },
      response: () => void hooks.push('response'),
      error: (f: HTTPFlow) => void hooks.push(`error: ${f.error?.msg}`),
    },
  };
}

/** Streams the request body of every flow, and records the hooks each flow went through (`flow`: the last one). */
function streamedRequestRecorder() {
  const hooks: string[] = [];
  let last: HTTPFlow | null = null;
  return {
    hooks,
    flow: () => last,
    addon: {
      name: 'rec',
      requestheaders: (f: HTTPFlow) => {
        f.request.stream = true;
        last = f;
      },
      request: () => void hooks.push('request'),
      responseheaders: () => void hooks.push('responseheaders'),
      response: () => void hooks.push('response'),
      error: (f: HTTPFlow) => void hooks.push(`error: ${f.error?.msg}`),
    },
  };
}

/** A server that answers at once (head flushed) and echoes each chunk of the request as it arrives, ending with it. */
function echoingServer(t: TestContext, onRequest?: (req: http.IncomingMessage) => void) {
  return httpServer(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    req.on('data', (d: Buffer) => res.write(d));
    req.on('end', () => res.end());
    onRequest?.(req);
  });
}

/**
 * A request stream through the proxy's own port in h2c (the proxy speaks TLS or h2c onwards as
 * `headers` say), closed with its session when the test ends. Stream errors are the test's to
 * look at (rstCode, 'close'), not unhandled.
 */
function h2RequestViaProxy(t: TestContext, proxyPort: number, headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
  const session = http2.connect(`http://127.0.0.1:${proxyPort}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const stream = session.request(headers);
  stream.on('error', () => undefined);
  return stream;
}

/** Rejects after `ms`: a proxy that waits for the whole body before reading the answer fails here instead of hanging. */
function deadline<T>(t: TestContext, ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  t.after(() => clearTimeout(timer));
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms)))]);
}

/** Ping-pong over one request: write a line, wait for its echo in the response, five times; then end. */
function pingPong(write: (s: string) => void, end: () => void, received: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let n = 0;
    const next = () => {
      if (n === 5) {
        end();
        return resolve();
      }
      const line = `ping ${++n}\n`;
      write(line);
      const expected = Array.from({ length: n }, (_, i) => `ping ${i + 1}\n`).join('');
      const check = setInterval(() => {
        if (received() === expected) {
          clearInterval(check);
          next();
        } else if (!expected.startsWith(received())) {
          clearInterval(check);
          reject(new Error(`echo ${JSON.stringify(received())}`));
        }
      }, 5);
    };
    next();
  });
}

test('HTTP/1: a server that answers a streamed upload before reading it (a 413, connection kept open) is answered at once', async (t) => {
  const server = await refusingUploadServer(t);
  const proxy = await testProxy(t, { options: { stream_large_bodies: '1k' } });
  const body = Buffer.alloc(32 * 1024 * 1024, 0x61);
  let clientClosed!: Promise<unknown>;
  let connectionHeader: string | undefined;
  const res = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/upload`, headers: { host: `127.0.0.1:${server.port}` }, agent: false });
    t.after(() => req.destroy());
    req.on('socket', (s) => (clientClosed = new Promise((resolve) => s.once('close', resolve))));
    req.on('response', (r) => (connectionHeader = r.headers.connection));
    req.on('error', () => undefined);
    responseText(req).then(resolve, reject);
    req.end(body);
  });
  assert.deepEqual(await deadline(t, 15000, '413', res), { status: 413, text: 'too big!' });
  // The rest of the body was never read, so the proxy closes the client connection after the
  // answer, and says so in it (the server's answer did not).
  assert.equal(connectionHeader, 'close');
  await deadline(t, 15000, 'close of the client connection', clientClosed);
});

test('HTTP/1: a streamed request and its streamed response go on at the same time (echo)', async (t) => {
  const server = await echoingServer(t);
  const rec = streamingAddon();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  let received = '';
  const done = new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/echo`, agent: false });
    t.after(() => req.destroy());
    req.on('error', reject);
    req.on('response', (r) => {
      r.setEncoding('latin1');
      r.on('data', (d: string) => (received += d));
      r.on('end', resolve);
    });
    req.flushHeaders();
    void pingPong(
      (s) => req.write(s),
      () => req.end(),
      () => received,
    ).catch(reject);
  });
  await deadline(t, 15000, 'echo', done);
  assert.equal(received, 'ping 1\nping 2\nping 3\nping 4\nping 5\n');
  assert.deepEqual(rec.hooks, ['responseheaders', 'request', 'response']);
  assert.equal(rec.flows[0]!.request.timestampEnd !== null, true);
});

test('HTTP/1: a server that answers 200 early and goes on reading gets the whole body (only an error status drops it)', async (t) => {
  let receivedAtServer = -1;
  const server = await httpServer(t, (req, res) => {
    res.end('accepted');
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => (receivedAtServer = n));
  });
  const rec = streamingAddon();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const res = new Promise<{ status: number; text: string }>((resolve, reject) => {
    // A keep-alive client goes on sending after the answer (one that asked to close stops).
    const agent = new http.Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/ingest`, agent });
    t.after(() => req.destroy());
    req.on('error', reject);
    responseText(req).then(resolve, reject);
    // 4 MiB, written after the answer has had time to come back.
    req.write(chunk);
    setTimeout(() => {
      for (let i = 1; i < 64; i++) req.write(chunk);
      req.end();
    }, 500);
  });
  assert.deepEqual(await deadline(t, 15000, 'response', res), { status: 200, text: 'accepted' });
  await deadline(t, 15000, 'whole body at the server', waitFor(() => receivedAtServer >= 0, 15000, 'the end of the body'));
  assert.equal(receivedAtServer, 64 * chunk.length);
  // As in mitmproxy: `response` when the response is complete, `request` when the request is.
  assert.deepEqual(rec.hooks, ['responseheaders', 'response', 'request']);
});

test('HTTP/1: a server that answers 200 early and then stops reading: the client still gets the answer at once', async (t) => {
  // Its answer is complete; only the end of the flow waits for a request the server no longer takes.
  const server = await rawServer(t, (s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\naccepted');
      s.pause();
    });
  });
  const proxy = await testProxy(t, { options: { stream_large_bodies: '1k' } });
  const res = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/upload`, agent: false });
    t.after(() => req.destroy());
    req.on('error', () => undefined);
    responseText(req).then(resolve, reject);
    req.end(Buffer.alloc(32 * 1024 * 1024, 0x61));
  });
  assert.deepEqual(await deadline(t, 15000, 'answer', res), { status: 200, text: 'accepted' });
});

test('the request hook waits for a responseheaders hook still running (a flow\'s hooks run one at a time, as in mitmproxy)', async (t) => {
  const server = await echoingServer(t);
  const events: string[] = [];
  const slow = (name: string) => async () => {
    events.push(`${name} start`);
    await new Promise((r) => setTimeout(r, 1000));
    events.push(`${name} end`);
  };
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'slow-hooks',
        requestheaders: (f: HTTPFlow) => void (f.request.stream = true),
        // The body ends while this hook still runs.
        responseheaders: async (f: HTTPFlow) => {
          f.response!.stream = true;
          await slow('responseheaders')();
        },
        request: slow('request'),
        response: () => void events.push('response'),
      },
    ],
  });
  const body = new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/echo`, agent: false });
    t.after(() => req.destroy());
    req.on('error', reject);
    req.on('response', (r) => {
      let text = '';
      r.setEncoding('latin1');
      r.on('data', (d: string) => (text += d));
      r.on('end', () => resolve(text));
    });
    req.write('a');
    setTimeout(() => req.end('b'), 300);
  });
  assert.equal(await deadline(t, 15000, 'response', body), 'ab');
  assert.deepEqual(events, ['responseheaders start', 'responseheaders end', 'request start', 'request end', 'response']);
});

test('HTTP/2: a bidirectional stream (as gRPC) through an HTTP/2 server, trailers and all', async (t) => {
  const server = await tlsH2Server(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc' });
    req.on('data', (d: Buffer) => res.write(d));
    req.on('end', () => {
      res.addTrailers({ 'grpc-status': '0' });
      res.end();
    });
  });
  const rec = streamingAddon();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const authority = `localhost:${(server.address() as AddressInfo).port}`;
  const stream = h2RequestViaProxy(t, proxy.port, { ':method': 'POST', ':path': '/echo.Echo/Chat', ':scheme': 'https', ':authority': authority, 'content-type': 'application/grpc' });
  let received = '';
  let trailers: http2.IncomingHttpHeaders = {};
  stream.setEncoding('latin1');
  stream.on('data', (d: string) => (received += d));
  stream.on('trailers', (h) => (trailers = h));
  const closed = new Promise<void>((resolve) => stream.on('close', resolve));
  await deadline(
    t,
    15000,
    'echo',
    pingPong(
      (s) => stream.write(s),
      () => stream.end(),
      () => received,
    ),
  );
  await deadline(t, 15000, 'end of stream', closed);
  assert.equal(received, 'ping 1\nping 2\nping 3\nping 4\nping 5\n');
  assert.equal(trailers['grpc-status'], '0');
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  assert.deepEqual(rec.hooks, ['responseheaders', 'request', 'response']);
});

test('HTTP/2 client (curl): a streamed upload the server answers early (413) gets the answer at once, and curl stops sending', async (t) => {
  const server = await refusingUploadServer(t);
  const rec = streamingAddon();
  const proxy = await testProxy(t, { addons: [rec.addon] });
  const body = Buffer.alloc(32 * 1024 * 1024, 0x61);
  // curl gives up after 15 s (a proxy that waited for the whole body would keep it that long).
  const res = await curl(['-v', '--http2-prior-knowledge', '-H', `Host: 127.0.0.1:${server.port}`, '--data-binary', '@-', `http://127.0.0.1:${proxy.port}/upload`], { timeoutMs: 15000, input: body });
  assert.deepEqual({ code: res.code, status: res.status, body: res.stdout }, { code: 0, status: 413, body: 'too big!' }, res.stderr);
  // The request never ended: its hook does not fire, the response's does.
  assert.deepEqual(rec.hooks, ['responseheaders', 'response']);
});

for (const status of [413, 200]) {
  test(`an HTTP/2 server that answers ${status} to a streamed upload, then resets the stream with NO_ERROR (as nginx): the client gets the answer`, async (t) => {
    const server = await tlsH2Server(t, (_req, res) => {
      res.writeHead(status);
      res.end('answer');
      res.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    const rec = streamingAddon();
    const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
    const stream = h2RequestViaProxy(t, proxy.port, { ':method': 'PUT', ':path': '/upload', ':scheme': 'https', ':authority': `localhost:${(server.address() as AddressInfo).port}` });
    let answer = '';
    let text = '';
    stream.on('response', (h) => (answer = String(h[':status'])));
    stream.setEncoding('latin1');
    stream.on('data', (d: string) => (text += d));
    // Upload until the answer comes (at most 64 MiB), then end the request, as curl does.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (!stream.destroyed && !answer && sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!stream.write(chunk)) return void stream.once('drain', pump);
      }
      if (!stream.destroyed) stream.end();
    };
    pump();
    await deadline(t, 15000, 'end of stream', new Promise<void>((resolve) => stream.on('close', resolve)));
    assert.deepEqual({ answer, text }, { answer: String(status), text: 'answer' });
    assert.equal(rec.hooks.at(-1), 'response');
    assert.equal(rec.hooks.filter((h) => h.startsWith('error')).length, 0);
  });
}

test('HTTP/1: a stream function that throws once the response head came fails the flow, and the server is let go', async (t) => {
  let serverReqClosed = false;
  const server = await echoingServer(t, (req) => req.on('close', () => (serverReqClosed = true)));
  const hooks: string[] = [];
  let n = 0;
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'boom',
        requestheaders: (f: HTTPFlow) => {
          f.request.stream = (chunk: Buffer) => {
            if (++n === 2) throw new Error('boom');
            return chunk;
          };
        },
        responseheaders: (f: HTTPFlow) => {
          f.response!.stream = true;
          hooks.push('responseheaders');
        },
        error: (f: HTTPFlow) => void hooks.push(`error: ${f.error?.msg}`),
        response: () => void hooks.push('response'),
      },
    ],
  });
  const closed = new Promise<string>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/echo`, agent: false });
    t.after(() => req.destroy());
    req.on('error', () => resolve('error'));
    req.on('response', (r) => {
      r.on('data', () => undefined);
      r.on('error', () => resolve('error'));
      r.on('end', () => resolve('end'));
      r.on('close', () => resolve('close'));
      req.write('second chunk\n');
    });
    req.flushHeaders();
    req.write('first\n');
  });
  await deadline(t, 15000, 'end of the response', closed);
  assert.deepEqual(hooks, ['responseheaders', 'error: Error in stream function: boom']);
  // The server, which waited for the rest of the body, is let go.
  await waitFor(() => serverReqClosed, 10000, 'the server side to close');
});

test('HTTP/1: a chunked body that turns malformed after the response head came: the flow fails, the connection closes', async (t) => {
  const server = await echoingServer(t);
  const events: string[] = [];
  const proxy = await testProxy(t, {
    addons: [
      {
        name: 'rec',
        requestheaders: (f: HTTPFlow) => void (f.request.stream = true),
        responseheaders: (f: HTTPFlow) => {
          f.response!.stream = true;
          events.push('responseheaders');
        },
        response: () => void events.push('response'),
        error: (f: HTTPFlow) => void events.push(`error: ${f.error?.msg}`),
      },
    ],
  });
  const closed = new Promise<string>((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => {
      s.write(`POST ${server.url}/echo HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    });
    t.after(() => s.destroy());
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('hello')) s.write('zz\r\nbad\r\n');
    });
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
  });
  const got = await deadline(t, 15000, 'close of the connection', closed);
  assert.match(got, /^HTTP\/1\.1 200/);
  assert.equal(events.length, 2, JSON.stringify(events));
  assert.equal(events[0], 'responseheaders');
  assert.match(events[1]!, /^error: /);
});

for (const then of ['resume', 'kill'] as const) {
  test(`HTTP/1: a flow intercepted in request, its response head already there, then ${then}d: responseheaders only after a resume`, async (t) => {
    // The server has the whole body and answers while the flow is still paused.
    const server = await httpServer(t, (req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => res.end('ok'));
    });
    const events: string[] = [];
    const proxy = await testProxy(t, {
      addons: [
        {
          name: 'intercepting',
          requestheaders: (f: HTTPFlow) => void (f.request.stream = true),
          request: (f: HTTPFlow) => {
            events.push('request');
            f.intercept();
            setTimeout(() => {
              events.push(then);
              if (then === 'resume') f.resume();
              else f.kill();
            }, 1500);
          },
          responseheaders: (f: HTTPFlow) => void events.push(`responseheaders${f.intercepted ? ' (intercepted)' : ''}`),
          response: () => void events.push('response'),
          error: (f: HTTPFlow) => void events.push(`error: ${f.error?.msg}`),
        },
      ],
    });
    const res = new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/x`, agent: false, headers: { 'content-length': '5' } });
      t.after(() => req.destroy());
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
      responseText(req).then((r) => resolve(r.text), (e: Error) => resolve(e.message));
      req.end('hello');
    });
    if (then === 'resume') {
      assert.equal(await deadline(t, 15000, 'response', res), 'ok');
      assert.deepEqual(events, ['request', 'resume', 'responseheaders', 'response']);
    } else {
      assert.equal(await deadline(t, 15000, 'end', res), 'error ECONNRESET');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(events, ['request', 'kill', 'error: Connection killed.']);
    }
  });
}

for (const proto of ['h1', 'h2']) {
  test(`${proto} client: a flow killed from outside its hooks (mitmweb) while its complete response waits for the streamed request: one error hook`, async (t) => {
    // Answers at once and goes on reading the body (the connection stays open).
    const server = await rawServer(t, (s) => {
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
      s.on('data', () => undefined);
    });
    const { hooks, flow, addon } = streamedRequestRecorder();
    const proxy = await testProxy(t, { addons: [addon] });
    let timer: NodeJS.Timeout;
    t.after(() => clearInterval(timer));
    let done: Promise<string>;
    if (proto === 'h1') {
      done = new Promise<string>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/x`, agent: false });
        t.after(() => req.destroy());
        req.on('error', () => resolve('error'));
        req.on('response', () => resolve('response'));
        req.on('close', () => resolve('close'));
        timer = setInterval(() => req.write('x'.repeat(100)), 100);
      });
    } else {
      const stream = h2RequestViaProxy(t, proxy.port, { ':method': 'POST', ':path': '/x', ':scheme': 'http', ':authority': `127.0.0.1:${server.port}` });
      done = new Promise<string>((resolve) => stream.on('close', () => resolve(`close ${stream.rstCode}`)));
      timer = setInterval(() => stream.write('x'.repeat(100)), 100);
    }
    // The response is complete (its end waits for the request); the request goes on (a chunk
    // every 100 ms) until the kill.
    await waitFor(() => hooks.length > 1, 10000, 'response');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(hooks, ['responseheaders', 'response']);
    flow()!.kill();
    const how = await deadline(t, 10000, 'end', done);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(hooks, ['responseheaders', 'response', 'error: Connection killed.'], how);
    assert.deepEqual(proxy.logs.filter((l) => l.message.includes('Unexpected error')).map((l) => l.message), []);
  });
}

test('HTTP/1: a flow killed from outside its hooks while its streamed request is stuck on a server that stopped reading: one error hook', async (t) => {
  // Answers at once, then reads no more: the proxy's writes of the body wait on backpressure.
  const server = await rawServer(t, (s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      s.pause();
    });
  });
  const { hooks, flow, addon } = streamedRequestRecorder();
  const proxy = await testProxy(t, { addons: [addon] });
  const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: `${server.url}/x`, agent: false });
  t.after(() => req.destroy());
  req.on('error', () => undefined);
  req.write(Buffer.alloc(32 * 1024 * 1024, 0x61));
  await waitFor(() => hooks.length > 1, 10000, 'response');
  // Time for every buffer on the way to the server to fill.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(hooks, ['responseheaders', 'response']);
  flow()!.kill();
  await waitFor(() => hooks.length > 2, 10000, 'the error hook');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(hooks, ['responseheaders', 'response', 'error: Connection killed.']);
});

test('HTTP/1: a buffered response with trailers to a streamed request goes out chunked, its trailers kept', async (t) => {
  const server = await httpServer(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { trailer: 'x-sum' });
      res.write('ok');
      res.addTrailers({ 'x-sum': '42' });
      res.end();
    });
  });
  const proxy = await testProxy(t, { options: { stream_large_bodies: '1k' } });
  const raw = (
    await rawRequest(proxy.port, `POST ${server.url}/ HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n${'a'.repeat(4096)}`)
  ).toString('latin1');
  assert.match(raw, /^HTTP\/1\.1 200 /);
  assert.match(raw, /\r\ntransfer-encoding: chunked\r\n/i);
  assert.match(raw, /\r\n0\r\nx-sum: 42\r\n\r\n$/i);
});

/**
 * A gRPC server that ends a call while the client is still streaming (an error status in the
 * middle of a bidirectional call, or a Trailers-Only answer to a client-streaming call it refuses).
 */
for (const shape of ['trailers', 'trailers-only'] as const) {
  test(`HTTP/2: a server that ends its response (${shape}) while the streamed request goes on: the client gets the end at once, as with mitmproxy`, async (t) => {
    const server = await tlsH2Server(t, (req, res) => {
      if (shape === 'trailers-only') {
        res.stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'nope' }, { endStream: true });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/grpc' });
      req.once('data', (d: Buffer) => {
        res.write(d);
        res.addTrailers({ 'grpc-status': '3', 'grpc-message': 'bad' });
        res.end();
      });
    });
    const rec = streamingAddon();
    const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
    const stream = h2RequestViaProxy(t, proxy.port, { ':method': 'POST', ':path': '/echo.Echo/Chat', ':scheme': 'https', ':authority': `localhost:${(server.address() as AddressInfo).port}`, 'content-type': 'application/grpc' });
    let received = '';
    let status = '';
    stream.setEncoding('latin1');
    stream.on('data', (d: string) => (received += d));
    // gRPC reads its status from the trailers, or from the headers when they end the stream.
    stream.on('response', (h, flags) => {
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) status = String(h['grpc-status']);
    });
    stream.on('trailers', (h) => (status = String(h['grpc-status'])));
    stream.write('ping');
    // The request is never ended by the client here (it waits for the status, as gRPC does).
    await deadline(t, 10000, 'end of the response', new Promise<void>((resolve) => stream.on('end', resolve)));
    assert.deepEqual({ received, status }, shape === 'trailers' ? { received: 'ping', status: '3' } : { received: '', status: '12' });
    // As grpc-js does once it has a status other than OK.
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => rec.hooks.includes('response'), 10000, 'the response hook');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rec.hooks.filter((h) => h.startsWith('error')).length, 0, rec.hooks.join(', '));
  });
}

test('HTTP/2: a server that ends its response with trailers, then resets the stream with NO_ERROR while the client still sends: the client is let go', async (t) => {
  const server = await tlsH2Server(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc' });
    req.once('data', () => {
      res.addTrailers({ 'grpc-status': '3' });
      res.end();
      // Once the trailers are out (nghttp2 would send a reset made now ahead of them).
      setTimeout(() => res.stream.close(http2.constants.NGHTTP2_NO_ERROR), 200);
    });
  });
  const rec = streamingAddon();
  const proxy = await testProxy(t, { addons: [rec.addon], options: { ssl_insecure: true } });
  const stream = h2RequestViaProxy(t, proxy.port, { ':method': 'POST', ':path': '/echo.Echo/Chat', ':scheme': 'https', ':authority': `localhost:${(server.address() as AddressInfo).port}` });
  let status = '';
  stream.on('trailers', (h) => (status = String(h['grpc-status'])));
  stream.resume();
  // A client that goes on sending (a chunk every 50 ms) until its stream is closed.
  const timer = setInterval(() => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(Buffer.alloc(16 * 1024, 0x61));
  }, 50);
  t.after(() => clearInterval(timer));
  await deadline(t, 10000, 'close of the stream', new Promise<void>((resolve) => stream.on('close', resolve)));
  assert.equal(status, '3');
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
});
