/**
 * Listener sets for doc update hooks.
 *
 * Listeners run inside Yjs's transaction cleanup, where an exception would
 * leave the Y.Doc half cleaned up. `emit` therefore never throws: errors are
 * kept and `rethrow` raises the first one once the doc operation is complete.
 */
export class Listeners<A extends unknown[]> {
  private readonly fns = new Set<(...args: A) => void>();
  private errors: unknown[] = [];

  /** Adds a listener; returns a function that removes it. */
  add(fn: (...args: A) => void): () => void {
    this.fns.add(fn);
    return () => {
      this.fns.delete(fn);
    };
  }

  emit(...args: A): void {
    for (const fn of [...this.fns]) {
      try {
        fn(...args);
      } catch (e) {
        this.errors.push(e);
      }
    }
  }

  /** Throws the first error a listener raised since the last call, if any. */
  rethrow(): void {
    if (this.errors.length === 0) return;
    const first = this.errors[0];
    this.errors = [];
    throw first;
  }

  clear(): void {
    this.fns.clear();
    this.errors = [];
  }
}
