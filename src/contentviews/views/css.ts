import {
  escapeSpecialAreas,
  MULTILINE_CONTENT,
  neverFails,
  NO_ESCAPE,
  regexArea,
  SINGLELINE_CONTENT,
  unescapeSpecialAreas,
  untilLineEnd,
  untilTextEnd,
} from '../special-areas.js';
import { decodeUtf8Surrogateescape } from '../../io/text.js';
import { pyStrip } from '../text.js';
import { collapseBlanksAround, nextIndexTable } from '../whitespace-rewrites.js';
import { stripCharEnd } from '../../util/strip-char.js';
import type { ContentView } from '../types.js';

const AREAS = [
  regexArea(`'${SINGLELINE_CONTENT}${NO_ESCAPE}'`, "'", untilLineEnd),
  regexArea(`"${SINGLELINE_CONTENT}${NO_ESCAPE}"`, '"', untilLineEnd),
  regexArea(String.raw`/\*${MULTILINE_CONTENT}\*/`, '/*', untilTextEnd),
  regexArea(`//${SINGLELINE_CONTENT}$`, '//', neverFails),
];

/**
 * Re-indent CSS: one declaration per line, four-space indent in blocks, a blank line after each block.
 *
 * mitmproxy does this with a few regex substitutions; these are the same rewrites, done so that
 * no stretch of text is scanned more than a bounded number of times. Its `\s*;\s*` is tried at
 * every blank of a run and its look-aheads (`(?=[^{]+})`) scan to the next brace from every
 * colon, both quadratic: 1 MB of blanks or colons took hours.
 */
export function beautifyCss(data: string, indent = '    '): string {
  data = escapeSpecialAreas(pyStrip(data), AREAS, '{};:');
  data = collapseBlanksAround(data, ';', () => ';\n');
  data = collapseBlanksAround(data, '{', () => ' {\n');
  data = collapseBlanksAround(data, '}', () => '\n}\n\n');
  data = declarationColons(data);
  data = collapseBlanksAround(data, ',', () => ', ');
  data = data.replace(/\n[ \t]+/g, '\n');
  data = indentBlockLines(data, indent);
  data = unescapeSpecialAreas(data);
  return stripCharEnd(data, '\n') + '\n';
}

/**
 * mitmproxy's `re.sub(r"\s*:\s*(?=[^{]+})", ": ", data)`: a colon inside a block (followed, before
 * any "{", by a "}") gets exactly one space after it and none before; colons of selectors
 * (`a:hover {`) are left alone.
 */
function declarationColons(data: string): string {
  const nextOpen = nextIndexTable(data, '{');
  const nextClose = nextIndexTable(data, '}');
  // The look-ahead `[^{]+}` at `at`: a "}" after `at` comes before any "{" from `at` on.
  const inBlock = (at: number) => at < data.length && nextClose[at + 1]! < nextOpen[at]!;
  return collapseBlanksAround(data, ':', ({ at, end }) => {
    if (inBlock(end)) return ': ';
    // Blanks after the colon, then "}": the regex gives one blank back so that "[^{]+" has a
    // character to match before that "}".
    if (end > at + 1 && data[end] === '}' && inBlock(end - 1)) return ': ' + data[end - 1];
    return null;
  });
}

/**
 * mitmproxy's `re.sub(r"\n(?![}\n])(?=[^{]*})", "\n" + indent, data)`: a line inside a block
 * (a "}" follows before any "{") that is not blank and not the block's end is indented.
 */
function indentBlockLines(data: string, indent: string): string {
  const nextOpen = nextIndexTable(data, '{');
  const nextClose = nextIndexTable(data, '}');
  return data.replace(/\n(?![}\n])/g, (nl, at: number) => (nextClose[at + 1]! < nextOpen[at + 1]! ? '\n' + indent : nl));
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
