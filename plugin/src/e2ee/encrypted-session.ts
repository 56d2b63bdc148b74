/**
 * The sync session of an end-to-end encrypted workspace: the plain session's inputs, states
 * and events, spoken as envelopes and cursors (`e2e:` frames, common/src/e2ee/frames.ts)
 * instead of y-sync. README "Encrypted sync on a device" describes each step: connect
 * (Changes, the workspace doc, then a Pull of every active body), contiguous cursors, Appends
 * kept until Appended (appends.ts, outbox.ts), what a doc sends at its first head on a
 * connection, snapshots on CompactHint (compactor.ts), doc states stored after their docs
 * (doc-state.ts), the in-sync check (sync-check.ts).
 */
import { encodeE2eeMessage, e2eeDocId, e2eeWorkspaceDocId, type E2eeMessage } from '../../../common/src/e2ee/frames';
import type { SessionAction } from '../../../common/src/wire/envelope';
import type { SyncEvent } from '../../../common/src/wire/events';
import { encodeFrame } from '../../../common/src/wire/frame';
import { decodeSyncMessages } from '../../../common/src/wire/sync';
import { SessionState, LEGAL_MOVES, SessionStateError } from '../sync/session-state';
import type { RuntimeSession } from '../sync/session-host';
import { Compactor } from './compactor';
import { DocApplier } from './doc-applier';
import { bodyKeyOf, docEmpty, docLacks, fileKeysOf, hasPendingStructs, inactiveBody, nameOfBody, nameOfDocId, queuedDocNames, WORKSPACE_DOC_NAME } from './doc-names';
import { DocStateStore, relayAction, type DocState } from './doc-state';
import { emptyOutcome, EnvelopeReader, type ReadOutcome } from './envelope-reader';
import { Appends, refusalText } from './appends';
import { ConnectionState } from './connection-state';
import { DocIncarnations } from './doc-incarnations';
import { Outbox } from './outbox';
import { decodeIncoming, serverErrorText, type Batch } from './incoming';
import { raiseByUpdate } from './state-vectors';
import { checkSession, HeadsProbe, type SyncCheck } from './sync-check';
import type { EncryptedSessionConfig } from './session-config';

const emit = (event: SyncEvent): SessionAction => ({ type: 'EmitEvent', event });

export class EncryptedSession implements RuntimeSession {
  private current: SessionState = SessionState.AwaitingConnect;
  private toDisk: boolean;
  private readonly outbox: Outbox;
  private readonly appends: Appends;
  private readonly store: DocStateStore;
  private readonly reader: EnvelopeReader;
  private readonly applier: DocApplier;
  private readonly compactor: Compactor;
  private readonly probe = new HeadsProbe();
  /** Doc tag -> doc name, for every tag derived so far. */
  private readonly names = new Map<string, string>();
  private readonly conn = new ConnectionState();
  private readonly incarnations: DocIncarnations;
  readonly workspaceId: string;

  constructor(private readonly c: EncryptedSessionConfig) {
    this.toDisk = c.writeToDisk;
    const warn = (m: string) => c.log('warn', m);
    this.outbox = new Outbox(c.keys, c.storage);
    this.store = new DocStateStore(c.storage, c.workspaceId, warn);
    this.appends = new Appends(c, this.store, this.outbox);
    this.reader = new EnvelopeReader(() => this.outbox.deviceKeys, warn);
    this.applier = new DocApplier(c.docs, c.ledger, () => this.toDisk, c.log);
    this.compactor = new Compactor(c.docs, this.outbox, (name) => this.tagOf(name));
    this.incarnations = new DocIncarnations(c.docs);
    this.workspaceId = c.workspaceId;
  }

  get state(): SessionState {
    return this.current;
  }
  get writeToDisk(): boolean {
    return this.toDisk;
  }

  private transition(to: SessionState): void {
    if (!LEGAL_MOVES[this.current].includes(to)) throw new SessionStateError(this.current, to);
    this.c.log('debug', `[EncryptedSession] ${this.current} -> ${to}`);
    this.current = to;
  }

