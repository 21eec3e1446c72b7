import type { Loader } from '../addonmanager.js';
import type { AnyFlow } from '../flows.js';
import { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { injectWebSocketMessage } from '../proxy/websocket.js';
import { injectTcpMessage } from '../proxy/tcp-relay.js';
import { TCPFlow, UDPFlow } from '../tcp.js';
import { injectUdpMessage } from '../proxy/udp-relay.js';

/**
 * The `inject.*` commands: send new messages into live connections. mitmproxy declares them on
 * its proxyserver addon; here they are their own addon that reaches the live relays of the
 * proxy core directly.
 */
export class Inject {
  readonly name = 'inject';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addCommand(
      'inject.websocket',
      {
        help: 'Inject a WebSocket message into a live flow.',
        params: [
          { name: 'flow', type: 'flow' },
          { name: 'to_client', type: 'bool' },
          { name: 'message', type: 'bytes' },
          { name: 'is_text', type: 'bool', default: true },
        ],
      },
      (flow: AnyFlow, toClient: boolean, message: Buffer | string, isText = true) => this.websocket(flow, toClient, message, isText),
    );
    for (const kind of ['tcp', 'udp'] as const) {
      loader.addCommand(
        `inject.${kind}`,
        {
          help: `Inject a ${kind.toUpperCase()} message into a live flow.`,
          params: [
            { name: 'flow', type: 'flow' },
            { name: 'to_client', type: 'bool' },
            { name: 'message', type: 'bytes' },
          ],
        },
        (flow: AnyFlow, toClient: boolean, message: Buffer | string) => (kind === 'tcp' ? this.tcp(flow, toClient, message) : this.udp(flow, toClient, message)),
      );
    }
  }

  tcp(flow: AnyFlow, toClient: boolean, message: Buffer | string): void {
    if (!(flow instanceof TCPFlow) || flow instanceof UDPFlow) {
      this.master.log.warn('Cannot inject TCP messages into non-TCP flows.');
      return;
    }
    if (!injectTcpMessage(flow, toClient, toBuffer(message))) this.master.log.warn('Flow is not from a live connection.');
  }

  udp(flow: AnyFlow, toClient: boolean, message: Buffer | string): void {
    if (!(flow instanceof UDPFlow)) {
      this.master.log.warn('Cannot inject UDP messages into non-UDP flows.');
      return;
    }
    if (!injectUdpMessage(flow, toClient, toBuffer(message))) this.master.log.warn('Flow is not from a live connection.');
  }

  /**
   * Queue `message` for the client (`toClient`) or the server. Like mitmproxy, problems are
   * warnings in the event log, not command errors.
   */
  websocket(flow: AnyFlow, toClient: boolean, message: Buffer | string, isText = true): void {
    if (!(flow instanceof HTTPFlow) || !flow.websocket) {
      this.master.log.warn('Cannot inject WebSocket messages into non-WebSocket flows.');
      return;
    }
    if (!injectWebSocketMessage(flow, toClient, toBuffer(message), isText)) this.master.log.warn('Flow is not from a live connection.');
  }
}

/** A command's bytes argument as our own copy. */
function toBuffer(message: Buffer | string): Buffer {
  return typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
}
