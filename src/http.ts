import { reasonPhrase } from './status-codes.js';
import { domainToUnicode } from 'node:url';
import { Headers, type HeadersInit } from './headers.js';
import { decode as decodeContent, encode as encodeContent, ContentEncodingError } from './encoding.js';
import { Flow, type FlowState } from './flow.js';
import type { Client, Server } from './connection.js';
import { WebSocketData, type WebSocketState } from './websocket.js';
import { isValidHost } from './util/valid-host.js';
import { MultiDict } from './util/multidict.js';
import { parseUrlencoded, encodeUrlencoded } from './util/urlencoded.js';
import { decodeMultipart, encodeMultipart, multipartBoundary } from './util/multipart.js';
import { randomBytes } from 'node:crypto';
import { parseCookieHeader, formatCookieHeader, parseSetCookie, formatSetCookie, type SetCookie } from './util/cookies.js';
import { now } from './util/time.js';
import { textToBytes } from './util/bytes.js';
import {
  CharsetError,
  assembleContentType,
  decodeCharset,
  byteStringText,
  decodeUtf8Surrogateescape,
  encodeCharset,
  encodeUtf8Surrogateescape,
  inferContentEncoding,
  parseContentType,
} from './io/text.js';

export { Headers } from './headers.js';
export type { HeaderField, HeadersInit } from './headers.js';

/** Header fields on the wire as state: `[[name, value], ...]` bytes. */
export type HeaderState = Array<[Buffer, Buffer]>;

function headersToState(h: Headers): HeaderState {
  return h.fields.map(([n, v]) => [Buffer.from(n, 'latin1'), Buffer.from(v, 'latin1')]);
}

function headersFromState(s: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]>): Headers {
  const h = new Headers();
  h.fields = s.map(([n, v]) => [asBytes(n), asBytes(v)]);
  return h;
}

/** A path split as urlparse splits a URL: the part before the query, the query (null without "?"), the "#..." rest. */
function splitPathQuery(path: string): { base: string; query: string | null; fragment: string } {
  const hash = path.indexOf('#');
  const fragment = hash < 0 ? '' : path.slice(hash);
  const beforeHash = hash < 0 ? path : path.slice(0, hash);
  const q = beforeHash.indexOf('?');
  return q < 0 ? { base: beforeHash, query: null, fragment } : { base: beforeHash.slice(0, q), query: beforeHash.slice(q + 1), fragment };
}

