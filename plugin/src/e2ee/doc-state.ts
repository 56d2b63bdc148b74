/**
 * What a device keeps per encrypted doc, beside the doc's own state, under
 * plugin storage key `e2ee-doc:<workspace id>/<doc name>` (doc name
 * `workspace` or `body/<key>`; local storage, so names, not tags):
 *
 *   {"v":1,"cursor":n,"head":n,"snapId":hex|null,"snapSeq":n,
 *    "writers":[[device hex, run, ctr, seq(, skipped counters)],...],"serverSV":b64,"dirty":bool}
 *
 * - cursor: the highest seq applied without a gap; head, snapId, snapSeq: the
 *   highest the server showed (a lower one later is a rollback);
 * - serverSV: the state vector of what the server is known to hold, so a
 *   restart sends only `Y.encodeStateAsUpdate(doc, serverSV)`;
 * - dirty: local edits not acknowledged yet (a restart sends them again).
 * A state is written only after its doc's state is stored (DocStateStore.flush),
 * so a crash never leaves a cursor past what the doc holds.
 * The workspace change number lives under `e2ee-changes:<workspace id>`.
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';
import { fromHex, toHex } from '../../../common/src/e2ee/bytes';
import type { KeyStorage } from './key-store';
import { WriterTable, type WriterEntry } from './writer-table';
import { EMPTY_SV } from './state-vectors';

export const DOC_STATE_PREFIX = 'e2ee-doc:';
export const CHANGES_PREFIX = 'e2ee-changes:';

export function docStateKey(workspaceId: string, docName: string): string {
  return `${DOC_STATE_PREFIX}${workspaceId}/${docName}`;
}

export function changesKey(workspaceId: string): string {
  return `${CHANGES_PREFIX}${workspaceId}`;
}

/** The state vector of an empty doc. */

export class DocState {
  cursor = 0;
  head = 0;
  snapId: Uint8Array | null = null;
  snapSeq = 0;
  writers = new WriterTable();
  serverSV: Uint8Array = EMPTY_SV;
  dirty = false;

  toJson(): string {
    return JSON.stringify({
      v: 1,
      cursor: this.cursor,
      head: this.head,
      snapId: this.snapId === null ? null : toHex(this.snapId),
      snapSeq: this.snapSeq,
      writers: this.writers.list().map((w) => (w.missing ? [w.device, w.run, w.ctr, w.seq, w.missing] : [w.device, w.run, w.ctr, w.seq])),
      serverSV: encodeBase64(this.serverSV),
      dirty: this.dirty,
    });
  }

