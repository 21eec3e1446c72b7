/**
 * Host a web app inside the proxy (mitmproxy's wsgi-flask-app example): requests for
 * http://example.com/ are answered by the app below and never reach the real example.com.
 * `NodeApp` takes any node:http listener (an Express app works as it is); `FetchApp` takes a
 * web-standard `(request) => Response` handler (Hono's `app.fetch`, for one).
 *
 *     npx mitmproxy-ts dump -s examples/hosted-app.ts
 *     curl -x http://127.0.0.1:8080 http://example.com/
 *     curl -x http://127.0.0.1:8080 http://api.example.com/time
 *
 * Over HTTPS the host must resolve, because the proxy connects to it before the request is
 * known, unless it is started with `--set connection_strategy=lazy --set upstream_cert=false`.
 */
import { FetchApp, NodeApp } from 'mitmproxy-ts';

export const addons = [
  // Every port of example.com (pass a port to host it on one only).
  new NodeApp((req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(req.url === '/' ? 'Hello World!\n' : `No page at ${req.url}\n`);
  }, 'example.com'),
  new FetchApp((request) => Response.json({ path: new URL(request.url).pathname, now: new Date().toISOString() }), 'api.example.com', 80),
];