/** A state value that should be bytes, as a byte string (old files may hold text). */
function asBytes(v: Uint8Array | string): string {
  return typeof v === 'string' ? textToBytes(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/**
 * Either `true` (stream the body unchanged) or a function that transforms each chunk, as
 * mitmproxy's `stream` callable: it gets every chunk as it arrives and, once the body has ended,
 * one empty Buffer; what it returns for that last call is sent after the body as is. It may return
 * one Buffer, several (an array or other iterable: one write, or HTTP/2 DATA frame, each), or
 * nothing (null, undefined or an empty Buffer) to send nothing for that chunk.
 */
export type StreamSetting = boolean | ((chunk: Buffer) => StreamChunks);

/** What a stream function returns for one chunk (see StreamSetting). */
export type StreamChunks = Uint8Array | Iterable<Uint8Array> | null | undefined;

/** Shared by messages created without a body (a zero-length Buffer cannot be written to). */
const EMPTY_BODY = Buffer.alloc(0);

/**
 * What requests and responses share: HTTP version, headers, the body (as bytes on the wire and
 * decoded), trailers and timestamps.
 */
export abstract class Message {
  /** "HTTP/1.1", "HTTP/2.0", ... */
  httpVersion = 'HTTP/1.1';
  headers: Headers;
  /** The body exactly as on the wire (content-encoded, de-chunked); null when it was not kept (streamed). */
  rawContent: Buffer | null;
  trailers: Headers | null = null;
  /** When the first byte of the message arrived, in seconds since the epoch (mitmproxy's unit). */
  timestampStart: number;
  /** When its last byte arrived (seconds since the epoch), or null while it is still coming. */
  timestampEnd: number | null = null;
  /** Set in `requestheaders`/`responseheaders` to stream the body instead of buffering it. */
  stream: StreamSetting = false;

  private decodedCache: { raw: Buffer; enc: string; decoded: Buffer } | null = null;

  constructor(headers: HeadersInit | undefined, rawContent: Buffer | null, timestampStart: number) {
    this.headers = headers instanceof Headers ? headers : new Headers(headers);
    this.rawContent = rawContent;
    this.timestampStart = timestampStart;
  }

  get isHttp10(): boolean {
    return this.httpVersion === 'HTTP/1.0';
  }
  get isHttp11(): boolean {
    return this.httpVersion === 'HTTP/1.1';
  }
  get isHttp2(): boolean {
    return this.httpVersion === 'HTTP/2.0';
  }
  get isHttp3(): boolean {
    return this.httpVersion === 'HTTP/3';
  }

  /**
   * The decoded body. Throws `ContentEncodingError` when the body cannot be decoded; use
   * `getContent(false)` to get the raw bytes instead in that case.
   */
  get content(): Buffer | null {
    return this.getContent(true);
  }

  set content(value: Buffer | string | null) {
    this.setContent(value);
  }

  getContent(strict = true): Buffer | null {
    const raw = this.rawContent;
    if (raw === null) return null;
    const enc = this.headers.get('content-encoding');
    if (!enc || enc.toLowerCase() === 'identity') return raw;
    const cache = this.decodedCache;
    if (cache && cache.raw === raw && cache.enc === enc) return cache.decoded;
    try {
      const decoded = decodeContent(raw, enc);
      this.decodedCache = { raw, enc, decoded };
      return decoded;
    } catch (e) {
      if (strict) throw e;
      return raw;
    }
  }

  /**
   * Replace the body with decoded bytes (or text, written as UTF-8): it is encoded again with the
   * current Content-Encoding, and Content-Length is updated unless Transfer-Encoding is set.
   */
  setContent(value: Buffer | string | null): void {
    if (value === null) {
      this.rawContent = null;
      return;
    }
    const plain = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const enc = this.headers.get('content-encoding');
    if (enc && enc.toLowerCase() !== 'identity') {
      try {
        this.rawContent = encodeContent(plain, enc);
        this.decodedCache = { raw: this.rawContent, enc, decoded: plain };
      } catch (e) {
        if (!(e instanceof ContentEncodingError)) throw e;
        // Cannot re-encode (unknown coding): store plain bytes and say so in the headers.
        this.headers.delete('content-encoding');
        this.rawContent = plain;
      }
    } else {
      this.rawContent = plain;
    }
    this.updateContentLength();
  }

  /** Keep Content-Length in step with the raw body (not when Transfer-Encoding frames it). */
  protected updateContentLength(): void {
    if (this.rawContent === null) return;
    if (this.headers.has('transfer-encoding')) return;
    this.headers.set('content-length', String(this.rawContent.length));
  }

  /**
   * The body as text, in the charset mitmproxy infers (BOM, Content-Type charset, UTF-8 for json,
   * html, xml, javascript and css, else latin-1). Throws when the body cannot be decoded with it.
   */
  get text(): string | null {
    return this.getText(true);
  }

  /**
   * Encode with the charset the Content-Type implies (BOM and body are not consulted: the text is
   * new). Text that charset cannot hold is written as UTF-8, and the Content-Type says so.
   */
  set text(value: string | null) {
    if (value === null) {
      this.content = null;
      return;
    }
    const ct = this.headers.get('content-type') ?? '';
    let body: Buffer;
    try {
      body = encodeCharset(value, inferContentEncoding(ct));
    } catch (e) {
      if (!(e instanceof CharsetError)) throw e;
      const [type, subtype, params] = parseContentType(ct) ?? ['text', 'plain', new Map<string, string>()];
      params.set('charset', 'utf-8');
      this.headers.set('content-type', assembleContentType(type, subtype, params));
      body = encodeUtf8Surrogateescape(value);
    }
    this.content = body;
  }

  /** `text`; with `strict` false, a body the charset cannot decode comes back as UTF-8 with surrogate escapes. */
  getText(strict = true): string | null {
    const content = this.getContent(strict);
    if (content === null) return null;
    const charset = inferContentEncoding(this.headers.get('content-type') ?? '', content);
    try {
      return decodeCharset(content, charset);
    } catch (e) {
      if (strict || !(e instanceof CharsetError)) throw e;
      return decodeUtf8Surrogateescape(content);
    }
  }

  /** The body parsed as JSON. */
  json(): unknown {
    const t = this.getText(true);
    if (t === null) throw new Error('message has no content');
    return JSON.parse(t);
  }

  /** Remove the Content-Encoding, leaving the plain body. With `strict` false an undecodable body is left as is. */
  decode(strict = true): void {
    const decoded = this.getContent(strict);
    this.headers.delete('content-encoding');
    this.rawContent = decoded;
    this.updateContentLength();
  }

  /** Encode the body with `encoding` (gzip, deflate, br, zstd, identity). */
  encode(encoding: string): void {
    this.decode();
    if (encoding !== 'identity') {
      this.headers.set('content-encoding', encoding);
      const plain = this.rawContent;
      if (plain !== null) {
        this.rawContent = encodeContent(plain, encoding);
        this.updateContentLength();
      }
    }
  }

  protected messageState(): {
    http_version: Buffer;
    headers: HeaderState;
    content: Buffer | null;
    trailers: HeaderState | null;
    timestamp_start: number;
    timestamp_end: number | null;
  } {
    return {
      http_version: Buffer.from(this.httpVersion, 'latin1'),
      headers: headersToState(this.headers),
      content: this.rawContent === null ? null : Buffer.from(this.rawContent),
      trailers: this.trailers ? headersToState(this.trailers) : null,
      timestamp_start: this.timestampStart,
      timestamp_end: this.timestampEnd,
    };
  }

  protected setMessageState(s: MessageStateCommon): void {
    this.httpVersion = asBytes(s.http_version);
    this.headers = headersFromState(s.headers);
    this.rawContent = s.content === null ? null : Buffer.from(s.content as Uint8Array);
    this.trailers = s.trailers ? headersFromState(s.trailers) : null;
    this.timestampStart = s.timestamp_start;
    this.timestampEnd = s.timestamp_end;
    this.decodedCache = null;
  }
}

interface MessageStateCommon {
  http_version: Uint8Array | string;
  headers: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]>;
  content: Uint8Array | null;
  trailers: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]> | null;
  timestamp_start: number;
  timestamp_end: number | null;
}

