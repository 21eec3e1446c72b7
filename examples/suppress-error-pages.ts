/**
 * Drop the connection instead of answering with the proxy's own error page (mitmproxy's
 * suppress_error_responses example): a web scanner or test client behind the proxy then sees
 * the failure as a network error, not as a 502 page the server never sent.
 *
 *     npx mitmproxy-ts dump -s examples/suppress-error-pages.ts
 *
 * The flow is still live in its `error` hook, so `kill()` there stops the error reply.
 */
import { ctx, type HTTPFlow } from 'mitmproxy-ts';

export function error(flow: HTTPFlow): void {
  ctx.log.info(`dropping ${flow.request.prettyUrl} instead of an error page: ${flow.error?.msg}`);
  flow.kill();
}
