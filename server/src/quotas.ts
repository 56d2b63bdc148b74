/**
 * Server-wide counters that connections share: documents open per user, and
 * the budget for output buffered in memory (bytes sent to sockets that the
 * kernel has not taken yet).
 */

/** Open documents per user, over all their sockets. */
export class UserDocCounts {
  private readonly counts = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Counts one more open doc for `user`; false (nothing counted) when the user is at the limit. */
  tryAdd(user: string): boolean {
    const n = this.counts.get(user) ?? 0;
    if (n >= this.limit) return false;
    this.counts.set(user, n + 1);
    return true;
  }

  release(user: string, n = 1): void {
    const left = (this.counts.get(user) ?? 0) - n;
    if (left <= 0) this.counts.delete(user);
    else this.counts.set(user, left);
  }

  get(user: string): number {
    return this.counts.get(user) ?? 0;
  }
}

/** Something that buffers output: a socket. */
export interface BufferingClient {
  readonly bufferedBytes: number;
  /** Closes the client because the server-wide output budget is exhausted. */
  dropForOutputBudget(): void;
}

/**
 * The budget for buffered output of all sockets together. Checked when a
 * socket's own buffer is not small (a client that reads keeps its buffer near
 * zero, so the sum is only computed when somebody lags) and once a second.
 * Over budget, the socket holding the most is closed.
 */
export class OutputBudget {
  /** Below this, a socket's buffer does not trigger a server-wide check. */
  static readonly CHECK_ABOVE_BYTES = 1024 * 1024;

  constructor(
    readonly limit: number,
    private readonly clients: () => Iterable<BufferingClient>,
  ) {}

  /** After a send of `client`: enforces the budget when that client lags. */
  afterSend(client: BufferingClient): void {
    if (client.bufferedBytes > OutputBudget.CHECK_ABOVE_BYTES) this.enforce();
  }

  /** Closes the largest buffers until the total fits. */
  enforce(): void {
    let total = 0;
    const all: BufferingClient[] = [];
    for (const c of this.clients()) {
      total += c.bufferedBytes;
      all.push(c);
    }
    if (total <= this.limit) return;
    all.sort((a, b) => b.bufferedBytes - a.bufferedBytes);
    for (const c of all) {
      if (total <= this.limit) break;
      total -= c.bufferedBytes;
      c.dropForOutputBudget();
    }
  }
}
