import { describe, expect, it } from 'vitest';
import { BLOCK_BITS, ClientIdAllocator, clientIdBlock } from './client-ids';

describe('ClientIdAllocator', () => {
  it('never repeats an id within a run; ids fill one block before the next', () => {
    const ids = new ClientIdAllocator();
    const seen = new Set<number>();
    const blocks: number[] = [];
    for (let i = 0; i < 3 << BLOCK_BITS; i++) {
      const id = ids.next();
      expect(Number.isInteger(id) && id >= 0 && id < 2 ** 32).toBe(true);
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      if (blocks[blocks.length - 1] !== clientIdBlock(id)) blocks.push(clientIdBlock(id));
    }
    expect(blocks).toHaveLength(3);
    expect(new Set(blocks).size).toBe(3);
  });

  it('two runs take different blocks and orders', () => {
    const run = () => {
      const ids = new ClientIdAllocator();
      return Array.from({ length: 16 }, () => ids.next());
    };
    const a = run();
    const b = run();
    expect(clientIdBlock(a[0])).not.toBe(clientIdBlock(b[0]));
    expect(a.map((id) => id & 0xff)).not.toEqual(b.map((id) => id & 0xff));
  });
});
