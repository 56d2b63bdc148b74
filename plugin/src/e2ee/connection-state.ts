/**
 * What an encrypted session knows about its current connection only: the
 * docs with a Pull in flight, the docs at head on it, the catch-ups owed and
 * the body bootstrap. All of it starts over at each connect and disconnect.
 */
import { BodyPulls } from './body-pulls';
import { BatchAssembly } from './incoming';

export class ConnectionState {
  /** Docs with a Pull in flight (a Relay meanwhile is in its answer). */
  readonly pulling = new Set<string>();
  /** Docs whose Pull reached head on this connection (their relays are applied). */
  readonly atHead = new Set<string>();
  /** Docs that saw a rollback: their full state is sent again at the next catch-up. */
  readonly reappend = new Set<string>();
  /** Docs whose catch-up is worked out at the next flush of local updates. */
  readonly catchUpDue = new Set<string>();
  readonly bodies = new BodyPulls();
  readonly assembly = new BatchAssembly();
  /** Docs pulled again from the start on this connection because they lacked what their state says. */
  private readonly repulled = new Set<string>();
  syncedEmitted = false;

  /** True the first time on this connection a doc is pulled again from the start. */
  repull(name: string): boolean {
    if (this.repulled.has(name)) return false;
    this.repulled.add(name);
    return true;
  }

  reset(): void {
    this.repulled.clear();
    this.pulling.clear();
    this.atHead.clear();
    this.reappend.clear();
    this.catchUpDue.clear();
    this.bodies.reset();
    this.assembly.reset();
    this.syncedEmitted = false;
  }
}
