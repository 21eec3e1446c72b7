/**
 * Helpers for the regex-based CSS and JavaScript beautifiers: strings, comments and regex
 * literals ("special areas") must not be touched by the whitespace rewriting. Their delimiter
 * characters are moved to the private use plane (U+E000 + code) before rewriting and moved back
 * afterwards.
 *
 * The areas are found as mitmproxy finds them, by splitting the text on an alternation of their
 * patterns, but in linear time: a pattern that fails at one opening delimiter (a string that is
 * never closed) would otherwise be tried again at every later delimiter up to the end of the
 * line or text, and a body of 100 KB of `"\` took minutes. Each area says how far a failure rules
 * out later starts, so no stretch of text is scanned twice by the same pattern.
 */

/** Not preceded by an odd number of backslashes. */
export const NO_ESCAPE = String.raw`(?<!\\)(?:\\\\)*`;
export const MULTILINE_CONTENT = String.raw`[\s\S]*?`;
export const SINGLELINE_CONTENT = String.raw`.*?`;
export const MULTILINE_CONTENT_LINE_CONTINUATION = String.raw`(?:.|(?<=\\)\n)*?`;

/**
 * Finds one kind of area in one text: `match(at)` is the end of the area that starts at `at`, or
 * -1. Calls come with increasing `at`.
 */
export type AreaMatcher = (at: number) => number;

/** One kind of special area: makes a matcher for a text (matchers remember where they failed). */
export interface SpecialArea {
  /** A character class of the characters an area can start with; it is tried nowhere else. */
  readonly first: string;
  matcher(data: string): AreaMatcher;
}

/** Where a pattern that failed at `at` may match again: every start before that fails too. */
export type FailureHorizon = (data: string, at: number) => number;

/** JavaScript's line terminators: what `.` does not match and where `$` matches with the m flag. */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/g;

/** The next line terminator after `at` (or the end): a single-line pattern fails up to there. */
export const untilLineEnd: FailureHorizon = (data, at) => {
  LINE_TERMINATOR.lastIndex = at + 1;
  return LINE_TERMINATOR.exec(data)?.index ?? data.length;
};

/** A multi-line pattern that failed fails for the rest of the text. */
export const untilTextEnd: FailureHorizon = (data) => data.length;

/**
 * The next line break that MULTILINE_CONTENT_LINE_CONTINUATION cannot cross (a line terminator
 * other than a backslash-escaped \n).
 */
export const untilUnescapedLineEnd: FailureHorizon = (data, at) => {
  for (LINE_TERMINATOR.lastIndex = at + 1; ; ) {
    const m = LINE_TERMINATOR.exec(data);
    if (!m) return data.length;
    if (m[0] !== '\n' || data[m.index - 1] !== '\\') return m.index;
  }
};

/** A pattern that always matches once its first character is there (`//...$`). */
export const neverFails: FailureHorizon = (_data, at) => at + 1;

/**
 * An area given by a regex source (matched with the m flag, as the split was), the literal text
 * it opens with, and its failure horizon. The horizon must be sound for a failure after the
 * opener: for a string opened by a quote, "no closing quote in the rest of the line" holds for
 * every later quote of that line too.
 */
export function regexArea(pattern: string, opener: string, horizon: FailureHorizon): SpecialArea {
  return {
    first: `[${opener[0]!.replace(/[\\\]^-]/g, '\\$&')}]`,
    matcher(data) {
      const re = new RegExp(pattern, 'my');
      let failsUntil = 0;
      return (at) => {
        if (at < failsUntil || !data.startsWith(opener, at)) return -1;
        re.lastIndex = at;
        if (re.test(data)) return re.lastIndex;
        failsUntil = horizon(data, at);
        return -1;
      };
    },
  };
}

/**
 * Move the control characters inside special areas to the private use plane. Areas are tried at
 * each position in the order given, the first that matches wins and the search goes on after it:
 * what splitting on the alternation of their patterns does.
 */
export function escapeSpecialAreas(data: string, areas: readonly SpecialArea[], controlCharacters: string): string {
  const matchers = areas.map((a) => ({ first: new RegExp(a.first), match: a.matcher(data) }));
  const starts = new RegExp(areas.map((a) => a.first).join('|'), 'g');
  const chars = new RegExp(`[${controlCharacters.replace(/[\\\]^-]/g, '\\$&').replace(/\n/g, '\\n')}]`, 'g');
  let out = '';
  let copied = 0;
  for (let m = starts.exec(data); m !== null; m = starts.exec(data)) {
    const at = m.index;
    let end = -1;
    for (const { first, match } of matchers) {
      if (first.test(m[0]) && (end = match(at)) >= 0) break;
    }
    if (end < 0) continue;
    out += data.slice(copied, at) + data.slice(at, end).replace(chars, (c) => String.fromCharCode(c.charCodeAt(0) + 0xe000));
    copied = end;
    starts.lastIndex = end;
  }
  return copied === 0 ? data : out + data.slice(copied);
}

export function unescapeSpecialAreas(data: string): string {
  return data.replace(/[\ue000-\ue0ff]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xe000));
}
