import {
  escapeSpecialAreas,
  MULTILINE_CONTENT,
  MULTILINE_CONTENT_LINE_CONTINUATION,
  NO_ESCAPE,
  SINGLELINE_CONTENT,
  unescapeSpecialAreas,
} from '../special-areas.js';
import { decodeUtf8Replace } from '../text.js';
import type { ContentView } from '../types.js';

const AREAS = [
  // A regex literal: "/" after an operator-like character, up to an unescaped "/", then flags.
  String.raw`(?<=[^\w\s)])\s*/(?:[^\n/]|(?<!\\)(?:\\\\)*\\/)+?/(?=[gimsuy]{0,6}\s*(?:[;,).\n]|$))`,
  `'${MULTILINE_CONTENT_LINE_CONTINUATION}${NO_ESCAPE}'`,
  `"${MULTILINE_CONTENT_LINE_CONTINUATION}${NO_ESCAPE}"`,
  `\`${MULTILINE_CONTENT}${NO_ESCAPE}\``,
  String.raw`/\*${MULTILINE_CONTENT}\*/`,
  `//${SINGLELINE_CONTENT}$`,
  String.raw`for\(${SINGLELINE_CONTENT}\)`,
];

const CONTENT_TYPES = new Set(['application/x-javascript', 'application/javascript', 'text/javascript']);

/** Python's str.splitlines(keepends=True). */
function splitLinesKeepEnds(s: string): string[] {
  return s.match(/[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+$/g) ?? [];
}

/** Re-indent JavaScript: a line break after `{`, `;` and `}`, two spaces per open brace. */
export function beautifyJavaScript(data: string): string {
  data = escapeSpecialAreas(data, AREAS, '{};\n');
  data = data.replace(/\s*{\s*(?!};)/g, ' {\n');
  data = data.replace(/\s*;\s*/g, ';\n');
  data = data.replace(/(?<!{)\s*}(;)?\s*/g, (_m, semi: string | undefined) => `\n}${semi ?? ''}\n`);
  let out = '';
  let level = 0;
  for (const line of splitLinesKeepEnds(data)) {
    if (line.endsWith('{\n')) {
      out += ' '.repeat(2 * Math.max(0, level)) + line;
      level++;
    } else if (line.startsWith('}')) {
      level--;
      out += ' '.repeat(2 * Math.max(0, level)) + line;
    } else {
      out += ' '.repeat(2 * Math.max(0, level)) + line;
    }
  }
  return unescapeSpecialAreas(out);
}

export const javascript: ContentView = {
  name: 'JavaScript',
  syntaxHighlight: 'javascript',
  render(data) {
    return beautifyJavaScript(decodeUtf8Replace(data));
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType !== undefined && CONTENT_TYPES.has(metadata.contentType) ? 1 : 0;
  },
};
