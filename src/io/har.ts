/**
 * HAR 1.2 (HTTP Archive): export exactly as mitmproxy's `savehar` addon writes it (spec §5.7),
 * and import as mitmproxy's `-r file.har` reads it (spec §4.3). Exported files are
 * byte-identical to mitmproxy's for the same flows (checked against its own golden files).
 */
import { reasonPhrase } from '../status-codes.js';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflate, deflateSync } from 'node:zlib';
import { HTTPFlow, Request, Response, Headers } from '../http.js';
import { Client, Server } from '../connection.js';
import type { AnyFlow } from '../flows.js';
import { MITMPROXY_COMPAT_VERSION } from '../version.js';
import { now } from '../util/time.js';
import { gatherChunks } from '../util/gather-chunks.js';
import { PyFloat } from './tnetstring.js';
import { pyJsonDumps, type PyJson } from './pyjson.js';
import { pyBytesRepr } from './pyrepr.js';
import { parseCookieHeader, parseSetCookieHeader, cookieAttr } from './cookies.js';
import {
  ContentEncodingError,
  decodeLikeMitmproxy,
  byteStringText,
  decodeUtf8Surrogateescape,
  encodeCharset,
  encodeContent,
  encodeUtf8Surrogateescape,
  inferContentEncoding,
  isMostlyBin,
} from './text.js';

// --------------------------------------------------------------------------------------------
// Export

function nameValue(pairs: Iterable<readonly [string, string | null]>): PyJson[] {
  const out: PyJson[] = [];
  for (const [name, value] of pairs) out.push({ name, value });
  return out;
}

function headerList(h: Headers): PyJson[] {
  return h.fields.map(([n, v]) => ({ name: byteStringText(n), value: byteStringText(v) }));
}

/** `len(str(headers))` in mitmproxy: the length of Python's repr of the Headers object (a quirk kept for identical output). */
export function headersSize(h: Headers): number {
  let len = 'Headers['.length + 1;
  h.fields.forEach(([n, v], i) => {
    if (i) len += 2;
    len += 4 + pyBytesRepr(Buffer.from(n, 'latin1')).length + pyBytesRepr(Buffer.from(v, 'latin1')).length;
  });
  return len;
}

function requestCookies(req: Request): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [n, v] of req.headers.fields) if (n.toLowerCase() === 'cookie') out.push(...parseCookieHeader(byteStringText(v)));
  return out;
}