/** Request state dictionary (flow format 21, writer order). */
export interface RequestState {
  http_version: Buffer;
  headers: HeaderState;
  content: Buffer | null;
  trailers: HeaderState | null;
  timestamp_start: number;
  timestamp_end: number | null;
  host: string;
  port: number;
  method: Buffer;
  scheme: Buffer;
  authority: Buffer;
  path: Buffer;
}

/** Response state dictionary (flow format 21, writer order). */
export interface ResponseState {
  http_version: Buffer;
  headers: HeaderState;
  content: Buffer | null;
  trailers: HeaderState | null;
  timestamp_start: number;
  timestamp_end: number | null;
  status_code: number;
  reason: Buffer;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443 };

export function defaultPort(scheme: string): number | undefined {
  return DEFAULT_PORTS[scheme];
}

/** "host", "host:port" or "[v6]:port", leaving out the scheme's default port. */
export function hostport(scheme: string, host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return DEFAULT_PORTS[scheme] === port ? h : `${h}:${port}`;
}

/** Split an authority "host[:port]" (IPv6 in brackets); the port is undefined when absent. */
export function parseAuthority(authority: string): { host: string; port: number | undefined } | null {
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return null;
    host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0 && authority.indexOf(':') === colon) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else if (colon >= 0) {
      return null;
    } else {
      host = authority;
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }
  return { host, port };
}

/** mitmproxy's `parse_authority(..., check=False)` when it succeeds: a valid host and its port; else null. */
function validAuthority(authority: string): { host: string; port: number | undefined } | null {
  const a = parseAuthority(authority);
  return a && isValidHost(a.host, true) ? a : null;
}

