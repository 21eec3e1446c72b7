import { dumpPythonJson, parsePythonJson } from '../json-python.js';
import type { ContentView } from '../types.js';

/** One event of a stream, its fields as sent (data lines joined with newlines, as a browser does). */
interface StreamEvent {
  fields: Array<[name: string, value: string]>;
  data: string[];
}

/**
 * Split an event stream into its events (the WHATWG format: lines end in CR, LF or CRLF, a
 * blank line ends an event, `name: value` with one space after the colon dropped, `:` starts a
 * comment). Comments are kept as fields named "" so the view shows keep-alive pings too.
 */
function parseEventStream(text: string): StreamEvent[] {
  const events: StreamEvent[] = [];
  let current: StreamEvent = { fields: [], data: [] };
  const lines = text.split(/\r\n|\r|\n/);
  // A stream that ends in a newline leaves an empty last piece that is no line.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    if (line === '') {
      if (current.fields.length || current.data.length) events.push(current);
      current = { fields: [], data: [] };
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') current.data.push(value);
    else current.fields.push([name, value]);
  }
  if (current.fields.length || current.data.length) events.push(current);
  return events;
}

/** An event's data, with JSON (what most APIs stream, LLMs' among them) indented by four spaces. */
function renderData(data: string): string {
  const trimmed = data.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return dumpPythonJson(parsePythonJson(trimmed), { indent: 4, ensureAscii: false }).text;
    } catch {
      // Not JSON after all: shown as it came.
    }
  }
  return data;
}

/**
 * Server-sent events (`text/event-stream`): each event on its own, its fields as sent and its
 * data pretty-printed when it is JSON, events separated by a blank line. mitmproxy has no view for
 * them and shows such a body as raw text. Not UTF-8: not an event stream (the format requires it).
 */
export const serverSentEvents: ContentView = {
  name: 'Server-Sent Events',
  syntaxHighlight: 'none',
  render(data) {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    return parseEventStream(text)
      .map((event) => {
        const lines = event.fields.map(([name, value]) => (name === '' ? `: ${value}` : `${name}: ${value}`));
        if (event.data.length) lines.push(`data: ${renderData(event.data.join('\n'))}`);
        return lines.join('\n');
      })
      .join('\n\n');
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'text/event-stream' ? 1 : 0;
  },
};