function responseCookies(resp: Response): PyJson[] {
  const out: PyJson[] = [];
  for (const [n, v] of resp.headers.fields) {
    if (n.toLowerCase() !== 'set-cookie') continue;
    for (const c of parseSetCookieHeader(byteStringText(v))) {
      const path = cookieAttr(c.attrs, 'path');
      const domain = cookieAttr(c.attrs, 'domain');
      const cookie: { [k: string]: PyJson } = {
        name: c.name,
        value: c.value,
        path: path.found ? path.value : '/',
        domain: domain.found ? domain.value : '',
        httpOnly: cookieAttr(c.attrs, 'httpOnly').found,
        secure: cookieAttr(c.attrs, 'secure').found,
      };
      const sameSite = cookieAttr(c.attrs, 'sameSite');
      if (sameSite.found) cookie['sameSite'] = sameSite.value;
      out.push(cookie);
    }
  }
  return out;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's `datetime.fromtimestamp(ts, timezone.utc).isoformat()`. */
export function isoformatUtc(ts: number): string {
  let secs = Math.floor(ts);
  let us = roundHalfEven((ts - secs) * 1e6);
  if (us >= 1e6) {
    secs += 1;
    us -= 1e6;
  }
  const d = new Date(secs * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const year = d.getUTCFullYear();
  const base = `${p(year, 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return `${base}${us ? '.' + p(us, 6) : ''}+00:00`;
}

/** Python truthiness of an optional timestamp. */
const set = (v: number | null | undefined): v is number => v !== null && v !== undefined && v !== 0;

/** One HAR entry for an HTTP flow. `serversSeen` holds the ids of server connections already counted for "connect". */
export function harEntry(flow: HTTPFlow, serversSeen: Set<string>): { [key: string]: PyJson } {
  const sc = flow.serverConn;
  let connect: PyFloat | number = new PyFloat(-1);
  let ssl: PyFloat | number = new PyFloat(-1);
  if (serversSeen.has(sc.id)) {
    /* the connection was already paid for by an earlier entry */
  } else if (set(sc.timestampTcpSetup)) {
    connect = new PyFloat(1000 * (sc.timestampTcpSetup - (sc.timestampStart ?? 0)));
    if (set(sc.timestampTlsSetup)) ssl = new PyFloat(1000 * (sc.timestampTlsSetup - sc.timestampTcpSetup));
    serversSeen.add(sc.id);
  }
  const req = flow.request;
  const resp = flow.response;
  const send: PyFloat | number = set(req.timestampEnd) ? new PyFloat(1000 * (req.timestampEnd - req.timestampStart)) : 0;
  const wait: PyFloat | number = resp && set(req.timestampEnd) ? new PyFloat(1000 * (resp.timestampStart - req.timestampEnd)) : 0;
  const receive: PyFloat | number = resp && set(resp.timestampEnd) ? new PyFloat(1000 * (resp.timestampEnd - resp.timestampStart)) : 0;
  const timings = { connect, ssl, send, receive, wait };

  let response: { [key: string]: PyJson };
  if (resp) {
    let content: Buffer | null;
    try {
      content = resp.getContent(true);
    } catch (e) {
      if (!(e instanceof ContentEncodingError)) throw e;
      content = resp.rawContent;
    }
    const raw = resp.rawContent;
    const size = raw ? raw.length : 0;
    const decodedSize = content ? content.length : 0;
    const contentJson: { [key: string]: PyJson } = {
      size,
      compression: decodedSize - size,
      mimeType: byteStringText(resp.headers.get('Content-Type') ?? ''),
    };
    if (content && content.length && isMostlyBin(content)) {
      contentJson['text'] = content.toString('base64');
      contentJson['encoding'] = 'base64';
    } else {
      contentJson['text'] = resp.getText(false) ?? '';
    }
    response = {
      status: resp.statusCode,
      // The reason phrase is ISO-8859-1 text (mitmproxy's Response.reason), not UTF-8 like header values.
      statusText: resp.reason,
      httpVersion: resp.httpVersion,
      cookies: responseCookies(resp),
      headers: headerList(resp.headers),
      content: contentJson,
      redirectURL: byteStringText(resp.headers.get('Location') ?? ''),
      headersSize: headersSize(resp.headers),
      bodySize: size,
    };
  } else {
    response = {
      status: 0,
      statusText: '',
      httpVersion: '',
      headers: [],
      cookies: [],
      content: {},
      redirectURL: '',
      headersSize: -1,
      bodySize: -1,
      _transferSize: 0,
      _error: flow.error ? flow.error.msg : null,
    };
  }

  const url = req.method === 'CONNECT' ? `https://${req.prettyUrl}/` : req.prettyUrl;
  // Python's sum() starts from int 0 and becomes a float once a float is added.
  let total = 0;
  let totalIsFloat = false;
  for (const v of Object.values(timings)) {
    const n = v instanceof PyFloat ? v.value : v;
    if (n >= 0) {
      total += n;
      if (v instanceof PyFloat) totalIsFloat = true;
    }
  }
  const requestJson: { [key: string]: PyJson } = {
    method: byteStringText(req.method),
    url: byteStringText(url),
    httpVersion: req.httpVersion,
    cookies: nameValue(requestCookies(req)),
    headers: headerList(req.headers),
    queryString: nameValue(req.query.fields),
    headersSize: headersSize(req.headers),
    bodySize: req.rawContent ? req.rawContent.length : 0,
  };
  const entry: { [key: string]: PyJson } = {
    startedDateTime: isoformatUtc(req.timestampStart),
    time: totalIsFloat ? new PyFloat(total) : total,
    request: requestJson,
    response,
    cache: {},
    timings,
  };
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    requestJson['postData'] = {
      mimeType: byteStringText(req.headers.get('Content-Type') ?? ''),
      text: req.getText(false),
      params: nameValue(req.urlencodedForm.fields),
    };
  }
  if (sc.peername) entry['serverIPAddress'] = String(sc.peername[0]);
  if (flow.websocket) {
    entry['_resourceType'] = 'websocket';
    entry['_webSocketMessages'] = Array.from(flow.websocket.readMessages(), (m) => ({
      type: m.fromClient ? 'send' : 'receive',
      time: new PyFloat(m.timestamp),
      opcode: m.type,
      data: m.isText ? decodeUtf8Surrogateescape(m.content) : m.content.toString('base64'),
    }));
  }
  return entry;
}

export interface HarOptions {
  /** `creator.version` (mitmproxy writes its own version). */
  creatorVersion?: string;
  /** Called with the number of non-HTTP flows left out, when there are any. */
  onSkipped?: (count: number) => void;
}

/** The HAR document for some flows (non-HTTP flows are left out). */
export function makeHar(flows: Iterable<AnyFlow>, opts: HarOptions = {}): { [key: string]: PyJson } {
  const entries: PyJson[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  for (const f of flows) {
    if (f instanceof HTTPFlow) entries.push(harEntry(f, seen));
    else skipped++;
  }
  if (skipped > 0) opts.onSkipped?.(skipped);
  return {
    log: {
      version: '1.2',
      creator: { name: 'mitmproxy', version: opts.creatorVersion ?? MITMPROXY_COMPAT_VERSION, comment: '' },
      pages: [],
      entries,
    },
  };
}

/** Where the entries sit in the document: log (1) > entries (2) > each entry (3). */
const ENTRY_LEVEL = 3;
const INDENT = 4;

/**
 * The HAR file text (`json.dumps(har, indent=4)`, no trailing newline) in pieces: the document
 * around the entries, and one piece per entry. A large HAR is thus never one tree of objects nor
 * one string: for 100 000 flows the whole document took 4.5 GB to build (tens of millions of
 * small strings) and above ~150 000 flows it exceeds V8's longest string.
 */
export function* harPieces(flows: Iterable<AnyFlow>, opts: HarOptions = {}): Generator<string> {
  // The document with no entries, split where they go ("entries" is its last key).
  const empty = pyJsonDumps(makeHar([], { creatorVersion: opts.creatorVersion }), INDENT);
  const at = empty.lastIndexOf('[]');
  yield empty.slice(0, at);
  const seen = new Set<string>();
  const entryStart = '\n' + ' '.repeat(INDENT * ENTRY_LEVEL);
  let count = 0;
  let skipped = 0;
  for (const f of flows) {
    if (!(f instanceof HTTPFlow)) {
      skipped++;
      continue;
    }
    yield (count++ ? ',' : '[') + entryStart + pyJsonDumps(harEntry(f, seen), INDENT, ENTRY_LEVEL);
  }
  yield (count ? '\n' + ' '.repeat(INDENT * (ENTRY_LEVEL - 1)) + ']' : '[]') + empty.slice(at + 2);
  if (skipped > 0) opts.onSkipped?.(skipped);
}

/** The HAR file text (`json.dumps(har, indent=4)`, no trailing newline). */
export function harToJson(flows: Iterable<AnyFlow>, opts: HarOptions = {}): string {
  return [...harPieces(flows, opts)].join('');
}

/** Bytes of HAR pieces gathered into buffers of about this size before they are handed on. */
const HAR_CHUNK_BYTES = 1 << 20;

/** The bytes of a HAR file; zlib-compressed (level 9) when `compressed`, as mitmproxy writes `.zhar`. */
export function harToBytes(flows: Iterable<AnyFlow>, opts: HarOptions & { compressed?: boolean } = {}): Buffer {
  const data = Buffer.concat([...gatherChunks(harPieces(flows, opts), HAR_CHUNK_BYTES)]);
  return opts.compressed ? deflateSync(data, { level: 9 }) : data;
}

/**
 * Write a HAR file, compressed as harToBytes when its name ends in `.zhar`, a chunk at a time as
 * the file takes it: memory does not grow with the number of flows, and the event loop goes on
 * between chunks, so an export from a running proxy (mitmweb's `save.har`) does not stall its
 * traffic. The flows written are those `flows` holds when called. Resolves to the number of
 * bytes written.
 */
export async function writeHarFile(path: string, flows: Iterable<AnyFlow>, opts: HarOptions = {}): Promise<number> {
  const chunks = Readable.from(gatherChunks(harPieces([...flows], opts), HAR_CHUNK_BYTES), { highWaterMark: 1 });
  const file = createWriteStream(path);
  if (path.endsWith('.zhar')) await pipeline(chunks, createDeflate({ level: 9 }), file);
  else await pipeline(chunks, file);
  return file.bytesWritten;
}

// --------------------------------------------------------------------------------------------
// Import

/** A HAR entry that cannot be turned into a flow. */
export class HarImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarImportError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function obj(v: Json | undefined, what: string): { [key: string]: Json } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HarImportError(`${what} must be an object`);
  return v;
}

function field(o: { [key: string]: Json }, key: string, what: string): Json {
  if (!Object.prototype.hasOwnProperty.call(o, key)) throw new HarImportError(`${what} has no "${key}"`);
  return o[key]!;
}

function strField(o: { [key: string]: Json }, key: string, what: string): string {
  const v = field(o, key, what);
  if (typeof v !== 'string') throw new HarImportError(`${what}.${key} must be a string`);
  return v;
}

/** Headers given as `{name, value}` objects (browsers, Charles, Fiddler) or `[name, value]` pairs (Slack). */
function harHeaders(v: Json | undefined, what: string): Headers {
  if (!Array.isArray(v)) throw new HarImportError(`${what} must be a list`);
  const h = new Headers();
  for (const item of v) {
    let name: Json | undefined;
    let value: Json | undefined;
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      name = field(item, 'name', what);
      value = field(item, 'value', what);
    } else if (Array.isArray(item)) {
      if (item.length < 2) throw new HarImportError(`${what}: a header pair needs a name and a value`);
      name = item[0];
      value = item[1];
    } else throw new HarImportError(`${what}: invalid header ${JSON.stringify(item)}`);
    if (typeof name !== 'string' || typeof value !== 'string') throw new HarImportError(`${what}: header names and values must be strings`);
    h.fields.push([encodeUtf8Surrogateescape(name).toString('latin1'), encodeUtf8Surrogateescape(value).toString('latin1')]);
  }
  return h;
}

