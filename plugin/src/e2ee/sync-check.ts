/**
 * Whether an encrypted workspace is in sync with the server, as far as this
 * device can tell (`CheckEncryptedSync`, README "Encrypted sync on a
 * device"): the server cannot render an encrypted workspace, so the check is
 * the device's own state against heads the server reports now.
 *
 * - HeadsProbe: a Changes after 0 on the workspace id answers the head of
 *   every doc the server holds. At most one Changes is in flight per
 *   connection (the connect's own, or a probe), so a ChangesReply that comes
 *   while only a probe is out is that probe's answer; a probe asked while
 *   another Changes is out is sent when that one is answered.
 * - syncProblems: every active doc (the workspace doc and each active file's
 *   body) pulled on this connection to at least the head of the latest probe
 *   answer, no Pull in flight, no Append waiting for its Appended, no dirty
 *   mark (edits an earlier run never saw acknowledged).
 */
import type { E2eeMessage } from '../../../common/src/e2ee/frames';
import type { SessionDocs } from '../sync/session-host';
import { bodyKeyOf, nameOfBody, WORKSPACE_DOC_NAME } from './doc-names';
import type { DocState, DocStateStore } from './doc-state';
import type { Outbox } from './outbox';

type ChangesReply = Extract<E2eeMessage, { type: 'changesReply' }>;

export class HeadsProbe {
  /** Probes asked (counted over the session's life, so a host can wait for its own). */
  asked = 0;
  /** The `asked` count the latest received answer covers. */
  answered = 0;
  /** Doc tag -> head, from the latest probe answer of this connection (null: none yet). */
  heads: Map<string, number> | null = null;
  /** The workspace's change head in the latest ChangesReply of this connection (the connect's or a probe's). */
  changeHead: number | null = null;
  /** Why the latest probe got no answer (a refusal), until the next answer. */
  failure: string | null = null;
  private inFlight = 0;
  /** The `asked` count of the probe in flight (null: the Changes in flight is not a probe). */
  private probeFor: number | null = null;
  private deferred = false;

  /** The connect's own Changes went out. */
  changesSent(): void {
    this.inFlight++;
  }

  /** The host asks for fresh heads: true when a Changes after 0 must be sent now (else it goes after the one in flight). */
  ask(): boolean {
    this.asked++;
    if (this.inFlight > 0) {
      this.deferred = true;
      return false;
    }
    return this.send();
  }

  /** A ChangesReply: true when a deferred probe must be sent now. */
  reply(msg: ChangesReply): boolean {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.changeHead = msg.changeHead;
    if (this.probeFor !== null && this.inFlight === 0) {
      this.heads = new Map(msg.docs.map((d) => [d.tag, d.head]));
      this.answered = this.probeFor;
      this.probeFor = null;
      this.failure = null;
    }
    return this.next();
  }

  /** The server refused a Changes (it could not read the heads): the probe ends without heads. */
  refused(reason: string): boolean {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.probeFor !== null && this.inFlight === 0) {
      this.answered = this.probeFor;
      this.probeFor = null;
      this.failure = `the server did not tell the heads of the documents (${reason})`;
    }
    return this.next();
  }

  /** The connection ended: nothing is in flight any more, the heads are of a past connection. */
  reset(): void {
    this.inFlight = 0;
    this.probeFor = null;
    this.deferred = false;
    this.heads = null;
    this.changeHead = null;
  }

  private next(): boolean {
    if (!this.deferred || this.inFlight > 0) return false;
    this.deferred = false;
    return this.send();
  }

  private send(): boolean {
    this.inFlight++;
    this.probeFor = this.asked;
    return true;
  }
}

/** One reason a workspace is not in sync: `doc` is a file's path, `workspace` (the file list) or '' (the whole connection). */
export interface SyncProblem {
  doc: string;
  problem: string;
}

/** The session's parts the check reads (encrypted-session.ts), at one instant. */
export interface SessionParts {
  connected: boolean;
  synced: boolean;
  probe: HeadsProbe;
  docs: Pick<SessionDocs, 'activeFileKeys'>;
  outbox: Pick<Outbox, 'waiting'>;
  store: Pick<DocStateStore, 'get'>;
  atHead: ReadonlySet<string>;
  pulling: ReadonlySet<string>;
  tagOf(name: string): string;
}

/** What CheckEncryptedSync reports of the session: the problems, and the probe's counts. */
export interface SyncCheck {
  problems: SyncProblem[];
  asked: number;
  answered: number;
  changeHead: number | null;
}

const label = (name: string): string => (name === WORKSPACE_DOC_NAME ? 'workspace' : (bodyKeyOf(name) ?? name));
const updates = (n: number): string => `${n} local update${n === 1 ? '' : 's'} not acknowledged by the server`;

export function checkSession(p: SessionParts): SyncCheck {
  return { problems: syncProblems(p), asked: p.probe.asked, answered: p.probe.answered, changeHead: p.probe.changeHead };
}

function syncProblems(p: SessionParts): SyncProblem[] {
  if (!p.connected) return [{ doc: '', problem: 'not connected to the server' }];
  if (!p.synced) return [{ doc: '', problem: 'the first sync of this connection has not finished' }];
  const out: SyncProblem[] = [];
  const { probe } = p;
  if (probe.failure !== null) out.push({ doc: '', problem: probe.failure });
  else if (probe.heads === null || probe.answered < probe.asked) out.push({ doc: '', problem: 'the server has not told the heads of the documents yet' });
  const waiting = new Map<string, number>();
  for (const a of p.outbox.waiting()) waiting.set(a.docName, (waiting.get(a.docName) ?? 0) + 1);
  const names = new Set([WORKSPACE_DOC_NAME, ...p.docs.activeFileKeys().map(nameOfBody)]);
  for (const name of names) {
    const s = p.store.get(name);
    const n = waiting.get(name) ?? 0;
    const problem = (text: string) => out.push({ doc: label(name), problem: text });
    if (n > 0) problem(updates(n));
    else if (s.dirty) problem('local edits not acknowledged by the server');
    if (!p.atHead.has(name) || p.pulling.has(name)) problem('not pulled from the server on this connection');
    const head = probe.heads?.get(p.tagOf(name)) ?? 0;
    if (probe.heads !== null && head > s.cursor) problem(`the server holds envelopes up to ${head}, this device applied up to ${s.cursor}`);
  }
  // Appends of docs no longer active (a deleted file's last edit) still count.
  for (const [name, n] of waiting) if (!names.has(name)) out.push({ doc: label(name), problem: updates(n) });
  return out;
}
