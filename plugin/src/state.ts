/**
 * The doc store: the workspace doc, the body docs and the update history,
 * with the workspace they belong to and this device's identity and clock.
 * One instance exists between `init` and `shutdown`.
 *
 * Every applied update (local or remote) is recorded in the history
 * (history-recording.ts) and marked for saving (doc-persistence.ts); a local
 * one is queued to be sent (outgoing.ts). Problems are reported (reports.ts)
 * as events through the event sink (events.ts).
 */
import type { HistoryLog } from './core/history';
import { BodyDocManager } from './core/body-docs';
import type { UpdateOrigin } from './core/origin';
import { WorkspaceCrdt } from './core/workspace-crdt';
import { DocPersistence } from './doc-persistence';
import { EventSink } from './events';
import { openHistory, recordUpdate, WORKSPACE_DOC_NAME } from './history-recording';
import type { HostBridge } from './host/bridge';
import { OutgoingQueue } from './outgoing';
import { Reports } from './reports';

export interface PluginStateOptions {
  workspaceRoot: string | null;
  workspaceId: string | null;
}

export class PluginState {
  readonly workspace = new WorkspaceCrdt();
  readonly bodies = new BodyDocManager();
  readonly history: HistoryLog;
  /** Every event for the host leaves through here; the status bar's status is kept from them. */
  readonly events: EventSink;
  readonly reports: Reports;
  readonly persistence: DocPersistence;
  readonly outgoing = new OutgoingQueue();
  /** Workspace root as the host gave it (a folder, or the root index file). */
  workspaceRoot: string | null;
  /** Remote workspace id used in wire doc ids; null until linked. */
  workspaceId: string | null;
  writeToDisk = true;
  readonly deviceId: string;
  readonly deviceName: string | null;
  /**
   * State vectors (client id -> clock) of body docs dropped or moved away
   * in this run (filled by keepDroppedBodyClocks): what this device knew of
   * the text at a key, should a file be written at that path again (see
   * SessionDocs.setLocalBody).
   */
  readonly droppedBodyClocks = new Map<string, Map<number, number>>();
  private lastTimestamp = 0;

  constructor(
    /** Reached by the doc store only (the clock, storage, logging); other modules are given the host functions they use. */
    private readonly host: HostBridge,
    options: PluginStateOptions,
  ) {
    this.events = new EventSink(host);
    this.reports = new Reports(host, this.events);
    this.workspaceRoot = options.workspaceRoot;
    this.workspaceId = options.workspaceId;
    this.persistence = new DocPersistence(host, this.workspace, this.bodies, this.reports);
    this.persistence.restore((key, bytes) => this.history?.ensureBase(key, bytes));
    this.history = openHistory(host, (key) => this.persistence.readStored(key), () => this.now(), this.reports);
    this.persistence.history = this.history;
    // Docs restored without a history log start their history at their current state.
    this.history.ensureBase(WORKSPACE_DOC_NAME, this.workspace.encodeState());
    this.deviceId = this.persistence.loadDeviceId();
    const name = host.runtimeContext().device_name;
    this.deviceName = typeof name === 'string' && name.trim() !== '' ? name.trim() : null;
    this.watch();
  }

  /** Host time in ms; never goes backwards, survives a failing host clock. */
  now = (): number => {
    let t: number;
    try {
      t = this.host.timestamp();
    } catch {
      t = this.lastTimestamp + 1;
    }
    this.lastTimestamp = Math.max(this.lastTimestamp, t);
    return t;
  };

  private watch(): void {
    this.workspace.onUpdate((update, origin, changedKeys) => {
      this.persistence.workspaceChanged(changedKeys);
      this.record(WORKSPACE_DOC_NAME, update, origin, changedKeys);
    });
    this.workspace.onLocalUpdate((update) => this.outgoing.queueWorkspace(this.workspaceId, update));
    this.bodies.onUpdate((key, update, origin) => {
      this.persistence.bodyChanged(key);
      this.record(key, update, origin, [key]);
    });
    // Updates waiting for earlier ones change no doc yet, but are stored with it (a restart keeps them).
    this.workspace.onHeldBack(() => this.persistence.markWorkspaceDirty());
    this.bodies.onHeldBack((key) => this.persistence.markBodyDirty(key));
    this.bodies.onLocalUpdate((key, update) => {
      if (key === '') {
        this.host.log('warn', 'dropping a body update with an empty key');
        return;
      }
      this.outgoing.queueBody(this.workspaceId, key, update);
    });
  }

  private record(docName: string, update: Uint8Array, origin: UpdateOrigin, files: string[]): void {
    this.persistence.countChange();
    recordUpdate(this.history, this, docName, update, origin, files);
    this.persistence.historyChanged();
  }

  /** Queues a body doc's whole state as a local update (a doc moved to a new key). */
  queueBodyState(key: string): void {
    if (!this.bodies.has(key)) return;
    this.persistence.markBodyDirty(key);
    this.outgoing.queueBody(this.workspaceId, key, this.bodies.encodeState(key));
  }

  /** Keeps what the body doc of `key` holds (its state vector), before it is dropped or moved to another key. */
  keepDroppedBodyClocks(key: string): void {
    const known = this.bodies.knownClocks(key);
    if (known !== null) this.droppedBodyClocks.set(key, known);
  }

  /** A body doc was dropped (file deleted): its stored state goes too. */
  forgetBody(key: string): void {
    this.keepDroppedBodyClocks(key);
    this.bodies.remove(key);
    this.persistence.bodyRemoved(key);
  }

  destroy(): void {
    this.bodies.clear();
    this.workspace.destroy();
  }
}
