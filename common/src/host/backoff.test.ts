import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './backoff';

describe('reconnect backoff', () => {
  it('backs off by 1.5x from 1 s up to 30 s', () => {
    expect([1, 2, 3, 4, 9, 10, 50].map((a) => reconnectDelay(a))).toEqual([1000, 1500, 2250, 3375, 25628.90625, 30000, 30000]);
  });

  it('takes other bounds, and leaves the defaults for bounds left undefined', () => {
    expect([1, 2, 3, 4].map((a) => reconnectDelay(a, { baseMs: 10, factor: 2, maxMs: 50 }))).toEqual([10, 20, 40, 50]);
    expect(reconnectDelay(2, { baseMs: undefined, factor: undefined, maxMs: undefined })).toBe(1500);
  });
});
