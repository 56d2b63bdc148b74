import { describe, expect, it } from 'vitest';
import { e2eeDocId, encodeE2eeMessage } from '../../../common/src/e2ee/frames';
import { encodeFrame } from '../../../common/src/wire/frame';
import { BatchAssembly, decodeIncoming, serverErrorText, type Batch } from './incoming';

const env = (n: number) => Uint8Array.of(n);
const TAG = 'A'.repeat(22);

describe('incoming frames', () => {
  it('decodes frames of this workspace only', () => {
    const frame = encodeFrame(e2eeDocId('w', TAG), encodeE2eeMessage({ type: 'relay', seq: 3, env: env(1) }));
    expect(decodeIncoming(frame, 'w')).toEqual({ tag: TAG, msg: { type: 'relay', seq: 3, env: env(1) } });
    expect(typeof decodeIncoming(frame, 'other')).toBe('string');
    expect(typeof decodeIncoming(encodeFrame('workspace:w', Uint8Array.of(0, 1, 0)), 'w')).toBe('string');
    expect(typeof decodeIncoming(Uint8Array.of(200), 'w')).toBe('string');
  });

  it('reads server error texts, nothing else', () => {
    expect(serverErrorText('{"type":"error","doc_id":"x","message":"no"}')).toBe('no');
    expect(serverErrorText('{"type":"sync_complete"}')).toBeNull();
    expect(serverErrorText('not json')).toBeNull();
  });

  it('puts split Batches back together; a later part with a snapshot replaces the earlier ones', () => {
    const a = new BatchAssembly();
    const part = (more: boolean, seqs: number[], snapSeq?: number): Batch => ({
      type: 'batch',
      head: 9,
      more,
      snapshot: snapSeq === undefined ? null : { snapSeq, env: env(snapSeq) },
      envelopes: seqs.map((seq) => ({ seq, env: env(seq) })),
    });
    expect(a.add('d', part(true, [], 2))).toEqual({ nextAfter: 2 });
    expect(a.add('d', part(true, [3, 4]))).toEqual({ nextAfter: 4 });
    expect(a.add('d', part(false, [5]))).toEqual({ whole: part(false, [3, 4, 5], 2) });
    expect(a.add('d', part(true, [1, 2]))).toEqual({ nextAfter: 2 });
    expect(a.add('d', part(false, [7], 6))).toEqual({ whole: part(false, [7], 6) });
  });
});
