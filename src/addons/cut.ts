import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import type { AnyFlow } from '../flows.js';
import { HTTPFlow, Request, Response, Headers } from '../http.js';
import { Connection } from '../connection.js';
import { CommandError } from '../command.js';
import { expandHome } from '../optmanager.js';
import { pyFloatRepr } from '../util/pyfloat.js';
import { pyBytesRepr, pyRepr } from '../io/pyrepr.js';
import { byteStringText, encodeUtf8Surrogateescape } from '../io/text.js';
import { prettyHost, prettyUrl } from '../io/export.js';
import { copyOrLog } from '../util/clipboard.js';

/** One extracted value: text, or bytes kept as they are. */
export type CutValue = string | Buffer;

function headerName(spec: string): string {
  if (!(spec.startsWith('header[') && spec.endsWith(']'))) throw new CommandError(`Invalid header spec: ${spec}`);
  return spec.slice('header['.length, -1).trim();
}

const snakeToCamel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());


/** Fields whose Python value is bytes, where the model keeps a (latin1) string. */
const BYTES_FIELDS: Record<string, ReadonlySet<string>> = {
  connection: new Set(['alpn']),
};

/** Message fields the model keeps as byte strings but Python exposes as str. */
const BYTESTRING_TEXT = new Set(['method', 'scheme', 'authority', 'path', 'http_version', 'reason']);

/** Python's `getattr(current, name, None)` on our model, with mitmproxy's attribute names. */
function attribute(current: unknown, name: string): unknown {
  if (current === null || current === undefined) return undefined;
  if (current instanceof Request || current instanceof Response) {
    switch (name) {
      case 'content':
        return current.content;
      case 'raw_content':
        return current.rawContent;
      case 'text':
        return current.getText(true);
      case 'url':
        return current instanceof Request ? byteStringText(current.url) : undefined;
      case 'pretty_url':
        return current instanceof Request ? prettyUrl(current) : undefined;
      case 'pretty_host':
        return current instanceof Request ? prettyHost(current) : undefined;
    }
    if (BYTESTRING_TEXT.has(name)) {
      const v = (current as unknown as Record<string, unknown>)[snakeToCamel(name)];
      return typeof v === 'string' ? byteStringText(v) : v;
    }
  }
  if (current instanceof Connection) {
    if (BYTES_FIELDS['connection']!.has(name)) {
      const v = current.alpn;
      return v === null ? null : Buffer.from(v, 'latin1');
    }
    if (name === 'alpn_offers') return current.alpnOffers.map((a) => Buffer.from(a, 'latin1'));
    if (name === 'proxy_mode' && 'proxyMode' in current) return (current as { proxyMode: string }).proxyMode;
  }
  const camel = snakeToCamel(name);
  const obj = current as Record<string, unknown>;
  if (camel in obj) return obj[camel];
  if (name in obj) return obj[name];
  return undefined;
}

/** Python's `str(value)` for what may end up there. */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e16 ? String(v) : pyFloatRepr(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Headers) return `Headers[${v.fields.map(([n, x]) => `(${pyBytesRepr(Buffer.from(n, 'latin1'))}, ${pyBytesRepr(Buffer.from(x, 'latin1'))})`).join(', ')}]`;
  if (Array.isArray(v) || Buffer.isBuffer(v)) return pyRepr(v as never, Infinity);
  if (v && typeof v === 'object') {
    const s = String(v);
    if (s !== '[object Object]') return s;
    return pyRepr(v as never, Infinity);
  }
  return String(v);
}

/** Python truthiness, for `str(current or "")`. */
function falsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || v === 0n) return true;
  if (Array.isArray(v) || Buffer.isBuffer(v)) return v.length === 0;
  if (v instanceof Headers) return v.length === 0;
  return false;
}

/**
 * One cut: an attribute path from the flow (`request.method`, `response.status_code`,
 * `client_conn.peername.host`, `request.header[content-type]`, ...) with mitmproxy's
 * conveniences: `host`/`port` split an address, bytes stay bytes, bools are "true"/"false",
 * certificates come out as PEM, everything else is Python's str().
 */
export function extract(cut: string, f: AnyFlow): CutValue {
  // mitmproxy's "save body" on a WebSocket flow saves its messages.
  if (f instanceof HTTPFlow && f.websocket && (cut === 'request.content' || cut === 'response.content')) {
    const parts = Array.from(f.websocket.readMessages(), (m) => Buffer.concat([Buffer.from(m.fromClient ? '[OUTGOING] ' : '[INCOMING] '), m.content]));
    return Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('\n'), p] : [p])));
  }
  const path = cut.split('.');
  let current: unknown = f;
  for (let i = 0; i < path.length; i++) {
    const spec = path[i]!;
    if (spec.startsWith('_')) throw new CommandError(`Can't access internal attribute ${spec}`);
    const last = i === path.length - 1;
    const isAddr = Array.isArray(current) && current.length > 1;
    if (last) {
      if (spec === 'port' && isAddr) return pyStr((current as unknown[])[1]);
      if (spec === 'host' && isAddr) return pyStr((current as unknown[])[0]);
      if (spec.startsWith('header[')) {
        if (falsy(current)) return '';
        const headers = (current as { headers?: Headers }).headers;
        return headers?.get(headerName(spec)) ?? '';
      }
    }
    let part: unknown;
    try {
      part = attribute(current, spec);
    } catch (e) {
      throw new CommandError(e instanceof Error ? e.message : String(e));
    }
    if (last) {
      if (Buffer.isBuffer(part)) return part;
      if (typeof part === 'boolean') return part ? 'true' : 'false';
      if (spec === 'mitmcert' && typeof part === 'string') return part;
      if (spec === 'certificate_list' && Array.isArray(part) && part.length > 0 && typeof part[0] === 'string') return part[0];
    }
    current = part;
  }
  return falsy(current) ? '' : pyStr(current);
}

