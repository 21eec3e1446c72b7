/**
 * The API's route table, in mitmweb's matching order (web-api.md §3), with the handlers of the
 * small routes. Every route is authenticated by the app before its handler runs; the table is
 * exported so a test can prove that for each route and method.
 */
import { CommandError } from '../../command.js';
import { FILTER_HELP, parse } from '../../flowfilter/index.js';
import type { Filter } from '../../flowfilter/index.js';
import { FlowReadError, FlowReader } from '../../io/flowreader.js';
import { encodeFlow } from '../../io/flowwriter.js';
import type { AnyFlow } from '../../flows.js';
import { Flow } from '../../flow.js';
import type { OptionType } from '../../optmanager.js';
import { OptionsError } from '../../optmanager.js';
import { getContentData, getContentView, postContentData } from './content.js';
import type { RequestContext } from './context.js';
import { ApiError, HttpError } from './errors.js';
import { applyFlowUpdate } from './flow-edit.js';
import { flowJsonText, flowToJson, logEntryToJson, type ConnJsonMemo } from './flowjson.js';
import type { JsonValue } from './json.js';
import { loadFlow } from '../../addons/readfile.js';
import { optionsJson } from './options-json.js';
import { stateJson } from './state.js';
import { gatherChunks } from '../../util/gather-chunks.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Handler = (ctx: RequestContext) => void | Promise<void>;

export interface Route {
  /** The path pattern as mitmweb writes it (the whole path must match). */
  readonly path: string;
  readonly pattern: RegExp;
  readonly handlers: Partial<Record<Method, Handler>>;
  /** The `/updates` WebSocket: its GET only upgrades. */
  readonly websocket?: boolean;
  /** A path that matches the route, for tests and documentation. */
  readonly example: string;
}

const ID = '(?<flow_id>[0-9a-f\\-]+)';

function route(path: string, handlers: Partial<Record<Method, Handler>>, example: string, websocket = false): Route {
  const source = path.replaceAll('{id}', ID);
  return { path, pattern: new RegExp(`^${source}$`), handlers, example, websocket };
}

// ---------------------------------------------------------------------------------------------
// Handlers

function index(ctx: RequestContext): Promise<void> {
  return ctx.app.serveIndex(ctx);
}

function filterHelp(ctx: RequestContext): void {
  ctx.write({ commands: FILTER_HELP.map(([a, b]) => [a, b]) });
}

function updatesWithoutUpgrade(ctx: RequestContext): void {
  ctx.status = 400;
  ctx.write('Can "Upgrade" only to "WebSocket".');
}

function commands(ctx: RequestContext): void {
  ctx.write(ctx.app.master.commands.toJSON() as unknown as JsonValue);
}

/** A command result as JSON: flows become flow JSON, bytes text, everything else as is. */
function resultJson(v: unknown): JsonValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Flow) return flowToJson(v as AnyFlow) as unknown as JsonValue;
  if (Array.isArray(v)) return v.map(resultJson);
  if (typeof v === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = resultJson(x);
    return out;
  }
  return String(v);
}

async function executeCommand(ctx: RequestContext): Promise<void> {
  let args: unknown = [];
  let body: unknown;
  let haveBody = true;
  try {
    body = ctx.json();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    // mitmweb quietly runs the command without arguments when the body is not JSON.
    haveBody = false;
  }
  if (haveBody) {
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !('arguments' in body)) {
      throw new ApiError(400, 'Expected a JSON object with an "arguments" list.');
    }
    args = (body as { arguments: unknown }).arguments;
  }
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    ctx.write({ error: 'Command arguments must be a list of strings.' });
    return;
  }
  let result: unknown;
  try {
    result = await ctx.app.master.commands.callStrings(ctx.params.cmd!, args as string[]);
  } catch (e) {
    ctx.write({ error: e instanceof CommandError || e instanceof Error ? e.message : String(e) });
    return;
  }
  ctx.write({ value: resultJson(result) });
}

function events(ctx: RequestContext): void {
  ctx.write(ctx.app.events.entries().map(logEntryToJson));
}

