/**
 * Export formats of mitmproxy's `export` addon (spec/flow-format.md §5): curl and httpie command
 * lines, and the raw HTTP/1 bytes of a request, a response or both. Output is byte-for-byte
 * mitmproxy's (newest). Command lines are shell-quoted with POSIX single quotes, so no header
 * value or body (`$(id)`, backticks, quotes, newlines) is ever interpreted by the shell.
 */
import { CommandError } from '../command.js';
import { HTTPFlow, Request, Response } from '../http.js';
import type { AnyFlow } from '../flows.js';
import { byteStringText, decodeLikeMitmproxy, decodeUtf8Backslashreplace, encodeUtf8Surrogateescape } from './text.js';
import { isValidHost } from '../util/valid-host.js';

/** The formats, as `export.formats` lists them. */
export const EXPORT_FORMATS = ['curl', 'httpie', 'raw', 'raw_request', 'raw_response'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** `export_preserve_original_ip`: make curl connect to the IP the flow went to (`--resolve`). */
  preserveOriginalIp?: boolean;
}


/** Python's `shlex.quote`. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** mitmproxy's `url.hostport`: the port is left out when it is the scheme's default; IPv6 hosts are not bracketed. */
function hostport(scheme: string, host: string, port: number): string {
  return DEFAULT_PORT[scheme] === port ? host : `${host}:${port}`;
}

/** mitmproxy's `parse_authority(..., check=False)`: what is not a valid `host[:port]` is the host, whole. */
function parseAuthority(authority: string): [string, number | null] {
  const m = /^([^:]+|\[.+\])(?::(\d+))?$/.exec(authority);
  if (!m) return [authority, null];
  let host = m[1]!;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!isValidHost(host, true)) return [authority, null];
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (port < 0 || port > 65535) return [authority, null];
    return [host, port];
  }
  return [host, null];
}

function hostHeader(req: Request): string | undefined {
  if (req.isHttp2 || req.isHttp3) return req.authority ? byteStringText(req.authority) : req.headers.get('host');
  return req.headers.get('host');
}

/** `request.pretty_host`. */
export function prettyHost(req: Request): string {
  const hh = hostHeader(req);
  return hh ? parseAuthority(hh)[0] : req.host;
}

/** `request.pretty_url`: the URL with the host the client asked for (Host header or :authority). */
export function prettyUrl(req: Request): string {
  if (req.method.toUpperCase() === 'CONNECT') return byteStringText(req.authority);
  const path = req.path === '*' ? '' : byteStringText(req.path);
  const hh = hostHeader(req);
  if (!hh) return `${req.scheme}://${hostport(req.scheme, req.host, req.port)}${path}`;
  const [host, port] = parseAuthority(hh);
  return `${req.scheme}://${hostport(req.scheme, host, port || DEFAULT_PORT[req.scheme] || 443)}${path}`;
}

function copyRequest(r: Request): Request {
  return Request.fromState(r.getState());
}

function copyResponse(r: Response): Response {
  return Response.fromState(r.getState());
}

function requireRequest(f: AnyFlow): HTTPFlow {
  if (!(f instanceof HTTPFlow) || !f.request) throw new CommandError("Can't export flow with no request.");
  return f;
}

/** A decoded copy of the request (content-encoding undone where possible). */
function cleanupRequest(f: AnyFlow): Request {
  const req = copyRequest(requireRequest(f).request);
  decodeLikeMitmproxy(req, false);
  return req;
}

function cleanupResponse(f: AnyFlow): Response {
  if (!(f instanceof HTTPFlow) || !f.response) throw new CommandError("Can't export flow with no response.");
  const resp = copyResponse(f.response);
  decodeLikeMitmproxy(resp, false);
  return resp;
}

/** Drop headers that curl and httpie compute themselves. */
function popHeaders(req: Request): void {
  req.headers.delete('content-length');
  if ((req.headers.get('host') ?? '') === req.host) req.headers.delete('host');
  if ((req.headers.get(':authority') ?? '') === req.host) req.headers.delete(':authority');
}

/** The (decoded) body, treating an empty body as empty even when a content-encoding is declared. */
function bodyOf(req: Request): Buffer | null {
  const raw = req.rawContent;
  if (raw === null || raw.length === 0) return raw;
  try {
    return req.getContent(true);
  } catch {
    return null;
  }
}

/** The body as text for `-d` / `<<<`, control characters escaped for `printf`. */
function consoleBody(req: Request): string {
  let body: string | null;
  try {
    body = req.getText(true);
  } catch {
    throw new CommandError('Request content must be valid unicode');
  }
  if (!body) throw new CommandError('Request content must be valid unicode');
  let escaped = '';
  let any = false;
  for (const ch of body) {
    const c = ch.charCodeAt(0);
    if (c < 32) {
      escaped += '\\x' + c.toString(16).padStart(2, '0');
      any = true;
    } else escaped += ch;
  }
  return any ? `"$(printf ${shellQuote(escaped)})"` : shellQuote(escaped);
}

function headerItems(req: Request): Array<[string, string]> {
  return req.headers.fields.map(([k, v]) => [byteStringText(k), byteStringText(v)]);
}

