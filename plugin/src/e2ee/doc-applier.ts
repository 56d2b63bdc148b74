/**
 * Decrypted updates into the docs, through the same SessionDocs methods the
 * plain session uses, so disk writes, echo suppression, the reconcile policy
 * (deferred seeds, kept files, conflict copies) and history recording work
 * as in plain sync:
 * - the workspace doc's first answer on a connection goes in like the plain
 *   `crdt_state` (origin sync; files missing on disk are written), later ones
 *   like remote updates (changed files reported and written);
 * - a body's updates go in together (one file write); its first answer on a
 *   connection counts as the server's answer for the reconcile policy, even
 *   when empty (a deferred seed from disk goes in then).
 */
import * as Y from 'yjs';
import type { SessionAction } from '../../../common/src/wire/envelope';
import type { SessionDocs } from '../sync/session-host';
import type { SyncLedger } from '../sync/sync-ledger';
import { bodyKeyOf } from './doc-names';

/** An empty Yjs update (v1). */
const EMPTY_UPDATE = Uint8Array.of(0, 0);

const emit = (event: Extract<SessionAction, { type: 'EmitEvent' }>['event']): SessionAction => ({ type: 'EmitEvent', event });

export class DocApplier {
  constructor(
    private readonly docs: SessionDocs,
    private readonly ledger: SyncLedger,
    private readonly toDisk: () => boolean,
    private readonly log: (level: 'error', message: string) => void,
  ) {}

  /**
   * Applies one doc's updates (`first`: the doc's first answer on this
   * connection). Returns the file keys the workspace doc changed (empty for
   * bodies); events go into `actions`. What Yjs throws is logged and
   * reported as a `CRDT error` event.
   */
  apply(name: string, updates: readonly Uint8Array[], first: boolean, actions: SessionAction[]): string[] {
    try {
      return this.applyOrThrow(name, updates, first, actions);
    } catch (e) {
      this.log('error', `[EncryptedSession] applying to ${name}: ${(e as Error).message}`);
      actions.push(emit({ type: 'error', message: `CRDT error: ${(e as Error).message}` }));
      return [];
    }
  }

  private applyOrThrow(name: string, updates: readonly Uint8Array[], first: boolean, actions: SessionAction[]): string[] {
    const key = bodyKeyOf(name);
    if (key === null) return this.applyWorkspace(updates, first, actions);
    if (updates.length === 0 && !first) return [];
    if (!this.docs.isActiveFile(key)) return [];
    const result = this.docs.applyBodyUpdates(key, updates, { writeToDisk: this.toDisk(), focused: false });
    this.ledger.recordBaseline(this.docs, key);
    if (first) this.ledger.markBodySynced(this.docs, key);
    if (result.content !== null && !result.isEcho) actions.push(emit({ type: 'bodyChanged', file_path: key, body: result.content }));
    return [];
  }

  private applyWorkspace(updates: readonly Uint8Array[], first: boolean, actions: SessionAction[]): string[] {
    if (updates.length === 0 && !first) return [];
    const merged = updates.length === 0 ? EMPTY_UPDATE : updates.length === 1 ? updates[0] : Y.mergeUpdates([...updates]);
    if (first) {
      this.docs.applyCrdtState(merged, this.toDisk());
      actions.push(emit({ type: 'filesChanged', files: [] }));
      return this.docs.activeFileKeys();
    }
    const changed = this.docs.applyWorkspaceUpdate(merged, 'remote', this.toDisk());
    if (changed.length > 0) actions.push(emit({ type: 'filesChanged', files: changed }));
    return changed;
  }
}
