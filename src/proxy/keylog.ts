import { appendFile } from 'node:fs';
import type tls from 'node:tls';

/**
 * SSLKEYLOGFILE support: the TLS secrets of every connection we terminate or open, in the NSS
 * key log format Wireshark reads. Only active when the environment variable is set at startup.
 */
const keylogFile = process.env.SSLKEYLOGFILE || process.env.MITMPROXY_SSLKEYLOGFILE || null;

export function attachKeylog(socket: tls.TLSSocket): void {
  if (!keylogFile) return;
  socket.on('keylog', (line: Buffer) => {
    appendFile(keylogFile, line, () => undefined);
  });
}
