/**
 * Yjs client ids for the body docs of one plugin run.
 *
 * Every doc instance needs its own client id (a rename can merge one doc's
 * state into another's, so two docs of this device must never share one),
 * and a new run must never reuse an id of an earlier run (storage may have
 * lost what the server already has under it). Ids come in blocks of
 * BLOCK_SIZE: a random block, then its offsets in random order, then a new
 * random block. So an id is as unlikely to meet another device's id for the
 * same doc as Yjs's own random ids, and the workspace doc names the device of
 * a whole block with one entry (see devices.ts) instead of one per doc.
 */
import * as random from 'lib0/random';

/** Bits of a client id that pick the id within its block. */
export const BLOCK_BITS = 8;
const BLOCK_SIZE = 1 << BLOCK_BITS;

/** The block of a client id (its high 24 bits). */
export function clientIdBlock(clientId: number): number {
  return clientId >>> BLOCK_BITS;
}

export class ClientIdAllocator {
  private block = 0;
  private offsets: number[] = [];
  private readonly used = new Set<number>();

  /** A client id no doc of this run has had. */
  next(): number {
    if (this.offsets.length === 0) this.startBlock();
    const offset = this.offsets.pop()!;
    return ((this.block << BLOCK_BITS) | offset) >>> 0;
  }

  private startBlock(): void {
    do this.block = random.uint32() >>> BLOCK_BITS;
    while (this.used.has(this.block));
    this.used.add(this.block);
    this.offsets = Array.from({ length: BLOCK_SIZE }, (_, i) => i);
    // Fisher-Yates: ids of the same block in a different order on every run.
    for (let i = this.offsets.length - 1; i > 0; i--) {
      const j = random.uint32() % (i + 1);
      [this.offsets[i], this.offsets[j]] = [this.offsets[j], this.offsets[i]];
    }
  }
}
