/**
 * RFC 3339 timestamps for the front matter `updated` key, computed with
 * integer calendar arithmetic (no Date, no clock).
 *
 * Writing follows chrono's `to_rfc3339_opts(SecondsFormat::Millis, false)` in
 * the plugin's UTC zone: `2026-03-14T12:00:00.000+00:00` (never `Z`); years
 * outside 0..=9999 get an explicit sign (`+10000`, `-0001`); instants outside
 * chrono's range (years -262144..=262143) have no representation (null).
 * Reading follows `DateTime::parse_from_rfc3339`: `T`, `t` or a space between
 * date and time, optional fraction, `Z`/`z` or `+hh:mm`/`-hh:mm`.
 */

const DAY_MS = 86_400_000;
const MIN_YEAR = -262144;
const MAX_YEAR = 262143;

/** Days since 1970-01-01 for a proleptic Gregorian date. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Proleptic Gregorian [year, month, day] for days since 1970-01-01. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return [y, m, d];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `2026-03-14T12:00:00.000+00:00`, or null outside chrono's range. */
export function formatRfc3339Millis(ms: number): string | null {
  if (!Number.isFinite(ms)) return null;
  const t = Math.trunc(ms);
  const days = Math.floor(t / DAY_MS);
  const rem = t - days * DAY_MS;
  const [y, mo, d] = civilFromDays(days);
  if (y < MIN_YEAR || y > MAX_YEAR) return null;
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : (y < 0 ? '-' : '+') + pad(Math.abs(y), 4);
  const hh = Math.floor(rem / 3_600_000);
  const mi = Math.floor((rem % 3_600_000) / 60_000);
  const ss = Math.floor((rem % 60_000) / 1000);
  const mss = rem % 1000;
  return `${year}-${pad(mo, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mi, 2)}:${pad(ss, 2)}.${pad(mss, 3)}+00:00`;
}

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/** Epoch milliseconds of an RFC 3339 date-time, or null when it is not one. */
export function parseRfc3339(s: string): number | null {
  const m = RFC3339_RE.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  if (h > 23 || mi > 59 || sec > 60) return null;
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
  }
  const frac = m[7] ?? '';
  const millis = frac === '' ? 0 : Number((frac + '00').slice(0, 3));
  const secs = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offsetMin * 60;
  return secs * 1000 + millis;
}
