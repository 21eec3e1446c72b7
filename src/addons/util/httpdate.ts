/**
 * Dates in HTTP headers and cookies, read as leniently as Python's `email.utils.parsedate_tz`
 * (which mitmproxy uses to refresh replayed responses and to expire sticky cookies) and written
 * as `email.utils.formatdate(t, usegmt=True)`: "Sun, 06 Nov 1994 08:49:37 GMT".
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const LONG_MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** Zone names email.utils knows, as ±hhmm. */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0,
  AST: -400, ADT: -300, EST: -500, EDT: -400, CST: -600, CDT: -500, MST: -700, MDT: -600, PST: -800, PDT: -700,
};

function monthIndex(name: string): number {
  const i = MONTHS.indexOf(name);
  if (i >= 0) return i + 1;
  const j = LONG_MONTHS.indexOf(name);
  return j >= 0 ? j + 1 : 0;
}

/** Python's int() of a short token: optional sign and digits only. */
function pyInt(s: string | number): number | null {
  if (typeof s === 'number') return s;
  return /^[+-]?\d+$/.test(s) ? Number(s) : null;
}

/**
 * Seconds since the epoch for an RFC 2822 / RFC 850 / asctime-like date, or null when it cannot
 * be read. A date without a zone is taken as UTC (Python would use local time; proxies run in
 * UTC more often than not, and a header date without a zone is out of spec anyway).
 */
export function parseHttpDate(text: string): number | null {
  let data = text.split(/\s+/).filter((x) => x !== '');
  if (data.length === 0) return null;
  if (data[0]!.endsWith(',') || DAYS.includes(data[0]!.toLowerCase())) data.shift();
  else {
    const i = data[0]!.lastIndexOf(',');
    if (i >= 0) data[0] = data[0]!.slice(i + 1);
  }
  if (data.length === 3) {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    const stuff = data[0]!.split('-');
    if (stuff.length === 3) data = [...stuff, ...data.slice(1)];
  }
  if (data.length === 4) {
    const s = data[3]!;
    let i = s.indexOf('+');
    if (i === -1) i = s.indexOf('-');
    if (i > 0) data.splice(3, 1, s.slice(0, i), s.slice(i));
    else data.push('');
  }
  if (data.length < 5) return null;
  let [dd, mm, yy, tm, tz] = data.slice(0, 5) as [string, string, string, string, string];
  if (!dd || !mm || !yy) return null;
  mm = mm.toLowerCase();
  if (!monthIndex(mm)) {
    [dd, mm] = [mm, dd.toLowerCase()];
    if (!monthIndex(mm)) return null;
  }
  const month = monthIndex(mm);
  if (dd.endsWith(',')) dd = dd.slice(0, -1);
  if (yy.indexOf(':') > 0) [yy, tm] = [tm, yy];
  if (yy.endsWith(',')) {
    yy = yy.slice(0, -1);
    if (!yy) return null;
  }
  if (!/^\d/.test(yy)) [yy, tz] = [tz, yy];
  if (tm.endsWith(',')) tm = tm.slice(0, -1);
  let parts = tm.split(':');
  if (parts.length === 1 && parts[0]!.includes('.')) parts = parts[0]!.split('.');
  let hh: string;
  let mi: string;
  let ss: string;
  if (parts.length === 2) [hh, mi, ss] = [parts[0]!, parts[1]!, '0'];
  else if (parts.length === 3) [hh, mi, ss] = parts as [string, string, string];
  else return null;
  const nums = [yy, dd, hh, mi, ss].map(pyInt);
  if (nums.some((n) => n === null)) return null;
  let [year, day, hour, minute, second] = nums as [number, number, number, number, number];
  if (year < 100) year += year > 68 ? 1900 : 2000;
  let offset: number | null = null;
  const zone = tz.toUpperCase();
  if (zone in ZONES) offset = ZONES[zone]!;
  else {
    offset = pyInt(zone);
    if (offset === 0 && zone.startsWith('-')) offset = null;
  }
  let offsetSeconds = 0;
  if (offset) {
    const sign = offset < 0 ? -1 : 1;
    const a = Math.abs(offset);
    offsetSeconds = sign * (Math.floor(a / 100) * 3600 + (a % 100) * 60);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  if (Number.isNaN(utc)) return null;
  // Date.UTC maps years 0-99 to 1900-1999; years that small never reach here (see above).
  return utc / 1000 - offsetSeconds;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** "Sun, 06 Nov 1994 08:49:37 GMT" for seconds since the epoch (fractions dropped). */
export function formatHttpDate(seconds: number): string {
  const d = new Date(Math.floor(seconds) * 1000);
  return (
    `${WEEKDAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTH_NAMES[d.getUTCMonth()]} ${pad(d.getUTCFullYear(), 4)} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`
  );
}
