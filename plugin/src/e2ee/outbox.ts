/**
 * Local updates of an encrypted workspace on their way to the server: each is
 * sealed once into an update envelope (this run, the doc's next counter) and
 * kept until the server answers Appended, so a reconnect resends the same
 * bytes (the server answers a resend with its first seq). A counter conflict
 * (Refused 3: the server holds other bytes under that device, run and
 * counter) starts a new run and reseals the doc's waiting updates.
 *
 * The run is started (and stored) before the first envelope of this plugin
 * start is sealed, so no (device, run, counter) is ever sealed twice.
 */
import { sealEnvelope } from '../../../common/src/e2ee/envelope';
import { startRun, type DeviceKeys, type KeyStorage } from './key-store';

export interface PendingAppend {
  req: number;
  docName: string;
  tag: string;
  /** The Yjs update sealed (kept to reseal after a counter conflict). */
  update: Uint8Array;
  env: Uint8Array;
  run: number;
  ctr: number;
}

export class Outbox {
  private nextReq = 1;
  /** Last counter used per doc in the current run. */
  private ctrs = new Map<string, number>();
  private pending: PendingAppend[] = [];
  private runStarted = false;

  constructor(
    private keys: DeviceKeys,
    private readonly storage: KeyStorage,
  ) {}

  get deviceKeys(): DeviceKeys {
    return this.keys;
  }

  /** A fresh request number (appends and snapshots share them). */
  takeReq(): number {
    return this.nextReq++;
  }

  /** The keys with this plugin start's run, started (and stored) on first use. */
  runKeys(): DeviceKeys {
    if (!this.runStarted) {
      this.keys = startRun(this.storage, this.keys);
      this.runStarted = true;
      this.ctrs.clear();
    }
    return this.keys;
  }

  /** Seals a local update of a doc; it waits here until acknowledged. */
  add(docName: string, tag: string, update: Uint8Array): PendingAppend {
    const p = this.seal(docName, tag, update);
    this.pending.push(p);
    return p;
  }

  private seal(docName: string, tag: string, update: Uint8Array): PendingAppend {
    const keys = this.runKeys();
    const ctr = (this.ctrs.get(docName) ?? 0) + 1;
    if (ctr > 0xffffffff) throw new RangeError(`doc ${tag}: the counter of run ${keys.run} is exhausted`);
    this.ctrs.set(docName, ctr);
    const key = keys.docKey(keys.epoch, tag);
    if (!key) throw new RangeError(`no key for the current epoch ${keys.epoch}`);
    const env = sealEnvelope(key, { workspaceId: keys.workspaceId, docTag: tag }, { kind: 'update', epoch: keys.epoch, deviceId: keys.deviceId, run: keys.run, ctr }, update);
    return { req: this.takeReq(), docName, tag, update, env, run: keys.run, ctr };
  }

  /** The server stored the append of `req`: it leaves the outbox. */
  acknowledge(req: number): PendingAppend | undefined {
    const i = this.pending.findIndex((p) => p.req === req);
    if (i < 0) return undefined;
    return this.pending.splice(i, 1)[0];
  }

  /**
   * Refused 3 for `req`: a new run, and every waiting update of that doc is
   * sealed again under it (new req numbers). Returns them, to be sent.
   */
  resealAfterConflict(req: number): PendingAppend[] {
    const refused = this.pending.find((p) => p.req === req);
    if (!refused) return [];
    this.keys = startRun(this.storage, this.keys);
    this.ctrs.clear();
    const out: PendingAppend[] = [];
    this.pending = this.pending.map((p) => {
      if (p.docName !== refused.docName) return p;
      const fresh = this.seal(p.docName, p.tag, p.update);
      out.push(fresh);
      return fresh;
    });
    return out;
  }

  /** Drops the update of `req` (refused for good); returns it. */
  drop(req: number): PendingAppend | undefined {
    return this.acknowledge(req);
  }

  /** Waiting updates in the order they were sealed (resent after a reconnect). */
  waiting(): readonly PendingAppend[] {
    return this.pending;
  }

  hasWaiting(docName: string): boolean {
    return this.pending.some((p) => p.docName === docName);
  }
}
