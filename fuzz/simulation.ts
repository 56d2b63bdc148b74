/**
 * Runs one schedule: N devices and the in-process server over the simulated
 * network, on a simulated clock. Steps are executed in order; after each
 * step, due timers fire (plugin boots after a crash, the server coming back,
 * storage failures ending, connection opens). Then the network heals: faults
 * off, server up, every plugin running, every device reconnected, and
 * messages are delivered in rounds (a round delivers what was queued at its
 * start, in random interleaving) until nothing is left; then the checker runs.
 *
 * Everything random comes from the schedule: per-step seeds, one stream per
 * device for its plugin's random bytes (Yjs client ids), and a default stream
 * for Y.Docs made here. The same schedule gives the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeFrame, workspaceDocId } from '../common/src/wire/frame';
import { Ledger, editFile, performAction } from './actions';
import { checkConvergence, type CheckStats, type Failure } from './checker';
import { TokenMint, containsToken, editMetadata, parseFile, renderFile, splitFile } from './content';
import { Device, PluginTrap, WORKSPACE_ID, listMarkdown } from './device';
import { Network, PERFECT_NET, type Msg } from './network';
import { decodeSyncMessages } from '../common/src/wire/sync';
import { Prng } from './prng';
import type { Schedule, Step } from './schedule';
import { setDefaultRandomSource } from './seeded-crypto';
import { SimCluster, type ClusterDatabase } from './sim-cluster';
import type { ServerSide } from '../server/src/testing/memory-link';
import { SimServer, type SimBackend } from './sim-server';
import { activeWorkspaceFiles } from '../server/src/workspace-files';
import * as Y from 'yjs';
import { decodeE2eeMessage, encodeE2eeMessage, parseE2eeDocId, type E2eeMessage } from '../common/src/e2ee/frames';
import { encodeFrame } from '../common/src/wire/frame';
import { BODY_TEXT_NAME } from '../common/src/workspace/schema';
import { canaryOf, setNameCanary } from './content';
import { databaseSources, directorySources, findPlaintext, framesSource } from './plaintext-scan';
import { provisionKeys, simEncryption, type SimEncryption } from './sim-e2ee';

export const CLOCK_START = Date.UTC(2026, 0, 5, 8, 0, 0);

export interface RunOptions {
  /** The plugin module. */
  wasm: string;
  /** Parent folder of the run's folders (default: /dev/shm when present, else the OS temp dir). */
  workRoot?: string;
  /** Keep the run's folders afterwards. */
  keep?: boolean;
  /** Progress lines (steps as they run). */
  trace?: (line: string) => void;
  /** Also trace every delivered message. */
  traceMessages?: boolean;
  /** Fail a run whose final text holds a token twice in one file (see checker.ts). */
  checkDuplicates?: boolean;
  /** The database of a run with several nodes (`config.nodes`): a fresh one per run. */
  database?: () => Promise<ClusterDatabase & { drop(): Promise<void> }>;
}

export interface FaultCounts {
  messagesDropped: number;
  messagesDuplicated: number;
  messagesReordered: number;
  connectionsDropped: number;
  droppedMidHandshake: number;
  pluginCrashes: number;
  pluginRestarts: number;
  serverCrashes: number;
  serverRestarts: number;
  /** Several nodes: database stops (back after a while or at once). */
  databaseRestarts: number;
  deviceStorageRefusals: number;
  serverStorageFailures: number;
  /** Encrypted runs: two devices asked to compact one doc at once. */
  compactRaces: number;
}

export interface RunResult {
  failures: Failure[];
  /** User actions that changed something (concurrent edits count once per device). */
  actions: number;
  faults: FaultCounts;
  /** Heal rounds until the network went quiet. */
  rounds: number;
  messages: number;
  /** Acknowledged edits that went with a file another device deleted concurrently. */
  editsLostToDeletes: number;
  /** Server docs of deleted files left with pending structs. */
  gapsInDeletedFiles: number;
  /** Docs left waiting for an update that no copy holds (lost in a plugin crash). */
  unfillableGaps: number;
  durationMs: number;
  workDir: string;
}

