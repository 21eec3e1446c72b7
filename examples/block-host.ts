/**
 * Answer every request to one host (and its subdomains) with 403, without contacting it.
 * The host is an option of the script, so it can be changed while the proxy runs:
 *
 *     npx mitmproxy-ts dump -s examples/block-host.ts --set block_host=ads.example.com
 */
import { Response, type HTTPFlow, type Loader, type Master } from 'mitmproxy-ts';

class BlockHost {
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('block_host', 'str', 'example.com', 'Requests to this host and its subdomains are answered with 403.');
  }

  request(flow: HTTPFlow): void {
    const blocked = this.master.options.get<string>('block_host').toLowerCase();
    const host = flow.request.prettyHost.toLowerCase();
    if (host === blocked || host.endsWith(`.${blocked}`)) {
      flow.response = Response.make(403, `Blocked by mitmproxy-ts: ${host}\n`, { 'Content-Type': 'text/plain' });
      this.master.log.info(`blocked ${flow.request.prettyUrl}`);
    }
  }
}

export default new BlockHost();
