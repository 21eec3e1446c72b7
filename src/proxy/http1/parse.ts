import { Headers, type HeaderField } from '../../headers.js';

/**
 * HTTP/1 message heads, parsed from bytes by our own strict parser (not llhttp): it accepts any
 * token as a method (as mitmproxy does), keeps header bytes, case and order exactly, and rejects
 * everything in a request that lets two parsers disagree on framing (see notes/reliability.md
 * §2). Response heads are read as a user agent reads them (splitResponseLines).
 */

/** A malformed message head; the message is the reason given to the client. */
export class HttpSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpSyntaxError';
  }
}

export interface RequestHead {
  method: string;
  /** The request target exactly as sent. */
  target: string;
  httpVersion: string;
  headers: Headers;
}

export interface ResponseHead {
  httpVersion: string;
  statusCode: number;
  reason: string;
  headers: Headers;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text (0x80-0xff), space and tab; no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Request targets: no whitespace or control characters (bytes >= 0x80 are let through, as browsers send them).
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

export function isValidFieldValue(s: string): boolean {
  return FIELD_VALUE.test(s);
}

/** Split a head into lines, requiring CRLF line endings (a bare CR or LF is an error). */
function splitLines(head: string): string[] {
  // `head` ends with the blank line's CRLF CRLF; drop it.
  const body = head.endsWith('\r\n\r\n') ? head.slice(0, -4) : head;
  const lines = body.split('\r\n');
  for (const line of lines) {
    if (line.includes('\n') || line.includes('\r')) throw new HttpSyntaxError('Bare CR or LF in message head');
  }
  return lines;
}

/**
 * Split a response head into lines the way a user agent reads one (RFC 9112 §2.2 and §5.2): a
 * bare LF ends a line as CRLF does, and a line folded onto the next (obs-fold) is one line, the
 * fold replaced by a space. Servers old enough to send these exist, browsers and mitmproxy read
 * them, and unlike in a request nothing downstream can read them differently: the client gets
 * the head again, written by us with CRLFs. A bare CR is still refused.
 */
function splitResponseLines(head: string): string[] {
  const lines: string[] = [];
  for (const line of head.replace(/\r?\n\r?\n$/, '').split(/\r?\n/)) {
    if (line.includes('\r')) throw new HttpSyntaxError('Bare CR in message head');
    const c0 = line.charCodeAt(0);
    if ((c0 === 0x20 || c0 === 0x09) && lines.length > 1) lines[lines.length - 1] = `${trimOws(lines[lines.length - 1]!)} ${trimOws(line)}`;
    else lines.push(line);
  }
  return lines;
}

function parseHeaderLines(lines: string[], start: number): Headers {
  const fields: HeaderField[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) throw new HttpSyntaxError('Obsolete line folding in header');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpSyntaxError(`Invalid header line: ${JSON.stringify(line.slice(0, 100))}`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HttpSyntaxError(`Invalid header name: ${JSON.stringify(name.slice(0, 100))}`);
    const value = trimOws(line.slice(colon + 1));
    if (!FIELD_VALUE.test(value)) throw new HttpSyntaxError(`Invalid header value for ${name}`);
    fields.push([name, value]);
  }
  const h = new Headers();
  h.fields = fields;
  return h;
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parse a request head (request line + headers + blank line). */
export function parseRequestHead(raw: Buffer): RequestHead {
  const lines = splitLines(raw.toString('latin1'));
  const requestLine = lines[0]!;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) throw new HttpSyntaxError(`Bad HTTP request line: ${JSON.stringify(requestLine.slice(0, 200))}`);
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HttpSyntaxError(`Bad HTTP request line: ${JSON.stringify(requestLine.slice(0, 200))}`);
  if (!TARGET.test(target)) throw new HttpSyntaxError(`Bad HTTP request line: ${JSON.stringify(requestLine.slice(0, 200))}`);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    throw new HttpSyntaxError(`Bad HTTP request line: unsupported HTTP version ${JSON.stringify(version.slice(0, 20))}`);
  }
  return { method, target, httpVersion: version, headers: parseHeaderLines(lines, 1) };
}

/** Parse a response head (status line + headers + blank line). */
export function parseResponseHead(raw: Buffer): ResponseHead {
  const lines = splitResponseLines(raw.toString('latin1'));
  const statusLine = lines[0]!;
  const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new HttpSyntaxError(`Cannot parse HTTP response: bad status line ${JSON.stringify(statusLine.slice(0, 200))}`);
  const statusCode = Number(m[2]);
  if (statusCode < 100) throw new HttpSyntaxError(`Cannot parse HTTP response: bad status code ${m[2]}`);
  const reason = m[3] ?? '';
  if (!FIELD_VALUE.test(reason)) throw new HttpSyntaxError('Cannot parse HTTP response: bad reason phrase');
  return { httpVersion: m[1]!, statusCode, reason, headers: parseHeaderLines(lines, 1) };
}

/** Parse trailer lines (the part after a chunked body's last chunk, without the final blank line). */
export function parseTrailerLines(lines: string[]): Headers {
  return parseHeaderLines(lines, 0);
}
