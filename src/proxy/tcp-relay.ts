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
  const hooks = ctx.hooks;
  const flow = new TCPFlow(ctx.client, ctx.server, true);
  // Injected while tcp_start runs (mitmproxy's example injects there): held until the relay
  // starts, as mitmproxy's layer holds events that arrive while a hook is pending.
  const injectedDuringStart: Array<[toClient: boolean, content: Buffer]> = [];
  liveTcpFlows.set(flow, (toClient, content) => injectedDuringStart.push([toClient, content]));
  await hooks.triggerFlow('tcp_start', flow);
  if (flow.killed) {
    liveTcpFlows.delete(flow);
    serverSocket.destroy();
    ctx.socket.destroy();
    // As every TCP flow, a killed one ends with tcp_error (its error is "Connection killed.").
    await hooks.triggerFlow('tcp_error', flow);
    return;
  }
  const killed = flow.onKill(() => {
    serverSocket.destroy();
    ctx.socket.destroy();
  });
  let failure: string | null = null;

  /** Write a message's (possibly changed) content to `to`, unless it went out already or is empty; a promise when `to` asks to wait. */
  const writeOut = (msg: TCPMessage, to: Duplex, sent: boolean): Promise<void> | undefined => {
    if (flow.killed || sent || !msg.content.length || to.destroyed || to.writableEnded) return undefined;
    return to.write(msg.content) ? undefined : waitForDrain(to);
  };

  /** Record a message, run `tcp_message` (synchronously when every handler is), then write it out. */
  const deliver = (msg: TCPMessage, to: Duplex, sent: boolean): Promise<void> | undefined => {
    flow.messages.push(msg);
    const pending = hooks.triggerFlowFast('tcp_message', flow);
    if (pending) return pending.then(() => writeOut(msg, to, sent));
    return writeOut(msg, to, sent);
  };

  const pump = async (from: SocketReader, to: Duplex, fromClient: boolean): Promise<void> => {
    try {
      for (;;) {
        const chunk = await from.readSome();
        if (chunk === null) break;
        // When every tcp_message handler only reads, the chunk goes out before the hooks run
        // (they cannot change it), off the round trip of request/response protocols.
        const sent = !flow.intercepted && hooks.onlyReads('tcp_message');
        const mustWait = sent && !to.destroyed && !to.write(chunk);
        const pending = deliver(new TCPMessage(fromClient, chunk), to, sent);
        if (pending) await pending;
        if (flow.killed) return;
        if (mustWait) await waitForDrain(to);
      }
      if (!to.destroyed) to.end();
    } catch (e) {
      failure ??= describeNetworkError(e);
      to.destroy();
    }
  };

  const inject = (toClient: boolean, content: Buffer): void => {
    // Recorded as if the other side had sent it.
    const pending = deliver(new TCPMessage(!toClient, content), toClient ? ctx.socket : serverSocket, false);
    pending?.catch((e: unknown) => ctx.master.log.warn(`Cannot inject TCP message: ${(e as Error)?.message ?? String(e)}`, ctx.clientLabel));
  };
  liveTcpFlows.set(flow, inject);
  for (const [toClient, content] of injectedDuringStart.splice(0)) inject(toClient, content);
  try {
    await Promise.all([pump(ctx.reader, serverSocket, true), pump(serverReader, ctx.socket, false)]);
  } finally {
    liveTcpFlows.delete(flow);
  }
  killed();
  flow.live = false;
  // A kill destroyed both sockets: the flow ends with tcp_error and its "Connection killed." error.
  if (failure && !flow.killed) flow.error = new FlowError(failure);
  if (flow.error) {
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
