/**
 * Flow filter matching speed: 100 000 in-memory HTTP flows (varied hosts, methods, status codes,
 * some without a response) matched against `~d example.com & (~m POST | ~c 500) & !~a`.
 *
 *   node --import tsx bench/filter-bench.ts [flowCount] [rounds]
 *
 * Prints the milliseconds of the best and the median round (parsing is timed separately).
 */
import { performance } from 'node:perf_hooks';
import { HTTPFlow, Request, Response } from '../src/http.js';
import { Client, Server } from '../src/connection.js';
import { parse } from '../src/flowfilter/index.js';

const FLOWS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const FILTER = '~d example.com & (~m POST | ~c 500) & !~a';

const HOSTS = ['example.com', 'api.example.com', 'www.example.org', 'cdn.static.net', 'mitmproxy.org', 'EXAMPLE.COM', 'shop.example.com.evil.io', '10.0.0.1'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'post'];
const STATUS = [200, 200, 200, 204, 301, 304, 404, 500, 502];
const TYPES = ['text/html; charset=utf-8', 'application/json', 'image/png', 'text/css', 'application/javascript', 'font/woff2'];

function makeFlow(i: number): HTTPFlow {
  const host = HOSTS[i % HOSTS.length]!;
  const method = METHODS[(i * 7) % METHODS.length]!;
  const request = new Request({
    host,
    port: i % 3 === 0 ? 80 : 443,
    method,
    scheme: i % 3 === 0 ? 'http' : 'https',
    path: `/api/v1/items/${i}?page=${i % 17}`,
    headers: [
      ['Host', i % 5 === 0 ? `alias${i % 4}.example.com` : host],
      ['User-Agent', 'curl/8.5.0'],
      ['Accept', '*/*'],
      ['Accept-Encoding', 'gzip, deflate, br'],
    ],
    content: method === 'GET' ? Buffer.alloc(0) : Buffer.from(`{"item": ${i}}`),
  });
  const flow = new HTTPFlow(new Client({ peername: ['127.0.0.1', 40000 + (i % 20000)] }), new Server({ address: [host, request.port] }), false, request);
  if (i % 10 !== 9) {
    flow.response = new Response({
      statusCode: STATUS[(i * 3) % STATUS.length]!,
      headers: [
        ['Date', 'Mon, 01 Jan 2024 00:00:00 GMT'],
        ['Server', 'nginx'],
        ['Content-Type', TYPES[(i * 5) % TYPES.length]!],
        ['Content-Length', '13'],
        ['Cache-Control', 'max-age=60'],
      ],
      content: Buffer.from('{"ok": true}\n'),
    });
  }
  return flow;
}

const flows: HTTPFlow[] = [];
for (let i = 0; i < FLOWS; i++) flows.push(makeFlow(i));

const t0 = performance.now();
const filter = parse(FILTER);
const parseMs = performance.now() - t0;

const times: number[] = [];
let matched = 0;
for (let round = 0; round < ROUNDS; round++) {
  const start = performance.now();
  let n = 0;
  for (let i = 0; i < flows.length; i++) if (filter.match(flows[i]!)) n++;
  times.push(performance.now() - start);
  matched = n;
}
const first = times[0]!;
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
console.log(`filter: ${FILTER}`);
console.log(`flows: ${flows.length}, matched: ${matched}, parse: ${parseMs.toFixed(2)} ms`);
console.log(`match all flows: first round ${first.toFixed(1)} ms (cold), best ${times[0]!.toFixed(1)} ms, median ${median.toFixed(1)} ms over ${ROUNDS} rounds`);
