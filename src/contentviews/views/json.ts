import { dumpPythonJson, parsePythonJsonBytes } from '../json-python.js';
import type { ContentView } from '../types.js';

/** JSON indented by four spaces, keys in their original order, non-ASCII kept (as mitmproxy prints it). */
export const json: ContentView = {
  name: 'JSON',
  // JSON is highlighted with the YAML highlighter (YAML is a superset).
  syntaxHighlight: 'yaml',
  render(data, _metadata, hints) {
    // The whole body is parsed (invalid JSON anywhere must fail), but only the shown lines are formatted.
    const value = parsePythonJsonBytes(data);
    const opts = hints?.maxLines ? { indent: 4, ensureAscii: false, maxLines: hints.maxLines } : { indent: 4, ensureAscii: false };
    return dumpPythonJson(value, opts).text;
  },
  renderPriority(data, metadata) {
    if (data.length === 0) return 0;
    const ct = metadata.contentType;
    if (ct === 'application/json' || ct === 'application/json-rpc') return 1;
    if (ct && ct.startsWith('application/') && ct.endsWith('json')) return 1;
    return 0;
  },
};
