/**
 * This device's side of an encrypted doc: local updates become Appends
 * (sealed by the outbox), the doc is marked dirty in storage until the
 * server acknowledged them all, an acknowledgement moves the writer table,
 * serverSV and the cursor, and a refusal is resent, resealed or reported.
 * At a doc's first head on a connection, what the server was never shown is
 * worked out here (catchUpUpdate).
 */
import * as Y from 'yjs';
import { RefusedCode, type E2eeMessage } from '../../../common/src/e2ee/frames';
import type { SessionDocs } from '../sync/session-host';
import { diffOf, queuedDocNames, stateVectorOf } from './doc-names';
import type { DocState, DocStateStore } from './doc-state';
import type { Outbox } from './outbox';
import { beyond, EMPTY_SV, raiseByUpdate } from './state-vectors';

export interface AppendsHost {
  readonly docs: SessionDocs;
  saveDocs(): void;
  isDocStored(name: string): boolean;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

type Append = Extract<E2eeMessage, { type: 'append' }>;

const REFUSALS: Record<number, string> = { 1: 'not allowed', 2: 'malformed', 3: 'counter conflict', 4: 'over the size limit', 5: 'server unavailable' };

export function refusalText(code: number): string {
  return REFUSALS[code] ?? `code ${code}`;
}

export class Appends {
  /**
   * Local updates not sealed yet because sealing failed (storage refused the
   * new run's record): they go out merged into the doc's next Append, so no
   * later update of the doc leaves without them.
   */
  private readonly unsealed = new Map<string, Uint8Array>();

  constructor(
    private readonly h: AppendsHost,
    private readonly store: DocStateStore,
    readonly outbox: Outbox,
  ) {}

  /** Docs with local updates that are not sealed yet (retried at the next flush). */
  unsealedNames(): string[] {
    return [...this.unsealed.keys()];
  }

  /** Takes the unsealed updates of a doc (to hand back to `add`). */
  takeUnsealed(name: string): Uint8Array | null {
    const u = this.unsealed.get(name) ?? null;
    this.unsealed.delete(name);
    return u;
  }

  /**
   * True when the doc holds local changes the server's log lacks: an update not sealed, one still
   * queued (while storage refuses the docs; a deletion shows in no state vector), or structs
   * beyond serverSV.
   */
  unsentHere(name: string, state: DocState): boolean {
    if (this.unsealed.has(name) || beyond(stateVectorOf(this.h.docs, name), state.serverSV)) return true;
    return queuedDocNames(this.h.docs, this.store.workspaceId).includes(name);
  }

  /** Seals a local update of a doc (the doc marked dirty first) with any that failed before; returns its Append. Throws when sealing fails: the update is kept for the next try. */
  add(name: string, tag: string, update: Uint8Array): Append {
    const earlier = this.takeUnsealed(name);
    const merged = earlier === null ? update : Y.mergeUpdates([earlier, update]);
    try {
      return this.seal(name, tag, merged);
    } catch (e) {
      this.unsealed.set(name, merged);
      throw e;
    }
  }

  private seal(name: string, tag: string, update: Uint8Array): Append {
    const state = this.store.get(name);
    if (!state.dirty) {
      state.dirty = true;
      // The mark is stored before the edit leaves, with the doc it belongs to.
      if (!this.h.isDocStored(name)) this.h.saveDocs();
      if (this.h.isDocStored(name)) {
        try {
          this.store.writeNow(name);
        } catch (e) {
          this.h.log('warn', `[EncryptedSession] storing the dirty mark of ${name} failed: ${(e as Error).message}`);
          this.store.touch(name);
        }
      } else this.store.touch(name);
    }
    const p = this.outbox.add(name, tag, update);
    return { type: 'append', req: p.req, env: p.env };
  }

  /**
   * What a doc at head for the first time on this connection sends: its full
   * state after a rollback; else, when an earlier run left it dirty, or it
   * holds structs neither the server nor a waiting Append has, its state
   * beyond those. Null: nothing to send. The session works it out after
   * the local updates queued meanwhile are drained; one that fails (storage
   * refused the dirty mark) is reported and worked out again at the next
   * connection's first head.
   */
  catchUpUpdate(name: string, state: DocState, rollback: boolean): Uint8Array | null {
    let update: Uint8Array | null = null;
    // What the server holds or will once the Appends waiting here are stored: structs beyond it
    // were never sealed (their Append was lost with a crash, or refused with storage).
    let shown = state.serverSV;
    for (const p of this.outbox.waiting()) if (p.docName === name) shown = raiseByUpdate(shown, p.update);
    if (rollback) update = diffOf(this.h.docs, name, EMPTY_SV);
    else if (this.store.dirtyOnLoad.has(name) || (!this.outbox.hasWaiting(name) && state.dirty) || beyond(stateVectorOf(this.h.docs, name), shown)) {
      update = diffOf(this.h.docs, name, shown);
    }
    this.store.dirtyOnLoad.delete(name);
    if (update !== null && update.length > 2) return update;
    if (state.dirty && !this.outbox.hasWaiting(name)) {
      state.dirty = false;
      this.store.touch(name);
    }
    return null;
  }

  /**
   * Appended: the doc's state follows. The update acknowledged, and whether the seq is past
   * cursor + 1 (the caller pulls the gap); null for an unknown req. With `holdCursor` (a Pull of
   * the doc is in flight, or its doc was made again here) the cursor stays: that Pull's answer,
   * or the next one from the start, holds the envelope, and a doc made again lacks it.
   */
  appended(name: string, req: number, seq: number, holdCursor = false): { update: Uint8Array; gap: boolean } | null {
    const p = this.outbox.acknowledge(req);
    if (!p) return null;
    const state = this.store.get(name);
    state.writers.record(this.outbox.deviceKeys.deviceId, p.run, p.ctr, seq);
    state.serverSV = raiseByUpdate(state.serverSV, p.update);
    state.head = Math.max(state.head, seq);
    const gap = !holdCursor && seq > state.cursor + 1;
    if (!holdCursor && seq === state.cursor + 1) state.cursor = seq;
    // An earlier run's edits not shown yet (dirtyOnLoad) keep the doc dirty until its catch-up is worked out.
    if (!this.outbox.hasWaiting(name) && !this.store.dirtyOnLoad.has(name)) state.dirty = false;
    this.store.touch(name);
    return { update: p.update, gap };
  }

  /**
   * Refused: a counter conflict reseals under a new run (the Appends to
   * send are returned); unavailable waits for the next connection's resend;
   * anything else drops the update and returns the error to report.
   */
  refused(req: number, code: number, tag: string): { resend: { name: string; msg: Append }[]; error: string | null } {
    if (code === RefusedCode.CounterConflict) {
      return { resend: this.outbox.resealAfterConflict(req).map((p) => ({ name: p.docName, msg: { type: 'append', req: p.req, env: p.env } })), error: null };
    }
    if (code === RefusedCode.Unavailable) {
      this.h.log('warn', `[EncryptedSession] append to ${tag} not stored (server unavailable): resent at the next connection`);
      return { resend: [], error: null };
    }
    if (!this.outbox.drop(req)) return { resend: [], error: null };
    return { resend: [], error: `Append refused (${refusalText(code)}): ${tag}` };
  }
}
