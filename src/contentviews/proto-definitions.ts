/**
 * The `protobuf_definitions` option: loading a .proto file (or a directory of them) with its
 * imports, resolving type names, and choosing the message type for a body the way mitmproxy
 * does (gRPC: the method named by the request path, its input type for requests and its output
 * type for responses; otherwise the first method of the first service, or the first message).
 *
 * Loaded definitions are cached by path and the modification times of every file read, so a
 * view renders many bodies without parsing the file again, yet sees edits to it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isScalarType, parseProto, type ProtoEnum, type ProtoFileAst, type ProtoMessage, type ScalarType } from './proto-parser.js';
import type { ContentViewMetadata } from './types.js';

/** Thrown when the definitions cannot be read or parsed; the view fails with this message. */
class ProtoDefinitionsError extends Error {
  // mitmproxy's views raise a ValueError with anyhow's "context, Caused by: ..." text.
  override name = 'ValueError';
  /** `unreadable`: a file could not be read or found, which may change any moment, so it is not cached. */
  constructor(
    cause: string,
    readonly unreadable = false,
  ) {
    super(`failed to parse proto file(s)\n\nCaused by:\n    ${cause}`);
  }
}

export interface EnumType {
  fullName: string;
  /** The first name declared for each number (later ones are aliases). */
  names: Map<number, string>;
}

export type ValueType =
  | { kind: 'scalar'; type: ScalarType }
  | { kind: 'enum'; enum: EnumType }
  | { kind: 'message'; message: MessageType }
  /** A google.protobuf type whose file is not at hand: its data is shown schema-less. */
  | { kind: 'opaque' }
  /** proto2 groups use wire types this decoder does not read. */
  | { kind: 'group' };

export interface FieldType {
  name: string;
  number: number;
  cardinality: 'singular' | 'required' | 'repeated' | 'map';
  value: ValueType;
  /** For map fields: the key type (always a scalar). */
  key?: ValueType;
}

export interface MessageType {
  fullName: string;
  /** Declaration order: the order mitmproxy prints them in. */
  fields: FieldType[];
  byNumber: Map<number, FieldType>;
}

interface ServiceType {
  name: string;
  methods: Array<{ name: string; input: MessageType; output: MessageType }>;
}

interface LoadedFile {
  path: string;
  package: string;
  messages: MessageType[];
  services: ServiceType[];
}

export interface ProtoDefinitions {
  /** The files named by the option first (sorted, for a directory), then the files they import. */
  files: LoadedFile[];
  inputCount: number;
}

interface ParsedFile {
  path: string;
  ast: ProtoFileAst;
}

/** Read the given files and, transitively, their imports (looked up under `root`, then next to the importing file). */
function readAll(inputs: string[], root: string): ParsedFile[] {
  const byPath = new Map<string, ParsedFile>();
  const order: ParsedFile[] = [];
  const load = (path: string): void => {
    if (byPath.has(path)) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ProtoDefinitionsError(`cannot read ${path}: ${(e as Error).message}`, true);
    }
    let ast: ProtoFileAst;
    try {
      ast = parseProto(text);
    } catch (e) {
      throw new ProtoDefinitionsError(`${path}: ${(e as Error).message}`);
    }
    const file = { path, ast };
    byPath.set(path, file);
    order.push(file);
    for (const imp of ast.imports) {
      const candidates = [join(root, imp.path), join(dirname(path), imp.path)];
      const found = candidates.find((c) => {
        try {
          return statSync(c).isFile();
        } catch {
          return false;
        }
      });
      if (found) load(resolve(found));
      // The well-known types ship with protoc, not with the user's files: their messages are
      // then decoded without a schema instead of failing the whole definition.
      else if (!imp.path.startsWith('google/protobuf/')) throw new ProtoDefinitionsError(`${path}: import "${imp.path}" was not found`, true);
    }
  };
  for (const p of inputs) load(p);
  return order;
}