  private tagOf(name: string): string {
    const tag = this.outbox.deviceKeys.tagOf(name);
    this.names.set(tag, name);
    return tag;
  }

  private send(actions: SessionAction[], name: string | null, msg: E2eeMessage): void {
    const docId = name === null ? e2eeWorkspaceDocId(this.c.workspaceId) : e2eeDocId(this.c.workspaceId, this.tagOf(name));
    actions.push({ type: 'SendBinary', data: encodeFrame(docId, encodeE2eeMessage(msg)) });
  }

  /** The doc lacks what its state says was read (structs; anything, made again since or empty past a cursor): pulled from the start before any snapshot. */
  private readonly lacks = (name: string, s: DocState): boolean => docLacks(this.c.docs, name, s.serverSV) || this.incarnations.remade(name) || (s.cursor > 0 && docEmpty(this.c.docs, name));

  /** A Pull of a doc, unless one is in flight (its answer comes first; a state reset now would be lost under it). */
  private pull(actions: SessionAction[], name: string, from?: () => number): void {
    if (this.conn.pulling.has(name)) return;
    const after = from ? from() : this.store.pullFrom(name, (s) => this.lacks(name, s));
    this.incarnations.pulled(name, after === 0);
    this.conn.pulling.add(name);
    this.conn.bodies.joined.add(name);
    this.send(actions, name, { type: 'pull', after });
  }

  // ---- inputs ----

  connected(workspaceId?: string, writeToDisk?: boolean): SessionAction[] {
    if (workspaceId !== undefined && workspaceId !== this.c.workspaceId) this.c.log('warn', `[EncryptedSession] connected for ${workspaceId}, keys are of ${this.c.workspaceId}`);
    if (writeToDisk !== undefined) this.toDisk = writeToDisk;
    this.transition(SessionState.WaitingForHandshake);
    this.resetConnection();
    const actions: SessionAction[] = [emit({ type: 'statusChanged', status: { state: 'connected' } })];
    this.send(actions, null, { type: 'changes', after: this.store.workspaceChangeNo });
    this.probe.changesSent();
    this.pull(actions, WORKSPACE_DOC_NAME);
    for (const p of this.outbox.waiting()) this.send(actions, p.docName, { type: 'append', req: p.req, env: p.env });
    return actions;
  }

  binaryMessage(bytes: Uint8Array): SessionAction[] {
    if (this.current === SessionState.AwaitingConnect) {
      this.c.log('warn', '[EncryptedSession] Binary message received before connect');
      return [];
    }
    const incoming = decodeIncoming(bytes, this.c.workspaceId);
    if (typeof incoming === 'string') {
      this.c.log('debug', `[EncryptedSession] ${incoming}`);
      return [];
    }
    const { tag, msg } = incoming;
    const actions: SessionAction[] = [];
    if (this.current === SessionState.WaitingForHandshake) {
      this.transition(SessionState.Active);
      actions.push(emit({ type: 'statusChanged', status: { state: 'syncing' } }));
    }
    try {
      this.route(msg, tag, actions);
    } catch (e) {
      this.c.log('error', `[EncryptedSession] ${msg.type}: ${(e as Error).message}`);
      actions.push(emit({ type: 'error', message: `Encrypted sync failed: ${(e as Error).message}` }));
    }
    this.sendBodyPulls(actions);
    this.maybeSynced(actions);
    this.store.persist(this.c);
    return actions;
  }

  textMessage(text: string): SessionAction[] {
    const message = serverErrorText(text);
    if (message === null) this.c.log('debug', `[EncryptedSession] ignoring text ${text.slice(0, 80)}`);
    return message === null ? [] : [emit({ type: 'error', message })];
  }

  /** Encrypted workspaces have no server snapshot zip to import. */
  snapshotImported = (): SessionAction[] => [];
  /** Doc states (dirty marks above all) go with their docs, by any save: else a restart could find an edit stored but not marked unsent. */
  docsSaved = (): void => this.store.docsStored(queuedDocNames(this.c.docs, this.c.workspaceId), (n) => this.c.isDocStored(n));

