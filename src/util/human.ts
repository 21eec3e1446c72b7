/** Sizes and durations the way mitmproxy reads and prints them. */

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "3m" -> 3145728; "1024" -> 1024; null/"" -> null. Throws on anything else. */
export function parseSize(s: string | null | undefined): number | null {
  if (s === null || s === undefined || s === '') return null;
  const m = /^\s*(\d+)\s*([bkmgBKMG]?)\s*$/.exec(s);
  if (!m) throw new Error(`Invalid size specification: ${s}`);
  return Number(m[1]) * SIZE_UNITS[(m[2] || 'b').toLowerCase()]!;
}

/** 27 -> "27b", 1234 -> "1.2k", 3.4 MiB -> "3.4m" (1024 based; one decimal below 99.95; at most 5 characters). */
export function prettySize(size: number): string {
  if (size < 1024) return `${size}b`;
  let s = size;
  for (const suffix of ['k', 'm', 'g', 't']) {
    s /= 1024;
    if (s < 99.95) return `${s.toFixed(1)}${suffix}`;
    if (s < 1024 || suffix === 't') return `${s.toFixed(0)}${suffix}`;
  }
  return `${size}b`;
}

/** A duration in seconds as "123ms" or "1.23s". */
export function prettyDuration(seconds: number | null): string {
  if (seconds === null) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  return `${seconds.toFixed(1)}s`;
}
