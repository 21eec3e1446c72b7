import { reasonPhrase } from '../status-codes.js';
import { opensslReason } from './tls-upstream.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

/**
 * The small HTML page mitmproxy answers protocol errors with: title and heading
 * "<code> <reason>", the (HTML-escaped) message in a paragraph.
 */
export function errorPage(statusCode: number, message: string): Buffer {
  const reason = reasonPhrase(statusCode) || 'Unknown';
  const html = [
    '<html>',
    '<head>',
    `    <title>${statusCode} ${reason}</title>`,
    '</head>',
    '<body>',
    `    <h1>${statusCode} ${reason}</h1>`,
    `    <p>${escapeHtml(message)}</p>`,
    '</body>',
    '</html>',
  ].join('\n');
  return Buffer.from(html, 'utf8');
}

/** A human-readable reason for a socket-level failure (connect errors, resets, TLS). */
export function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { host?: string; hostname?: string; address?: string; port?: number };
  switch (e?.code) {
    case 'ECONNREFUSED':
      return `Connection refused (${e.address ?? ''}${e.port !== undefined ? ':' + e.port : ''})`.replace(' ()', '');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Name or service not known (${e.hostname ?? e.host ?? ''})`;
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'ECONNRESET':
      return 'Connection reset by peer';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENETUNREACH':
      return 'Network is unreachable';
    case 'EPIPE':
      return 'Broken pipe';
    default:
      // An alert or a TLS error after the handshake (a TLS 1.3 server refusing our missing client
      // certificate only says so then): OpenSSL's reason, as mitmproxy's "TLS Error" line names
      // it, not node's whole error string with its source file and line.
      if (typeof e?.code === 'string' && e.code.startsWith('ERR_SSL_')) return `TLS Error: ${opensslReason(e.message)}`;
      return e instanceof Error ? e.message : String(err);
  }
}
