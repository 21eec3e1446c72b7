/**
 * One API request being answered: its parsed parts (path parameters, query and form arguments,
 * body) and the response being built. Handlers write JSON, text or bytes; the app turns the
 * result into the HTTP response (default headers, Etag, gzip).
 */
import type { IncomingMessage } from 'node:http';
import type { AnyFlow } from '../../flows.js';
import type { WebApp } from './app.js';
import { ApiError } from './errors.js';
import { parseForm, type FormData } from './form.js';
import { pyJson, type JsonValue } from './json.js';
import { utf8ErrorMessage } from '../../util/utf8-error.js';

/** A body larger than this is streamed (chunked, without Etag) instead of being buffered whole. */
export const STREAM_THRESHOLD = 1024 * 1024;

/** Where a streamed body goes once the headers are out. */
export interface BodySink {
  /** Strings are written as UTF-8 without an intermediate Buffer. */
  write(chunk: Buffer | string): Promise<void>;
  end(): Promise<void>;
}

export class RequestContext {
  status = 200;
  /** Set by the app when the body is being streamed. */
  sink: BodySink | null = null;
  private bufferedBytes = 0;
  /** Response headers set by the handler (name as written -> value). */
  readonly headers = new Map<string, string | string[]>();
  private chunks: Buffer[] = [];
  private form: FormData | null = null;

  constructor(
    readonly app: WebApp,
    readonly req: IncomingMessage,
    readonly method: string,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly params: Record<string, string>,
    readonly body: Buffer,
  ) {}

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  setHeader(name: string, value: string): void {
    for (const k of this.headers.keys()) if (k.toLowerCase() === name.toLowerCase()) this.headers.delete(k);
    this.headers.set(name, value);
  }

  addHeader(name: string, value: string): void {
    const existing = this.headers.get(name);
    if (existing === undefined) this.headers.set(name, value);
    else this.headers.set(name, Array.isArray(existing) ? [...existing, value] : [existing, value]);
  }

  getResponseHeader(name: string): string | undefined {
    for (const [k, v] of this.headers) if (k.toLowerCase() === name.toLowerCase()) return Array.isArray(v) ? v[0] : v;
    return undefined;
  }

  /** Form fields and files of the body (parsed on first use). */
  formData(): FormData {
    this.form ??= parseForm(this.header('content-type'), this.body);
    return this.form;
  }

  /**
   * A request argument from the query string or a form body, whitespace-stripped; the last
   * value wins (Tornado's `get_argument`).
   */
  argument(name: string): string | undefined {
    const values = [...this.query.getAll(name), ...(this.formData().fields.get(name) ?? [])];
    const v = values[values.length - 1];
    return v === undefined ? undefined : v.trim();
  }

  /** The JSON body; 400 unless the Content-Type is JSON and the body parses. */
  json(): unknown {
    if (!(this.header('content-type') ?? '').startsWith('application/json')) {
      throw new ApiError(400, 'Invalid Content-Type, expected application/json.');
    }
    // Bytes that are not UTF-8 are an error, as in mitmweb, not replacement characters in the data.
    const notUtf8 = utf8ErrorMessage(this.body);
    if (notUtf8 !== null) throw new ApiError(400, `Malformed JSON: ${notUtf8}`);
    try {
      return JSON.parse(this.body.toString('utf8'));
    } catch (e) {
      throw new ApiError(400, `Malformed JSON: ${(e as Error).message}`);
    }
  }

  /** The first uploaded file of a multipart body, or else the raw body. */
  fileContents(): Buffer {
    const files = this.formData().files;
    return files.length ? files[0]!.body : this.body;
  }

  /** The flow named by the `flow_id` path parameter, from the whole store; 404 when unknown. */
  flow(): AnyFlow {
    const f = this.app.view.getById(this.params.flow_id ?? '');
    if (!f) throw new ApiError(404, 'Flow not found.');
    return f;
  }

  /**
   * Write to the body: objects and arrays as JSON (setting the JSON content type), strings as
   * UTF-8, bytes as they are.
   */
  write(chunk: JsonValue | Buffer): void {
    if (Buffer.isBuffer(chunk)) this.chunks.push(chunk);
    else if (typeof chunk === 'string') this.chunks.push(Buffer.from(chunk, 'utf8'));
    else {
      this.chunks.push(Buffer.from(pyJson(chunk, true), 'utf8'));
      this.setHeader('Content-Type', 'application/json; charset=UTF-8');
    }
  }

  /** Write an already serialised JSON document. */
  writeJsonText(json: string): void {
    this.chunks.push(Buffer.from(json, 'utf8'));
    this.setHeader('Content-Type', 'application/json; charset=UTF-8');
  }

  /**
   * Write the next piece of a possibly huge JSON body (the flow list of a big view). Small bodies
   * are buffered like any other; once the body passes STREAM_THRESHOLD the headers are sent and
   * everything else goes out as it is produced, waiting whenever the client is slower.
   */
  async writeJsonPiece(json: string | Buffer): Promise<void> {
    if (!this.sink) this.setHeader('Content-Type', 'application/json; charset=UTF-8');
    return this.writePiece(json);
  }

  /** Write the next piece of a possibly huge body of the type already set (see writeJsonPiece). */
  async writePiece(data: string | Buffer): Promise<void> {
    if (this.sink) return this.sink.write(data);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.chunks.push(buf);
    this.bufferedBytes += buf.length;
    if (this.bufferedBytes >= STREAM_THRESHOLD) {
      const sink = this.app.startStreaming(this);
      if (sink) {
        const pending = this.chunks;
        this.chunks = [];
        this.sink = sink;
        for (const c of pending) await sink.write(c);
      }
    }
  }

  get bodyChunks(): readonly Buffer[] {
    return this.chunks;
  }
}
