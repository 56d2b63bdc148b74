/**
 * Which doc object each encrypted body's state was read into, by the Y.Doc's
 * guid, in this process. A body doc made again here (its file renamed away
 * and back, deleted and back, or another doc moved onto its path) is another
 * object: it lacks what its state says was read, deletions too, which no
 * state vector shows, so its state starts over before the next Pull. After a
 * restart nothing is known yet: the stored doc and state go together.
 */
import type { SessionDocs } from '../sync/session-host';
import { bodyKeyOf } from './doc-names';

export class DocIncarnations {
  /** Doc name -> the doc its state was last read into. */
  private readonly readInto = new Map<string, string>();
  /** Doc name -> the doc a Pull in flight was sent for (null: none existed). */
  private readonly pulledFor = new Map<string, string | null>();

  constructor(private readonly docs: SessionDocs) {}

  private current(name: string): string | null {
    const key = bodyKeyOf(name);
    return key === null ? null : this.docs.bodyDocGuid(key);
  }

  /** The body under `name` is another doc than the one its state was read into. */
  remade(name: string): boolean {
    const was = this.readInto.get(name);
    return was !== undefined && was !== this.current(name);
  }

  /** A Pull goes out; `fromStart`: its state starts over, so it describes the doc there now. */
  pulled(name: string, fromStart: boolean): void {
    const now = this.current(name);
    this.pulledFor.set(name, now);
    if (fromStart && now !== null) this.readInto.set(name, now);
  }

  /** Envelopes were read into the doc (a Pull's answer, `answer`, or a Relay): it holds what its state says, unless it was made again while the Pull was out. */
  read(name: string, answer: boolean): void {
    const now = this.current(name);
    const pulled = answer ? this.pulledFor.get(name) : undefined;
    if (answer) this.pulledFor.delete(name);
    if (now === null || (pulled !== undefined && pulled !== null && pulled !== now)) return;
    this.readInto.set(name, now);
  }
}
