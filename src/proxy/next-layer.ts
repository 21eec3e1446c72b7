import type { NextLayerData } from '../hooks.js';
import type { ConnectionContext } from './context.js';
import { eagerConnection } from './sniff.js';
import { proxyDebug } from './debug.js';

/**
 * The layers a connection (or a tunnel, or what a TLS handshake uncovered) can be served with,
 * as the `next_layer` hook names them:
 *   http:   HTTP/1 or HTTP/2, as the bytes say;
 *   tls:    intercept the client's TLS, then choose again for what it carries;
 *   tcp:    relay the bytes as a TCP flow (recorded, `tcp_message` per chunk);
 *   ignore: relay the bytes untouched and unrecorded (mitmproxy's TCPLayer with ignore=True).
 */
export const LAYER_NAMES = ['http', 'tls', 'tcp', 'ignore'] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

/**
 * Fire `next_layer` with the proxy's own choice already in `layer` (as mitmproxy's NextLayer
 * addon has made it before scripts see the hook) and return what the addons left there. A
 * choice this place cannot serve is reported and the proxy's own choice stands.
 */
export async function chooseLayer(ctx: ConnectionContext, proposed: LayerName, allowed: readonly LayerName[] = LAYER_NAMES): Promise<LayerName> {
  const chosen = await askAddons(ctx, proposed, allowed);
  proxyDebug(ctx, () => `[nextlayer] ${chosen}${chosen === proposed ? '' : ` (chosen by a next_layer handler instead of ${proposed})`}`);
  return chosen;
}

async function askAddons(ctx: ConnectionContext, proposed: LayerName, allowed: readonly LayerName[]): Promise<LayerName> {
  const hooks = ctx.hooks;
  if (!hooks.hasHandlers('next_layer')) return proposed;
  const eager = eagerConnection(ctx);
  const data: NextLayerData = {
    context: { client: ctx.client, server: ctx.server },
    dataClient: () => ctx.reader.unread(),
    dataServer: () => eager?.reader.unread() ?? Buffer.alloc(0),
    layer: proposed,
  };
  await hooks.trigger('next_layer', data);
  const chosen: unknown = data.layer;
  if (chosen === null || chosen === proposed) return proposed;
  if (typeof chosen === 'string' && (allowed as readonly string[]).includes(chosen)) return chosen as LayerName;
  ctx.master.log.warn(
    `next_layer: cannot serve this connection as ${JSON.stringify(chosen)} (possible here: ${allowed.map((l) => JSON.stringify(l)).join(', ')}); using "${proposed}".`,
    ctx.clientLabel,
  );
  return proposed;
}
