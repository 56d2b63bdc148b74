/**
 * `CheckEncryptedSync {"ask_server"?: bool, "files"?: bool}`: whether the
 * linked end-to-end encrypted workspace is in sync on this device (the
 * server cannot render it, so `sync --once` asks this instead of a zip).
 *
 * `ask_server` sends a Changes after 0 (the head of every doc) and returns at
 * once; `heads.answered` reaches `heads.asked` when its answer came over the
 * socket, and only then can the answer say `in_sync`. `files` adds every
 * active file's body as this device's docs hold it, for the host to compare
 * with the folder.
 */
import { loadConfig } from '../config';
import { EncryptedSession } from '../e2ee/encrypted-session';
import { lockedMessage } from '../e2ee/locked-session';
import type { SyncProblem } from '../e2ee/sync-check';
import { deviceEncryption } from '../e2ee/workspace-keys';
import type { SyncRuntime } from '../runtime';
import { CommandError, optionalBool, type Params } from './params';

export interface EncryptedSyncReport {
  workspace_id: string;
  encryption: 'locked' | 'unlocked';
  in_sync: boolean;
  heads: { asked: number; answered: number; change_head: number | null };
  problems: SyncProblem[];
  /** With `files`: each active file's body as the docs hold it (null without). */
  files: { path: string; body: string }[] | null;
}

const PARAMS = ['ask_server', 'files'];

export function checkEncryptedSync(rt: SyncRuntime, p: Params): EncryptedSyncReport {
  const unknown = Object.keys(p).filter((key) => !PARAMS.includes(key));
  if (unknown.length > 0) throw new CommandError(`Invalid parameter ${unknown[0]}: CheckEncryptedSync takes ${PARAMS.join(', ')}`);
  const askServer = optionalBool(p, 'ask_server') ?? false;
  const withFiles = optionalBool(p, 'files') ?? false;
  const id = loadConfig(rt.host).workspace_id;
  if (id === null || id.trim() === '') throw new CommandError('No workspace is linked: nothing to check');
  const encryption = deviceEncryption(rt.host, id);
  if (encryption === 'plain') throw new CommandError(`Workspace ${id} is not end-to-end encrypted on this device: CheckEncryptedSync checks encrypted workspaces only`);
  const session = rt.session instanceof EncryptedSession && rt.session.workspaceId === id ? rt.session : null;
  const files = withFiles ? rt.state.workspace.activeKeys().map((key) => ({ path: key, body: rt.state.bodies.getBody(key) })) : null;
  if (encryption === 'locked' || session === null) {
    const problem = encryption === 'locked' ? lockedMessage(id) : 'not connected to the server';
    return { workspace_id: id, encryption, in_sync: false, heads: { asked: 0, answered: 0, change_head: null }, problems: [{ doc: '', problem }], files };
  }
  if (askServer) rt.execute(session.askHeads());
  const check = session.syncCheck();
  return {
    workspace_id: id,
    encryption,
    in_sync: check.problems.length === 0,
    heads: { asked: check.asked, answered: check.answered, change_head: check.changeHead },
    problems: check.problems,
    files,
  };
}
