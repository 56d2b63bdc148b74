/**
 * The outgoing queue: local changes of the docs as y-sync Update messages,
 * waiting for the session to frame and send them (runtime.execute drains it).
 * A change made while the workspace is not linked has no doc id to go out on:
 * it stays in its doc, and its body key is noted so the change syncs on
 * connect.
 */
import { bodyDocId, workspaceDocId } from '../../common/src/wire/frame';
import { encodeSyncUpdate } from '../../common/src/wire/sync';
import type { LocalUpdate } from './sync/session-host';

export class OutgoingQueue {
  /** Bodies changed while not linked (no doc id to send them on); they sync on connect. */
  readonly unlinkedBodyEdits = new Set<string>();
  private updates: LocalUpdate[] = [];

  /** Queues a Yjs update of the workspace doc of `workspaceId` (null: not linked). */
  queueWorkspace(workspaceId: string | null, update: Uint8Array): void {
    if (workspaceId) this.updates.push({ docId: workspaceDocId(workspaceId), data: encodeSyncUpdate(update) });
  }

  /** Queues a Yjs update of the body doc of `key` in `workspaceId` (null: not linked). */
  queueBody(workspaceId: string | null, key: string, update: Uint8Array): void {
    if (!workspaceId) {
      this.unlinkedBodyEdits.add(key);
      return;
    }
    this.updates.push({ docId: bodyDocId(workspaceId, key), data: encodeSyncUpdate(update) });
  }

  /** Takes the queued local updates (y-sync Update messages with their doc ids). */
  drain(): LocalUpdate[] {
    const out = this.updates;
    this.updates = [];
    return out;
  }

  /** The doc ids with local updates waiting, each once. */
  docIds(): string[] {
    return [...new Set(this.updates.map((u) => u.docId))];
  }

  /** Local updates are waiting to be sent. */
  get hasUpdates(): boolean {
    return this.updates.length > 0;
  }
}
