import type { ConnectionContext } from './context.js';

/**
 * `proxy_debug`: trace lines of the proxy core, logged at debug level with the client's label
 * (so they show with `termlog_verbosity` debug, as mitmproxy's layer traces do). Each names the
 * part of the core it comes from in brackets: [nextlayer], [server], [tls], [http], [tcp]. The
 * message may be a function, so nothing is formatted while the option is off.
 */
export function proxyDebug(ctx: ConnectionContext, message: string | (() => string)): void {
  if (!ctx.options.proxyDebug) return;
  ctx.master.log.debug(typeof message === 'function' ? message() : message, ctx.clientLabel);
}
