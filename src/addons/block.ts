import type { Loader } from '../addonmanager.js';
import type { Client } from '../connection.js';
import type { Master } from '../master.js';
import { classifyAddress } from './util/ipclass.js';
import { modeType } from './util/mode.js';

/**
 * Refuse clients by where they connect from: `block_global` (on by default) kills connections
 * from public addresses, so a proxy accidentally left open to the internet is not abused;
 * `block_private` kills those from private networks. Loopback clients and the local redirector
 * are always allowed.
 */
export class Block {
  readonly name = 'block';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('block_global', 'bool', true, 'Block connections from public IP addresses.');
    loader.addOption(
      'block_private',
      'bool',
      false,
      'Block connections from local (private) IP addresses. This option does not affect loopback addresses (connections from the local machine), which are always permitted.',
    );
  }

  client_connected(client: Client): void {
    const peer = client.peername?.[0];
    if (peer === undefined) return;
    const cls = classifyAddress(peer);
    if (!cls || cls.loopback || modeType(client.proxyMode) === 'local') return;
    const o = this.master.options;
    if (o.get<boolean>('block_private') && cls.private) {
      this.master.log.warn(`Client connection from ${peer} killed by block_private option.`);
      client.error = 'Connection killed by block_private.';
    }
    if (o.get<boolean>('block_global') && cls.global) {
      this.master.log.warn(`Client connection from ${peer} killed by block_global option.`);
      client.error = 'Connection killed by block_global.';
    }
  }
}
