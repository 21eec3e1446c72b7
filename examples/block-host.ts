/**
 * Answer every request to one host (and its subdomains) with 403, without contacting it.
 * The host is an option of the script, so it can be changed while the proxy runs:
 *
 *     npx mitmproxy-ts dump -s examples/block-host.ts --set block_host=ads.example.com
 */
import { Response, ctx, type HTTPFlow, type Loader } from 'mitmproxy-ts';

// The script's option joins the built-in ones' types, so `ctx.options.get('block_host')` is a string.
declare module 'mitmproxy-ts' {
  interface KnownOptions {
    block_host: string;
  }
}

export function load(loader: Loader): void {
  loader.addOption('block_host', 'str', 'example.com', 'Requests to this host and its subdomains are answered with 403.');
}

export function request(flow: HTTPFlow): void {
  const blocked = ctx.options.get('block_host').toLowerCase();
  const host = flow.request.prettyHost.toLowerCase();
  if (host === blocked || host.endsWith(`.${blocked}`)) {
    flow.response = Response.make(403, `Blocked by mitmproxy-ts: ${host}\n`, { 'Content-Type': 'text/plain' });
    ctx.log.info(`blocked ${flow.request.prettyUrl}`);
  }
}
