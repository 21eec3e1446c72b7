import { dumpPythonJson, JsonNumber, parsePythonJsonBytes, type JsonValue } from '../json-python.js';
import type { ContentView } from '../types.js';

type JsonObject = Map<string, JsonValue>;

function isQuery(v: JsonValue): v is JsonObject {
  if (!(v instanceof Map) || !v.has('query')) return false;
  const q = v.get('query');
  return typeof q === 'string' && q.includes('\n');
}

function isBatch(v: JsonValue): v is JsonValue[] {
  return Array.isArray(v) && v.length > 0 && v[0] instanceof Map && v[0].has('query');
}

/** Python's str() of a JSON value, for a non-string "query" printed below the header. */
function pyStr(v: JsonValue | undefined): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v instanceof JsonNumber) return v.text;
  return dumpPythonJson(v, { indent: 0, ensureAscii: true }).text;
}

/** The operation's other fields as JSON (two-space indent, ASCII), then "---" and the query text. */
function formatOperation(op: JsonValue): string {
  if (!(op instanceof Map) || !op.has('query')) throw new Error("KeyError: 'query'");
  const header = new Map(op);
  header.set('query', '...');
  return `${dumpPythonJson(header, { indent: 2, ensureAscii: true }).text}\n---\n${pyStr(op.get('query'))}\n`;
}

export const graphql: ContentView = {
  name: 'GraphQL',
  syntaxHighlight: 'none',
  render(data) {
    const gql = parsePythonJsonBytes(data);
    if (isQuery(gql)) return formatOperation(gql);
    if (isBatch(gql)) {
      const last = gql.length - 1;
      return gql.map((op, i) => `--- ${i}/${last}\n${formatOperation(op)}`).join('');
    }
    throw new Error('Not a GraphQL message.');
  },
  renderPriority(data, metadata) {
    if (metadata.contentType !== 'application/json' || data.length === 0) return 0;
    try {
      const v = parsePythonJsonBytes(data);
      if (isQuery(v) || isBatch(v)) return 2;
    } catch {
      // not JSON: not GraphQL either
    }
    return 0;
  },
};
