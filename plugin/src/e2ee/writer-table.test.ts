import { describe, expect, it } from 'vitest';
import { WriterTable } from './writer-table';

const A = 'aa'.repeat(16);
const B = 'bb'.repeat(16);

describe('writer table', () => {
  it('applies the next counter, ignores replays, reports gaps and runs not starting at 1', () => {
    const t = new WriterTable();
    expect(t.check(A, 1, 1)).toBe('apply');
    t.record(A, 1, 1, 10);
    expect(t.check(A, 1, 1)).toBe('replay');
    expect(t.check(A, 1, 2)).toBe('apply');
    expect(t.check(A, 1, 4)).toBe('gap');
    expect(t.check(A, 2, 1)).toBe('apply');
    expect(t.check(A, 2, 3)).toBe('gap');
    expect(t.check(B, 1, 1)).toBe('apply');
  });

  it('only ever rises; takes device ids as bytes or hex', () => {
    const t = new WriterTable();
    t.record(new Uint8Array(16).fill(0xaa), 1, 5, 50);
    t.raise({ device: A, run: 1, ctr: 3, seq: 30 });
    expect(t.get(A, 1)).toEqual({ device: A, run: 1, ctr: 5, seq: 50, missing: [1, 2, 3, 4] });
    t.raise({ device: A, run: 1, ctr: 7, seq: 70 });
    expect(t.get(A, 1)?.ctr).toBe(7);
  });

  it('remembers the counters a gap skipped: a late one fills (not a replay), then reads as a replay', () => {
    const t = new WriterTable();
    t.record(A, 1, 1, 1);
    expect(t.check(A, 1, 3)).toBe('gap');
    t.record(A, 1, 3, 2);
    expect(t.check(A, 1, 2)).toBe('fill');
    t.record(A, 1, 2, 3);
    expect(t.get(A, 1)).toEqual({ device: A, run: 1, ctr: 3, seq: 2 });
    expect(t.check(A, 1, 2)).toBe('replay');
    expect(t.check(A, 1, 1)).toBe('replay');
  });

  it('lists entries in a stable order', () => {
    const t = new WriterTable([
      { device: B, run: 1, ctr: 1, seq: 1 },
      { device: A, run: 2, ctr: 1, seq: 3 },
      { device: A, run: 1, ctr: 4, seq: 2 },
    ]);
    expect(t.list().map((e) => [e.device.slice(0, 2), e.run])).toEqual([['aa', 1], ['aa', 2], ['bb', 1]]);
  });

  it('finds entries up to a snapshot seq that the snapshot does not cover', () => {
    const mine = new WriterTable([
      { device: A, run: 1, ctr: 4, seq: 8 },
      { device: B, run: 1, ctr: 2, seq: 9 },
      { device: B, run: 2, ctr: 1, seq: 12 },
    ]);
    const snapshot = new WriterTable([
      { device: A, run: 1, ctr: 4, seq: 8 },
      { device: B, run: 1, ctr: 1, seq: 5 },
    ]);
    // B run 1 counter 2 (seq 9) is folded in by seq but missing from the snapshot; B run 2 is after it.
    expect(mine.uncoveredBy(snapshot, 10)).toEqual([{ device: B, run: 1, ctr: 2, seq: 9 }]);
    expect(mine.uncoveredBy(snapshot, 8)).toEqual([]);
  });
});
