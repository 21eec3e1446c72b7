import { EMOJI_SHORTCODES } from './emoji-data.js';

/**
 * Flow markers: the values `flow.mark` accepts and how the web UI shows them. mitmproxy takes
 * exactly the keys of its emoji table (GitHub's shortcodes, ":default:", each ASCII letter and
 * digit), plus "true" and "false" on the command line.
 */

let table: Map<string, string> | null = null;

/** Shortcode (":grapes:") -> emoji, ":default:" -> "●", and each ASCII letter and digit -> itself. */
function markerTable(): Map<string, string> {
  if (table) return table;
  const t = new Map<string, string>();
  for (const entry of EMOJI_SHORTCODES.split(' ')) {
    const eq = entry.indexOf('=');
    const cps = entry.slice(eq + 1).split('-').map((h) => String.fromCodePoint(parseInt(h, 16)));
    t.set(`:${entry.slice(0, eq)}:`, cps.join('\u200d'));
  }
  t.set(':default:', '●');
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') t.set(c, c);
  table = t;
  return t;
}

/** The rendered marker: "" when unmarked, the table's symbol, or 🔴 for anything the table lacks. */
export function renderMarker(marked: string): string {
  if (!marked) return '';
  return markerTable().get(marked) ?? '🔴';
}

/** Whether `marker` is a known shortcode or character (commands accept only these). */
export function isKnownMarker(marker: string): boolean {
  return markerTable().has(marker);
}
