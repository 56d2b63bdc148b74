/**
 * The encrypted session over in-memory docs and storage, for its unit tests,
 * and what it sent, decoded.
 */
import { decodeE2eeMessage, parseE2eeDocId, type E2eeMessage } from '../../../../common/src/e2ee/frames';
import type { SessionAction } from '../../../../common/src/wire/envelope';
import { decodeFrame } from '../../../../common/src/wire/frame';
import { SyncLedger } from '../../sync/sync-ledger';
import { MemoryDocs } from '../../sync/testing/memory-docs';
import { EncryptedSession } from '../encrypted-session';
import { DeviceKeys, type KeyStorage } from '../key-store';

function memoryStorage(): KeyStorage {
  const map = new Map<string, Uint8Array>();
  return { storageGet: (k) => map.get(k) ?? null, storageSet: (k, v) => void map.set(k, v) };
}

/** A session of `workspaceId` with fresh device keys over `rootKeys`, docs in memory, storage in memory, every doc taken as stored. */
export function encryptedSessionFixture(workspaceId: string, rootKeys: Map<number, Uint8Array>, docs = new MemoryDocs(workspaceId, 1)) {
  const keys = DeviceKeys.fresh({ workspaceId, epoch: 1, rootKeys });
  const s = new EncryptedSession({
    workspaceId,
    writeToDisk: true,
    keys,
    docs,
    ledger: new SyncLedger(),
    storage: memoryStorage(),
    saveDocs: () => {},
    isDocStored: () => true,
    log: () => {},
  });
  return { s, docs, keys };
}

/** The e2e messages among actions, with their doc tags (null: the workspace id). */
export function sentE2ee(actions: SessionAction[]): { tag: string | null; msg: E2eeMessage }[] {
  return actions.flatMap((a) => {
    if (a.type !== 'SendBinary') return [];
    const { docId, payload } = decodeFrame(a.data);
    return [{ tag: parseE2eeDocId(docId)!.tag, msg: decodeE2eeMessage(payload) }];
  });
}
