/**
 * Python's `datetime.strftime` (C locale, local time) for the file name patterns of
 * `save_stream_file` (`dump-%Y-%m-%d.mitm`). Unknown directives are left as written, as glibc does.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (n: number, w = 2, c = '0') => String(n).padStart(w, c);

function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  return Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - start.getTime()) / 86400000) + 1;
}

/** Week of the year with weeks starting on `firstDay` (0 Sunday, 1 Monday); days before the first such day are week 0. */
function weekOfYear(d: Date, firstDay: number): number {
  const yday = dayOfYear(d) - 1;
  const wday = (d.getDay() - firstDay + 7) % 7;
  return Math.floor((yday + 7 - wday) / 7);
}

/** ISO 8601 week-based year and week number. */
function isoWeek(d: Date): [number, number] {
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  return [t.getUTCFullYear(), Math.ceil(((t.getTime() - yearStart.getTime()) / 86400000 + 1) / 7)];
}

function tzOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

function tzName(d: Date): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
}

/** Format `date` (default: now, local time) with a Python strftime pattern. */
export function strftime(pattern: string, date: Date = new Date()): string {
  if (!pattern.includes('%')) return pattern;
  const d = date;
  const directive = (c: string): string | null => {
    switch (c) {
      case 'a': return DAYS[d.getDay()]!.slice(0, 3);
      case 'A': return DAYS[d.getDay()]!;
      case 'w': return String(d.getDay());
      case 'u': return String(d.getDay() || 7);
      case 'd': return pad(d.getDate());
      case 'e': return pad(d.getDate(), 2, ' ');
      case 'b': case 'h': return MONTHS[d.getMonth()]!.slice(0, 3);
      case 'B': return MONTHS[d.getMonth()]!;
      case 'm': return pad(d.getMonth() + 1);
      case 'y': return pad(d.getFullYear() % 100);
      case 'Y': return String(d.getFullYear());
      case 'C': return pad(Math.floor(d.getFullYear() / 100));
      case 'H': return pad(d.getHours());
      case 'k': return pad(d.getHours(), 2, ' ');
      case 'I': return pad(d.getHours() % 12 || 12);
      case 'l': return pad(d.getHours() % 12 || 12, 2, ' ');
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'f': return pad(d.getMilliseconds() * 1000, 6);
      case 'z': return tzOffset(d);
      case 'Z': return tzName(d);
      case 'j': return pad(dayOfYear(d), 3);
      case 'U': return pad(weekOfYear(d, 0));
      case 'W': return pad(weekOfYear(d, 1));
      case 'G': return String(isoWeek(d)[0]);
      case 'g': return pad(isoWeek(d)[0] % 100);
      case 'V': return pad(isoWeek(d)[1]);
      case 's': return String(Math.floor(d.getTime() / 1000));
      case 'c': return `${directive('a')} ${directive('b')} ${directive('e')} ${directive('T')} ${directive('Y')}`;
      case 'x': case 'D': return `${directive('m')}/${directive('d')}/${directive('y')}`;
      case 'X': case 'T': return `${directive('H')}:${directive('M')}:${directive('S')}`;
      case 'F': return `${directive('Y')}-${directive('m')}-${directive('d')}`;
      case 'R': return `${directive('H')}:${directive('M')}`;
      case 'n': return '\n';
      case 't': return '\t';
      case '%': return '%';
      default: return null;
    }
  };
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch !== '%' || i + 1 >= pattern.length) {
      out += ch;
      continue;
    }
    const r = directive(pattern[i + 1]!);
    if (r === null) out += ch;
    else {
      out += r;
      i++;
    }
  }
  return out;
}
