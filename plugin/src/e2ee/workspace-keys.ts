/**
 * The key record of an encrypted workspace on the server
 * (`GET`/`PUT /api/workspaces/{id}/keys`, through `host_http_request`), what
 * this device knows of a workspace's encryption, and the progress of the
 * passphrase KDF (seconds inside the plugin) as host events.
 *
 * Nothing here ever puts the passphrase or the KEK into a request, an event,
 * a log line, storage or an error message.
 */
import type { HostBridge, HttpResponse } from '../host/bridge';
import type { EventSink, KeyDerivationOperation } from '../events';
import { CommandError } from '../commands/params';
import { encryptionState, KeyStoreError, type EncryptionState, type KeyStorage } from './key-store';

/** Where the server is (the remote commands resolve it from params and config). */
export interface KeyServer {
  url: string;
  token: string | null;
}

/** How an UnlockWorkspace is asked for, in errors that send the user there. */
export const UNLOCK_HINT = 'UnlockWorkspace {"passphrase", "remote_id"}';

function keysRequest(host: HostBridge, s: KeyServer, workspaceId: string, method: 'GET' | 'PUT', body?: string): HttpResponse {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (s.token !== null && s.token.trim() !== '') headers.Authorization = `Bearer ${s.token}`;
  const res = host.httpRequest({ url: `${s.url}/api/workspaces/${encodeURIComponent(workspaceId)}/keys`, method, headers, body });
  if (res.status === 0) throw new CommandError(`Key record request failed: ${res.error ?? res.body ?? 'no answer'}`);
  return res;
}

/** The server's `{"error"}` text of an answer, else the body as it is. */
function serverMessage(res: HttpResponse): string {
  try {
    const v = JSON.parse(res.body) as { error?: unknown };
    if (v && typeof v.error === 'string') return v.error;
  } catch {
    // not JSON: shown as it is
  }
  return res.body === '' ? `HTTP ${res.status}` : res.body;
}

/**
 * The workspace's key record (parsed JSON, not yet checked), or null when
 * the server says the workspace is not end-to-end encrypted (404, which it
 * also answers for a workspace it does not know).
 */
export function fetchKeyRecord(host: HostBridge, s: KeyServer, workspaceId: string): unknown {
  const res = keysRequest(host, s, workspaceId, 'GET');
  if (res.status === 404) return null;
  if (res.status !== 200) throw new CommandError(`Reading the key record of workspace ${workspaceId} failed: HTTP ${res.status}: ${serverMessage(res)}`);
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    throw new CommandError(`Reading the key record of workspace ${workspaceId} failed: the server's answer is not JSON`);
  }
}

/** The outcome of a PUT: stored (with the new gen), or refused with the server's reason. */
export type PutOutcome = { stored: true; gen: number } | { stored: false; status: number; reason: string };

/** PUTs a record carrying the gen it replaces; a 409 means the stored gen differs, or (gen 0) the workspace has plain docs. */
export function putKeyRecord(host: HostBridge, s: KeyServer, workspaceId: string, record: object): PutOutcome {
  const res = keysRequest(host, s, workspaceId, 'PUT', JSON.stringify(record));
  if (res.status === 200) {
    let gen: unknown = null;
    try {
      gen = (JSON.parse(res.body) as { gen?: unknown }).gen;
    } catch {
      // checked below
    }
    if (typeof gen !== 'number') throw new CommandError(`The server stored the key record of workspace ${workspaceId} but answered no gen`);
    return { stored: true, gen };
  }
  // A 409 of a later PUT carries the current record, not an error text: that is "someone else changed it".
  let reason = serverMessage(res);
  if (res.status === 409 && reason.startsWith('{')) reason = 'the key record on the server changed meanwhile (another device changed it)';
  return { stored: false, status: res.status, reason };
}

/**
 * Refuses to link a workspace in plain mode when the server holds a key record
 * for it: the device must unlock it instead, and plain frames there would be
 * refused anyway after sending what they carry.
 */
export function refuseEncryptedRemote(host: HostBridge, s: KeyServer, workspaceId: string): void {
  let res: HttpResponse;
  try {
    res = keysRequest(host, s, workspaceId, 'GET');
  } catch (e) {
    // Unreachable: the link's own upload fails next, with the error a plain link always gave.
    if (e instanceof CommandError) return;
    throw e;
  }
  if (res.status === 200) {
    throw new CommandError(`Workspace ${workspaceId} is end-to-end encrypted: unlock it with ${UNLOCK_HINT} instead of linking it`);
  }
}

/**
 * What this device knows of a workspace's encryption; `plain` without a
 * workspace. A stored value that cannot be read counts as `locked`: its keys
 * cannot be used, and the workspace must never fall back to plain sync.
 */
export function deviceEncryption(storage: KeyStorage, workspaceId: string | null): EncryptionState {
  if (workspaceId === null || workspaceId.trim() === '') return 'plain';
  try {
    return encryptionState(storage, workspaceId);
  } catch (e) {
    if (e instanceof KeyStoreError) return 'locked';
    throw e;
  }
}

/** KeyDerivationProgress events emitted per derivation: at 0, every 10 %, and at 100 %. */
const PROGRESS_STEP = 10;

/** A KDF `onProgress` callback that emits `KeyDerivationProgress` events, at most 11 per derivation. */
export function kdfProgress(events: Pick<EventSink, 'keyDerivationProgress'>, operation: KeyDerivationOperation): (fraction: number) => void {
  let last = -1;
  const emit = (percent: number) => {
    last = percent;
    events.keyDerivationProgress(operation, percent, 100);
  };
  emit(0);
  return (fraction) => {
    const percent = Math.min(100, Math.floor(fraction * 100));
    if (percent === 100 ? last < 100 : percent >= last + PROGRESS_STEP) emit(percent === 100 ? 100 : percent - (percent % PROGRESS_STEP));
  };
}
