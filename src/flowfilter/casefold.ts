import { CASE_GROUPS_DATA } from './casefold-data.js';

/**
 * Which characters a case-insensitive regex treats as equal, the way Python's `re` does.
 *
 * We never use JavaScript's `i` flag: its rules differ from Python's (JS folds latin-1 letters in
 * non-Unicode mode, and its Unicode folding misses pairs such as `i`/`İ`), and Node 20 has no
 * scoped `(?i:...)`. Instead every case-insensitive literal or class is expanded into an explicit
 * class of the characters Python would accept.
 */

let unicodeGroups: { members: Int32Array; groupOf: Int32Array; groups: number[][] } | null = null;

/** Parsed lazily: most filters never need Unicode case groups (bytes operators fold ASCII only). */
function loadGroups(): NonNullable<typeof unicodeGroups> {
  if (unicodeGroups) return unicodeGroups;
  const groups = CASE_GROUPS_DATA.split(',').map((g) => g.split(' ').map((h) => parseInt(h, 16)));
  const pairs: Array<[number, number]> = [];
  groups.forEach((g, gi) => g.forEach((cp) => pairs.push([cp, gi])));
  pairs.sort((a, b) => a[0] - b[0]);
  unicodeGroups = {
    members: Int32Array.from(pairs.map((p) => p[0])),
    groupOf: Int32Array.from(pairs.map((p) => p[1])),
    groups,
  };
  return unicodeGroups;
}

/** Index of the first member >= cp. */
function lowerBound(arr: Int32Array, cp: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < cp) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export type CaseMode = 'none' | 'ascii' | 'unicode';

/** Every character equal to `cp` under the case mode (always includes `cp` itself). */
export function caseVariants(cp: number, mode: CaseMode): number[] {
  if (mode === 'none') return [cp];
  if (mode === 'ascii') {
    if (cp >= 0x41 && cp <= 0x5a) return [cp, cp + 32];
    if (cp >= 0x61 && cp <= 0x7a) return [cp - 32, cp];
    return [cp];
  }
  const g = loadGroups();
  const i = lowerBound(g.members, cp);
  if (i < g.members.length && g.members[i] === cp) return g.groups[g.groupOf[i]!]!;
  return [cp];
}

/**
 * Extra characters that must be added to a class containing [lo, hi] so that it matches
 * case-insensitively (the characters already in the range are not repeated).
 */
export function caseClosureOfRange(lo: number, hi: number, mode: CaseMode): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (mode === 'none') return out;
  if (mode === 'ascii') {
    const upLo = Math.max(lo, 0x41);
    const upHi = Math.min(hi, 0x5a);
    if (upLo <= upHi) out.push([upLo + 32, upHi + 32]);
    const lowLo = Math.max(lo, 0x61);
    const lowHi = Math.min(hi, 0x7a);
    if (lowLo <= lowHi) out.push([lowLo - 32, lowHi - 32]);
    return out;
  }
  const g = loadGroups();
  const seen = new Set<number>();
  for (let i = lowerBound(g.members, lo); i < g.members.length && g.members[i]! <= hi; i++) {
    const gi = g.groupOf[i]!;
    if (seen.has(gi)) continue;
    seen.add(gi);
    for (const cp of g.groups[gi]!) if (cp < lo || cp > hi) out.push([cp, cp]);
  }
  return out;
}
