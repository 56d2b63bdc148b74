/**
 * Workspace-level commands: scanning the folder into the CRDT
 * (InitializeWorkspaceCrdt), rendering every file (MaterializeWorkspace),
 * syncing focused bodies now, and the status shown in the status bar.
 */
import { renderFrontmatterYaml } from '../../../common/src/workspace/frontmatter';
import { localMetadataUnchanged } from '../disk';
import { loadConfig } from '../config';
import type { SyncRuntime } from '../runtime';
import { SessionState } from '../sync/session';
import { transferStatusText } from '../transfer-progress';
import type { EncryptionState } from '../e2ee/key-store';
import { deviceEncryption } from '../e2ee/workspace-keys';
import type { CommandTable } from './table';
import { CommandError, optionalString, type Params } from './params';

function filePaths(params: Params): string[] {
  const many = params.file_paths;
  if (Array.isArray(many)) return many.filter((p): p is string => typeof p === 'string');
  const one = optionalString(params, 'file_path') ?? optionalString(params, 'path');
  if (one === null) throw new CommandError('Missing parameter: file_path');
  return [one];
}

/** Status for the status bar: a state and a label a person understands. */
export function syncStatus(rt: SyncRuntime | null, linked: boolean, encryption: EncryptionState): Record<string, unknown> {
  const status = (state: string, label: string, detail: string | null = null, progress: unknown = null) => ({ detail, encryption, label, progress, state });
  if (rt?.status.transfer) {
    const t = transferStatusText(rt.status.transfer);
    return status('syncing', t.label, t.detail, t.progress);
  }
  if (linked && encryption === 'locked') return status('idle', 'Locked: unlock with the passphrase to sync', 'The workspace is end-to-end encrypted and its keys are not on this device');
  if (!rt || !linked || !rt.session) return status('idle', 'Idle');
  const s = rt.status;
  if (s.error) return status('error', `Error: ${s.error}`, s.error);
  switch (rt.session.state) {
    case SessionState.AwaitingConnect: {
      const pending = rt.pendingChangeCount();
      return status('offline', pending > 0 ? `Offline · ${pending} pending change${pending === 1 ? '' : 's'}` : 'Offline', null);
    }
    case SessionState.WaitingForHandshake:
      return status('syncing', 'Connecting…');
    case SessionState.Active:
      if (s.progress && s.progress.total > 0 && s.progress.completed < s.progress.total) {
        return status('syncing', `Syncing ${s.progress.completed}/${s.progress.total}`, null, s.progress);
      }
      return s.synced ? status('synced', 'Synced') : status('syncing', 'Syncing');
  }
}

export const WORKSPACE_COMMANDS: CommandTable = {
  InitializeWorkspaceCrdt: (rt, p) => {
    const path = optionalString(p, 'workspace_path');
    if (path !== null && path.trim() !== '') rt.state.workspaceRoot = path;
    const keys = rt.disk.listMarkdownKeys();
    if (keys.length === 0) throw new CommandError(`No markdown files found in ${path ?? rt.state.workspaceRoot ?? '.'}`);
    let updated = 0;
    for (const key of keys) {
      const text = rt.disk.read(key);
      if (text === null) continue;
      let parsed;
      try {
        parsed = rt.disk.parseLocal(key, text);
      } catch (e) {
        rt.host.log('warn', `[InitializeWorkspaceCrdt] ${(e as Error).message}`);
        continue;
      }
      if (!localMetadataUnchanged(rt.state.workspace.getFile(key), parsed)) {
        rt.state.workspace.setFile(key, parsed.metadata);
        updated++;
      }
      rt.docs.setLocalBody(key, parsed.body);
      rt.state.bodies.trackContent(key, parsed.body);
    }
    return { message: `Initialized workspace CRDT with ${keys.length} files`, file_count: keys.length, updated_count: updated };
  },
  MaterializeWorkspace: (rt) => ({
    files: rt.state.workspace.listFiles().map(([path, meta]) => {
      const yaml = renderFrontmatterYaml(meta);
      const body = rt.state.bodies.has(path) ? rt.state.bodies.getBody(path) : (rt.disk.readBody(path) ?? '');
      return { path, content: yaml === '' ? body : `---\n${yaml}\n---\n\n${body}` };
    }),
  }),
  SyncFocusedFileNow: (rt, p) => {
    const paths = filePaths(p);
    if (!rt.session || rt.session.state !== SessionState.Active) return { synced: 0 };
    rt.execute(rt.session.syncBodyFiles(paths));
    return { synced: paths.length };
  },
  GetSyncStatus: (rt) => {
    const id = loadConfig(rt.host).workspace_id;
    return syncStatus(rt, id !== null && id.trim() !== '', deviceEncryption(rt.host, id));
  },
};
