/**
 * Python's `s.strip(ch)` / `s.rstrip(ch)` for one character, in linear time. The regex way,
 * `s.replace(/^c+|c+$/g, '')`, tries `c+$` at every character of a run that the text goes on
 * after: 60 000 slashes in the middle of a request URL took 1.4 s.
 */
export function stripChar(s: string, ch: string): string {
  const c = ch.charCodeAt(0);
  let start = 0;
  while (start < s.length && s.charCodeAt(start) === c) start++;
  return stripCharEnd(start === 0 ? s : s.slice(start), ch);
}

/** `s` without the run of `ch` (one UTF-16 unit) at its end. */
export function stripCharEnd(s: string, ch: string): string {
  const c = ch.charCodeAt(0);
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === c) end--;
  return end === s.length ? s : s.slice(0, end);
}
