/**
 * Send connections for one address to another, whatever the requests say (mitmproxy's
 * `server_connect` hook): the client still sees the host it asked for, and only the TCP
 * connection goes elsewhere, e.g. to a staging copy of a service.
 *
 *     npx mitmproxy-ts dump -s examples/reroute-connections.ts --set reroute=api.example.com:443=127.0.0.1:8443
 *
 * Unlike changing `flow.request.host` in `request`, this also reroutes TLS tunnels and raw TCP,
 * and leaves the Host header and the SNI as the client sent them.
 */
import { OptionsError, type Loader, type Master, type ServerConnectionHookData } from 'mitmproxy-ts';

type Address = [host: string, port: number];

function parseAddress(spec: string): Address {
  const colon = spec.lastIndexOf(':');
  const port = Number(spec.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new OptionsError(`reroute: not host:port: ${JSON.stringify(spec)}`);
  return [spec.slice(0, colon).replace(/^\[|\]$/g, ''), port];
}

class Reroute {
  private master!: Master;
  private routes = new Map<string, Address>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('reroute', 'sequence of str', [], 'Connect to another address: "host:port=newhost:newport".');
  }

  configure(updated: Set<string>): void {
    if (!updated.has('reroute')) return;
    const routes = new Map<string, Address>();
    for (const rule of this.master.options.get<string[]>('reroute')) {
      const [from, to] = rule.split('=');
      if (from === undefined || to === undefined) throw new OptionsError(`reroute: not "from=to": ${JSON.stringify(rule)}`);
      routes.set(parseAddress(from).join(':'), parseAddress(to));
    }
    this.routes = routes;
  }

  server_connect(data: ServerConnectionHookData): void {
    const to = data.server.address && this.routes.get(data.server.address.join(':'));
    if (!to) return;
    this.master.log.info(`rerouting ${data.server.address!.join(':')} to ${to.join(':')}`);
    data.server.address = to;
  }
}

export default new Reroute();
