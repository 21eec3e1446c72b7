/**
 * Linear-time stand-ins for the regex substitutions of the CSS and JavaScript beautifiers
 * (mitmproxy's `re.sub(r"\s*;\s*", ...)` and friends). A backtracking engine tries `\s*;` at every
 * blank of a run and scans the whole run each time, so a body with a long run of blanks (or of
 * ";" with look-aheads that scan to the end) took time quadratic in its length: hours for 1 MB.
 * These give the same result as the regexes, and each character is looked at a bounded number of
 * times.
 */

/** JavaScript's `\s`, as the regexes these replace used it. */
export function isJsSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** One occurrence of the character with the blanks around it: `data.slice(start, end)`. */
export interface BlankMatch {
  /** Where the blanks before the character start. */
  readonly start: number;
  /** The character. */
  readonly at: number;
  /** After the blanks that follow it; the callback may move it to consume more. */
  end: number;
}

/**
 * A global replace of the pattern `\s*X\s*` for the single character `ch` X, through `replace`,
 * which may also refuse a match (null: the text stays, as when a look-ahead after the regex fails).
 */
export function collapseBlanksAround(data: string, ch: string, replace: (m: BlankMatch) => string | null): string {
  let out = '';
  let copied = 0;
  for (let at = data.indexOf(ch); at >= 0; at = data.indexOf(ch, at + 1)) {
    if (at < copied) continue;
    let start = at;
    while (start > copied && isJsSpace(data.charCodeAt(start - 1))) start--;
    let end = at + 1;
    while (end < data.length && isJsSpace(data.charCodeAt(end))) end++;
    const m: BlankMatch = { start, at, end };
    const text = replace(m);
    if (text === null) continue;
    out += data.slice(copied, start) + text;
    copied = m.end;
  }
  return copied === 0 ? data : out + data.slice(copied);
}

/**
 * For each position, where `ch` next occurs from there on (data.length when it does not): the
 * answer of a look-ahead like `(?=[^{]*})` without scanning to the end from every position.
 */
export function nextIndexTable(data: string, ch: string): Int32Array {
  const table = new Int32Array(data.length + 1);
  const code = ch.charCodeAt(0);
  let next = data.length;
  table[data.length] = next;
  for (let i = data.length - 1; i >= 0; i--) {
    if (data.charCodeAt(i) === code) next = i;
    table[i] = next;
  }
  return table;
}

