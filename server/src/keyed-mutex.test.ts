import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex';

describe('KeyedMutex', () => {
  it('runs operations on one key one after another, in order, and other keys alongside', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = m.run('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
    });
    const second = m.run('a', () => log.push('a2'));
    const other = m.run('b', () => log.push('b1'));
    await other;
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
    expect(m.isBusy('a')).toBe(false);
  });

  it('keeps going after a rejection and reports it to the caller only', async () => {
    const m = new KeyedMutex();
    const failed = m.run('k', () => {
      throw new Error('boom');
    });
    const next = m.run('k', () => 42);
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe(42);
    await m.idle();
  });
});