/** Size of the pieces the `/flows` body is written in (never one giant string or buffer). */
const FLOWS_CHUNK_BYTES = 256 * 1024;

async function flows(ctx: RequestContext): Promise<void> {
  const started = performance.now();
  // A snapshot: the view may change while a large answer is streamed.
  const list = ctx.app.view.flows();
  // REST JSON is pure ASCII (everything else is escaped), so each character is one byte.
  let chunk = Buffer.allocUnsafeSlow(FLOWS_CHUNK_BYTES);
  let off = 0;
  let memo: ConnJsonMemo = new Map();
  const put = async (text: string) => {
    if (off + text.length > chunk.length) {
      await ctx.writeJsonPiece(chunk.subarray(0, off));
      // Connections may change while we wait for the client: a fresh memo per piece.
      memo = new Map();
      chunk = Buffer.allocUnsafeSlow(Math.max(FLOWS_CHUNK_BYTES, text.length));
      off = 0;
    }
    off += chunk.write(text, off, 'latin1');
  };
  await put('[');
  for (let i = 0; i < list.length; i++) await put((i ? ', ' : '') + flowJsonText(list[i]!, true, memo));
  await put(']');
  await ctx.writeJsonPiece(chunk.subarray(0, off));
  // What a front end's refetch after a reset costs: the updates hub paces overflow resets by it.
  ctx.app.hub.noteViewRead(performance.now() - started);
}

async function dumpFlows(ctx: RequestContext): Promise<void> {
  ctx.setHeader('Content-Disposition', 'attachment; filename=flows');
  ctx.setHeader('Content-Type', 'application/octet-stream');
  let filter: Filter | null = null;
  const expr = ctx.query.getAll('filter')[0] ?? ctx.formData().fields.get('filter')?.[0];
  if (expr !== undefined) {
    try {
      filter = parse(expr);
    } catch {
      throw new ApiError(400, 'Invalid filter argument / regex');
    }
  }
  // Streamed as it is encoded, from a snapshot of the view: encoding 100 000 flows at once held
  // the event loop (and so the proxy) for 3.6 s and the whole file twice in memory.
  const list = ctx.app.view.flows();
  function* encoded(): Generator<Buffer> {
    for (const f of list) if (!filter || filter.match(f)) yield encodeFlow(f);
  }
  let written = false;
  for (const chunk of gatherChunks(encoded(), FLOWS_CHUNK_BYTES)) {
    await ctx.writePiece(chunk);
    written = true;
  }
  if (!written) await ctx.writePiece(Buffer.alloc(0));
}

async function uploadFlows(ctx: RequestContext): Promise<void> {
  const data = ctx.fileContents();
  ctx.app.view.clear();
  try {
    for await (const f of new FlowReader(data)) await loadFlow(ctx.app.master, f);
  } catch (e) {
    if (e instanceof FlowReadError) throw new ApiError(400, e.message);
    throw e;
  }
}

function resumeAll(ctx: RequestContext): void {
  const view = ctx.app.view;
  for (const f of view.flows()) {
    if (!f.intercepted) continue;
    f.resume();
    view.update([f]);
  }
}

function killAll(ctx: RequestContext): void {
  const view = ctx.app.view;
  for (const f of view.flows()) {
    if (!f.killable) continue;
    f.kill();
    view.update([f]);
  }
}

function deleteFlow(ctx: RequestContext): void {
  const f = ctx.flow();
  if (f.killable) f.kill();
  ctx.app.view.remove([f]);
}

function putFlow(ctx: RequestContext): void {
  const f = ctx.flow();
  applyFlowUpdate(f, ctx.json());
  ctx.app.view.update([f]);
}

function resumeFlow(ctx: RequestContext): void {
  const f = ctx.flow();
  f.resume();
  ctx.app.view.update([f]);
}

function killFlow(ctx: RequestContext): void {
  const f = ctx.flow();
  if (f.killable) {
    f.kill();
    ctx.app.view.update([f]);
  }
}