/** Turn parsed files into linked message types. */
function link(parsed: ParsedFile[], inputCount: number): ProtoDefinitions {
  const messages = new Map<string, { type: MessageType; ast: ProtoMessage; file: string }>();
  const enums = new Map<string, EnumType>();
  const addEnum = (scope: string, e: ProtoEnum): void => {
    const fullName = scope ? `${scope}.${e.name}` : e.name;
    const names = new Map<number, string>();
    for (const v of e.values) if (!names.has(v.number)) names.set(v.number, v.name);
    enums.set(fullName, { fullName, names });
  };
  const addMessage = (scope: string, m: ProtoMessage, file: string): MessageType => {
    const fullName = scope ? `${scope}.${m.name}` : m.name;
    const type: MessageType = { fullName, fields: [], byNumber: new Map() };
    messages.set(fullName, { type, ast: m, file });
    for (const n of m.messages) addMessage(fullName, n, file);
    for (const e of m.enums) addEnum(fullName, e);
    return type;
  };
  const topLevel = parsed.map((f) => {
    for (const e of f.ast.enums) addEnum(f.ast.package, e);
    return f.ast.messages.map((m) => addMessage(f.ast.package, m, f.path));
  });

  // Protobuf scoping: a relative name is looked up in the innermost scope first, then outwards.
  const lookup = (ref: string, scope: string, where: string): ValueType => {
    if (isScalarType(ref)) return { kind: 'scalar', type: ref };
    const candidates: string[] = [];
    if (ref.startsWith('.')) candidates.push(ref.slice(1));
    else {
      const parts = scope ? scope.split('.') : [];
      for (let i = parts.length; i >= 0; i--) candidates.push([...parts.slice(0, i), ref].join('.'));
    }
    for (const c of candidates) {
      const m = messages.get(c);
      if (m) return { kind: 'message', message: m.type };
      const e = enums.get(c);
      if (e) return { kind: 'enum', enum: e };
    }
    if (/^\.?google\.protobuf\./.test(ref)) return { kind: 'opaque' };
    throw new ProtoDefinitionsError(`${where}: type "${ref}" is not defined`);
  };
  const messageRef = (ref: string, scope: string, where: string): MessageType => {
    const t = lookup(ref, scope, where);
    if (t.kind === 'message') return t.message;
    if (t.kind === 'opaque') return { fullName: ref.replace(/^\./, ''), fields: [], byNumber: new Map() };
    throw new ProtoDefinitionsError(`${where}: "${ref}" is not a message type`);
  };

  for (const { type, ast, file } of messages.values()) {
    for (const f of ast.fields) {
      const where = `${file}: ${type.fullName}.${f.name}`;
      let field: FieldType;
      if (f.map) {
        field = { name: f.name, number: f.number, cardinality: 'map', key: lookup(f.map.key, type.fullName, where), value: lookup(f.map.value, type.fullName, where) };
      } else {
        const cardinality = f.label === 'repeated' ? 'repeated' : f.label === 'required' ? 'required' : 'singular';
        field = { name: f.name, number: f.number, cardinality, value: f.group ? { kind: 'group' } : lookup(f.type, type.fullName, where) };
      }
      type.fields.push(field);
      type.byNumber.set(field.number, field);
    }
  }

  const files = parsed.map((f, i): LoadedFile => ({
    path: f.path,
    package: f.ast.package,
    messages: topLevel[i]!,
    services: f.ast.services.map((s) => ({
      name: s.name,
      methods: s.methods.map((m) => {
        const where = `${f.path}: ${s.name}.${m.name}`;
        return { name: m.name, input: messageRef(m.inputType, f.ast.package, where), output: messageRef(m.outputType, f.ast.package, where) };
      }),
    })),
  }));
  return { files, inputCount };
}

/** Every .proto file under a directory, sorted so that "the first file" is stable. */
function walkProtoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkProtoFiles(p));
    else if (entry.name.endsWith('.proto')) out.push(p);
  }
  return out.sort();
}

interface CacheEntry {
  inputs: string[];
  stamps: Array<[string, number]>;
  result: ProtoDefinitions | ProtoDefinitionsError;
}
const cache = new Map<string, CacheEntry>();

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * The definitions at `path` (a .proto file or a directory of them). Throws ProtoDefinitionsError
 * when they cannot be read or parsed; a parse failure is cached like a success.
 */