/** Parse an absolute URL into its parts, as mitmproxy's `url.parse` (http(s) and ws(s) only). */
export function parseUrl(url: string): { scheme: string; host: string; port: number; path: string; authority: string } {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(url);
  if (!m) throw new Error(`Invalid URL: ${JSON.stringify(url)}`);
  const scheme = m[1]!.toLowerCase();
  const auth = parseAuthority(m[2]!.replace(/^[^@]*@/, ''));
  if (!auth || auth.host === '') throw new Error(`Invalid URL: ${JSON.stringify(url)}`);
  const port = auth.port ?? DEFAULT_PORTS[scheme];
  if (port === undefined) throw new Error(`Invalid URL (no port for scheme ${scheme}): ${JSON.stringify(url)}`);
  // The path keeps a query and a fragment, as mitmproxy's URL parsing does (a HAR export or a
  // script may have one; clients do not send fragments).
  let path = m[3]!;
  if (!path.startsWith('/')) path = '/' + path;
  return { scheme, host: auth.host, port, path, authority: m[2]! };
}

/** An HTTP request. Head fields are byte strings (see util/bytes.ts). */
export class Request extends Message {
  method: string;
  scheme: string;
  /** The request target's authority: "" for origin-form HTTP/1 requests, "host:port" for CONNECT and HTTP/2. */
  authority: string;
  private _host: string;
  private _port: number;
  /** Path including the query string ("*" for `OPTIONS *`). */
  path: string;

  constructor(init: {
    host: string;
    port: number;
    method?: string;
    scheme?: string;
    authority?: string;
    path?: string;
    httpVersion?: string;
    headers?: HeadersInit;
    content?: Buffer | null;
    trailers?: Headers | null;
    timestampStart?: number;
    timestampEnd?: number | null;
  }) {
    super(init.headers, init.content === undefined ? EMPTY_BODY : init.content, init.timestampStart ?? now());
    this._host = init.host;
    this._port = init.port;
    this.method = init.method ?? 'GET';
    this.scheme = init.scheme ?? 'http';
    this.authority = init.authority ?? '';
    this.path = init.path ?? '/';
    if (init.httpVersion !== undefined) this.httpVersion = init.httpVersion;
    if (init.trailers !== undefined) this.trailers = init.trailers;
    if (init.timestampEnd !== undefined) this.timestampEnd = init.timestampEnd;
  }

  /**
   * A request built from a method and absolute URL, as mitmproxy's `Request.make`. A body given
   * as text is written as UTF-8, and Content-Length is set for it.
   */
  static make(method: string, url: string, content: Buffer | string = '', headers?: HeadersInit): Request {
    const u = parseUrl(url);
    const req = new Request({
      host: u.host,
      port: u.port,
      method: method.toUpperCase(),
      scheme: u.scheme,
      authority: '',
      path: u.path,
      headers: headers ?? new Headers(),
      content: null,
      timestampEnd: null,
    });
    if (!req.headers.has('host')) req.headers.insert(0, 'Host', hostport(u.scheme, u.host, u.port));
    req.content = content;
    req.timestampEnd = req.timestampStart;
    return req;
  }

  /**
   * Set where the request goes without touching the Host header or authority (the proxy uses
   * this while parsing; addons normally set `host`, `port` or `url`, which keep them in step).
   */
  setDestination(scheme: string, host: string, port: number): void {
    this.scheme = scheme;
    this._host = host;
    this._port = port;
  }

  /** The target host (text, IDNA-decoded). Setting it also updates the Host header and authority. */
  get host(): string {
    return this._host;
  }
  set host(value: string) {
    this._host = value;
    this.updateHostHeaderAndAuthority();
  }

  get port(): number {
    return this._port;
  }
  set port(value: number) {
    this._port = value;
    this.updateHostHeaderAndAuthority();
  }

  private updateHostHeaderAndAuthority(): void {
    const hp = hostport(this.scheme, this._host, this._port);
    if (this.headers.has('host')) this.headers.set('host', hp);
    if (this.authority !== '') this.authority = this.method === 'CONNECT' ? `${this._host}:${this._port}` : hp;
  }

  /** The Host header, or the authority for HTTP/2 and HTTP/3 requests. */
  get hostHeader(): string | undefined {
    if (this.isHttp2 || this.isHttp3) return this.authority || this.headers.get('host');
    return this.headers.get('host');
  }
  set hostHeader(value: string | undefined) {
    if (this.isHttp2 || this.isHttp3) {
      this.authority = value ?? '';
      if (value === undefined) this.headers.delete('host');
      else if (this.headers.has('host')) this.headers.set('host', value);
    } else if (value === undefined) this.headers.delete('host');
    else this.headers.set('host', value);
  }

