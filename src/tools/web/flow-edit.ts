/**
 * `PUT /flows/<id>`: apply an edit from the web front end to a flow (web-api.md §3.13).
 *
 * The flow is backed up first (unless a backup exists). Keys are applied in order; an unknown or
 * invalid one answers 400 and reverts the flow to its backup. mitmproxy answers 500 for values it
 * cannot convert (a port that is not a number, a header that is not a pair, a response edit on a
 * flow without response); here those are 400s with a reason, and the flow is reverted as well.
 */
import type { AnyFlow } from '../../flows.js';
import { Headers } from '../../headers.js';
import { HTTPFlow, type Message } from '../../http.js';
import { textToBytes } from '../../util/bytes.js';
import { ApiError } from './errors.js';
import { pyRepr } from './pyrepr.js';

type Json = unknown;

/** Python's `str(v)` for JSON values (what mitmproxy stores for string fields). */
function pyStr(v: Json): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python's `int(v)` for JSON values, or a 400. */
function pyInt(v: Json, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
  throw new ApiError(400, `Invalid ${what}: ${pyRepr(v)} is not an integer.`);
}

function headerPairs(v: Json, what: string): Array<[string, string]> {
  if (!Array.isArray(v)) throw new ApiError(400, `Invalid ${what}: expected a list of [name, value] pairs, got ${pyRepr(v)}.`);
  return v.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new ApiError(400, `Invalid ${what}: expected a [name, value] pair of strings, got ${pyRepr(pair)}.`);
    }
    return [pair[0], pair[1]];
  });
}

/** Latin-1 text is stored byte for byte; anything else is written as UTF-8 (head fields are byte strings). */
function headField(s: string): string {
  return /[^\x00-\xff]/.test(s) ? textToBytes(s) : s;
}

/** Set a message body from text (mitmproxy's `Message.text` setter picks the charset). */
export function setMessageText(m: Message, text: Json): void {
  if (typeof text !== 'string') throw new ApiError(400, `Invalid content: expected a string, got ${pyRepr(text)}.`);
  m.text = text;
}

function applyRequest(flow: HTTPFlow, update: Record<string, Json>): void {
  const req = flow.request;
  for (const [k, v] of Object.entries(update)) {
    switch (k) {
      case 'method':
        req.method = headField(pyStr(v));
        break;
      case 'scheme':
        req.scheme = headField(pyStr(v));
        break;
      case 'host':
        req.host = pyStr(v);
        break;
      case 'path':
        req.path = headField(pyStr(v));
        break;
      case 'http_version':
        req.httpVersion = headField(pyStr(v));
        break;
      case 'port': {
        const port = pyInt(v, 'port');
        if (port < 0 || port > 65535) throw new ApiError(400, `Invalid port: ${port}`);
        req.port = port;
        break;
      }
      case 'headers':
        req.headers = new Headers(headerPairs(v, 'headers'));
        break;
      case 'trailers':
        req.trailers = new Headers(headerPairs(v, 'trailers'));
        break;
      case 'content':
        setMessageText(req, v);
        break;
      default:
        throw new ApiError(400, `Unknown update request.${k}: ${pyStr(v)}`);
    }
  }
}

function applyResponse(flow: HTTPFlow, update: Record<string, Json>): void {
  const resp = flow.response;
  if (!resp) throw new ApiError(400, 'This flow has no response to update.');
  for (const [k, v] of Object.entries(update)) {
    switch (k) {
      case 'reason':
        resp.reason = headField(pyStr(v));
        break;
      case 'http_version':
        resp.httpVersion = headField(pyStr(v));
        break;
      case 'code': {
        const code = pyInt(v, 'status code');
        if (code < 0 || code > 999) throw new ApiError(400, `Invalid status code: ${code}`);
        resp.statusCode = code;
        break;
      }
      case 'headers':
        resp.headers = new Headers(headerPairs(v, 'headers'));
        break;
      case 'trailers':
        resp.trailers = new Headers(headerPairs(v, 'trailers'));
        break;
      case 'content':
        setMessageText(resp, v);
        break;
      default:
        throw new ApiError(400, `Unknown update response.${k}: ${pyStr(v)}`);
    }
  }
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Apply a parsed PUT body to a flow. Throws ApiError (after reverting the flow) on bad input. */
export function applyFlowUpdate(flow: AnyFlow, body: Json): void {
  if (!isObject(body)) throw new ApiError(400, `Invalid update: expected a JSON object, got ${pyRepr(body)}.`);
  flow.backup();
  try {
    for (const [a, b] of Object.entries(body)) {
      if (a === 'request' && flow instanceof HTTPFlow) {
        if (!isObject(b)) throw new ApiError(400, `Unknown update request: ${pyStr(b)}`);
        applyRequest(flow, b);
      } else if (a === 'response' && flow instanceof HTTPFlow) {
        if (!isObject(b)) throw new ApiError(400, `Unknown update response: ${pyStr(b)}`);
        applyResponse(flow, b);
      } else if (a === 'marked') {
        // Older front ends sent booleans; the marker itself is stored as given.
        if (typeof b === 'boolean') flow.marked = b ? ':default:' : '';
        else if (typeof b === 'string') flow.marked = b;
        else throw new ApiError(400, `Unknown update marked: ${pyStr(b)}`);
      } else if (a === 'comment') {
        if (typeof b !== 'string') throw new ApiError(400, `Unknown update comment: ${pyStr(b)}`);
        flow.comment = b;
      } else {
        throw new ApiError(400, `Unknown update ${a}: ${pyStr(b)}`);
      }
    }
  } catch (e) {
    flow.revert();
    throw e;
  }
}
