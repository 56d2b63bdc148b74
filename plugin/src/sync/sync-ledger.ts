/**
 * The session's per-connection sync bookkeeping: which bodies the server has
 * answered, each body's state vector at its last exchange with the server
 * (its baseline), and whether the workspace doc has exchanged state.
 *
 * It reads the docs only through `SessionDocs`, so every implementation of
 * that interface gets the same bookkeeping. It outlives a session object: the
 * plugin recreates its session for another workspace id or disk mode while
 * the connection's bookkeeping stays until the connection resets.
 */
import type { SessionDocs } from './session-host';

/** What the ledger reads of the docs. */
export type LedgerDocs = Pick<SessionDocs, 'hasBody' | 'bodyStateVector' | 'encodeBodyDiff'>;

/** The state vector of an empty doc: a diff against it is the doc's whole state. */
const EMPTY_STATE_VECTOR = Uint8Array.of(0);

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SyncLedger {
  private readonly synced = new Set<string>();
  /** Body state vectors at the last exchange with the server. */
  private readonly baselines = new Map<string, Uint8Array>();
  /** The workspace doc has exchanged state with the server on this connection. */
  workspaceSynced = false;

  /**
   * @param onBodySynced told when the server answered for a body, after the
   *   ledger recorded it (the docs forget local edits held for that answer).
   */
  constructor(private readonly onBodySynced: (key: string) => void = () => {}) {}

  /** True once the body of `key` has been answered by the server since the last reset. */
  isBodySynced(key: string): boolean {
    return this.synced.has(key);
  }

  /** Keys of bodies the server has answered, in the order they were answered. */
  syncedBodies(): string[] {
    return [...this.synced];
  }

  /** Records that the server answered for the body of `key`; its current state becomes the baseline. */
  markBodySynced(docs: LedgerDocs, key: string): void {
    this.synced.add(key);
    this.onBodySynced(key);
    if (docs.hasBody(key)) this.baselines.set(key, docs.bodyStateVector(key));
  }

  /** Forgets that the body of `key` was synced, so it is bootstrapped again. */
  clearBodySynced(key: string): void {
    this.synced.delete(key);
  }

  /** Remote updates were applied to the body of `key`: its state is what the server has. */
  recordBaseline(docs: LedgerDocs, key: string): void {
    this.baselines.set(key, docs.bodyStateVector(key));
  }

  /** True when the body doc differs from its last synced state, or was never synced, or does not exist. */
  bodyChangedSinceSync(docs: LedgerDocs, key: string): boolean {
    if (!docs.hasBody(key)) return true;
    return !sameBytes(this.baselines.get(key), docs.bodyStateVector(key));
  }

  /** Full state of the body doc as a raw update, recorded as the new baseline; null when there is no body doc. */
  encodeBodyFullUpdate(docs: LedgerDocs, key: string): Uint8Array | null {
    if (!docs.hasBody(key)) return null;
    this.baselines.set(key, docs.bodyStateVector(key));
    return docs.encodeBodyDiff(key, EMPTY_STATE_VECTOR);
  }

  /** A new connection: nothing is synced, no baseline holds. */
  reset(): void {
    this.synced.clear();
    this.baselines.clear();
    this.workspaceSynced = false;
  }
}