  /** The host from the Host header (or :authority) when there is one, else `host`. */
  get prettyHost(): string {
    const hh = this.hostHeader;
    // As mitmproxy: a Host header that is not a valid host[:port] is shown (and filtered) whole.
    if (hh) return validAuthority(hh)?.host ?? hh;
    return this._host;
  }

  /** "authority" for CONNECT, "asterisk" for `OPTIONS *`, "absolute" or "relative" otherwise. */
  get firstLineFormat(): 'authority' | 'asterisk' | 'absolute' | 'relative' {
    if (this.method === 'CONNECT') return 'authority';
    if (this.path === '*') return 'asterisk';
    return this.authority ? 'absolute' : 'relative';
  }

  /** scheme://host[:port]/path built from the target fields (the port is left out when default). */
  get url(): string {
    if (this.firstLineFormat === 'authority') return `${this._host}:${this._port}`;
    return `${this.scheme}://${hostport(this.scheme, this._host, this._port)}${this.path === '*' ? '' : this.path}`;
  }
  set url(value: string) {
    const u = parseUrl(value);
    this.scheme = u.scheme;
    this._host = u.host;
    this._port = u.port;
    this.path = u.path;
    this.updateHostHeaderAndAuthority();
  }

  /** Like `url`, but with the host taken from the Host header (what the client thinks it talks to). */
  get prettyUrl(): string {
    if (this.firstLineFormat === 'authority') return this.authority || `${this._host}:${this._port}`;
    let host = this._host;
    let port = this._port;
    const path = this.path === '*' ? '' : this.path;
    const hh = this.hostHeader;
    if (hh) {
      const a = validAuthority(hh);
      // As mitmproxy (and prettyHost): a Host header that is not a valid host[:port] is the host, whole.
      if (!a) return `${this.scheme}://${DEFAULT_PORTS[this.scheme] !== undefined ? hh : `${hh}:443`}${path}`;
      host = a.host;
      port = a.port ?? DEFAULT_PORTS[this.scheme] ?? port;
    }
    return `${this.scheme}://${hostport(this.scheme, host, port)}${path}`;
  }

  /** The path without the query string. */
  get pathComponents(): string[] {
    const p = splitPathQuery(this.path).base;
    return p.split('/').filter((x) => x !== '').map((x) => decodeURIComponentSafe(x));
  }

  /**
   * Query parameters; changing the returned object rewrites `path`. As in mitmproxy, the query is
   * what urlparse finds (after the first "?", before any "#") and undecodable bytes become
   * surrogate escapes.
   */
  get query(): MultiDict<string> {
    const { query } = splitPathQuery(this.path);
    const fields = query === null ? [] : parseUrlencoded(byteStringText(query));
    return new MultiDict(fields, { onChange: (f) => this.setQuery(f) });
  }
  set query(value: MultiDict<string> | Iterable<readonly [string, string]>) {
    this.setQuery(value instanceof MultiDict ? value.fields : Array.from(value));
  }

  private setQuery(fields: ReadonlyArray<readonly [string, string]>): void {
    const { base, fragment } = splitPathQuery(this.path);
    this.path = (fields.length ? `${base}?${encodeUrlencoded(fields)}` : base) + fragment;
  }

  /** Cookies sent in Cookie headers; changing the returned object rewrites the header. */
  get cookies(): MultiDict<string> {
    const fields: Array<[string, string]> = [];
    for (const h of this.headers.getAll('cookie')) fields.push(...parseCookieHeader(h));
    return new MultiDict(fields, {
      onChange: (f) => {
        if (f.length) this.headers.set('cookie', formatCookieHeader(f));
        else this.headers.delete('cookie');
      },
    });
  }
  set cookies(value: MultiDict<string> | Iterable<readonly [string, string]>) {
    const f = value instanceof MultiDict ? value.fields : Array.from(value);
    if (f.length) this.headers.set('cookie', formatCookieHeader(f));
    else this.headers.delete('cookie');
  }

  /** Fields of an application/x-www-form-urlencoded body (read as its text); changing them rewrites the body. */
  get urlencodedForm(): MultiDict<string> {
    const ct = this.headers.get('content-type') ?? '';
    const fields =
      ct.toLowerCase().includes('application/x-www-form-urlencoded') ? parseUrlencoded(this.getText(false) ?? '') : [];
    return new MultiDict(fields, { onChange: (f) => this.setUrlencodedForm(f) });
  }
  set urlencodedForm(value: MultiDict<string> | Iterable<readonly [string, string]>) {
    this.setUrlencodedForm(value instanceof MultiDict ? value.fields : Array.from(value));
  }

