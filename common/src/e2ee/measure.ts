/**
 * Times of the envelope operations on whatever engine runs this code (the
 * plugin's QuickJS through `E2eeSelfTest`, or V8 in the benchmark), so the
 * two are measured by the same code: seal and open of a 1 KiB update and of a
 * 1 MiB snapshot, the median of `runs`.
 */
import { openEnvelope, sealEnvelope, type EnvelopeContext } from './envelope';
import type { EnvelopeHeader } from './envelope-header';
import { docKey, docTag, nameKey } from './keys';

export interface EnvelopeTimings {
  runs: number;
  seal_update_1k_ms: number;
  open_update_1k_ms: number;
  seal_snapshot_1m_ms: number;
  open_snapshot_1m_ms: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function measureEnvelopes(now: () => number, runs = 3): EnvelopeTimings {
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new RangeError(`runs ${runs}: expected an integer from 1 to 20`);
  const rootKey = new Uint8Array(32).fill(1);
  const workspaceId = 'measure';
  const ctx: EnvelopeContext = { workspaceId, docTag: docTag(nameKey(rootKey, workspaceId), 'workspace') };
  const key = docKey(rootKey, workspaceId, ctx.docTag);
  const deviceId = new Uint8Array(16).fill(2);
  const update: EnvelopeHeader = { kind: 'update', epoch: 1, deviceId, run: 1, ctr: 1 };
  const snapshot: EnvelopeHeader = { kind: 'snapshot', epoch: 1, deviceId, run: 1, ctr: 0, snapshot: { snapId: deviceId, prevSnapId: new Uint8Array(16), coversSeq: 1 } };
  // A 1 MiB snapshot payload pads to the 2 MiB bucket; 1 MiB - 4 fills the 1 MiB one.
  const cases: [EnvelopeHeader, number, keyof EnvelopeTimings, keyof EnvelopeTimings][] = [
    [update, 1024, 'seal_update_1k_ms', 'open_update_1k_ms'],
    [snapshot, (1 << 20) - 4, 'seal_snapshot_1m_ms', 'open_snapshot_1m_ms'],
  ];
  const out: EnvelopeTimings = { runs, seal_update_1k_ms: 0, open_update_1k_ms: 0, seal_snapshot_1m_ms: 0, open_snapshot_1m_ms: 0 };
  for (const [header, size, sealName, openName] of cases) {
    const payload = Uint8Array.from({ length: size }, (_, i) => i & 255);
    // Small envelopes in batches: the plugin's clock ticks in whole milliseconds.
    const batch = size < 65536 ? 100 : 1;
    const seals: number[] = [];
    const opens: number[] = [];
    // One untimed round first, so V8 times optimised code, not its warm-up.
    for (let r = -1; r < runs; r++) {
      let sealed: Uint8Array = new Uint8Array(0);
      let t = now();
      for (let b = 0; b < batch; b++) sealed = sealEnvelope(key, ctx, header, payload);
      const sealMs = (now() - t) / batch;
      let opened = 0;
      t = now();
      for (let b = 0; b < batch; b++) opened = openEnvelope(sealed, ctx, () => key).payload.length;
      const openMs = (now() - t) / batch;
      if (opened !== size) throw new Error(`measure: ${size}-byte payload opened as ${opened} bytes`);
      if (r >= 0) {
        seals.push(sealMs);
        opens.push(openMs);
      }
    }
    out[sealName] = median(seals);
    out[openName] = median(opens);
  }
  return out;
}
