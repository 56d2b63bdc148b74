/**
 * The keys an encrypted canary run must never show at the server, gathered
 * after the run from where they legitimately live: each device's plugin
 * storage (`e2ee:<workspace id>`: root keys, from which K_name, K_doc and
 * K_att derive), the attachment file keys (HMAC of the plaintext under K_att),
 * and the KEK re-derived from the passphrase with the KDF parameters of the
 * key record the server holds.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeBase64 } from '../../common/src/base64';
import { deriveKek } from '../../common/src/e2ee/kdf';
import { parseKeyRecord, type KeyRecord } from '../../common/src/e2ee/key-record';
import { attachmentKey, bodyDocName, WORKSPACE_DOC_NAME } from '../../common/src/e2ee/keys';
import { PluginStorage } from '../../host-harness/src/plugin-storage';
import { pluginStorageDir } from '../../host-harness/src/workspace-host';
import { loadDeviceKeys } from '../../plugin/src/e2ee/key-store';
import { DATABASE_FILE } from '../../server/src/db';

/** The key record the server stores for `workspaceId` (read from its SQLite database), or null when the workspace is not encrypted there. */
export function storedKeyRecord(dataDir: string, workspaceId: string): KeyRecord | null {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'e2ee_workspaces'").get();
    if (!hasTable) return null;
    const row = db.prepare('SELECT record FROM e2ee_workspaces WHERE id = ?').get(workspaceId) as { record: string } | undefined;
    return row ? parseKeyRecord(JSON.parse(row.record)) : null;
  } finally {
    db.close();
  }
}

/**
 * Every key of the workspace a device holds, labelled: `RK <e>`, `K_name`,
 * `K_att <e>`, `K_doc <e> <doc name>` for the workspace doc and each body
 * doc of `filePaths`, `FK <path>` for each attachment. Throws when the
 * device holds no keys (a plain or locked workspace): a run that was not
 * encrypted must not pass as one.
 */
export function deviceKeys(
  dir: string,
  workspaceId: string,
  filePaths: readonly string[],
  attachments: Readonly<Record<string, Uint8Array>>,
): Record<string, Uint8Array> {
  const storage = new PluginStorage({ dir: pluginStorageDir(dir) });
  const keys = loadDeviceKeys(
    {
      storageGet: (key) => storage.get(key),
      storageSet: () => {
        throw new Error('reading keys only');
      },
    },
    workspaceId,
  );
  if (!keys) throw new Error(`${dir} holds no keys of workspace ${workspaceId} (plain or locked there)`);
  const out: Record<string, Uint8Array> = { K_name: keys.nameKey };
  const docNames = [WORKSPACE_DOC_NAME, ...filePaths.map(bodyDocName)];
  for (const [epoch, rk] of keys.rootKeys) {
    out[`RK ${epoch}`] = rk;
    const kAtt = attachmentKey(rk, workspaceId);
    out[`K_att ${epoch}`] = kAtt;
    for (const name of docNames) out[`K_doc ${epoch} ${name}`] = keys.docKey(epoch, keys.tagOf(name))!;
    for (const [file, bytes] of Object.entries(attachments)) out[`FK ${epoch} ${file}`] = hmac(sha256, kAtt, bytes);
  }
  return out;
}

/** The KEK of `record` under `passphrase` (what unwraps the root key), derived in Node. */
export function keyEncryptionKey(record: KeyRecord, passphrase: string): Uint8Array {
  const { salt, ...params } = record.kdf;
  return deriveKek(passphrase, decodeBase64(salt), params);
}