  private setUrlencodedForm(fields: ReadonlyArray<readonly [string, string]>): void {
    this.headers.set('content-type', 'application/x-www-form-urlencoded');
    this.content = encodeUrlencoded(fields);
  }

  /**
   * Fields of a multipart/form-data body, as mitmproxy's `multipart_form`: names as text (UTF-8;
   * bytes that are not become surrogate escapes) and values as bytes, without file names or part
   * headers; empty for other bodies or one that does not parse. Changing the returned object, or
   * assigning fields, rewrites the body with the Content-Type's boundary (a new random one, and a
   * multipart/form-data Content-Type, when the body was not a form already).
   */
  get multipartForm(): MultiDict<Buffer> {
    const ct = this.headers.get('content-type') ?? '';
    let fields: Array<[string, Buffer]> = [];
    if (ct.toLowerCase().includes('multipart/form-data')) {
      try {
        const content = this.getContent(true);
        if (content !== null) fields = decodeMultipart(ct, content).map(([k, v]) => [decodeUtf8Surrogateescape(k), v]);
      } catch {
        // mitmproxy: a body that does not decode or parse is an empty form.
      }
    }
    return new MultiDict(fields, { onChange: (f) => this.setMultipartForm(f) });
  }
  set multipartForm(value: MultiDict<Buffer> | Iterable<readonly [string, Buffer | string]>) {
    this.setMultipartForm(value instanceof MultiDict ? value.fields : Array.from(value));
  }

  private setMultipartForm(fields: ReadonlyArray<readonly [string, Buffer | string]>): void {
    const ct = this.headers.get('content-type') ?? '';
    let boundary = ct.toLowerCase().startsWith('multipart/form-data') ? multipartBoundary(ct) : undefined;
    if (boundary === undefined) {
      boundary = `${'-'.repeat(20)}${randomBytes(16).toString('hex')}`;
      this.headers.set('content-type', `multipart/form-data; boundary=${boundary}`);
    }
    this.content = encodeMultipart(
      boundary,
      fields.map(([k, v]) => [encodeUtf8Surrogateescape(k), typeof v === 'string' ? Buffer.from(v, 'utf8') : v]),
    );
  }

  /** Remove headers that let a server answer from cache (If-Modified-Since, If-None-Match). */
  anticache(): void {
    this.headers.delete('if-modified-since');
    this.headers.delete('if-none-match');
  }

  /** Ask the server for an uncompressed body. */
  anticomp(): void {
    this.headers.set('accept-encoding', 'identity');
  }

  getState(): RequestState {
    return {
      ...this.messageState(),
      host: this._host,
      port: this._port,
      method: Buffer.from(this.method, 'latin1'),
      scheme: Buffer.from(this.scheme, 'latin1'),
      authority: Buffer.from(this.authority, 'latin1'),
      path: Buffer.from(this.path, 'latin1'),
    };
  }

  setState(s: RequestState): void {
    this.setMessageState(s);
    const host = s.host as unknown;
    this._host = typeof host === 'string' ? host : domainToUnicode(asBytes(host as Uint8Array));
    this._port = s.port;
    this.method = asBytes(s.method);
    this.scheme = asBytes(s.scheme);
    this.authority = asBytes(s.authority);
    this.path = asBytes(s.path);
  }

  static fromState(s: RequestState): Request {
    const r = new Request({ host: '', port: 0 });
    r.setState(s);
    return r;
  }

