import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../common/src/base64';
import { HostBridge } from './host/bridge';
import { LargeValueStore, PART_BYTES } from './large-values';

/** Plugin storage in a map behind the host-function JSON; `failOn` refuses writes to matching keys. */
function storage() {
  const values = new Map<string, Uint8Array>();
  let failOn: RegExp | null = null;
  const host = new HostBridge((name, input) => {
    const req = JSON.parse(input) as { key: string; data?: string };
    if (name === 'host_storage_get') {
      const v = values.get(req.key);
      return v ? JSON.stringify({ data: encodeBase64(v) }) : '';
    }
    if (name === 'host_storage_set') {
      if (failOn?.test(req.key)) return 'Storage quota exceeded';
      const bytes = decodeBase64(req.data ?? '');
      if (bytes.length === 0) values.delete(req.key);
      else values.set(req.key, bytes);
      return '';
    }
    throw new Error(`unexpected ${name}`);
  });
  return { host, values, failWrites: (re: RegExp | null) => (failOn = re) };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('LargeValueStore', () => {
  it('stores a small value as is, under its own key', () => {
    const { host, values } = storage();
    new LargeValueStore(host).write('workspace_crdt', bytes(1000, 1));
    expect([...values.keys()]).toEqual(['workspace_crdt']);
    expect(new LargeValueStore(host).read('workspace_crdt')).toEqual(bytes(1000, 1));
  });

  it('splits a large value into parts no larger than PART_BYTES and joins them back in a new instance', () => {
    const { host, values } = storage();
    const big = bytes(PART_BYTES * 2 + 123, 2);
    new LargeValueStore(host).write('workspace_crdt', big);
    expect([...values.keys()].sort()).toEqual(['workspace_crdt', 'workspace_crdt:part:0.0', 'workspace_crdt:part:0.1', 'workspace_crdt:part:0.2']);
    for (const v of values.values()) expect(v.length).toBeLessThanOrEqual(PART_BYTES);
    expect(new LargeValueStore(host).read('workspace_crdt')).toEqual(big);
  });

  it('a new generation replaces the parts of the previous one; a small value removes them all', () => {
    const { host, values } = storage();
    const store = new LargeValueStore(host);
    store.write('k', bytes(PART_BYTES + 1, 3));
    store.write('k', bytes(PART_BYTES * 3, 4));
    expect([...values.keys()].sort()).toEqual(['k', 'k:part:1.0', 'k:part:1.1', 'k:part:1.2']);
    expect(store.read('k')).toEqual(bytes(PART_BYTES * 3, 4));
    const reopened = new LargeValueStore(host);
    reopened.read('k');
    reopened.write('k', bytes(10, 5));
    expect([...values.keys()]).toEqual(['k']);
    expect(reopened.read('k')).toEqual(bytes(10, 5));
  });

  it('a refused write keeps the previous state readable (parts first, header last)', () => {
    const { host, failWrites } = storage();
    const store = new LargeValueStore(host);
    store.write('k', bytes(PART_BYTES + 5, 6));
    failWrites(/^k:part:1\.1$/);
    expect(() => store.write('k', bytes(PART_BYTES * 2 + 5, 7))).toThrow(/quota/);
    expect(new LargeValueStore(host).read('k')).toEqual(bytes(PART_BYTES + 5, 6));
    failWrites(/^k$/);
    expect(() => store.write('k', bytes(PART_BYTES * 2 + 5, 8))).toThrow(/quota/);
    expect(new LargeValueStore(host).read('k')).toEqual(bytes(PART_BYTES + 5, 6));
  });

  it('a missing part is an error, not a shorter value', () => {
    const { host, values } = storage();
    new LargeValueStore(host).write('k', bytes(PART_BYTES * 2, 9));
    values.delete('k:part:0.1');
    expect(() => new LargeValueStore(host).read('k')).toThrow(/part 1 of 2 is missing/);
  });
});
