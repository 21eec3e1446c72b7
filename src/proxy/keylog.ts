import { appendFile } from 'node:fs';
import type tls from 'node:tls';

/**
 * SSLKEYLOGFILE support: the TLS secrets of every connection we terminate or open, in the NSS
 * key log format Wireshark reads. Only active when the environment variable is set at startup.
 */
// mitmproxy's own variable wins, so a browser's SSLKEYLOGFILE can stay pointed elsewhere.
const keylogFile = process.env.MITMPROXY_SSLKEYLOGFILE || process.env.SSLKEYLOGFILE || null;

export function attachKeylog(socket: tls.TLSSocket): void {
  if (!keylogFile) return;
  socket.on('keylog', (line: Buffer) => {
    appendFile(keylogFile, line, () => undefined);
  });
}
