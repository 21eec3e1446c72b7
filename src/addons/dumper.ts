import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { formatAddress } from '../connection.js';
import { reasonPhrase } from '../status-codes.js';
import type { Headers } from '../headers.js';
import type { HTTPFlow, Message } from '../http.js';
import type { TCPFlow, TCPMessage } from '../tcp.js';
import type { DNSFlow } from '../dns.js';
import { dnsOpcodeName, dnsRcodeName, dnsTypeName } from '../dns.js';
import type { AnyFlow } from '../flows.js';
import type { WebSocketMessage } from '../websocket.js';
import { escapeBytes } from '../util/escapes.js';
import { prettySize } from '../util/human.js';
import type { Filter } from '../flowfilter/index.js';
import { contentViewChoices, prettifyMessage } from '../contentviews/index.js';
import { filterOption } from './util/filteroption.js';

/** WebSocket close codes by name (RFC 6455 §7.4.1), for error lines. */
const CLOSE_NAMES: Record<number, string> = {
  1000: 'NORMAL_CLOSURE', 1001: 'GOING_AWAY', 1002: 'PROTOCOL_ERROR', 1003: 'UNSUPPORTED_DATA', 1005: 'NO_STATUS_RCVD',
  1006: 'ABNORMAL_CLOSURE', 1007: 'INVALID_FRAME_PAYLOAD_DATA', 1008: 'POLICY_VIOLATION', 1009: 'MESSAGE_TOO_BIG',
  1010: 'MANDATORY_EXT', 1011: 'INTERNAL_ERROR', 1012: 'SERVICE_RESTART', 1013: 'TRY_AGAIN_LATER', 1014: 'BAD_GATEWAY',
  1015: 'TLS_HANDSHAKE',
};

type Style = { fg?: 'red' | 'green' | 'blue' | 'magenta' | 'yellow' | 'cyan'; bold?: boolean; dim?: boolean };
const FG: Record<NonNullable<Style['fg']>, number> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 };

