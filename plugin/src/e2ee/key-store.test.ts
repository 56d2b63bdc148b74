import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../../common/src/base64';
import { DeviceKeys, encryptionState, forgetDeviceKeys, lockDeviceKeys, keyStorageKey, KeyStoreError, loadDeviceKeys, saveDeviceKeys, startRun, type KeyStorage } from './key-store';

function memoryStorage(): KeyStorage & { map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  return {
    map,
    storageGet: (key) => map.get(key) ?? null,
    storageSet: (key, data) => {
      if (data.length === 0) map.delete(key);
      else map.set(key, data);
    },
  };
}

const rk = (fill: number) => new Uint8Array(32).fill(fill);

describe('key store', () => {
  it('round-trips keys, device id and run; derives the same tags and doc keys', () => {
    const storage = memoryStorage();
    const keys = DeviceKeys.fresh({ workspaceId: 'ws-1', epoch: 2, rootKeys: new Map([[1, rk(1)], [2, rk(2)]]) });
    saveDeviceKeys(storage, keys);
    const back = loadDeviceKeys(storage, 'ws-1')!;
    expect(back.epoch).toBe(2);
    expect(back.deviceId).toEqual(keys.deviceId);
    expect(back.run).toBe(0);
    expect(back.tagOf('workspace')).toBe(keys.tagOf('workspace'));
    expect(back.docKey(2, keys.tagOf('body/a.md'))).toEqual(keys.docKey(2, keys.tagOf('body/a.md')));
    expect(back.docKey(3, keys.tagOf('workspace'))).toBeUndefined();
  });

  it('draws a different device id for every fresh unlock', () => {
    const a = DeviceKeys.fresh({ workspaceId: 'w', epoch: 1, rootKeys: new Map([[1, rk(1)]]) });
    const b = DeviceKeys.fresh({ workspaceId: 'w', epoch: 1, rootKeys: new Map([[1, rk(1)]]) });
    expect(a.deviceId).not.toEqual(b.deviceId);
  });

  it('stores the next run before returning it', () => {
    const storage = memoryStorage();
    const keys = DeviceKeys.fresh({ workspaceId: 'w', epoch: 1, rootKeys: new Map([[1, rk(1)]]) });
    const r1 = startRun(storage, keys);
    expect(r1.run).toBe(1);
    expect(loadDeviceKeys(storage, 'w')!.run).toBe(1);
    expect(startRun(storage, r1).run).toBe(2);
  });

  it('a refused write leaves the stored run as it was', () => {
    const storage = memoryStorage();
    const keys = startRun(storage, DeviceKeys.fresh({ workspaceId: 'w', epoch: 1, rootKeys: new Map([[1, rk(1)]]) }));
    const refusing: KeyStorage = { storageGet: storage.storageGet, storageSet: () => { throw new Error('quota'); } };
    expect(() => startRun(refusing, keys)).toThrow('quota');
    expect(loadDeviceKeys(storage, 'w')!.run).toBe(1);
  });

  it('lock forgets the keys but keeps the workspace known as encrypted; forget clears both', () => {
    const storage = memoryStorage();
    expect(encryptionState(storage, 'w')).toBe('plain');
    saveDeviceKeys(storage, DeviceKeys.fresh({ workspaceId: 'w', epoch: 1, rootKeys: new Map([[1, rk(1)]]) }));
    expect(encryptionState(storage, 'w')).toBe('unlocked');
    lockDeviceKeys(storage, 'w');
    expect(encryptionState(storage, 'w')).toBe('locked');
    expect(loadDeviceKeys(storage, 'w')).toBeNull();
    expect(new TextDecoder().decode(storage.map.get(keyStorageKey('w')))).not.toMatch(/keys|device/);
    forgetDeviceKeys(storage, 'w');
    expect(encryptionState(storage, 'w')).toBe('plain');
  });

  it.each([
    ['not JSON', 'nope'],
    ['wrong version', '{"v":2}'],
    ['epoch missing its key', '{"v":1,"epoch":2,"keys":{"1":"' + encodeBase64(rk(1)) + '"},"device":"' + '00'.repeat(16) + '","run":0}'],
    ['short key', '{"v":1,"epoch":1,"keys":{"1":"AAAA"},"device":"' + '00'.repeat(16) + '","run":0}'],
    ['bad device', '{"v":1,"epoch":1,"keys":{"1":"' + encodeBase64(rk(1)) + '"},"device":"xy","run":0}'],
    ['negative run', '{"v":1,"epoch":1,"keys":{"1":"' + encodeBase64(rk(1)) + '"},"device":"' + '00'.repeat(16) + '","run":-1}'],
  ])('an unreadable value (%s) is a KeyStoreError naming the workspace', (_what, text) => {
    const storage = memoryStorage();
    storage.map.set(keyStorageKey('w'), new TextEncoder().encode(text));
    expect(() => loadDeviceKeys(storage, 'w')).toThrow(KeyStoreError);
    expect(() => loadDeviceKeys(storage, 'w')).toThrow(/workspace w/);
  });
});