function defaultWorkRoot(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

export class Simulation {
  now = CLOCK_START;
  readonly server: SimBackend;
  /** The SQLite node (one-node runs). */
  private readonly single: SimServer | null = null;
  /** The nodes on Postgres (runs with `config.nodes`). */
  readonly cluster: SimCluster | null = null;
  readonly devices: Device[] = [];
  readonly network: Network;
  readonly ledger = new Ledger();
  readonly mint: TokenMint;
  /** Highest clock per client the server stored, per doc. */
  readonly ackedSv = new Map<string, Map<number, number>>();
  readonly faults: FaultCounts = {
    messagesDropped: 0,
    messagesDuplicated: 0,
    messagesReordered: 0,
    connectionsDropped: 0,
    droppedMidHandshake: 0,
    pluginCrashes: 0,
    pluginRestarts: 0,
    serverCrashes: 0,
    serverRestarts: 0,
    databaseRestarts: 0,
    deviceStorageRefusals: 0,
    serverStorageFailures: 0,
    compactRaces: 0,
  };
  actions = 0;
  /** Encrypted runs: every frame the devices sent (the plaintext scan reads them). */
  private readonly deviceFrames: (Uint8Array | string)[] = [];
  private rng: Prng;
  private serverBackAt: number | null = null;
  /** Several nodes: when each node that was killed comes back. */
  private readonly nodeBackAt: (number | null)[] = [];
  private databaseBackAt: number | null = null;
  /** Several nodes: this run's database (dropped by `close`). */
  private database: (ClusterDatabase & { drop(): Promise<void> }) | null = null;
  private serverFailUntil: number | null = null;
  private serverFailuresBefore = 0;
  private stepIndex = 0;

  constructor(
    readonly schedule: Schedule,
    readonly workDir: string,
    private readonly options: RunOptions,
    /** Encrypted runs: the workspace's key record and keys. */
    private readonly encryption: SimEncryption | null = null,
  ) {
    const { config } = schedule;
    if (config.encrypted && !encryption) throw new Error('an encrypted run needs the workspace keys');
    if (config.encrypted && config.nodes !== undefined && config.nodes > 1) throw new Error('encrypted runs use one server node (--nodes with --encrypted is not supported)');
    setNameCanary(config.encrypted ? canaryOf(config.seed) : null);
    this.rng = new Prng(config.seed ^ 0x5eed);
    this.mint = new TokenMint(config.seed);
    const defaults = new Prng(config.seed ^ 0xdef);
    setDefaultRandomSource((bytes) => defaults.fill(bytes));
    if (config.nodes !== undefined && config.nodes > 1) {
      if (!options.database) throw new Error('a run with several nodes needs a database (RunOptions.database)');
      this.cluster = new SimCluster({ nodes: config.nodes, compactAfterUpdates: 20, now: () => this.now, seed: config.seed });
      this.server = this.cluster;
    } else {
      this.single = new SimServer({
        dataDir: path.join(workDir, 'server'),
        compactAfterUpdates: 20,
        now: () => this.now,
        // Low thresholds: CompactHints as soon as a doc has a few envelopes.
        ...(encryption ? { encryption: { workspaceId: WORKSPACE_ID, enc: encryption, compactAfterUpdates: 4, compactAfterBytes: 4096 } } : {}),
      });
      this.server = this.single;
    }
    for (let i = 0; i < config.devices; i++) {
      this.devices.push(
        new Device({
          index: i,
          engine: config.nodeDevices.includes(i) ? 'node' : 'wasm',
          wasm: options.wasm,
          dir: path.join(workDir, `dev${i}`),
          random: new Prng((config.seed * 7919 + i * 104729 + 1) >>> 0),
          server: this.server,
          now: () => this.now,
          network: () => this.network,
        }),
      );
    }
    this.network = new Network(this.server, this.devices, () => this.now, () => this.rng, config.net);
    this.network.onServerReceived = encryption ? (frame) => this.serverReceivedEncrypted(frame) : (frame, side) => this.serverReceived(frame, side);
    if (encryption) this.network.onDeviceSend = (_device, data) => this.deviceFrames.push(data);
    if (options.traceMessages) this.network.onDeliver = (device, toServer, msg) => this.trace(`  ${toServer ? `dev${device} -> server` : `server -> dev${device}`} ${describeMessage(msg, this.single?.view ?? undefined)}`);
  }

  private trace(line: string): void {
    this.options.trace?.(line);
  }

  /** Records what the server now stores for the doc of `frame`, and the tokens it acknowledges. */
  private serverReceived(frame: Uint8Array, side: ServerSide): void {
    let docId: string;
    try {
      docId = decodeFrame(frame).docId;
    } catch {
      return;
    }
    const sv = this.server.loadedStateVector(docId, side);
    if (sv) {
      let acked = this.ackedSv.get(docId);
      if (!acked) this.ackedSv.set(docId, (acked = new Map()));
      for (const [client, clock] of sv) if ((acked.get(client) ?? 0) < clock) acked.set(client, clock);
    }
    if (docId !== workspaceDocId(WORKSPACE_ID)) {
      const text = this.server.loadedBodyText(docId, side);
      if (text !== null) this.ledger.acknowledge(docId, text);
    }
  }

  /** Encrypted runs: the same records, from what the server stored of the doc, decrypted with the keys. */
  private async serverReceivedEncrypted(frame: Uint8Array): Promise<void> {
    let docId: string;
    try {
      docId = decodeFrame(frame).docId;
    } catch {
      return;
    }
    const seen = await this.server.acknowledged?.(docId);
    if (!seen) return;
    let acked = this.ackedSv.get(seen.plainDocId);
    if (!acked) this.ackedSv.set(seen.plainDocId, (acked = new Map()));
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(seen.doc))) if ((acked.get(client) ?? 0) < clock) acked.set(client, clock);
    if (seen.plainDocId !== workspaceDocId(WORKSPACE_ID)) this.ledger.acknowledge(seen.plainDocId, seen.doc.getText(BODY_TEXT_NAME).toString());
  }

  /** Fires every timer that is due. */
  private async timers(): Promise<void> {
    await this.server.settle();
    if (this.server.importFailure) throw this.server.importFailure;
    if (this.serverFailUntil !== null && this.now >= this.serverFailUntil) {
      this.server.setFailAppends(false);
      this.serverFailUntil = null;
    }
    if (this.single && !this.single.up && this.serverBackAt !== null && this.now >= this.serverBackAt) {
      this.single.start();
      this.serverBackAt = null;
    }
    if (this.cluster) await this.clusterTimers(this.cluster);
    for (const d of this.devices) if (!d.up && d.bootAt !== null && this.now >= d.bootAt) await d.boot();
    await this.network.processOpens();
  }

  /** Several nodes: the database and killed nodes come back when due (a node waits for the database). */
  private async clusterTimers(cluster: SimCluster): Promise<void> {
    if (!cluster.databaseUp && this.databaseBackAt !== null && this.now >= this.databaseBackAt) {
      await cluster.startDatabase();
      this.databaseBackAt = null;
    }
    if (!cluster.databaseUp) return;
    for (let i = 0; i < cluster.nodeCount; i++) {
      const at = this.nodeBackAt[i];
      if (!cluster.nodeUp(i) && at !== null && at !== undefined && this.now >= at) {
        await cluster.startNode(i);
        this.nodeBackAt[i] = null;
      }
    }
    await cluster.settle();
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.workDir, { recursive: true });
    if (this.single) this.single.start();
    if (this.single && this.encryption) {
      // As a device that creates an encrypted workspace does: the key record first, then the keys on every device.
      await this.single.storeKeyRecord();
      for (const d of this.devices) provisionKeys(d.storageDir, this.encryption.keys, new Prng((this.schedule.config.seed * 31 + d.index * 7 + 0xd1) >>> 0));
    }
    if (this.cluster) {
      this.database = await this.options.database!();
      await this.cluster.start(this.database);
    }
    for (const d of this.devices) await d.boot();
    await this.timers();
  }

  async runStep(step: Step, index: number): Promise<void> {
    this.stepIndex = index;
    const rng = step.t === 'advance' || !('seed' in step) ? this.rng : new Prng(step.seed);
    this.rng = rng;
    const ctx = { now: () => this.now, mint: this.mint, ledger: this.ledger, step: index };
    switch (step.t) {
      case 'user': {
        const done = await performAction(step.action, this.devices[step.dev], rng, ctx);
        if (done) {
          this.actions++;
          this.trace(`#${index} dev${step.dev} ${done}`);
        }
        break;
      }
      case 'concurrent': {
        const devs = step.devs.map((i) => this.devices[i]);
        const common = listMarkdown(devs[0].dir).filter((f) => devs.every((d) => fs.existsSync(path.join(d.dir, f))));
        if (common.length === 0) break;
        const rel = rng.pick(common);
        for (const d of devs) {
          const done = rng.chance(0.75) ? await editFile(d, rel, rng, ctx) : await this.frontmatterEdit(d, rel, rng);
          if (done) this.actions++;
        }
        this.trace(`#${index} concurrent ${rel} on ${step.devs.join(',')}`);
        break;
      }
      case 'deliver':
        for (let i = 0; i < step.n; i++) if (!(await this.network.deliverOne(rng))) break;
        break;
      case 'advance':
        this.now += step.ms;
        break;
      case 'drop-link': {
        const link = this.network.linkOf(step.dev);
        if (link && (!step.handshake || !link.handshakeDone) && (await this.network.dropLink(step.dev))) this.trace(`#${index} drop dev${step.dev}'s link`);
        break;
      }
      case 'crash-plugin': {
        const d = this.devices[step.dev];
        if (!d.up) break;
        await d.crash();
        d.bootAt = this.now + step.downMs;
        this.faults.pluginCrashes++;
        this.trace(`#${index} crash dev${step.dev}`);
        break;
      }
      case 'restart-plugin': {
        const d = this.devices[step.dev];
        if (!d.up) break;
        await d.stop();
        await d.boot();
        this.faults.pluginRestarts++;
        this.trace(`#${index} restart dev${step.dev}`);
        break;
      }
      case 'crash-server':
        if (this.cluster && step.append) {
          const node = step.node ?? 0;
          const at = step.append;
          const armed = this.cluster.armKill(node, at, () => {
            this.nodeBackAt[node] = this.now + step.downMs;
            this.faults.serverCrashes++;
            this.trace(`kill -9 node ${node} ${at} an append`);
          });
          if (armed) this.trace(`#${index} node ${node} dies at its next append (${at} it commits)`);
          break;
        }
        if (this.cluster) {
          const node = step.node ?? 0;
          if (!this.cluster.nodeUp(node)) break;
          await this.cluster.crashNode(node);
          this.nodeBackAt[node] = this.now + step.downMs;
          this.faults.serverCrashes++;
          this.trace(`#${index} kill -9 node ${node}`);
          break;
        }
        if (!this.single || !this.single.up) break;
        this.serverFailuresBefore += this.single.storageFailures;
        await this.single.crash();
        this.serverBackAt = this.now + step.downMs;
        this.faults.serverCrashes++;
        this.trace(`#${index} crash server`);
        break;
      case 'restart-server':
        if (this.cluster) {
          const node = step.node ?? 0;
          if (!this.cluster.nodeUp(node)) break;
          await this.cluster.stopNode(node);
          // Without the database the node can only start once it is back (clusterTimers).
          this.nodeBackAt[node] = this.now;
          this.faults.serverRestarts++;
          this.trace(`#${index} restart node ${node}`);
          break;
        }
        if (!this.single || !this.single.up) break;
        this.serverFailuresBefore += this.single.storageFailures;
        await this.single.stop();
        this.single.start();
        this.faults.serverRestarts++;
        this.trace(`#${index} restart server`);
        break;
      case 'restart-db':
        if (!this.cluster || !this.cluster.databaseUp) break;
        await this.cluster.stopDatabase();
        this.databaseBackAt = this.now + step.downMs;
        this.faults.databaseRestarts++;
        this.trace(`#${index} stop the database for ${step.downMs} ms`);
        break;
      case 'storage-fail':
        this.devices[step.dev].storageFailUntil = this.now + step.ms;
        break;
      case 'server-storage-fail':
        this.server.setFailAppends(true);
        this.serverFailUntil = this.now + step.ms;
        break;
      case 'link-after-offline':
        if (await this.linkAfterOfflineEdits(this.devices[step.dev], step.edits, rng, ctx)) this.trace(`#${index} dev${step.dev} linked again after offline edits`);
        break;
      case 'compact-race':
        if (await this.compactRace(step.devs, rng)) this.trace(`#${index} compaction race on ${step.devs.map((d) => `dev${d}`).join(', ')}`);
        break;
    }
    await this.timers();
  }

  /**
   * The user unlinks the workspace (the host restarts the plugin without a
   * workspace id), edits files while it is not linked, then links it again
   * with LinkWorkspace: the folder is uploaded (replace mode) and the device
   * connects. The upload makes this folder the server's state, so text and
   * files it lacks go by the user's choice (counted, not failed); the text
   * must then be in every file once, on every device.
   */
  private async linkAfterOfflineEdits(d: Device, edits: number, rng: Prng, ctx: Parameters<typeof performAction>[3]): Promise<boolean> {
    if (!d.up || !this.server.up) return false;
    // Refused while the device's storage is full (a reported error): the user tries another time.
    if (!(await d.command('UnlinkWorkspace', {})).success) return false;
    const serverFilesBefore = await this.serverFileKeys();
    d.linked = false;
    await d.stop();
    await d.boot();
    for (let i = 0; i < edits; i++) {
      const done = await performAction(rng.chance(0.7) ? 'edit' : 'create', d, rng, ctx);
      if (done) {
        this.actions++;
        this.trace(`#${ctx.step} dev${d.index} (not linked) ${done}`);
      }
    }
    const res = await d.command('LinkWorkspace', { remote_id: WORKSPACE_ID });
    d.linked = true;
    if (!res.success) {
      // The server down, or storage refusing the config write: the user links through the host's settings instead.
      this.trace(`#${ctx.step} dev${d.index} LinkWorkspace failed: ${res.error}`);
      await d.stop();
      await d.boot();
      return false;
    }
    // What the folder lacks goes from the server with the upload: those tokens count as taken out.
    const here = listMarkdown(d.dir)
      .map((rel) => fs.readFileSync(path.join(d.dir, ...rel.split('/')), 'utf8'))
      .join('\n');
    this.ledger.removed([...this.ledger.tokens.keys()].filter((t) => !containsToken(here, t)));
    // The files it lacks are deleted on the server by this device: text typed into them on a device
    // that has not heard of the upload yet races that delete, like any user delete (counted).
    await this.server.settle();
    const serverFilesAfter = await this.serverFileKeys();
    for (const key of serverFilesBefore) if (!serverFilesAfter.has(key)) this.ledger.deletedKey(key, d.index, this.now);
    return true;
  }

  /**
   * Encrypted runs: a CompactHint for one stored doc goes to two devices at
   * once (as two server nodes could send), and everything queued for them up
   * to it is delivered: each device that holds the doc up to its cursor with
   * nothing waiting puts a snapshot, both on the same previous snapshot, and
   * the store takes one (the other gets a conflict and pulls).
   */
  private async compactRace(devs: number[], rng: Prng): Promise<boolean> {
    const store = this.single?.encryptedStore;
    if (!store) return false;
    const docs = (await store.changes(WORKSPACE_ID, 0)).docs.filter((d) => d.head > 0).sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0));
    if (docs.length === 0) return false;
    const target = rng.pick(docs);
    const frame = encodeFrame(target.docId, encodeE2eeMessage({ type: 'compactHint', logCount: target.head, logBytes: 0 }));
    const marks = devs.flatMap((i) => {
      const link = this.network.linkOf(i);
      if (!this.devices[i].up || !link?.handshakeDone) return [];
      const mark = this.network.injectToDevice(i, frame);
      return mark ? [mark] : [];
    });
    if (marks.length < 2) {
      // One device alone is an ordinary hint; the frame still goes.
      await this.network.deliverToDevicesThrough(marks, rng);
      return false;
    }
    await this.network.deliverToDevicesThrough(marks, rng);
    this.faults.compactRaces++;
    return true;
  }

  /**
   * Encrypted runs: the server's storage (every row of every table, its
   * files), its log and every frame it sent or received hold none of the text, names
   * and paths the devices wrote (plaintext-scan.ts).
   */
  plaintextFailures(): Failure[] {
    const server = this.single;
    if (!server || !this.encryption) return [];
    const db = server.database;
    const sources = [
      ...(db ? databaseSources(db) : []),
      ...directorySources(server.dataDir),
      framesSource('frames the server sent', server.sentFrames),
      framesSource('frames the devices sent', this.deviceFrames),
      framesSource("the server's log", server.logLines),
    ];
    const strings = new Set<string>();
    for (const rec of this.ledger.tokens.values()) for (const key of rec.keys) strings.add(key);
    for (const d of this.devices) {
      for (const rel of listMarkdown(d.dir)) {
        strings.add(rel);
        const body = splitFile(fs.readFileSync(path.join(d.dir, ...rel.split('/')), 'utf8')).body;
        for (const line of body.split('\n')) if (Buffer.byteLength(line.trim()) >= 24) strings.add(line.trim());
      }
    }
    const hits = findPlaintext(sources, { canary: canaryOf(this.schedule.config.seed), strings });
    if (hits.length === 0) return [];
    const shown = hits.slice(0, 12).join('\n');
    return [{ kind: 'plaintext-on-server', message: `seed ${this.schedule.config.seed}: ${hits.length} plaintext hit(s) on the server side:\n${shown}` }];
  }

  /** Keys of the files the server stores that are not deleted. */
  private async serverFileKeys(): Promise<Set<string>> {
    const doc = await this.server.doc(workspaceDocId(WORKSPACE_ID));
    try {
      return new Set(activeWorkspaceFiles(doc).map((f) => f.key));
    } finally {
      doc.destroy();
    }
  }

  private async frontmatterEdit(d: Device, rel: string, rng: Prng): Promise<string | null> {
    const file = path.join(d.dir, ...rel.split('/'));
    const text = fs.readFileSync(file, 'utf8');
    let parsed;
    try {
      parsed = parseFile(rel, text, this.now);
    } catch {
      return null;
    }
    fs.writeFileSync(file, renderFile(editMetadata(rng, parsed.metadata, this.now), splitFile(text).body));
    await d.event('file_saved', { path: rel, body_changed: false });
    return `frontmatter ${rel}`;
  }

  /** Faults off, everything up, everyone reconnected; delivers in rounds until quiet. Resolves to the rounds used. */
  async heal(maxRounds: number): Promise<number> {
    this.network.config = PERFECT_NET;
    this.server.setFailAppends(false);
    this.serverFailUntil = null;
    if (this.single && !this.single.up) this.single.start();
    this.serverBackAt = null;
    if (this.cluster) {
      this.cluster.disarm();
      await this.cluster.startDatabase();
      this.databaseBackAt = null;
      for (let i = 0; i < this.cluster.nodeCount; i++) await this.cluster.startNode(i);
      this.nodeBackAt.fill(null);
      await this.cluster.settle();
    }
    for (const d of this.devices) {
      d.storageFailUntil = -1;
      if (!d.up) await d.boot();
    }
    for (const d of this.devices) await this.network.dropLink(d.index, false);
    this.network.openNow();
    const rng = new Prng(this.schedule.config.seed ^ 0x4ea1);
    let rounds = 0;
    while (this.network.busy()) {
      if (rounds >= maxRounds) return rounds + 1;
      rounds++;
      this.now += 100;
      this.network.openNow();
      await this.network.processOpens();
      this.network.deliverableNow();
      const batch = new Set(this.network.links().flatMap((l) => [...l.toServer, ...l.toDevice]));
      while (await this.network.deliverOne(rng, (m) => batch.has(m))) {
        // one round: only what was queued when it started
      }
    }
    return rounds;
  }

  collectFaults(): FaultCounts {
    const s = this.network.stats;
    return {
      ...this.faults,
      messagesDropped: s.dropped,
      messagesDuplicated: s.duplicated,
      messagesReordered: s.reordered,
      connectionsDropped: s.linkDrops,
      droppedMidHandshake: s.handshakeDrops,
      deviceStorageRefusals: this.devices.reduce((n, d) => n + d.stats.storageRefusals, 0),
      serverStorageFailures: this.serverFailuresBefore + this.server.storageFailures + (this.single?.encryptedStorageFailures ?? 0),
    };
  }

  async close(): Promise<void> {
    for (const d of this.devices) await d.crash().catch(() => undefined);
    await this.single?.stop().catch(() => undefined);
    await this.cluster?.close().catch(() => undefined);
    await this.database?.drop().catch(() => undefined);
    setDefaultRandomSource(null);
    setNameCanary(null);
    this.single?.view?.destroy();
    if (!this.options.keep) fs.rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Recent plugin log lines of every device, for failure reports. */
  logTail(lines = Number(process.env.FUZZ_LOG_LINES ?? 15)): string {
    return this.devices.map((d) => `${d.name} (${d.engine}):\n  ${d.logs.slice(-lines).join('\n  ')}`).join('\n');
  }

  get currentStep(): number {
    return this.stepIndex;
  }
}