/** Escape control characters in text for display (they would mess up the terminal). */
function escapeControl(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function indent(n: number, text: string): string {
  const pad = ' '.repeat(n);
  return text
    .trim()
    .split(/\r?\n/)
    .map((l) => pad + l)
    .join('\n');
}

/**
 * mitmdump's flow output (spec core.md f): one line per request and response at flow_detail 1,
 * headers at 2, bodies through content views at 3 (cut at content_view_lines_cutoff) and 4.
 */
export class Dumper {
  readonly name = 'dumper';
  private master!: Master;
  private filter: Filter | null = null;
  private readonly color: boolean;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    this.color = Boolean((out as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;
  }

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'flow_detail',
      'int',
      1,
      'The display detail level for flows in mitmdump: 0 (quiet) to 4 (very verbose).   0: no output   1: shortened request URL with response status code   2: full request URL with response status code and HTTP headers   3: 2 + truncated response content, content of WebSocket and TCP messages (content_view_lines_cutoff: 512)   4: 3 + nothing is truncated',
    );
    loader.addOption('dumper_default_contentview', 'str', 'auto', 'The default content view mode.', contentViewChoices());
    loader.addOption('dumper_filter', 'optional str', null, 'Limit which flows are dumped.');
  }

  configure(updated: Set<string>): void {
    if (updated.has('dumper_filter')) this.filter = filterOption(this.master.options.get<string | null>('dumper_filter'));
  }

  private get detail(): number {
    return this.master.options.get<number>('flow_detail');
  }

  private style(text: string, s: Style): string {
    if (!this.color) return text;
    const codes: number[] = [];
    if (s.bold) codes.push(1);
    if (s.dim) codes.push(2);
    if (s.fg) codes.push(FG[s.fg]);
    return codes.length ? `\x1b[${codes.join(';')}m${text}\x1b[0m` : text;
  }

  private echo(text: string, ident = 0, s: Style = {}): void {
    const t = ident ? indent(ident, text) : text;
    this.out.write(this.style(t, s) + '\n');
  }

  private match(f: AnyFlow): boolean {
    // Nobody reads any more (`mitmdump | head` after head exits): no point formatting the flow.
    if (this.detail === 0 || !this.out.writable) return false;
    return this.filter === null || this.filter.match(f);
  }

  private echoHeaders(headers: Headers): void {
    for (const [k, v] of headers.fields) {
      const ks = this.style(escapeBytes(Buffer.from(k, 'latin1')), { fg: 'blue' });
      this.echo(`${ks}: ${escapeBytes(Buffer.from(v, 'latin1'))}`, 4);
    }
  }

  private echoTrailers(trailers: Headers | null): void {
    if (!trailers || trailers.length === 0) return;
    this.echo('--- HTTP Trailers', 4, { fg: 'magenta' });
    this.echoHeaders(trailers);
  }

  private echoMessage(message: Message | TCPMessage | WebSocketMessage, flow: AnyFlow): void {
    const detail = this.detail;
    const cutoff = detail === 3 ? this.master.options.get<number>('content_view_lines_cutoff') : 0;
    const opts = this.master.options;
    const protobufDefinitions = opts.has('protobuf_definitions') ? opts.get<string | null>('protobuf_definitions') : null;
    const pretty = prettifyMessage(message, flow, opts.get<string>('dumper_default_contentview'), { linesCutoff: cutoff, protobufDefinitions });
    if (pretty.text) {
      this.echo('');
      this.echo(pretty.text, 4);
    }
    if (pretty.cut) this.echo('(cut off)', 4, { dim: true });
    if (detail >= 2) this.echo('');
  }

  private fmtClient(f: AnyFlow): string {
    if (f.isReplay === 'request') return this.style('[replay]', { fg: 'yellow', bold: true });
    return f.clientConn.peername ? escapeControl(formatAddress(f.clientConn.peername)) : '';
  }

  private echoRequestLine(f: HTTPFlow): void {
    const client = this.fmtClient(f);
    const pushed = 'h2-pushed-stream' in f.metadata ? ' PUSH_PROMISE' : '';
    const method = f.request.method + pushed;
    const methodColor = method.toUpperCase() === 'GET' ? 'green' : method.toUpperCase() === 'DELETE' ? 'red' : 'magenta';
    let url = this.master.options.get<boolean>('showhost') ? f.request.prettyUrl : f.request.url;
    if (this.detail === 1) {
      // As Python's shutil.get_terminal_size: COLUMNS first, then the terminal, then 80.
      const fromEnv = Number(process.env.COLUMNS);
      const width = fromEnv > 0 ? fromEnv : ((this.out as NodeJS.WriteStream).columns ?? 80);
      const limit = Math.max(width - 25, 50);
      if (url.length > limit) url = url.slice(0, limit) + '…';
    }
    let httpVersion = '';
    const req = f.request;
    if (!(req.isHttp10 || req.isHttp11) || req.httpVersion !== (f.response?.httpVersion ?? 'HTTP/1.1')) httpVersion = ' ' + req.httpVersion;
    this.echo(`${client}: ${this.style(escapeControl(method), { fg: methodColor, bold: true })} ${this.style(escapeControl(url), { bold: true })}${httpVersion}`);
  }

  private echoResponseLine(f: HTTPFlow): void {
    const resp = f.response!;
    const replayStr = f.isReplay === 'response' ? '[replay]' : '';
    const replay = replayStr ? this.style(replayStr, { fg: 'yellow', bold: true }) : '';
    const code = resp.statusCode;
    const color: Style['fg'] = code >= 200 && code < 300 ? 'green' : code >= 300 && code < 400 ? 'magenta' : code >= 400 && code < 600 ? 'red' : undefined;
    const reason = resp.isHttp2 || resp.isHttp3 ? reasonPhrase(code) : resp.reason;
    const size = resp.rawContent === null ? '(content missing)' : prettySize(resp.rawContent.length);
    let httpVersion = '';
    if (!(resp.isHttp10 || resp.isHttp11) || f.request.httpVersion !== resp.httpVersion) httpVersion = `${resp.httpVersion} `;
    let arrows = this.style(' <<', { bold: true });
    if (this.detail === 1) {
      const pad = Math.max(0, formatAddress(f.clientConn.peername).length - (2 + httpVersion.length + replayStr.length));
      arrows = ' '.repeat(pad) + arrows;
    }
    this.echo(
      `${replay}${arrows} ${httpVersion}${this.style(String(code), { fg: color, bold: true })} ${this.style(escapeControl(reason), { fg: color, bold: true })} ${this.style(size, { bold: true })}`,
    );
  }

  /** Print one HTTP flow (request, response and/or error) at the configured detail level. */
  echoFlow(f: HTTPFlow): void {
    const detail = this.detail;
    this.echoRequestLine(f);
    if (detail >= 2) this.echoHeaders(f.request.headers);
    if (detail >= 3) this.echoMessage(f.request, f);
    if (detail >= 2) this.echoTrailers(f.request.trailers);
    if (f.response) {
      this.echoResponseLine(f);
      if (detail >= 2) this.echoHeaders(f.response.headers);
      if (detail >= 3) this.echoMessage(f.response, f);
      if (detail >= 2) this.echoTrailers(f.response.trailers);
    }
    if (f.error) this.echo(` << ${escapeControl(f.error.msg)}`, 0, { fg: 'red', bold: true });
  }

  response(f: HTTPFlow): void {
    if (this.match(f)) this.echoFlow(f);
  }

  error(f: HTTPFlow): void {
    if (this.match(f)) this.echoFlow(f);
  }

  http_connect_error(f: HTTPFlow): void {
    if (this.match(f)) this.echoFlow(f);
  }

  /** The dumper only prints: no handler of it changes a flow (see Addon.readsOnly). */
  readsOnly(): boolean {
    return true;
  }

  websocket_message(f: HTTPFlow): void {
    if (!f.websocket || !this.match(f)) return;
    const m = f.websocket.messageAt(f.websocket.messageCount - 1)!;
    const dir = m.fromClient ? '->' : '<-';
    const type = m.isText ? 'text' : 'binary';
    this.echo(`${formatAddress(f.clientConn.peername)} ${dir} WebSocket ${type} message ${dir} ${formatAddress(f.serverConn.address)}${f.request.path}`);
    if (this.detail >= 3) this.echoMessage(m, f);
  }

  websocket_end(f: HTTPFlow): void {
    if (!f.websocket || !this.match(f)) return;
    const ws = f.websocket;
    if (ws.closeCode === 1000 || ws.closeCode === 1001 || ws.closeCode === 1005) {
      this.echo(`WebSocket connection closed by ${ws.closedByClient ? 'client' : 'server'}: ${ws.closeCode} ${ws.closeReason ?? ''}`);
    } else {
      // No close code at all (a killed or dropped conversation) reads "None", as Python prints it.
      let err = ws.closeCode !== null && CLOSE_NAMES[ws.closeCode] ? CLOSE_NAMES[ws.closeCode]! : `UNKNOWN_ERROR=${ws.closeCode ?? 'None'}`;
      if (ws.closeReason) err += ` (reason: ${ws.closeReason})`;
      this.echo(`Error in WebSocket connection to ${formatAddress(f.serverConn.address)}: WebSocket Error: ${err}`, 0, { fg: 'red' });
    }
  }

  private protoError(f: TCPFlow): void {
    if (this.match(f)) this.echo(`Error in ${f.type.toUpperCase()} connection to ${formatAddress(f.serverConn.address)}: ${f.error?.msg ?? ''}`, 0, { fg: 'red' });
  }

  private protoMessage(f: TCPFlow): void {
    if (!this.match(f)) return;
    const m = f.messages[f.messages.length - 1]!;
    const dir = m.fromClient ? '->' : '<-';
    this.echo(`${formatAddress(f.clientConn.peername)} ${dir} ${f.type} ${dir} ${formatAddress(f.serverConn.address)}`);
    if (this.detail >= 3) this.echoMessage(m, f);
  }

  tcp_message(f: TCPFlow): void {
    this.protoMessage(f);
  }
  udp_message(f: TCPFlow): void {
    this.protoMessage(f);
  }
  tcp_error(f: TCPFlow): void {
    this.protoError(f);
  }
  udp_error(f: TCPFlow): void {
    this.protoError(f);
  }

  private echoDnsQuery(f: DNSFlow): void {
    const q = f.request.questions[0];
    const type = q ? dnsTypeName(q.type) : '?';
    const desc = `DNS ${dnsOpcodeName(f.request.opCode)} (${type})`;
    this.echo(`${this.fmtClient(f)}: ${this.style(desc, { fg: type === 'A' ? 'green' : type === 'AAAA' ? 'magenta' : 'red' })} ${this.style(q?.name ?? '', { bold: true })}`);
  }

  dns_response(f: DNSFlow): void {
    if (!this.match(f) || !f.response) return;
    this.echoDnsQuery(f);
    const answers = f.response.answers.map((a) => a.dataText()).join(', ');
    this.echo(` << ${answers || dnsRcodeName(f.response.responseCode)}`, 0, { bold: true });
  }

  dns_error(f: DNSFlow): void {
    if (!this.match(f)) return;
    this.echoDnsQuery(f);
    this.echo(` << ${escapeControl(f.error?.msg ?? '')}`, 0, { fg: 'red', bold: true });
  }
}