  override toString(): string {
    return `Request(${this.method} ${this.authority || hostport(this.scheme, this._host, this._port)}${this.path})`;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** An HTTP response. */
export class Response extends Message {
  statusCode: number;
  /** The reason phrase as sent ("" for HTTP/2). */
  reason: string;

  constructor(init: {
    statusCode: number;
    reason?: string;
    httpVersion?: string;
    headers?: HeadersInit;
    content?: Buffer | null;
    trailers?: Headers | null;
    timestampStart?: number;
    timestampEnd?: number | null;
  }) {
    super(init.headers, init.content === undefined ? EMPTY_BODY : init.content, init.timestampStart ?? now());
    this.statusCode = init.statusCode;
    this.reason = init.reason ?? reasonPhrase(init.statusCode);
    if (init.httpVersion !== undefined) this.httpVersion = init.httpVersion;
    if (init.trailers !== undefined) this.trailers = init.trailers;
    if (init.timestampEnd !== undefined) this.timestampEnd = init.timestampEnd;
  }

  /**
   * A simple response, as mitmproxy's `Response.make(status_code, content, headers)`: the body
   * is written as given (text as UTF-8) and Content-Length is set.
   */
  static make(statusCode = 200, content: Buffer | string = '', headers?: HeadersInit): Response {
    const t = now();
    const resp = new Response({
      statusCode,
      reason: reasonPhrase(statusCode),
      headers: headers ?? new Headers(),
      content: null,
      timestampStart: t,
      timestampEnd: t,
    });
    resp.content = content;
    return resp;
  }

  /** Cookies set by Set-Cookie headers: name -> [value, attributes]. */
  get cookies(): MultiDict<[string, Array<[string, string]>]> {
    const fields: Array<[string, [string, Array<[string, string]>]]> = [];
    for (const h of this.headers.getAll('set-cookie')) {
      const c = parseSetCookie(h);
      if (c) fields.push([c.name, [c.value, c.attrs]]);
    }
    return new MultiDict(fields, {
      onChange: (f) => {
        const values = f.map(([name, [value, attrs]]) => formatSetCookie({ name, value, attrs } satisfies SetCookie));
        if (values.length) this.headers.setAll('set-cookie', values);
        else this.headers.delete('set-cookie');
      },
    });
  }

  getState(): ResponseState {
    return {
      ...this.messageState(),
      status_code: this.statusCode,
      reason: Buffer.from(this.reason, 'latin1'),
    };
  }

  setState(s: ResponseState): void {
    this.setMessageState(s);
    this.statusCode = s.status_code;
    this.reason = asBytes(s.reason);
  }

  static fromState(s: ResponseState): Response {
    const r = new Response({ statusCode: 200 });
    r.setState(s);
    return r;
  }

  override toString(): string {
    return `Response(${this.statusCode}${this.reason ? ' ' + this.reason : ''})`;
  }
}

/** HTTP flow state dictionary (flow format 21). */
export interface HTTPFlowState extends FlowState {
  type: 'http';
  request: RequestState;
  response: ResponseState | null;
  websocket: WebSocketState | null;
}

/** One HTTP request/response exchange, possibly upgraded to a WebSocket. */
export class HTTPFlow extends Flow {
  readonly type = 'http' as const;
  request: Request;
  response: Response | null = null;
  /** Set when the connection was upgraded to a WebSocket. */
  websocket: WebSocketData | null = null;

  constructor(clientConn?: Client, serverConn?: Server, live = false, request?: Request) {
    super(clientConn, serverConn, live);
    this.request = request ?? new Request({ host: '', port: 0 });
  }

  get timestampStart(): number {
    return this.request.timestampStart;
  }

  override getState(): HTTPFlowState {
    return {
      ...super.getState(),
      type: 'http',
      request: this.request.getState(),
      response: this.response ? this.response.getState() : null,
      websocket: this.websocket ? this.websocket.getState() : null,
    };
  }

  override setState(state: FlowState): void {
    super.setState(state);
    const s = state as HTTPFlowState;
    // Request and response are updated in place, as mitmproxy's set_state does: the proxy holds
    // on to them while a live flow runs and fills in the body it is still reading, so a flow
    // reverted mid-response (edited in mitmweb, then reverted) must not lose what comes next.
    this.request.setState(s.request);
    if (!s.response) this.response = null;
    else if (this.response) this.response.setState(s.response);
    else this.response = Response.fromState(s.response);
    // The WebSocket data is updated in place: a live relay holds on to it (see WebSocketData.setState).
    if (s.websocket && this.websocket) this.websocket.setState(s.websocket);
    else this.websocket = s.websocket ? WebSocketData.fromState(s.websocket) : null;
  }

  static fromState(state: FlowState): HTTPFlow {
    const f = new HTTPFlow();
    f.setState(state);
    return f;
  }

  override toString(): string {
    return `<HTTPFlow request=${this.request} response=${this.response}>`;
  }
}
