/**
 * Add a header to every response, numbered so you can see the proxy count them.
 *
 *     npx mitmproxy-ts dump -s examples/add-header.ts
 *     curl -x http://127.0.0.1:8080 -i http://example.com/
 */
import type { HTTPFlow } from 'mitmproxy-ts';

let count = 0;

export function response(flow: HTTPFlow): void {
  count += 1;
  flow.response?.headers.set('x-mitmproxy-ts', `response ${count}`);
}