function duplicateFlow(ctx: RequestContext): void {
  const copy = ctx.flow().copy();
  ctx.app.view.add([copy]);
  ctx.write(copy.id);
}

async function replayFlow(ctx: RequestContext): Promise<void> {
  const f = ctx.flow();
  const cmds = ctx.app.master.commands;
  if (!cmds.has('replay.client')) throw new ApiError(400, 'Client replay is not available (no replay.client command).');
  await cmds.call('replay.client', [f]);
}

function revertFlow(ctx: RequestContext): void {
  const f = ctx.flow();
  if (f.modified()) {
    f.revert();
    ctx.app.view.update([f]);
  }
}

function clearAll(ctx: RequestContext): void {
  ctx.app.view.clear();
  ctx.app.events.clear();
}

function getOptions(ctx: RequestContext): void {
  ctx.write(optionsJson(ctx.app.master.options) as unknown as JsonValue);
}

/** `<class 'bool'>`: how Python names the type of a JSON value. */
function pyTypeOf(v: unknown): string {
  if (v === null) return "<class 'NoneType'>";
  if (typeof v === 'boolean') return "<class 'bool'>";
  if (typeof v === 'number') return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  if (typeof v === 'string') return "<class 'str'>";
  if (Array.isArray(v)) return "<class 'list'>";
  return "<class 'dict'>";
}

const OPTION_TYPE_REPR: Record<OptionType, string> = {
  bool: "<class 'bool'>",
  str: "<class 'str'>",
  int: "<class 'int'>",
  'optional str': 'typing.Optional[str]',
  'optional int': 'typing.Optional[int]',
  'sequence of str': 'collections.abc.Sequence[str]',
};

/** Check and convert a JSON value for an option with mitmproxy's typecheck messages (bools count as ints). */
function checkOptionValue(name: string, type: OptionType, v: unknown): unknown {
  const fail = (expected: string, got: unknown) => new ApiError(400, `Expected ${expected} for ${name}, but got ${pyTypeOf(got)}.`);
  const isInt = (x: unknown) => typeof x === 'boolean' || (typeof x === 'number' && Number.isInteger(x));
  const asInt = (x: unknown) => (typeof x === 'boolean' ? (x ? 1 : 0) : x);
  switch (type) {
    case 'bool':
      if (typeof v !== 'boolean') throw fail(OPTION_TYPE_REPR[type], v);
      return v;
    case 'str':
      if (typeof v !== 'string') throw fail(OPTION_TYPE_REPR[type], v);
      return v;
    case 'int':
      if (!isInt(v)) throw fail(OPTION_TYPE_REPR[type], v);
      return asInt(v);
    case 'optional str':
      if (v !== null && typeof v !== 'string') throw fail(OPTION_TYPE_REPR[type], v);
      return v;
    case 'optional int':
      if (v !== null && !isInt(v)) throw fail(OPTION_TYPE_REPR[type], v);
      return asInt(v);
    case 'sequence of str':
      if (!Array.isArray(v)) throw fail(OPTION_TYPE_REPR[type], v);
      for (const x of v) if (typeof x !== 'string') throw fail("<class 'str'>", x);
      return v;
  }
}

async function putOptions(ctx: RequestContext): Promise<void> {
  const body = ctx.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'Expected a JSON object of option values.');
  const options = ctx.app.master.options;
  const known: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (options.has(k)) known[k] = checkOptionValue(k, options.def(k).type, v);
    else unknown.push(k);
  }
  try {
    if (Object.keys(known).length) await options.updateUnchecked(known);
  } catch (e) {
    if (e instanceof OptionsError || e instanceof Error) throw new ApiError(400, e.message);
    throw e;
  }
  if (unknown.length) throw new ApiError(400, `'Unknown options: ${unknown.join(', ')}'`);
}

function saveOptions(): void {
  // mitmweb's handler does nothing either (its saving code is commented out).
}

function state(ctx: RequestContext): void {
  ctx.write(stateJson(ctx.app.master) as unknown as JsonValue);
}

