import { describe, expect, it } from 'vitest';
import { toHex } from '../../../common/src/e2ee/bytes';
import { sealEnvelope } from '../../../common/src/e2ee/envelope';
import { DocState } from './doc-state';
import { emptyOutcome, EnvelopeReader } from './envelope-reader';
import { DeviceKeys } from './key-store';
import { encodeSnapshotPayload } from './snapshot-payload';

const WS = 'ws-r';
const keys = DeviceKeys.fresh({ workspaceId: WS, epoch: 1, rootKeys: new Map([[1, new Uint8Array(32).fill(1)]]) });
const other = new Uint8Array(16).fill(0x42);
const TAG = keys.tagOf('body/a.md');

function update(ctr: number, run = 1, device: Uint8Array = other, epoch = 1): Uint8Array {
  const key = epoch === 1 ? keys.docKey(1, TAG)! : new Uint8Array(32);
  return sealEnvelope(key, { workspaceId: WS, docTag: TAG }, { kind: 'update', epoch, deviceId: device, run, ctr }, Uint8Array.of(ctr));
}

function snapshot(coversSeq: number, writers: { device: string; run: number; ctr: number; seq: number }[]): Uint8Array {
  return sealEnvelope(keys.docKey(1, TAG)!, { workspaceId: WS, docTag: TAG }, {
    kind: 'snapshot', epoch: 1, deviceId: other, run: 1, ctr: 0,
    snapshot: { snapId: new Uint8Array(16).fill(coversSeq), prevSnapId: new Uint8Array(16), coversSeq },
  }, encodeSnapshotPayload({ writers, update: Uint8Array.of(0, 0) }));
}

const reader = new EnvelopeReader(() => keys, () => {});

describe('envelope reader', () => {
  it('applies in order, reports a gap (still applied); a late counter fills it; a replay is reported (its update applied again, a no-op)', () => {
    const state = new DocState();
    const out = emptyOutcome();
    reader.envelopes(TAG, state, [{ seq: 1, env: update(1) }, { seq: 2, env: update(3) }, { seq: 3, env: update(2) }, { seq: 4, env: update(1) }], out);
    // Counter 2 came after 3 (the server refused its first append and took the next): applied, not a replay.
    expect(out.updates.map((u) => u[0])).toEqual([1, 3, 2, 1]);
    expect(out.errors).toEqual([`Missing envelopes from ${toHex(other)}`, `Replayed envelope ignored: ${TAG}`]);
    expect(state.cursor).toBe(4);
    expect(state.writers.get(other, 1)).toEqual({ device: toHex(other), run: 1, ctr: 3, seq: 2 });
  });

  it('this device\u2019s own envelopes coming back are applied again without a report (a doc made again here lacks them)', () => {
    const state = new DocState();
    state.writers.record(keys.deviceId, 4, 1, 1);
    const out = emptyOutcome();
    reader.envelopes(TAG, state, [{ seq: 1, env: update(1, 4, keys.deviceId) }], out);
    expect(out).toEqual({ updates: [Uint8Array.of(1)], errors: [], rollback: false, waiting: false });
    expect(state.cursor).toBe(1);
  });

  it('rejects a changed byte (cursor moves past it) and stops before an unknown epoch', () => {
    const state = new DocState();
    const bad = update(1);
    bad[bad.length - 1] ^= 1;
    const out = emptyOutcome();
    reader.envelopes(TAG, state, [{ seq: 1, env: bad }, { seq: 2, env: update(2, 1, other, 9) }, { seq: 3, env: update(3) }], out);
    expect(out.errors).toEqual([`Envelope rejected: ${TAG}`, 'Missing key for epoch 9']);
    expect(out.updates).toEqual([]);
    expect(out.waiting).toBe(true);
    expect(state.cursor).toBe(1);
  });

  it('takes a snapshot covering what it holds; one dropping a held entry, or a lower head, is a rollback', () => {
    const state = new DocState();
    const out = emptyOutcome();
    reader.envelopes(TAG, state, [{ seq: 1, env: update(1) }, { seq: 2, env: update(2) }], out);
    const good = emptyOutcome();
    reader.snapshot(TAG, state, 2, snapshot(2, [{ device: toHex(other), run: 1, ctr: 2, seq: 2 }]), good);
    expect(good.rollback).toBe(false);
    expect(state.snapSeq).toBe(2);

    const later = new DocState();
    reader.envelopes(TAG, later, [{ seq: 1, env: update(1) }, { seq: 2, env: update(2) }], emptyOutcome());
    const dropped = emptyOutcome();
    reader.snapshot(TAG, later, 3, snapshot(3, [{ device: toHex(other), run: 1, ctr: 1, seq: 1 }]), dropped);
    expect(dropped.rollback).toBe(true);
    expect(dropped.errors).toEqual([`Rollback detected: ${TAG}`]);

    const head = emptyOutcome();
    reader.checkHead(TAG, later, 1, head);
    expect(head.rollback).toBe(true);
    expect(later.cursor).toBe(1);
  });
});
