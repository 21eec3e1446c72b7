import type { Duplex } from 'node:stream';
import { FlowError } from '../flow.js';
import { TCPFlow, TCPMessage } from '../tcp.js';
import type { ConnectionContext } from './context.js';
import type { SocketReader } from './socket-reader.js';
import { waitForDrain } from './wait-for-drain.js';
import { describeNetworkError } from './error-page.js';

/** The live TCP relays, so `inject.tcp` can reach a flow's connection. */
const liveTcpFlows = new WeakMap<TCPFlow, (toClient: boolean, content: Buffer) => void>();

/**
 * Send a message into a live TCP flow, as the `inject.tcp` command does: it is recorded as if the
 * other side had sent it, goes through `tcp_message` (which may change or empty it) and is then
 * written to the chosen side. Returns false when the flow has no live connection.
 */
export function injectTcpMessage(flow: TCPFlow, toClient: boolean, content: Buffer): boolean {
  const inject = liveTcpFlows.get(flow);
  if (!inject) return false;
  inject(toClient, content);
  return true;
}

/**
 * Relay raw bytes between client and server as a TCP flow: every chunk read from either side is
 * recorded as a message and goes through `tcp_message` (which may change its content, or empty it
 * to drop it) before it is written to the other side.
 */
export async function relayTcpFlow(ctx: ConnectionContext, serverSocket: Duplex, serverReader: SocketReader): Promise<void> {
  const hooks = ctx.master.addons;
  const flow = new TCPFlow(ctx.client, ctx.server, true);
  await hooks.triggerFlow('tcp_start', flow);
  if (flow.killed) {
    serverSocket.destroy();
    ctx.socket.destroy();
    return;
  }
  const killed = flow.onKill(() => {
    serverSocket.destroy();
    ctx.socket.destroy();
  });
  let failure: string | null = null;

  const pump = async (from: SocketReader, to: Duplex, fromClient: boolean): Promise<void> => {
    try {
      for (;;) {
        const chunk = await from.readSome();
        if (chunk === null) break;
        // When every tcp_message handler only reads, the chunk goes out before the hooks run
        // (they cannot change it), off the round trip of request/response protocols.
        const forwardFirst = !flow.intercepted && hooks.onlyReads('tcp_message');
        const wait = forwardFirst && !to.destroyed && !to.write(chunk);
        const msg = new TCPMessage(fromClient, chunk);
        flow.messages.push(msg);
        const pending = hooks.triggerFlowFast('tcp_message', flow);
        if (pending) await pending;
        if (flow.killed) return;
        if (wait) await waitForDrain(to);
        else if (!forwardFirst && msg.content.length && !to.destroyed) {
          if (!to.write(msg.content)) await waitForDrain(to);
        }
      }
      if (!to.destroyed) to.end();
    } catch (e) {
      failure ??= describeNetworkError(e);
      to.destroy();
    }
  };

  liveTcpFlows.set(flow, (toClient, content) => {
    const to = toClient ? ctx.socket : serverSocket;
    const msg = new TCPMessage(!toClient, content);
    flow.messages.push(msg);
    const deliver = () => {
      if (!flow.killed && msg.content.length && !to.destroyed && !to.writableEnded) to.write(msg.content);
    };
    const pending = hooks.triggerFlowFast('tcp_message', flow);
    if (pending) pending.then(deliver, (e: unknown) => ctx.master.log.warn(`Cannot inject TCP message: ${(e as Error)?.message ?? String(e)}`, ctx.clientLabel));
    else deliver();
  });
  try {
    await Promise.all([pump(ctx.reader, serverSocket, true), pump(serverReader, ctx.socket, false)]);
  } finally {
    liveTcpFlows.delete(flow);
  }
  killed();
  flow.live = false;
  if (flow.killed) return;
  if (failure) {
    flow.error = new FlowError(failure);
    await hooks.triggerFlow('tcp_error', flow);
  } else {
    await hooks.triggerFlow('tcp_end', flow);
  }
}

/** Relay bytes untouched and unrecorded (ignore_hosts passthrough). */
export async function relayRaw(client: SocketReader, clientSocket: Duplex, server: SocketReader, serverSocket: Duplex): Promise<void> {
  const pump = async (from: SocketReader, to: Duplex): Promise<void> => {
    try {
      for (;;) {
        const chunk = await from.readSome();
        if (chunk === null) break;
        if (!to.destroyed && !to.write(chunk)) await waitForDrain(to);
      }
      if (!to.destroyed) to.end();
    } catch {
      to.destroy();
    }
  };
  await Promise.all([pump(client, serverSocket), pump(server, clientSocket)]);
}
