/**
 * The key gathering of the encrypted canary run, checked on its own: keys a
 * device stored (through the plugin's key store, in the CLI's plugin storage
 * folder) come back with everything derived from them, the KEK derived from
 * the server's stored record opens its wrapped root key, and a folder without
 * keys is refused rather than scanned with none.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { concatBytes, E2EE_LABEL, str, u32, utf8 } from '../../common/src/e2ee/bytes';
import { createKeyRecord } from '../../common/src/e2ee/key-record';
import { attachmentKey, docKey, docTag, nameKey } from '../../common/src/e2ee/keys';
import { PluginStorage } from '../../host-harness/src/plugin-storage';
import { pluginStorageDir } from '../../host-harness/src/workspace-host';
import { DeviceKeys, saveDeviceKeys } from '../../plugin/src/e2ee/key-store';
import { openDatabase } from '../../server/src/db';
import { SqliteEncryptedStore } from '../../server/src/storage/sqlite-e2ee';
import { deviceKeys, keyEncryptionKey, storedKeyRecord } from './canary-secrets';

const dirs: string[] = [];
const temp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-canary-secrets-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const WS = 'ws-secrets';
const PASS = 'correct horse battery staple';

describe('canary secrets', () => {
  it('reads a device\'s keys and derives the doc, name, attachment and file keys', () => {
    const { keys } = createKeyRecord(WS, PASS, { kdf: 'argon2id' });
    const dir = temp();
    const storage = new PluginStorage({ dir: pluginStorageDir(dir) });
    saveDeviceKeys({ storageGet: (k) => storage.get(k), storageSet: (k, v) => storage.set(k, v) }, DeviceKeys.fresh(keys));
    const file = new TextEncoder().encode('photo bytes');
    const got = deviceKeys(dir, WS, ['notes/a.md'], { 'notes/a.png': file });
    const rk = keys.rootKeys.get(1)!;
    const kName = nameKey(rk, WS);
    expect(got['RK 1']).toEqual(rk);
    expect(got.K_name).toEqual(kName);
    expect(got['K_doc 1 workspace']).toEqual(docKey(rk, WS, docTag(kName, 'workspace')));
    expect(got['K_doc 1 body/notes/a.md']).toEqual(docKey(rk, WS, docTag(kName, 'body/notes/a.md')));
    expect(got['K_att 1']).toEqual(attachmentKey(rk, WS));
    expect(got['FK 1 notes/a.png']).toEqual(hmac(sha256, attachmentKey(rk, WS), file));
    expect(Object.keys(got)).toHaveLength(6);
  });

  it('refuses a folder that holds no keys of the workspace', () => {
    expect(() => deviceKeys(temp(), WS, [], {})).toThrow(/holds no keys of workspace ws-secrets/);
  });

  it('reads the key record the server stored, and its KEK opens the wrapped root key', async () => {
    const dataDir = temp();
    const db = openDatabase(dataDir);
    const store = new SqliteEncryptedStore(db);
    expect(storedKeyRecord(dataDir, WS)).toBeNull();
    const { record, keys } = createKeyRecord(WS, PASS);
    await store.putKeys(WS, 0, JSON.stringify(record));
    db.close();
    const stored = storedKeyRecord(dataDir, WS)!;
    expect(stored.wrapped).toBe(record.wrapped);
    const kek = keyEncryptionKey(stored, PASS);
    const kdf = stored.kdf;
    if (kdf.alg !== 'argon2id') throw new Error(`expected the default argon2id, got ${kdf.alg}`);
    // AAD as the spec (e2ee.md 4) writes it.
    const aad = concatBytes([utf8(`${E2EE_LABEL} wrap`), str(WS), u32(1), str('argon2id'), u32(kdf.m), u32(kdf.t), u32(kdf.p), str(decodeBase64(kdf.salt))]);
    const opened = xchacha20poly1305(kek, decodeBase64(stored.nonce), aad).decrypt(decodeBase64(stored.wrapped));
    expect(opened).toEqual(keys.rootKeys.get(1));
    expect(keyEncryptionKey(stored, `${PASS}!`)).not.toEqual(kek);
  });
});
