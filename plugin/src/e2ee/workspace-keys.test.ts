import { describe, expect, it } from 'vitest';
import type { KeyDerivationOperation } from '../events';
import { lockDeviceKeys } from './key-store';
import { deviceEncryption, kdfProgress } from './workspace-keys';

function memoryStorage(): { storageGet(key: string): Uint8Array | null; storageSet(key: string, data: Uint8Array): void; values: Map<string, Uint8Array> } {
  const values = new Map<string, Uint8Array>();
  return {
    values,
    storageGet: (key) => values.get(key) ?? null,
    storageSet: (key, data) => {
      if (data.length === 0) values.delete(key);
      else values.set(key, data);
    },
  };
}

describe('kdfProgress', () => {
  it('turns the thousands of KDF callbacks into 0, every 10 %, and 100', () => {
    const seen: [KeyDerivationOperation, number, number][] = [];
    const onProgress = kdfProgress({ keyDerivationProgress: (op, completed, total) => seen.push([op, completed, total]) }, 'unlock');
    for (let i = 1; i <= 10_000; i++) onProgress(i / 10_000);
    expect(seen.map(([, completed]) => completed)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(seen.every(([op, , total]) => op === 'unlock' && total === 100)).toBe(true);
  });

  it('reports 100 once, and steps it skipped are not made up', () => {
    const seen: number[] = [];
    const onProgress = kdfProgress({ keyDerivationProgress: (_op, completed) => seen.push(completed) }, 'change');
    onProgress(0.37);
    onProgress(1);
    onProgress(1);
    expect(seen).toEqual([0, 30, 100]);
  });
});

describe('deviceEncryption', () => {
  it('plain without a workspace or a value, locked for the marker and for a value that does not read', () => {
    const storage = memoryStorage();
    expect(deviceEncryption(storage, null)).toBe('plain');
    expect(deviceEncryption(storage, ' ')).toBe('plain');
    expect(deviceEncryption(storage, 'w')).toBe('plain');
    lockDeviceKeys(storage, 'w');
    expect(deviceEncryption(storage, 'w')).toBe('locked');
    storage.storageSet('e2ee:w', new TextEncoder().encode('{"v":9}'));
    expect(deviceEncryption(storage, 'w')).toBe('locked');
  });
});
