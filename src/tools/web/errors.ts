import { STATUS_CODES } from 'node:http';

/**
 * An API error: the status code and a plain-text message as the whole body (mitmweb's
 * `APIError`), e.g. `404 Flow not found.`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * An error answered with the framework's small HTML page (unknown path, wrong method, XSRF, ...).
 * `reason` replaces the standard reason phrase (the DNS-rebinding refusal does that).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** Logged, not shown. */
    readonly logMessage = '',
    readonly reason?: string,
  ) {
    super(logMessage || `HTTP ${status}`);
    this.name = 'HttpError';
  }
}

/**
 * The client closed its connection while a streamed answer (a big flow list or dump) was being
 * sent. Nothing is left to answer, and it is no error of ours: a browser tab closed or reloaded
 * while loading, `curl | head`. Tornado drops such a request silently, and so do we.
 */
export class ClientGoneError extends Error {
  constructor() {
    super('client went away');
    this.name = 'ClientGoneError';
  }
}

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown';
}

/** `<html><title>404: Not Found</title><body>404: Not Found</body></html>` */
export function errorPage(status: number, reason = reasonPhrase(status), detail = ''): string {
  const title = `${status}: ${escapeHtml(reason)}`;
  return `<html><title>${title}</title><body>${title}${detail}</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
