import { escapeSpecialAreas, MULTILINE_CONTENT, NO_ESCAPE, SINGLELINE_CONTENT, unescapeSpecialAreas } from '../special-areas.js';
import { decodeUtf8Surrogateescape } from '../../io/text.js';
import { pyStrip } from '../text.js';
import type { ContentView } from '../types.js';

const AREAS = [
  `'${SINGLELINE_CONTENT}${NO_ESCAPE}'`,
  `"${SINGLELINE_CONTENT}${NO_ESCAPE}"`,
  String.raw`/\*${MULTILINE_CONTENT}\*/`,
  `//${SINGLELINE_CONTENT}$`,
];

/** Re-indent CSS: one declaration per line, four-space indent in blocks, a blank line after each block. */
export function beautifyCss(data: string, indent = '    '): string {
  data = escapeSpecialAreas(pyStrip(data), AREAS, '{};:');
  data = data.replace(/\s*;\s*/g, ';\n');
  data = data.replace(/\s*{\s*/g, ' {\n');
  data = data.replace(/\s*}\s*/g, '\n}\n\n');
  // ":" inside a block (not in selectors such as a:hover) gets exactly one space after it.
  data = data.replace(/\s*:\s*(?=[^{]+})/g, ': ');
  data = data.replace(/\s*,\s*/g, ', ');
  data = data.replace(/\n[ \t]+/g, '\n');
  data = data.replace(/\n(?![}\n])(?=[^{]*})/g, '\n' + indent);
  data = unescapeSpecialAreas(data);
  return data.replace(/\n+$/, '') + '\n';
}

export const css: ContentView = {
  // mitmproxy derives this view's name from its class name, so it is listed as "viewcss".
  name: 'ViewCSS',
  syntaxHighlight: 'css',
  render(data) {
    // Undecodable bytes as surrogate escapes, as mitmproxy decodes CSS.
    return beautifyCss(decodeUtf8Surrogateescape(data));
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType === 'text/css' ? 1 : 0;
  },
};
