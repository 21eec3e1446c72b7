import type { Loader } from '../addonmanager.js';
import type { AnyFlow } from '../flows.js';
import { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { injectWebSocketMessage } from '../proxy/websocket.js';

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
    const content = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
    if (!injectWebSocketMessage(flow, toClient, content, isText)) this.master.log.warn('Flow is not from a live connection.');
  }
}