function processes(): void {
  // The process list comes from mitmproxy's Rust helper, which has no Linux implementation;
  // mitmweb answers such platforms with a 500, and so do we (without the traceback).
  throw new HttpError(500, 'Listing processes is not supported on this platform.');
}

/** mitmweb's fallback icon: a 1x1 transparent PNG. */
export const TRANSPARENT_PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010804000000b51c0c020000000b4944415478da63fcff070002000' +
    '1fca8510d680000000049454e44ae426082',
  'hex',
);

function executableIcon(ctx: RequestContext): void {
  const path = ctx.query.getAll('path').pop()?.trim();
  if (!path) throw new ApiError(400, "Missing 'path' parameter.");
  // Icons come from the Rust helper in mitmproxy; without it every path gets the fallback.
  ctx.setHeader('Content-Type', 'image/png');
  ctx.setHeader('X-Content-Type-Options', 'nosniff');
  ctx.setHeader('Cache-Control', 'max-age=604800');
  ctx.write(TRANSPARENT_PNG);
}

// ---------------------------------------------------------------------------------------------
// The table

const FID = '0123abcd-0000-4000-8000-00000000cafe';

export const ROUTES: readonly Route[] = [
  route('/', { GET: index, POST: index }, '/'),
  route('/filter-help(?:\\.json)?', { GET: filterHelp }, '/filter-help'),
  route('/updates', { GET: updatesWithoutUpgrade }, '/updates', true),
  route('/commands(?:\\.json)?', { GET: commands }, '/commands'),
  route('/commands/(?<cmd>[a-z.]+)', { POST: executeCommand }, '/commands/view.properties.length'),
  route('/events(?:\\.json)?', { GET: events }, '/events'),
  route('/flows(?:\\.json)?', { GET: flows }, '/flows'),
  route('/flows/dump', { GET: dumpFlows, POST: uploadFlows }, '/flows/dump'),
  route('/flows/resume', { POST: resumeAll }, '/flows/resume'),
  route('/flows/kill', { POST: killAll }, '/flows/kill'),
  route('/flows/{id}', { PUT: putFlow, DELETE: deleteFlow }, `/flows/${FID}`),
  route('/flows/{id}/resume', { POST: resumeFlow }, `/flows/${FID}/resume`),
  route('/flows/{id}/kill', { POST: killFlow }, `/flows/${FID}/kill`),
  route('/flows/{id}/duplicate', { POST: duplicateFlow }, `/flows/${FID}/duplicate`),
  route('/flows/{id}/replay', { POST: replayFlow }, `/flows/${FID}/replay`),
  route('/flows/{id}/revert', { POST: revertFlow }, `/flows/${FID}/revert`),
  // The "." of content.data is a regex dot in mitmweb too, so "content_data" matches as well.
  route('/flows/{id}/(?<message>request|response|messages)/content.data', { GET: getContentData, POST: postContentData }, `/flows/${FID}/request/content.data`),
  route(
    '/flows/{id}/(?<message>request|response|messages)/content/(?<content_view>[0-9a-zA-Z\\-_%]+)(?:\\.json)?',
    { GET: getContentView },
    `/flows/${FID}/request/content/raw.json`,
  ),
  route('/clear', { POST: clearAll }, '/clear'),
  route('/options(?:\\.json)?', { GET: getOptions, PUT: putOptions }, '/options'),
  route('/options/save', { POST: saveOptions }, '/options/save'),
  route('/state(?:\\.json)?', { GET: state }, '/state'),
  route('/processes', { GET: processes }, '/processes'),
  route('/executable-icon', { GET: executableIcon }, '/executable-icon'),
];

/** The first route whose pattern matches the whole path, with its decoded parameters. */
export function matchRoute(path: string): { route: Route; params: Record<string, string> } | null {
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = percentDecode(v);
    return { route: r, params };
  }
  return null;
}

/** URL-decode a path parameter; malformed escapes are kept as written (as Python's unquote does). */
function percentDecode(s: string): string {
  return s.replace(/(%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8');
    }
  });
}
