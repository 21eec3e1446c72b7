/**
 * Send WebSocket messages of the proxy's own into live conversations (mitmproxy's
 * websocket-inject-message example): a client message that mentions "secret" is dropped and
 * answered by the proxy, and every conversation gets a tick from the proxy every few seconds
 * while it is open.
 *
 *     npx mitmproxy-ts dump -s examples/websocket-inject.ts --set websocket_tick_ms=1000
 *
 * `inject.websocket flow to_client message` is a command, as in mitmproxy; `commands.call`
 * returns a promise here. A loop started from a hook runs on its own: nothing awaits it, so it
 * catches its own errors.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HTTPFlow, Loader, Master } from 'mitmproxy-ts';

class WebSocketInject {
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('websocket_tick_ms', 'int', 5000, 'Send each WebSocket client a tick this often (0: never).');
  }

  async websocket_message(flow: HTTPFlow): Promise<void> {
    const message = flow.websocket!.messages.at(-1)!;
    if (message.fromClient && message.isText && message.text.includes('secret')) {
      message.drop();
      await this.master.commands.call('inject.websocket', flow, true, Buffer.from('ssssssh'));
    }
  }

  websocket_start(flow: HTTPFlow): void {
    this.tick(flow).catch((e: unknown) => this.master.log.error(`websocket tick: ${String(e)}`));
  }

  private async tick(flow: HTTPFlow): Promise<void> {
    for (let n = 1; ; n++) {
      const every = this.master.options.get<number>('websocket_tick_ms');
      if (every <= 0) return;
      await sleep(every);
      // timestampEnd is set once the conversation is over (closed, failed or killed).
      if (flow.websocket!.timestampEnd !== null) return;
      await this.master.commands.call('inject.websocket', flow, true, Buffer.from(`tick ${n} from mitmproxy-ts`));
    }
  }
}

export default new WebSocketInject();
