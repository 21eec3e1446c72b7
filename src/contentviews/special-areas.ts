/**
 * Helpers for the regex-based CSS and JavaScript beautifiers: strings, comments and regex
 * literals ("special areas") must not be touched by the whitespace rewriting. Their delimiter
 * characters are moved to the private use plane (U+E000 + code) before rewriting and moved back
 * afterwards.
 */

/** Not preceded by an odd number of backslashes. */
export const NO_ESCAPE = String.raw`(?<!\\)(?:\\\\)*`;
export const MULTILINE_CONTENT = String.raw`[\s\S]*?`;
export const SINGLELINE_CONTENT = String.raw`.*?`;
export const MULTILINE_CONTENT_LINE_CONTINUATION = String.raw`(?:.|(?<=\\)\n)*?`;

export function escapeSpecialAreas(data: string, areas: readonly string[], controlCharacters: string): string {
  // "m": `$` also matches at line ends, as Python's re.MULTILINE.
  const splitter = new RegExp(`(${areas.join('|')})`, 'm');
  const parts = data.split(splitter);
  const chars = new RegExp(`[${controlCharacters.replace(/[\\\]^-]/g, '\\$&').replace(/\n/g, '\\n')}]`, 'g');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    out += i % 2 === 1 ? part.replace(chars, (c) => String.fromCharCode(c.charCodeAt(0) + 0xe000)) : part;
  }
  return out;
}

export function unescapeSpecialAreas(data: string): string {
  return data.replace(/[\ue000-\ue0ff]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xe000));
}
