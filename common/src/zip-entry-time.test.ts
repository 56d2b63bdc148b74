import { strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { zipEntryTime } from './zip-entry-time';

describe('zipEntryTime', () => {
  it('keeps a time zip entries can hold and clamps the others', () => {
    const t = Date.UTC(2026, 0, 5, 8, 0, 0);
    expect(zipEntryTime(t)).toBe(t);
    expect(zipEntryTime(0)).toBe(Date.UTC(1980, 0, 2));
    expect(zipEntryTime(Number.NaN)).toBe(Date.UTC(1980, 0, 2));
    expect(zipEntryTime(Date.UTC(2200, 0, 1))).toBe(Date.UTC(2099, 11, 30));
  });

  it('gives the same zip bytes for the same files and time (fflate takes the time, not its own clock)', () => {
    const zip = (ms: number) => zipSync({ 'a.md': [strToU8('x'), { level: 6, mtime: zipEntryTime(ms) }] });
    const t = Date.UTC(2026, 0, 5, 8, 0, 0);
    expect(zip(t)).toEqual(zip(t));
    expect(zip(t)).not.toEqual(zip(t + 60_000));
    expect(unzipSync(zip(0))['a.md']).toEqual(strToU8('x'));
  });
});
