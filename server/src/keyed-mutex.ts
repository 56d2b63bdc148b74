/**
 * Per-key serialisation: `run(key, fn)` starts `fn` only after every earlier
 * `run` for the same key has settled. The server uses one key per document so
 * that load, apply, store, compaction and unload of a document never overlap.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` exclusively for `key`; resolves or rejects with its result. */
  run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(
      () => fn(),
      () => fn(),
    );
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether some operation for `key` is running or queued. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves when every operation queued so far (for all keys) has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
