import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { civilFromDays, daysFromCivil, formatRfc3339Millis, parseRfc3339 } from './rfc3339';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`rfc3339.test fast-check seed: ${seed} (set FC_SEED to replay)`);

describe('formatRfc3339Millis', () => {
  it('formats in UTC with an explicit +00:00 offset', () => {
    expect(formatRfc3339Millis(1773489600000)).toBe('2026-03-14T12:00:00.000+00:00');
    expect(formatRfc3339Millis(1700000000123)).toBe('2023-11-14T22:13:20.123+00:00');
    expect(formatRfc3339Millis(0)).toBe('1970-01-01T00:00:00.000+00:00');
    expect(formatRfc3339Millis(-1)).toBe('1969-12-31T23:59:59.999+00:00');
    expect(formatRfc3339Millis(951782400000)).toBe('2000-02-29T00:00:00.000+00:00');
  });

  it('signs years outside 0..=9999 and rejects chrono-out-of-range instants', () => {
    expect(formatRfc3339Millis(-62167219200000)).toBe('0000-01-01T00:00:00.000+00:00');
    expect(formatRfc3339Millis(-62167219200001)).toBe('-0001-12-31T23:59:59.999+00:00');
    expect(formatRfc3339Millis(8210298412799999)).toBe('+262143-12-31T23:59:59.999+00:00');
    expect(formatRfc3339Millis(8210298412800000)).toBeNull();
    expect(formatRfc3339Millis(Number.NaN)).toBeNull();
  });

  it('agrees with Date inside its range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62167219200000, max: 253402300799999 }), (ms) => {
        const iso = new Date(ms).toISOString().replace('Z', '+00:00');
        expect(formatRfc3339Millis(ms)).toBe(iso);
        expect(parseRfc3339(iso)).toBe(ms);
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('parseRfc3339', () => {
  it('accepts chrono forms', () => {
    expect(parseRfc3339('2026-03-14T12:00:00Z')).toBe(1773489600000);
    expect(parseRfc3339('2026-03-14t12:00:00z')).toBe(1773489600000);
    expect(parseRfc3339('2026-03-14 12:00:00+00:00')).toBe(1773489600000);
    expect(parseRfc3339('2026-03-14T06:00:00-06:00')).toBe(1773489600000);
    expect(parseRfc3339('2026-03-14T12:00:00.1234567Z')).toBe(1773489600123);
    expect(parseRfc3339('2016-12-31T23:59:60Z')).toBe(1483228800000);
  });

  it('rejects other forms', () => {
    expect(parseRfc3339('2026-03-14')).toBeNull();
    expect(parseRfc3339('2026-02-30T00:00:00Z')).toBeNull();
    expect(parseRfc3339('2026-03-14T24:00:00Z')).toBeNull();
    expect(parseRfc3339('2026-03-14T12:00:00')).toBeNull();
    expect(parseRfc3339(' 2026-03-14T12:00:00Z')).toBeNull();
  });

  it('calendar helpers are inverse', () => {
    for (const d of [-800000, -1, 0, 1, 59, 10957, 2932896]) expect(daysFromCivil(...civilFromDays(d))).toBe(d);
  });
});