  disconnected(): SessionAction[] {
    if (this.current !== SessionState.AwaitingConnect) this.transition(SessionState.AwaitingConnect);
    this.resetConnection();
    this.c.ledger.reset();
    this.store.persist(this.c);
    return [emit({ type: 'statusChanged', status: { state: 'disconnected' } })];
  }

  localUpdate(docId: string, data: Uint8Array): SessionAction[] {
    const name = nameOfDocId(docId, this.c.workspaceId);
    if (name === null) {
      this.c.log('warn', `[EncryptedSession] dropping a local update of ${docId}`);
      return [];
    }
    const actions: SessionAction[] = [];
    this.guarded(actions, name, () => {
      for (const msg of decodeSyncMessages(data)) {
        if ((msg.kind === 'update' || msg.kind === 'step2') && msg.update.length > 2) this.appendLocal(actions, name, msg.update);
      }
    });
    return actions;
  }

  flushLocalUpdates(): SessionAction[] {
    const actions: SessionAction[] = [];
    this.retryUnsealed(actions);
    for (const u of this.c.docs.drainLocalUpdates()) actions.push(...this.localUpdate(u.docId, u.data));
    for (const name of this.conn.catchUpDue) {
      this.guarded(actions, name, () => {
        const update = this.appends.catchUpUpdate(name, this.store.get(name), this.conn.reappend.delete(name));
        if (update !== null) this.appendLocal(actions, name, update);
      });
    }
    this.conn.catchUpDue.clear();
    return actions;
  }

  /** Local updates whose sealing failed before go out first; a new failure was reported already (the caller flushes until nothing comes). */
  private retryUnsealed(actions: SessionAction[]): void {
    for (const name of this.appends.unsealedNames()) {
      try {
        this.appendLocal(actions, name, this.appends.takeUnsealed(name) ?? new Uint8Array());
      } catch (e) {
        this.c.log('debug', `[EncryptedSession] sealing ${name} failed again: ${(e as Error).message}`);
      }
    }
  }

