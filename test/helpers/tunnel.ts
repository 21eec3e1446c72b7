import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Open a CONNECT tunnel through the proxy; resolves with the socket once the proxy said 200. */
export function connectTunnel(proxyPort: number, target: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let buf = Buffer.alloc(0);
    // Paused-mode reading: what follows the response head in the same chunk (a server that speaks
    // first) is put back, and reaches the caller's own 'data' listener once it attaches.
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = s.read() as Buffer | null) !== null; ) {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) continue;
        s.off('readable', onReadable);
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 200/.test(head)) return reject(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`));
        const rest = buf.subarray(end + 4);
        if (rest.length) s.unshift(rest);
        return resolve(s);
      }
    };
    s.on('readable', onReadable);
    s.on('error', reject);
  });
}

/** The CA a client must trust for the proxy's certificates (the test confdir's). */
export function proxyCa(confdir: string): string {
  return readFileSync(join(confdir, 'mitmproxy-ca-cert.pem'), 'utf8');
}

/** CONNECT, then TLS to the target through the tunnel, trusting the proxy's CA. */
export async function tlsThroughProxy(
  proxyPort: number,
  target: string,
  opts: { ca: string; servername?: string; alpn?: string[] },
): Promise<tls.TLSSocket> {
  const raw = await connectTunnel(proxyPort, target);
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket: raw, ca: opts.ca, servername: opts.servername ?? target.split(':')[0], ALPNProtocols: opts.alpn ?? ['http/1.1'] }, () => resolve(t));
    t.on('error', reject);
  });
}