/** `extract`, with bytes shown as Python's repr (for CSV and the clipboard). */
export function extractStr(cut: string, f: AnyFlow): string {
  const v = extract(cut, f);
  return Buffer.isBuffer(v) ? pyBytesRepr(v) : v;
}

/** One CSV row as Python's csv.writer writes it (excel dialect: `,`, `"` quoting when needed, CRLF). */
export function csvRow(values: readonly string[]): string {
  if (values.length === 1 && values[0] === '') return '""\r\n';
  return values.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',') + '\r\n';
}

/** `cut`, `cut.save`, `cut.clip`: pull attribute values out of flows. */
export class Cut {
  readonly name = 'cut';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    const params = [
      { name: 'flows', type: 'flow[]' as const },
      { name: 'cuts', type: 'cut[]' as const },
    ];
    loader.addCommand(
      'cut',
      {
        help: 'Cut data from a set of flows. Cut specifications are attribute paths from the base of the flow object, with a few conveniences - "port" and "host" retrieve parts of an address tuple, ".header[key]" retrieves a header value. Return values converted to strings or bytes: SSL certificates are converted to PEM format, bools are "true" or "false", "bytes" are preserved, and all other values are converted to strings.',
        params,
        returns: 'data[][]',
      },
      (flows: AnyFlow[], cuts: string[]) => this.cut(flows, cuts),
    );
    loader.addCommand(
      'cut.save',
      {
        help: 'Save cuts to file. If there are multiple flows or cuts, the format is UTF-8 encoded CSV. If there is exactly one row and one column, the data is written to file as-is, with raw bytes preserved. If the path is prefixed with a "+", values are appended if there is an existing file.',
        params: [...params, { name: 'path', type: 'path' }],
      },
      (flows: AnyFlow[], cuts: string[], path: string) => this.save(flows, cuts, path),
    );
    loader.addCommand(
      'cut.clip',
      {
        help: 'Send cuts to the clipboard. If there are multiple flows or cuts, the format is UTF-8 encoded CSV. If there is exactly one row and one column, the data is written to file as-is, with raw bytes preserved.',
        params,
      },
      (flows: AnyFlow[], cuts: string[]) => this.clip(flows, cuts),
    );
  }

  cut(flows: readonly AnyFlow[], cuts: readonly string[]): CutValue[][] {
    return flows.map((f) => cuts.map((c) => extract(c, f)));
  }

  /** What `cut.save` / `cut.clip` produce: the single value as is, or CSV. */
  render(flows: readonly AnyFlow[], cuts: readonly string[]): Buffer {
    if (cuts.length === 1 && flows.length === 1) {
      const v = extract(cuts[0]!, flows[0]!);
      return Buffer.isBuffer(v) ? v : encodeUtf8Surrogateescape(v);
    }
    return encodeUtf8Surrogateescape(flows.map((f) => csvRow(cuts.map((c) => extractStr(c, f)))).join(''));
  }

  save(flows: readonly AnyFlow[], cuts: readonly string[], spec: string): void {
    const append = spec.startsWith('+');
    const path = append ? expandHome(spec.slice(1)) : spec;
    const data = this.render(flows, cuts);
    try {
      const fd = openSync(path, append ? 'a' : 'w');
      try {
        // A single value appended to a non-empty file goes on its own line.
        const prefix = cuts.length === 1 && flows.length === 1 && append && fstatSync(fd).size > 0 ? Buffer.from('\n') : Buffer.alloc(0);
        const all = Buffer.concat([prefix, data]);
        let off = 0;
        while (off < all.length) off += writeSync(fd, all, off, all.length - off);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      this.master.log.error(e instanceof Error ? e.message : String(e));
      return;
    }
    if (cuts.length === 1 && flows.length === 1) this.master.log.alert('Saved single cut.');
    else this.master.log.alert(`Saved ${cuts.length} cuts over ${flows.length} flows as CSV.`);
  }

  /** As `save`, but as text (bytes shown as Python's repr), and the alert comes first, as in mitmproxy. */
  async clip(flows: readonly AnyFlow[], cuts: readonly string[]): Promise<void> {
    let text: string;
    if (cuts.length === 1 && flows.length === 1) {
      text = extractStr(cuts[0]!, flows[0]!);
      this.master.log.alert('Clipped single cut.');
    } else {
      text = flows.map((f) => csvRow(cuts.map((c) => extractStr(c, f)))).join('');
      this.master.log.alert(`Clipped ${cuts.length} cuts as CSV.`);
    }
    await copyOrLog(this.master.log, Buffer.from(text, 'utf8'));
  }
}
