/**
 * End-to-end encryption: the passphrase KDF with the default parameters
 * (argon2id m=19456 KiB t=2 p=1, and scrypt N=2^15 r=8 p=1) and envelope seal
 * and open (1 KiB update, 1 MiB snapshot) inside the plugin through
 * `E2eeSelfTest`, next to the same code in V8. The KDF runs once per engine
 * (tens of seconds inside the plugin); --quick measures the default engine only.
 * Attachment blobs are sealed and opened by the host (README, "Attachments of
 * an encrypted workspace"): a 20 MiB file in V8 only.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptAttachment, encryptAttachment } from '../../common/src/e2ee/attachment-blob';
import { deriveKek, ARGON2ID_DEFAULT, SCRYPT_DEFAULT } from '../../common/src/e2ee/kdf';
import { FIXTURE } from '../../common/src/e2ee/known-answers';
import { measureEnvelopes, type EnvelopeTimings } from '../../common/src/e2ee/measure';
import type { SelfTestReport } from '../../common/src/e2ee/self-test';
import { DEFAULT_ENGINE, ENGINES, type EngineName } from '../../host-harness/src/engines/engine';
import { openWorkspaceHost, type WorkspaceHost } from '../../host-harness/src/workspace-host';
import { row, type Row, type Suite } from '../lib';

const SUITE = 'e2ee';

type Report = SelfTestReport & { envelopes: EnvelopeTimings | null };

async function selfTest(ws: WorkspaceHost, params: Record<string, unknown>): Promise<Report> {
  const res = await ws.plugin.command('E2eeSelfTest', params);
  if (!res.success) throw new Error(`E2eeSelfTest ${JSON.stringify(params)} failed: ${res.error}`);
  const report = res.data as Report;
  const failed = report.checks.filter((c) => !c.pass).map((c) => c.name);
  if (failed.length > 0) throw new Error(`E2eeSelfTest failed inside the plugin: ${failed.join(', ')}`);
  return report;
}

function v8Kdf(alg: 'argon2id' | 'scrypt'): number {
  const t0 = performance.now();
  deriveKek(FIXTURE.passphrase, FIXTURE.salt, alg === 'argon2id' ? ARGON2ID_DEFAULT : SCRYPT_DEFAULT);
  return performance.now() - t0;
}

/** Seal and open of one attachment in V8 (the host's work), best of `runs`. */
function hostAttachment(bytes: number, runs: number): { seal: number; open: number } {
  const key = randomBytes(32);
  const file = randomBytes(bytes);
  let seal = Infinity;
  let open = Infinity;
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const { blob, ref } = encryptAttachment(key, 1, file);
    seal = Math.min(seal, performance.now() - t0);
    t0 = performance.now();
    decryptAttachment(key, ref, blob);
    open = Math.min(open, performance.now() - t0);
  }
  return { seal, open };
}

const suite: Suite = async (ctx) => {
  const rows: Row[] = [];
  ctx.log('host: attachment blobs');
  const attachment = hostAttachment(20 * 1024 * 1024, Math.min(ctx.runs, 3));
  for (const [label, ms] of [['seal', attachment.seal], ['open', attachment.open]] as const) {
    rows.push(row(SUITE, `host: ${label} a 20 MiB attachment (DXA1, in V8)`, 'ms', null, ms, { runs: Math.min(ctx.runs, 3), notes: 'best run; the host seals attachments, not the plugin' }));
  }
  const engines: readonly EngineName[] = ctx.quick ? [DEFAULT_ENGINE] : ENGINES;
  const v8Envelopes = measureEnvelopes(() => performance.now(), ctx.runs);
  const v8Kdfs = { argon2id: v8Kdf('argon2id'), scrypt: v8Kdf('scrypt') };
  const load = os.loadavg()[0].toFixed(1);
  for (const engine of engines) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-bench-e2ee-'));
    const ws = await openWorkspaceHost({ dir, plugin: { engine } });
    try {
      ctx.log(`${engine}: envelopes`);
      const env = (await selfTest(ws, { measure: ctx.runs })).envelopes!;
      const cases: [keyof EnvelopeTimings, string][] = [
        ['seal_update_1k_ms', 'seal a 1 KiB update'],
        ['open_update_1k_ms', 'open a 1 KiB update'],
        ['seal_snapshot_1m_ms', 'seal a 1 MiB snapshot (1 MiB bucket)'],
        ['open_snapshot_1m_ms', 'open a 1 MiB snapshot (1 MiB bucket)'],
      ];
      for (const [key, label] of cases) {
        rows.push(row(SUITE, `engine ${engine}: ${label}, inside the plugin`, 'ms', env[key], v8Envelopes[key], { runs: ctx.runs, notes: key.includes('update') ? 'per envelope, batches of 100 (the plugin clock has 1 ms resolution)' : 'payload 1 MiB - 4 bytes: with its length it fills the 1 MiB bucket' }));
      }
      for (const alg of ['argon2id', 'scrypt'] as const) {
        ctx.log(`${engine}: KDF ${alg}`);
        const report = await selfTest(ws, { kdf: alg });
        const p = report.kdf!.params;
        const params = p.alg === 'argon2id' ? `m=${p.m} KiB t=${p.t} p=${p.p}` : `N=2^${p.log2n} r=${p.r} p=${p.p}`;
        rows.push(
          row(SUITE, `engine ${engine}: KDF ${alg} ${params}, inside the plugin`, 'ms', report.kdf!.ms, v8Kdfs[alg], {
            runs: 1,
            target: '< 30 s on the slowest host (README, End-to-end encryption)',
            notes: `load average ${load} when the suite started`,
          }),
        );
      }
    } finally {
      await ws.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
};

export default suite;
