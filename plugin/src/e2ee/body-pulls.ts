/**
 * The body bootstrap of an encrypted connection: once the workspace doc is
 * at head, every active body is pulled (which also opens it for relays), as
 * many per input as the host's call budget allows, with the plain session's
 * progress events (`progress {0, N}`, every 50th, `{N, N}` at the end).
 */
import type { SessionAction } from '../../../common/src/wire/envelope';
import { PROGRESS_EVERY } from '../sync/body-tracker';

export class BodyPulls {
  /** Docs pulled on this connection (their relays reach this socket). */
  readonly joined = new Set<string>();
  /** Bootstrap bodies whose first answer has not come yet. */
  private readonly waiting = new Set<string>();
  private queue: string[] = [];
  private progress: { sent: number; total: number } | null = null;

  /** Queues the bootstrap pulls of these bodies (those not pulled yet on this connection). */
  start(names: readonly string[], actions: SessionAction[]): void {
    const fresh = names.filter((n) => !this.joined.has(n) && !this.waiting.has(n));
    if (fresh.length === 0) return;
    for (const n of fresh) this.waiting.add(n);
    this.queue.push(...fresh);
    this.progress = { sent: 0, total: fresh.length };
    actions.push({ type: 'EmitEvent', event: { type: 'progress', completed: 0, total: fresh.length } });
  }

  /** The next pulls to send, as many as `claim` grants; progress events go into `actions`. */
  take(claim: (wanted: number) => number, actions: SessionAction[]): string[] {
    this.queue = this.queue.filter((n) => !this.joined.has(n));
    if (this.queue.length === 0) return [];
    const batch = this.queue.splice(0, claim(this.queue.length));
    for (let i = 0; i < batch.length; i++) {
      if (this.progress === null) break;
      this.progress.sent++;
      if (this.progress.sent % PROGRESS_EVERY === 0) actions.push({ type: 'EmitEvent', event: { type: 'progress', completed: this.progress.sent, total: this.progress.total } });
    }
    return batch;
  }

  /** A body's pull reached head (or stopped for a missing key). */
  answered(name: string): void {
    this.waiting.delete(name);
  }

  /** A body whose file went inactive: no longer waited for, and pulled again if it comes back. */
  left(name: string): void {
    this.waiting.delete(name);
    this.joined.delete(name);
  }

  /** True when no bootstrap body is left to answer; bodies no longer active (`active` false) do not count. */
  done(active: (name: string) => boolean): boolean {
    for (const n of [...this.waiting]) if (!active(n)) this.waiting.delete(n);
    this.queue = this.queue.filter(active);
    return this.waiting.size === 0 && this.queue.length === 0;
  }

  /** `progress {N, N}` when the last event said less. */
  finishProgress(): SessionAction[] {
    const p = this.progress;
    this.progress = null;
    if (p === null || (p.sent === p.total && p.total % PROGRESS_EVERY === 0)) return [];
    return [{ type: 'EmitEvent', event: { type: 'progress', completed: p.total, total: p.total } }];
  }

  reset(): void {
    this.joined.clear();
    this.waiting.clear();
    this.queue = [];
    this.progress = null;
  }
}