function loadProtoDefinitions(path: string): ProtoDefinitions {
  const abs = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch (e) {
    throw new ProtoDefinitionsError(`cannot read ${abs}: ${(e as Error).message}`, true);
  }
  let inputs: string[];
  try {
    inputs = isDir ? walkProtoFiles(abs) : [abs];
  } catch (e) {
    throw new ProtoDefinitionsError(`failed to read protobuf directory ${abs}: ${(e as Error).message}`);
  }
  const cached = cache.get(abs);
  if (cached && cached.inputs.join('\0') === inputs.join('\0') && cached.stamps.every(([p, t]) => mtime(p) === t)) {
    if (cached.result instanceof ProtoDefinitionsError) throw cached.result;
    return cached.result;
  }
  // Stamps are taken before reading so that an edit during the read invalidates the entry.
  const stampsBefore = new Map(inputs.map((p) => [p, mtime(p)]));
  let result: ProtoDefinitions | ProtoDefinitionsError;
  let readPaths: string[] = inputs;
  try {
    const parsed = readAll(inputs, isDir ? abs : dirname(abs));
    readPaths = parsed.map((f) => f.path);
    result = link(parsed, inputs.length);
  } catch (e) {
    if (!(e instanceof ProtoDefinitionsError)) throw e;
    if (e.unreadable) throw e;
    result = e;
  }
  const stamps: Array<[string, number]> = [];
  for (const p of readPaths) {
    const t = stampsBefore.get(p) ?? mtime(p);
    if (t !== undefined) stamps.push([p, t]);
  }
  cache.set(abs, { inputs, stamps, result });
  if (result instanceof ProtoDefinitionsError) throw result;
  return result;
}

interface RpcInfo {
  package: string;
  service: string;
  method: string;
}

/** `/package.Service/Method` from a request path; undefined for anything else. */
function rpcInfo(path: string | undefined): RpcInfo | undefined {
  if (path === undefined || path.includes('?')) return undefined;
  const parts = path.replace(/^\/+/, '').split('/');
  if (parts.length !== 2) return undefined;
  const [serviceAndPackage, method] = parts as [string, string];
  const dot = serviceAndPackage.lastIndexOf('.');
  return dot < 0
    ? { package: '', service: serviceAndPackage, method }
    : { package: serviceAndPackage.slice(0, dot), service: serviceAndPackage.slice(dot + 1), method };
}

/** The request path of the flow the data belongs to, and whether the data is that request's body. */
function requestFacts(metadata: ContentViewMetadata): { path: string | undefined; isRequest: boolean } {
  const request = (metadata.flow as { request?: unknown } | undefined)?.request;
  const path = request && typeof (request as { path?: unknown }).path === 'string' ? (request as { path: string }).path : undefined;
  return { path, isRequest: request !== undefined && metadata.httpMessage === request };
}

/** mitmproxy's choice of message type for a body, given the loaded definitions. */
function findBestMessage(defs: ProtoDefinitions, metadata: ContentViewMetadata): MessageType | undefined {
  const { path, isRequest } = requestFacts(metadata);
  const rpc = rpcInfo(path);
  if (rpc) {
    for (const file of defs.files) {
      if (file.package !== rpc.package) continue;
      for (const service of file.services) {
        if (service.name !== rpc.service) continue;
        const method = service.methods.find((m) => m.name === rpc.method);
        if (method) return isRequest ? method.input : method.output;
      }
      // mitmproxy also accepts a top-level message named like the method.
      const message = file.messages.find((m) => m.fullName.split('.').pop() === rpc.method);
      if (message) return message;
    }
  }
  const first = defs.files[0];
  if (!first) return undefined;
  const method = first.services[0]?.methods[0];
  if (method) return isRequest ? method.input : method.output;
  return first.messages[0];
}

/**
 * The message type to decode a body with, or undefined when no definitions are configured or
 * they declare no message. Throws ProtoDefinitionsError when the definitions are broken.
 */
export function findBestMatch(metadata: ContentViewMetadata): MessageType | undefined {
  if (!metadata.protobufDefinitions) return undefined;
  return findBestMessage(loadProtoDefinitions(metadata.protobufDefinitions), metadata);
}
