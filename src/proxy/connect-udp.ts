import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';

/**
 * A UDP socket connected to `host:port`. A host name is looked up first (in the order the system
 * gives its addresses) and the socket made for that address's family: a udp4 socket cannot reach
 * a name that has only an IPv6 address. Rejects with the lookup or connect error, the socket
 * closed; afterwards errors are the caller's.
 */
export async function connectUdp(host: string, port: number): Promise<dgram.Socket> {
  const address = net.isIP(host) ? host : (await lookup(host)).address;
  const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      // node hands a failed connect to the callback (not to 'error'); a socket error meanwhile goes to 'error'.
      socket.once('error', reject);
      socket.connect(port, address, (err?: Error) => {
        socket.off('error', reject);
        if (err) reject(err);
        else resolve();
      });
    });
  } catch (e) {
    socket.close();
    throw e;
  }
  return socket;
}