/** `curl ...` for a flow's request. */
export function curlCommand(f: AnyFlow, opts: ExportOptions = {}): string {
  const flow = requireRequest(f);
  const req = cleanupRequest(f);
  popHeaders(req);
  const args = ['curl'];
  const serverAddr = flow.serverConn.peername ? flow.serverConn.peername[0] : null;
  if (opts.preserveOriginalIp && serverAddr && prettyHost(req) !== serverAddr) {
    args.push('--resolve', `${prettyHost(req)}:${req.port}:[${serverAddr}]`);
  }
  for (const [k, v] of headerItems(req)) {
    if (k.toLowerCase() === 'accept-encoding') args.push('--compressed');
    else args.push('-H', `${k}: ${v}`);
  }
  const body = bodyOf(req);
  const method = byteStringText(req.method);
  if (method !== 'GET') {
    if (!body || body.length === 0) args.push('-H', 'content-length: 0');
    args.push('-X', method);
  }
  args.push(prettyUrl(req));
  let cmd = args.map(shellQuote).join(' ');
  if (body && body.length) cmd += ` -d ${consoleBody(req)}`;
  return cmd;
}

/** `http METHOD URL headers... <<< body` for a flow's request. */
export function httpieCommand(f: AnyFlow): string {
  requireRequest(f);
  const req = cleanupRequest(f);
  popHeaders(req);
  const args = ['http', byteStringText(req.method), prettyUrl(req)];
  for (const [k, v] of headerItems(req)) args.push(`${k}: ${v}`);
  let cmd = args.map(shellQuote).join(' ');
  const body = bodyOf(req);
  if (body && body.length) cmd += ' <<< ' + consoleBody(req);
  return cmd;
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return latin1(fields.map(([n, v]) => `${n}: ${v}\r\n`).join(''));
}

/** The body as on an HTTP/1 wire: re-chunked when Transfer-Encoding says chunked. */
function assembleBody(headers: Request['headers'], body: Buffer, trailers: Request['trailers']): Buffer {
  if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    if (body.length) parts.push(latin1(`${body.length.toString(16)}\r\n`), body, latin1('\r\n'));
    if (trailers && trailers.fields.length) parts.push(latin1('0\r\n'), headerBlock(trailers.fields), latin1('\r\n'));
    else parts.push(latin1('0\r\n\r\n'));
    return Buffer.concat(parts);
  }
  if (trailers && trailers.fields.length) throw new CommandError('Sending HTTP/1.1 trailer headers requires transfer-encoding: chunked');
  return body;
}

/** The request as HTTP/1 bytes (decoded body). */
export function rawRequest(f: AnyFlow): Buffer {
  const req = cleanupRequest(f);
  if (req.rawContent === null) throw new CommandError('Request content missing.');
  let line: string;
  if (req.method.toUpperCase() === 'CONNECT') line = `${req.method} ${req.authority} ${req.httpVersion}`;
  else if (req.authority) line = `${req.method} ${req.scheme}://${req.authority}${req.path} ${req.httpVersion}`;
  else line = `${req.method} ${req.path} ${req.httpVersion}`;
  return Buffer.concat([latin1(line + '\r\n'), headerBlock(req.headers.fields), latin1('\r\n'), assembleBody(req.headers, req.rawContent, req.trailers)]);
}

/** The response as HTTP/1 bytes (decoded body). */
export function rawResponse(f: AnyFlow): Buffer {
  const resp = cleanupResponse(f);
  if (resp.rawContent === null) throw new CommandError('Response content missing.');
  const line = `${resp.httpVersion} ${resp.statusCode} ${resp.reason}`;
  return Buffer.concat([latin1(line + '\r\n'), headerBlock(resp.headers.fields), latin1('\r\n'), assembleBody(resp.headers, resp.rawContent, resp.trailers)]);
}

/** Request and response (and WebSocket messages), or whichever of the two exists. */
export function raw(f: AnyFlow): Buffer {
  const sep = latin1('\r\n\r\n');
  const http = f instanceof HTTPFlow ? f : null;
  const requestPresent = !!http && http.request.rawContent !== null;
  const responsePresent = !!http && !!http.response && http.response.rawContent !== null;
  if (requestPresent && responsePresent) {
    const parts = [rawRequest(f), rawResponse(f)];
    if (http!.websocket) {
      const msgs = Array.from(http!.websocket.readMessages(), (m) => Buffer.concat([latin1(m.fromClient ? '[OUTGOING] ' : '[INCOMING] '), m.content]));
      parts.push(Buffer.concat(msgs.flatMap((m, i) => (i ? [latin1('\n'), m] : [m]))));
    }
    return Buffer.concat(parts.flatMap((p, i) => (i ? [sep, p] : [p])));
  }
  if (requestPresent) return rawRequest(f);
  if (responsePresent) return rawResponse(f);
  throw new CommandError("Can't export flow with no request or response.");
}

export function isExportFormat(format: string): format is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(format);
}

/** Render a flow in a format: a string for the command lines, bytes for the raw formats. */
export function exportFlow(format: ExportFormat, f: AnyFlow, opts: ExportOptions = {}): string | Buffer {
  switch (format) {
    case 'curl':
      return curlCommand(f, opts);
    case 'httpie':
      return httpieCommand(f);
    case 'raw':
      return raw(f);
    case 'raw_request':
      return rawRequest(f);
    case 'raw_response':
      return rawResponse(f);
    default:
      throw new CommandError(`No such export format: ${format}`);
  }
}

/** What the `export` command returns: text, with undecodable bytes shown as `\xNN`. */
export function exportToString(format: ExportFormat, f: AnyFlow, opts: ExportOptions = {}): string {
  const v = exportFlow(format, f, opts);
  const bytes = typeof v === 'string' ? encodeUtf8Surrogateescape(v) : v;
  return decodeUtf8Backslashreplace(bytes);
}

/** What `export.file` writes: bytes as they are, text as UTF-8 (surrogate escapes back to their bytes). */
export function exportToBytes(format: ExportFormat, f: AnyFlow, opts: ExportOptions = {}): Buffer {
  const v = exportFlow(format, f, opts);
  return typeof v === 'string' ? encodeUtf8Surrogateescape(v) : v;
}