/** One line for a message: doc id and y-sync kind (or the encrypted message's fields), or the control text. */
export function describeMessage(msg: Msg, view?: { nameOfTag(tag: string): string | undefined; describeEnvelope(tag: string, env: Uint8Array): string }): string {
  if (msg.kind === 'close') return 'close';
  if (!msg.binary) return String(msg.data).slice(0, 100);
  try {
    const { docId, payload } = decodeFrame(msg.data as Uint8Array);
    const e2ee = parseE2eeDocId(docId);
    if (e2ee !== null) {
      const { tag } = e2ee;
      const m = decodeE2eeMessage(payload);
      const envelopes = tag === null || view === undefined ? '' : envelopesOf(m).map((env) => ` ${view.describeEnvelope(tag, env)}`).join('');
      return `${tag === null ? '(workspace id)' : (view?.nameOfTag(tag) ?? tag)} ${describeE2eeMessage(m)}${envelopes}`;
    }
    const kinds = decodeSyncMessages(payload).map((m) => m.kind + (m.kind === 'step1' ? '' : `(${'update' in m ? m.update.length : ''})`));
    return `${docId} ${kinds.join('+')}`;
  } catch {
    return `undecodable frame (${(msg.data as Uint8Array).length} bytes)`;
  }
}

/** The envelopes a message carries: an Append's, PutSnapshot's or Relay's, a Batch's snapshot and tail. */
function envelopesOf(m: E2eeMessage): Uint8Array[] {
  if ('env' in m) return [m.env];
  return m.type === 'batch' ? [...(m.snapshot ? [m.snapshot.env] : []), ...m.envelopes.map((e) => e.env)] : [];
}

