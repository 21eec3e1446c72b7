import {
  escapeSpecialAreas,
  MULTILINE_CONTENT,
  MULTILINE_CONTENT_LINE_CONTINUATION,
  neverFails,
  NO_ESCAPE,
  regexArea,
  SINGLELINE_CONTENT,
  untilLineEnd,
  untilTextEnd,
  untilUnescapedLineEnd,
  unescapeSpecialAreas,
  type SpecialArea,
} from '../special-areas.js';
import { decodeUtf8Replace } from '../text.js';
import { collapseBlanksAround, isJsSpace } from '../whitespace-rewrites.js';
import type { ContentView } from '../types.js';

/** A regex literal: "/" after an operator-like character, up to an unescaped "/", then flags. */
const REGEX_LITERAL = String.raw`(?<=[^\w\s)])\s*/(?:[^\n/]|(?<!\\)(?:\\\\)*\\/)+?/(?=[gimsuy]{0,6}\s*(?:[;,).\n]|$))`;
const OPERATOR_LIKE = /[^\w\s)]/;

/**
 * Where a regex literal whose opening "/" is at `slash` cannot close any more: at the first "\n"
 * or the first "/" not escaped by an odd run of backslashes.
 */
function regexLiteralStop(data: string, slash: number): number {
  let backslashes = 0;
  for (let i = slash + 1; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x0a || (c === 0x2f && backslashes % 2 === 0)) return i;
    backslashes = c === 0x5c ? backslashes + 1 : 0;
  }
  return data.length;
}

/**
 * Regex literals start at the blanks before their "/". A literal that cannot close from one "/"
 * cannot close from any escaped "/" before where that one stopped either (they see the same
 * closing candidates, fewer of them), so those are not tried again.
 */
const regexLiteralArea: SpecialArea = {
  first: String.raw`[\s/]`,
  matcher(data) {
    const re = new RegExp(REGEX_LITERAL, 'my');
    let failedFrom = -1;
    let failedUntil = -1;
    return (at) => {
      if (at === 0 || !OPERATOR_LIKE.test(data[at - 1]!)) return -1;
      let slash = at;
      while (slash < data.length && isJsSpace(data.charCodeAt(slash))) slash++;
      if (data[slash] !== '/' || (slash > failedFrom && slash < failedUntil)) return -1;
      re.lastIndex = at;
      if (re.test(data)) return re.lastIndex;
      failedFrom = slash;
      failedUntil = regexLiteralStop(data, slash);
      return -1;
    };
  },
};

const AREAS = [
  regexLiteralArea,
  regexArea(`'${MULTILINE_CONTENT_LINE_CONTINUATION}${NO_ESCAPE}'`, "'", untilUnescapedLineEnd),
  regexArea(`"${MULTILINE_CONTENT_LINE_CONTINUATION}${NO_ESCAPE}"`, '"', untilUnescapedLineEnd),
  regexArea(`\`${MULTILINE_CONTENT}${NO_ESCAPE}\``, '`', untilTextEnd),
  regexArea(String.raw`/\*${MULTILINE_CONTENT}\*/`, '/*', untilTextEnd),
  regexArea(`//${SINGLELINE_CONTENT}$`, '//', neverFails),
  regexArea(String.raw`for\(${SINGLELINE_CONTENT}\)`, 'for(', untilLineEnd),
];

const CONTENT_TYPES = new Set(['application/x-javascript', 'application/javascript', 'text/javascript']);

/** Python's str.splitlines(keepends=True). */
function splitLinesKeepEnds(s: string): string[] {
  return s.match(/[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+$/g) ?? [];
}

/**
 * Indentation grows by two spaces per open brace, so the output can grow with the square of the
 * input (1 MB of "{" would be terabytes); past this many characters the beautifier gives up.
 */
export const MAX_BEAUTIFIED_LENGTH = 64 * 1024 * 1024;

/**
 * Re-indent JavaScript: a line break after `{`, `;` and `}`, two spaces per open brace.
 * mitmproxy's regex substitutions, done in linear time (see whitespace-rewrites.ts). With
 * `maxLines`, stops after the line past that many, which is enough to cut the text exactly.
 */
export function beautifyJavaScript(data: string, maxLines?: number): string {
  const limit = Math.max(MAX_BEAUTIFIED_LENGTH, 8 * data.length);
  data = escapeSpecialAreas(data, AREAS, '{};\n');
  // \s*{\s*(?!};): before "};" the blanks after "{" give one back, and with none the "{" stays.
  data = collapseBlanksAround(data, '{', ({ at, end }) => {
    if (!data.startsWith('};', end)) return ' {\n';
    return end > at + 1 ? ' {\n' + data[end - 1] : null;
  });
  data = collapseBlanksAround(data, ';', () => ';\n');
  // (?<!{)\s*}(;)?\s*: the match starts at the first blank not right after a "{".
  data = collapseBlanksAround(data, '}', (m) => {
    let keep = '';
    if (m.start > 0 && data[m.start - 1] === '{') {
      if (m.start === m.at) return null;
      keep = data[m.start]!;
    }
    let semi = '';
    if (data[m.at + 1] === ';' && m.end === m.at + 1) {
      semi = ';';
      m.end = m.at + 2;
      while (m.end < data.length && isJsSpace(data.charCodeAt(m.end))) m.end++;
    }
    return `${keep}\n}${semi}\n`;
  });
  let out = '';
  let level = 0;
  let lines = 0;
  for (const line of splitLinesKeepEnds(data)) {
    if (maxLines !== undefined && lines++ > maxLines) break;
    // A line that opens a block is indented at the outer level, even one that starts with "}".
    const opens = line.endsWith('{\n');
    if (!opens && line.startsWith('}')) level--;
    out += ' '.repeat(2 * Math.max(0, level)) + line;
    if (out.length > limit) throw new Error(`beautified text longer than ${limit} characters (braces nested too deeply)`);
    if (opens) level++;
  }
  return unescapeSpecialAreas(out);
}

export const javascript: ContentView = {
  name: 'JavaScript',
  syntaxHighlight: 'javascript',
  render(data, _metadata, hints) {
    return beautifyJavaScript(decodeUtf8Replace(data), hints?.maxLines);
  },
  renderPriority(data, metadata) {
    return data.length > 0 && metadata.contentType !== undefined && CONTENT_TYPES.has(metadata.contentType) ? 1 : 0;
  },
};
