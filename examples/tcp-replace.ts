/**
 * Change raw TCP traffic (mitmproxy's tcp-simple example): replace "foo" with "bar" in every
 * message, both ways, and greet the client when the connection starts.
 *
 *     npx mitmproxy-ts dump --tcp-hosts '.*' -s examples/tcp-replace.ts
 *
 * TCP has no messages: each one is whatever one read from the socket returned, so a "foo" split
 * across two reads is not replaced. Good enough for a quick hack, as mitmproxy says.
 */
import { ctx, type TCPFlow } from 'mitmproxy-ts';

export async function tcp_start(flow: TCPFlow): Promise<void> {
  await ctx.master.commands.call('inject.tcp', flow, true, Buffer.from('hello from mitmproxy-ts\n'));
}

export function tcp_message(flow: TCPFlow): void {
  const message = flow.messages.at(-1)!;
  message.content = Buffer.from(message.content.toString('latin1').replaceAll('foo', 'bar'), 'latin1');
  ctx.log.info(`tcp ${message.fromClient ? 'client' : 'server'}: ${JSON.stringify(message.content.toString('latin1'))}`);
}