function describeE2eeMessage(m: E2eeMessage): string {
  switch (m.type) {
    case 'append':
    case 'putSnapshot':
      return `${m.type} req ${m.req} (${m.env.length} bytes)`;
    case 'batch':
      return `batch head ${m.head}${m.more ? ' more' : ''}${m.snapshot ? ` snapshot@${m.snapshot.snapSeq}` : ''} seqs [${m.envelopes.map((e) => e.seq).join(',')}]`;
    case 'relay':
      return `relay seq ${m.seq}`;
    case 'changesReply':
      return `changesReply head ${m.changeHead} (${m.docs.length} docs)`;
    case 'snapshotResult':
      return `snapshotResult req ${m.req} status ${m.status} snapSeq ${m.snapSeq}`;
    default:
      return JSON.stringify(m);
  }
}

let runCounter = 0;

/** Runs a schedule from start to verdict. */
export async function runSchedule(schedule: Schedule, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const root = options.workRoot ?? defaultWorkRoot();
  const workDir = path.join(root, `diaryx-fuzz-${process.pid}-${schedule.config.seed}-${++runCounter}`);
  fs.rmSync(workDir, { recursive: true, force: true });
  const encryption = schedule.config.encrypted ? await simEncryption(WORKSPACE_ID) : null;
  const sim = new Simulation(schedule, workDir, options, encryption);
  const failures: Failure[] = [];
  const checkStats: CheckStats = { lostToDeletes: 0, gapsInDeletedFiles: 0, unfillableGaps: 0 };
  let rounds = 0;
  try {
    await sim.start();
    for (let i = 0; i < schedule.steps.length; i++) await sim.runStep(schedule.steps[i], i);
    rounds = await sim.heal(schedule.config.maxRounds);
    if (rounds > schedule.config.maxRounds) {
      failures.push({ kind: 'rounds', message: `still not quiet after ${schedule.config.maxRounds} heal rounds (${sim.network.queuedMessages()} messages queued)` });
    }
    const f = sim.collectFaults();
    // Any closed connection loses what was in flight, like a dropped message.
    const lossy = f.messagesDropped + f.connectionsDropped + f.pluginCrashes + f.pluginRestarts + f.serverCrashes + f.serverRestarts + f.databaseRestarts + f.serverStorageFailures > 0;
    failures.push(...(await checkConvergence(sim.devices, sim.server, sim.ledger, sim.ackedSv, checkStats, { lossy, duplicates: options.checkDuplicates })));
    failures.push(...sim.plaintextFailures());
  } catch (e) {
    const kind = e instanceof PluginTrap ? 'trap' : 'exception';
    failures.push({ kind, message: `at step ${sim.currentStep}: ${(e as Error).stack ?? String(e)}` });
  }
  if (failures.length > 0) failures[0].message += `\n--- plugin logs ---\n${sim.logTail()}`;
  const result: RunResult = {
    failures,
    actions: sim.actions,
    faults: sim.collectFaults(),
    rounds,
    messages: sim.network.stats.delivered,
    editsLostToDeletes: checkStats.lostToDeletes,
    gapsInDeletedFiles: checkStats.gapsInDeletedFiles,
    unfillableGaps: checkStats.unfillableGaps,
    durationMs: 0,
    workDir,
  };
  await sim.close();
  result.durationMs = Date.now() - started;
  return result;
}