/** The date in its extended (2023-11-14) or basic (20231114) form (not a mix), as Python 3.11+ reads both. */
const ISO_RE = /^(?=\d{4}-\d{2}-\d{2}|\d{8})(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/;

/** Python's `datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()` (no zone: local time, as Python). */
export function parseHarTimestamp(s: string): number {
  const m = ISO_RE.exec(s.trim());
  if (!m) throw new HarImportError(`Invalid isoformat string: ${JSON.stringify(s)}`);
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const us = m[7] ? Number((m[7] + '000000').slice(0, 6)) : 0;
  let secs: number;
  if (m[8]) {
    secs = Date.UTC(y, mo - 1, d, h, mi, se) / 1000;
    if (m[8] !== 'Z') {
      const sign = m[8][0] === '-' ? -1 : 1;
      const parts = m[8].slice(1).replace(/:/g, '');
      const off = Number(parts.slice(0, 2)) * 3600 + Number(parts.slice(2, 4) || 0) * 60 + Number(parts.slice(4, 6) || 0);
      secs -= sign * off;
    }
  } else {
    secs = new Date(y, mo - 1, d, h, mi, se).getTime() / 1000;
  }
  if (!Number.isFinite(secs)) throw new HarImportError(`Invalid isoformat string: ${JSON.stringify(s)}`);
  return (secs * 1e6 + us) / 1e6;
}

function httpVersionFromHar(v: Json | undefined): string {
  if (v === 'http/2.0' || v === 'HTTP/2') return 'HTTP/2';
  if (v === 'HTTP/3') return 'HTTP/3';
  return 'HTTP/1.1';
}

/** Build one HTTP flow from a HAR entry (mitmproxy's `request_to_flow`). */
export function harEntryToFlow(entryJson: Json): HTTPFlow {
  const entry = obj(entryJson, 'entry');
  const tsStart = parseHarTimestamp(strField(entry, 'startedDateTime', 'entry'));
  const time = field(entry, 'time', 'entry');
  if (typeof time !== 'number') throw new HarImportError('entry.time must be a number');
  const tsEnd = tsStart + time / 1000;
  const reqJson = obj(field(entry, 'request', 'entry'), 'entry.request');
  const respJson = obj(field(entry, 'response', 'entry'), 'entry.response');
  const method = strField(reqJson, 'method', 'request');
  const url = strField(reqJson, 'url', 'request');
  const serverAddress = entry['serverIPAddress'];
  const reqHeaders = harHeaders(field(reqJson, 'headers', 'request'), 'request.headers');
  const reqVersion = field(reqJson, 'httpVersion', 'request');
  const respVersion = field(respJson, 'httpVersion', 'response');
  const port = url.startsWith('http://') ? 80 : 443;

  const client = new Client({ peername: ['127.0.0.1', 0], sockname: ['127.0.0.1', 0], timestampStart: now() });
  const server = new Server({ address: serverAddress ? [String(serverAddress), port] : null });
  const flow = new HTTPFlow(client, server);

  let reqText = '';
  if ('postData' in reqJson) {
    const pd = obj(reqJson['postData'], 'request.postData');
    const t = field(pd, 'text', 'request.postData');
    if (typeof t !== 'string') throw new HarImportError('request.postData.text must be a string');
    reqText = t;
  }

  // Request.make(method, url, text, headers): no Host header is added; setting the URL updates
  // an existing Host header; setting the text sets Content-Length.
  const t0 = now();
  const req = new Request({
    host: '',
    port: 0,
    method: encodeUtf8Surrogateescape(method).toString('latin1'),
    scheme: '',
    authority: '',
    path: '',
    httpVersion: 'HTTP/1.1',
    headers: reqHeaders,
    content: Buffer.alloc(0),
    timestampStart: t0,
    timestampEnd: t0,
  });
  try {
    req.url = url;
  } catch (e) {
    throw new HarImportError((e as Error).message);
  }
  if (/[A-Z]/.test(req.host)) req.host = req.host.toLowerCase();
  req.text = reqText;
  flow.request = req;

  const status = field(respJson, 'status', 'response');
  // A safe integer: a flow with a status like 1e300 was imported, then written to a flow file that
  // could not be read back (the integer is out of range there).
  if (typeof status !== 'number' || !Number.isSafeInteger(status)) throw new HarImportError('response.status must be an integer');
  const contentJson = obj(field(respJson, 'content', 'response'), 'response.content');
  const respHeaders = harHeaders(field(respJson, 'headers', 'response'), 'response.headers');
  const textJson = contentJson['text'] ?? '';
  const encoding = contentJson['encoding'] ?? null;
  let body: Buffer;
  if (encoding === 'base64') {
    if (typeof textJson !== 'string') throw new HarImportError('response.content.text must be a string');
    body = Buffer.from(textJson, 'base64');
  } else if (typeof textJson === 'string') {
    const enc = typeof encoding === 'string' && encoding ? encoding : inferContentEncoding(byteStringText(respHeaders.get('content-type') ?? ''));
    try {
      body = encodeCharset(textJson, enc);
    } catch {
      body = encodeUtf8Surrogateescape(textJson);
    }
  } else throw new HarImportError('response.content.text must be a string');
  try {
    body = encodeContent(body, respHeaders.get('content-encoding') ?? 'identity');
  } catch (e) {
    throw new HarImportError((e as Error).message);
  }
  const resp = new Response({
    statusCode: status,
    reason: reasonPhrase(status),
    httpVersion: 'HTTP/1.1',
    headers: respHeaders,
    content: body,
    trailers: null,
    timestampStart: tsStart,
    timestampEnd: tsEnd,
  });
  flow.response = resp;

  req.timestampStart = tsStart;
  req.timestampEnd = tsEnd;
  client.timestampStart = tsStart;
  client.timestampEnd = tsEnd;
  req.httpVersion = httpVersionFromHar(reqVersion);
  resp.httpVersion = httpVersionFromHar(respVersion);
  try {
    decodeLikeMitmproxy(req, true);
    decodeLikeMitmproxy(resp, true);
  } catch (e) {
    throw new HarImportError((e as Error).message);
  }
  return flow;
}

/** Every flow of a parsed HAR document (all or nothing). */
export function harToFlows(doc: unknown): HTTPFlow[] {
  const root = obj(doc as Json, 'HAR document');
  const log = obj(field(root, 'log', 'HAR document'), 'log');
  const entries = field(log, 'entries', 'log');
  if (!Array.isArray(entries)) throw new HarImportError('log.entries must be a list');
  return entries.map((e) => harEntryToFlow(e));
}