  private guarded(actions: SessionAction[], name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.c.log('error', `[EncryptedSession] local update of ${name}: ${(e as Error).message}`);
      actions.push(emit({ type: 'error', message: `Encrypted sync failed: ${(e as Error).message}` }));
    }
  }

  syncBodyFiles(paths: readonly string[]): SessionAction[] {
    return this.requestBodies(fileKeysOf(this.c.docs, paths));
  }

  requestBodies(keys: readonly string[]): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.current !== SessionState.Active) return actions;
    for (const key of keys) {
      if (!this.c.docs.isActiveFile(key)) continue;
      if (!this.conn.atHead.has(nameOfBody(key))) this.c.docs.ensureBodyLoaded(key);
      this.pull(actions, nameOfBody(key));
    }
    return actions;
  }

  /** Asks the server for the head of every doc (sync-check.ts); the answer comes on the socket. */
  askHeads(): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.current !== SessionState.AwaitingConnect && this.probe.ask()) this.send(actions, null, { type: 'changes', after: 0 });
    return actions;
  }

  /** Why the workspace is not in sync now (empty: it is), with the probe's counts (sync-check.ts). */
  syncCheck(): SyncCheck {
    const connected = this.current !== SessionState.AwaitingConnect;
    return checkSession({ connected, synced: this.conn.syncedEmitted, probe: this.probe, docs: this.c.docs, outbox: this.outbox, store: this.store, atHead: this.conn.atHead, pulling: this.conn.pulling, tagOf: (n) => this.tagOf(n) });
  }

  // ---- routing ----

  private route(msg: E2eeMessage, tag: string | null, actions: SessionAction[]): void {
    if (tag === null) {
      if (msg.type === 'refused') this.c.log('warn', `[EncryptedSession] Changes refused: ${refusalText(msg.code)}`);
      else if (msg.type !== 'changesReply') this.c.log('warn', `[EncryptedSession] ${msg.type} on the workspace id`);
      const probeNow = msg.type === 'changesReply' ? this.probe.reply(msg) : msg.type === 'refused' && this.probe.refused(refusalText(msg.code));
      if (probeNow) this.send(actions, null, { type: 'changes', after: 0 });
      return;
    }
    const name = this.names.get(tag);
    if (name === undefined) {
      this.c.log('debug', `[EncryptedSession] ${msg.type} for unknown doc ${tag}`);
      return;
    }
    switch (msg.type) {
      case 'batch':
        return this.onBatch(actions, name, tag, msg);
      case 'relay':
        return this.onRelay(actions, name, tag, msg.seq, msg.env);
      case 'appended': {
        const acked = this.appends.appended(name, msg.req, msg.seq, this.conn.pulling.has(name) || this.incarnations.remade(name));
        // Applied again to a body: one made again since it was sealed (renamed away and back) lacks it; Yjs drops it where held.
        if (acked && bodyKeyOf(name) !== null) this.applier.apply(name, [acked.update], false, actions);
        if (acked?.gap) this.pull(actions, name);
        else if (this.compactor.hinted.has(name)) this.maybeSnapshot(actions, name);
        return;
      }
      case 'refused':
        return this.onRefused(actions, name, tag, msg.req, msg.code);
      case 'compactHint':
        return this.maybeSnapshot(actions, name);
      case 'snapshotResult': {
        const conflict = this.compactor.result(this.store.get(name), msg);
        this.store.touch(name);
        if (conflict) this.pull(actions, name);
        return;
      }
      default:
        this.c.log('warn', `[EncryptedSession] unexpected ${msg.type} for ${tag}`);
    }
  }

  private onBatch(actions: SessionAction[], name: string, tag: string, part: Batch): void {
    this.conn.pulling.delete(name);
    if (inactiveBody(this.c.docs, name)) return this.conn.bodies.left(name);
    const assembled = this.conn.assembly.add(name, part);
    if ('nextAfter' in assembled) return this.pull(actions, name, () => assembled.nextAfter);
    const msg = assembled.whole;
    const state = this.store.get(name);
    const out = emptyOutcome();
    this.reader.checkHead(tag, state, msg.head, out);
    if (msg.snapshot && msg.snapshot.snapSeq > state.cursor) this.reader.snapshot(tag, state, msg.snapshot.snapSeq, msg.snapshot.env, out);
    if (!out.waiting) this.reader.envelopes(tag, state, msg.envelopes, out);
    const first = !this.conn.atHead.has(name);
    this.applyOutcome(actions, name, state, out, first);
    this.incarnations.read(name, true);
    this.conn.bodies.answered(name);
    this.conn.atHead.add(name);
    // Worked out in flushLocalUpdates, after the local updates queued meanwhile (which may hold the same structs) are in the outbox.
    if (first || this.conn.reappend.has(name)) this.conn.catchUpDue.add(name);
    if (first && name === WORKSPACE_DOC_NAME) this.conn.bodies.start(this.c.docs.activeFileKeys().map(nameOfBody), actions);
    // At head and still lacking what its state says was pulled (made again here while an
    // acknowledgement moved its cursor past its own envelopes), or waiting for structs (which the
    // server may hold below the cursor): pulled once more from the start, once per connection.
    if ((this.lacks(name, state) || hasPendingStructs(this.c.docs, name)) && this.conn.repull(name)) return this.pull(actions, name, () => this.store.pullFrom(name, () => true));
    if (this.compactor.hinted.has(name)) this.maybeSnapshot(actions, name);
  }

  private onRelay(actions: SessionAction[], name: string, tag: string, seq: number, env: Uint8Array): void {
    // A Relay that came before the answer of a Pull in flight is in that answer. A doc made again
    // here (deleted, then back) takes none on top of nothing: it is pulled from the start.
    if (this.conn.pulling.has(name)) return;
    if (inactiveBody(this.c.docs, name)) return this.conn.bodies.left(name);
    const state = this.store.get(name);
    const next = relayAction(state.cursor, seq);
    if (next === 'pull' || (next === 'apply' && this.lacks(name, state))) return this.pull(actions, name);
    if (next === 'skip') return;
    const out = emptyOutcome();
    this.reader.envelopes(tag, state, [{ seq, env }], out);
    this.applyOutcome(actions, name, state, out, false);
    this.incarnations.read(name, false);
  }

  private onRefused(actions: SessionAction[], name: string, tag: string, req: number, code: number): void {
    if (req === 0) {
      // A Pull (or Changes) the server could not answer: the next connection asks again.
      this.conn.pulling.delete(name);
      this.c.log('warn', `[EncryptedSession] request for ${tag} refused: ${refusalText(code)}`);
      return;
    }
    const { resend, error } = this.appends.refused(req, code, tag);
    for (const r of resend) this.send(actions, r.name, r.msg);
    if (error !== null) actions.push(emit({ type: 'error', message: error }));
  }

  // ---- applying and sending ----

  private applyOutcome(actions: SessionAction[], name: string, state: DocState, out: ReadOutcome, first: boolean): void {
    for (const message of out.errors) actions.push(emit({ type: 'error', message }));
    if (out.rollback) this.conn.reappend.add(name);
    const changed = this.applier.apply(name, out.updates, first, actions);
    for (const u of out.updates) state.serverSV = raiseByUpdate(state.serverSV, u);
    this.store.touch(name);
    // Files created (or renamed, or back) elsewhere: their bodies are opened (again) now.
    if (name === WORKSPACE_DOC_NAME && this.conn.atHead.has(name)) {
      for (const n of changed.filter((k) => this.c.docs.isActiveFile(k)).map(nameOfBody)) if (!this.conn.bodies.joined.has(n) || this.lacks(n, this.store.get(n))) this.pull(actions, n);
    }
  }

  private appendLocal(actions: SessionAction[], name: string, update: Uint8Array): void {
    const msg = this.appends.add(name, this.tagOf(name), update);
    if (this.current === SessionState.AwaitingConnect) return;
    this.send(actions, name, msg);
    const key = bodyKeyOf(name);
    // A body appended before it was pulled on this connection is opened now, for the relays of others.
    if (this.current === SessionState.Active && key !== null && !this.conn.bodies.joined.has(name) && this.c.docs.isActiveFile(key)) this.pull(actions, name);
  }

  /** A hint met while the doc was not ready is kept until it is (the server hints a doc once per 10 minutes). */
  private maybeSnapshot(actions: SessionAction[], name: string): void {
    this.compactor.hinted.add(name);
    if (!this.conn.atHead.has(name) || this.conn.pulling.has(name) || this.outbox.hasWaiting(name) || this.conn.catchUpDue.has(name)) return;
    const state = this.store.get(name);
    if (this.lacks(name, state)) return this.pull(actions, name);
    // Nor while structs wait for earlier ones (the snapshot would drop those the server holds), nor
    // with local changes the server's log lacks (devices past the snapshot's seq never read it).
    if (hasPendingStructs(this.c.docs, name) || this.appends.unsentHere(name, state)) return;
    this.compactor.hinted.delete(name);
    const msg = this.compactor.snapshot(name, state);
    if (msg !== null) this.send(actions, name, msg);
  }

  private sendBodyPulls(actions: SessionAction[]): void {
    if (this.current !== SessionState.Active) return;
    for (const name of this.conn.bodies.take((n) => this.c.docs.claimBodyRequests(n), actions)) {
      try {
        this.c.docs.ensureBodyLoaded(bodyKeyOf(name) ?? '');
      } catch (e) {
        this.c.log('warn', `[EncryptedSession] loading ${name} from its file failed: ${(e as Error).message}`);
      }
      this.pull(actions, name);
    }
  }

  private maybeSynced(actions: SessionAction[]): void {
    if (this.conn.syncedEmitted || !this.conn.atHead.has(WORKSPACE_DOC_NAME) || !this.conn.bodies.done((name) => this.c.docs.isActiveFile(bodyKeyOf(name) ?? ''))) return;
    this.conn.syncedEmitted = true;
    actions.push(...this.conn.bodies.finishProgress(), emit({ type: 'statusChanged', status: { state: 'synced' } }));
    if (this.probe.changeHead !== null) this.store.setWorkspaceChangeNo(this.probe.changeHead);
  }

  private resetConnection(): void {
    this.conn.reset();
    this.compactor.reset();
    this.probe.reset();
  }
}
