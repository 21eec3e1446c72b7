import dgram from 'node:dgram';

/**
 * A UDP socket bound to `host:port` ("" = every interface, IPv4 and IPv6 through one dual-stack
 * socket). Rejects with the bind error (EADDRINUSE, ...); afterwards errors are the caller's.
 */
export async function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: host === '' || host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host || '::', port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    socket.close();
    throw e;
  }
  return socket;
}
