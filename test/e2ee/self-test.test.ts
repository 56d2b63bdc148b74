/**
 * The end-to-end encryption primitives inside the built plugin: `E2eeSelfTest`
 * on the engine DIARYX_ENGINE names (vitest.config.ts runs this file on every
 * engine) and under each host family. The known answers must be the bytes
 * Node computes from the same vectors, and two instances of the one
 * pre-initialised module must draw different nonces (100,000 each, none
 * repeated).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../common/src/base64';
import { KNOWN_ANSWERS } from '../../common/src/e2ee/known-answers';
import { runSelfTest, type SelfTestReport } from '../../common/src/e2ee/self-test';
import { engineFromEnv } from '../../host-harness/src/engines/engine';
import type { HostFamily } from '../../host-harness/src/host-functions';
import { openWorkspaceHost, type WorkspaceHost } from '../../host-harness/src/workspace-host';
import { PLUGIN_WASM } from '../helpers/paths';

const ENGINE = engineFromEnv();
const FAMILIES: HostFamily[] = ['current', 'web', 'desktop'];
const open: { ws: WorkspaceHost; dir: string }[] = [];

afterEach(async () => {
  for (const { ws, dir } of open.splice(0)) {
    await ws.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function plugin(family: HostFamily = 'current'): Promise<WorkspaceHost> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-e2ee-'));
  const ws = await openWorkspaceHost({ wasm: PLUGIN_WASM, dir, family, recordCalls: true });
  open.push({ ws, dir });
  return ws;
}

async function selfTest(ws: WorkspaceHost, params: Record<string, unknown>): Promise<SelfTestReport> {
  const res = await ws.plugin.command('E2eeSelfTest', params);
  expect(res.success, String(res.error)).toBe(true);
  return res.data as SelfTestReport;
}

const NONCES = 100_000;

describe(`E2eeSelfTest inside the plugin on ${ENGINE}`, () => {
  it.each(FAMILIES)('passes every check with the bytes Node computes (host family %s), before init and without host calls', async (family) => {
    const ws = await plugin(family);
    const report = await selfTest(ws, {});
    expect(report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(report.passed).toBe(true);
    // The same checks as in Node, in the same order, and every known answer's bytes as published.
    expect(report.checks.map((c) => c.name)).toEqual(runSelfTest().checks.map((c) => c.name));
    for (const k of KNOWN_ANSWERS) expect(report.checks.find((c) => c.name === k.name)?.output, k.name).toBe(k.expected);
    expect(report.kdf).toBeNull();
    expect(ws.calls.filter((c) => c.name !== 'host_log')).toEqual([]);
  });

  it('draws different nonces in two instances of one pre-initialised module, none repeated in 100,000 each', async () => {
    const a = await selfTest(await plugin(), { nonces: NONCES });
    const b = await selfTest(await plugin(), { nonces: NONCES });
    const seen = new Set<string>();
    for (const report of [a, b]) {
      expect(report.passed).toBe(true);
      const bytes = decodeBase64(report.nonces!);
      expect(bytes.length).toBe(NONCES * 24);
      for (let i = 0; i < NONCES; i++) seen.add(Buffer.from(bytes.subarray(i * 24, i * 24 + 24)).toString('hex'));
    }
    expect(seen.size).toBe(2 * NONCES);
  });

  it('refuses bad parameters with a clear error', async () => {
    const ws = await plugin();
    for (const [params, message] of [
      [{ kdf: 'pbkdf2' }, 'Invalid parameter kdf: expected "argon2id" or "scrypt", got "pbkdf2"'],
      [{ nonces: 0 }, 'E2eeSelfTest: nonces 0: expected an integer from 1 to 100000'],
      [{ nonces: 'many' }, 'Invalid parameter nonces: expected a number'],
      [{ measure: 50 }, 'Invalid parameter measure: expected an integer from 1 to 20, got 50'],
      [{ nonce: 5 }, 'Invalid parameter nonce: E2eeSelfTest takes kdf, nonces, measure'],
      [7, 'Invalid parameters: expected a JSON object, got number'],
    ] as const) {
      const res = await ws.plugin.command('E2eeSelfTest', params);
      expect(res).toMatchObject({ success: false, error: message });
    }
  });

  it('is listed in the manifest', async () => {
    const ws = await plugin();
    const manifest = JSON.parse(await ws.plugin.callText('manifest', '')) as { commands: string[] };
    expect(manifest.commands).toContain('E2eeSelfTest');
  });
});