  /** Parses a stored state; throws naming the field that does not fit. */
  static fromJson(text: string): DocState {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (!v || typeof v !== 'object' || v.v !== 1) throw new Error('v is not 1');
    const count = (field: string): number => {
      const n = v[field];
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${field} is not a count`);
      return n;
    };
    const s = new DocState();
    s.cursor = count('cursor');
    s.head = count('head');
    s.snapSeq = count('snapSeq');
    s.snapId = v.snapId === null ? null : fromHex(String(v.snapId));
    if (s.snapId !== null && s.snapId.length !== 16) throw new Error('snapId is not 16 bytes');
    if (!Array.isArray(v.writers)) throw new Error('writers is not a list');
    const entries: WriterEntry[] = v.writers.map((w: unknown, i: number) => {
      const counts = (list: unknown[]) => list.every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
      if (!Array.isArray(w) || (w.length !== 4 && w.length !== 5) || typeof w[0] !== 'string' || !/^[0-9a-f]{32}$/.test(w[0]) || !counts(w.slice(1, 4))) {
        throw new Error(`writer entry ${i}`);
      }
      if (w.length === 5 && !(Array.isArray(w[4]) && counts(w[4]))) throw new Error(`writer entry ${i}: missing counters`);
      const entry: WriterEntry = { device: w[0], run: w[1] as number, ctr: w[2] as number, seq: w[3] as number };
      return w.length === 5 ? { ...entry, missing: w[4] as number[] } : entry;
    });
    s.writers = new WriterTable(entries);
    s.serverSV = decodeBase64(String(v.serverSV));
    s.dirty = v.dirty === true;
    return s;
  }
}

/** What a Relay at `seq` means for a doc whose cursor is `cursor`: apply it, skip it (held already), or pull the gap. */
export function relayAction(cursor: number, seq: number): 'apply' | 'skip' | 'pull' {
  if (seq === cursor + 1) return 'apply';
  return seq <= cursor ? 'skip' : 'pull';
}

/** The per-doc states of one workspace: loaded on first use, written after their docs are stored. */
export class DocStateStore {
  private readonly states = new Map<string, DocState>();
  private readonly changed = new Set<string>();
  private changeNo: number | null = null;
  /** Docs whose stored state was dirty when loaded: edits an earlier run never saw acknowledged. */
  readonly dirtyOnLoad = new Set<string>();
  private changeNoChanged = false;

  constructor(
    private readonly storage: KeyStorage,
    readonly workspaceId: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** The state of a doc (a fresh one when none is stored or the stored one does not parse, with a warning). */
  get(docName: string): DocState {
    let s = this.states.get(docName);
    if (s) return s;
    s = new DocState();
    const bytes = this.storage.storageGet(docStateKey(this.workspaceId, docName));
    if (bytes !== null && bytes.length > 0) {
      try {
        s = DocState.fromJson(new TextDecoder().decode(bytes));
        if (s.dirty) this.dirtyOnLoad.add(docName);
      } catch (e) {
        this.warn(`stored ${docStateKey(this.workspaceId, docName)} is unreadable (${(e as Error).message}); the doc is pulled from the start`);
        s = new DocState();
        // Its edits may be unsent: sent again in full after the pull.
        s.dirty = true;
        this.dirtyOnLoad.add(docName);
      }
    }
    this.states.set(docName, s);
    return s;
  }

  /**
   * The cursor a default Pull starts after. A doc that `lacks` what its state
   * says was pulled starts over (cursor, writers, serverSV and snapshot id
   * cleared; head kept, so a rollback is still seen): pulled from 0, its
   * envelopes are read again and not taken for replays.
   */
  pullFrom(docName: string, lacks: (state: DocState) => boolean): number {
    const state = this.get(docName);
    if (state.cursor > 0 && lacks(state)) {
      state.cursor = 0;
      state.snapSeq = 0;
      state.snapId = null;
      state.writers = new WriterTable();
      state.serverSV = EMPTY_SV;
      this.touch(docName);
    }
    return state.cursor;
  }

  /** The state changed: written at the next flush its doc is stored by. */
  touch(docName: string): void {
    this.changed.add(docName);
  }

  /** Writes at once (a dirty mark must be stored before the edit goes out). */
  writeNow(docName: string): void {
    this.storage.storageSet(docStateKey(this.workspaceId, docName), new TextEncoder().encode(this.get(docName).toJson()));
    this.changed.delete(docName);
  }

  get workspaceChangeNo(): number {
    if (this.changeNo === null) {
      const bytes = this.storage.storageGet(changesKey(this.workspaceId));
      let n = 0;
      try {
        if (bytes !== null && bytes.length > 0) n = Number((JSON.parse(new TextDecoder().decode(bytes)) as { changeNo?: unknown }).changeNo);
      } catch {
        n = 0;
      }
      this.changeNo = Number.isSafeInteger(n) && n >= 0 ? n : 0;
    }
    return this.changeNo;
  }

  setWorkspaceChangeNo(n: number): void {
    this.changeNo = n;
    this.changeNoChanged = true;
  }

  /**
   * Writes the changed states whose docs `isStored` says are stored; the rest
   * wait for a later flush. The change number goes only when nothing waits.
   */
  flush(isStored: (docName: string) => boolean): void {
    for (const name of [...this.changed]) {
      if (!isStored(name)) continue;
      try {
        this.writeNow(name);
      } catch (e) {
        this.warn(`saving ${docStateKey(this.workspaceId, name)} failed: ${(e as Error).message}`);
      }
    }
    if (this.changeNoChanged && this.changed.size === 0) {
      try {
        this.storage.storageSet(changesKey(this.workspaceId), new TextEncoder().encode(JSON.stringify({ v: 1, changeNo: this.changeNo })));
        this.changeNoChanged = false;
      } catch (e) {
        this.warn(`saving ${changesKey(this.workspaceId)} failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * The docs were stored (by any save): their states go with them. Docs holding local changes not
   * sealed yet (`unsent`: queued while storage refused the docs) are marked dirty first, as a
   * sealed one would be: stored with such changes, a doc's restart sends what the server lacks,
   * deletions too (which no state vector shows).
   */
  docsStored(unsent: Iterable<string>, isStored: (docName: string) => boolean): void {
    for (const name of unsent) {
      const state = this.get(name);
      if (state.dirty) continue;
      state.dirty = true;
      this.touch(name);
    }
    this.flush(isStored);
  }

  /** Writes the states whose docs are stored, storing the docs first when some wait for theirs. */
  persist(docs: { isDocStored(name: string): boolean; saveDocs(): void }): void {
    if (this.changed.size === 0) return;
    if ([...this.changed].some((n) => !docs.isDocStored(n))) docs.saveDocs();
    this.flush((n) => docs.isDocStored(n));
  }
}
