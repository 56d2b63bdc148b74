/** Zip entries hold DOS times (1980 to 2107); a clock outside that range is clamped rather than refused. */
export function zipEntryTime(ms: number): number {
  const min = Date.UTC(1980, 0, 2);
  const max = Date.UTC(2099, 11, 30);
  return Number.isFinite(ms) ? Math.min(max, Math.max(min, ms)) : min;
}
