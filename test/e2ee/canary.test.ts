/**
 * The canary test (spec e2ee.md 9.1). Two `diaryx-sync sync --once` devices
 * sync a workspace full of random canaries through a recording proxy in
 * front of a real server process on SQLite (canary-scenario.ts); then every
 * frame and HTTP message, the server's log, its data folder and every table
 * row are searched for each canary in every encoding leak-scanner.ts knows.
 *
 * - Plain workspace: the positive control. Every canary must be found, and
 *   through each capture path (frames both ways, HTTP bodies, database file,
 *   table rows, attachment blobs): a scanner or capture that cannot see is a
 *   test that cannot fail.
 * - Encrypted workspace: zero hits, for the canaries, the passphrase, the
 *   field name `part_of`, and every key (root keys, K_name, K_doc, K_att,
 *   attachment file keys, the KEK).
 *
 * One run each, on the default engine only (this file is not in the
 * per-engine list of vitest.config.ts): what reaches the server is the
 * plugin's own bytes, which no engine or host family changes, and the
 * encrypted run pays the passphrase KDF inside the plugin (15-30 s) on each
 * device.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp } from '../e2e/helpers';
import { buildNeedles, describeHits, scan, type Hit } from '../helpers/leak-scanner';
import { makeCanaries, passphraseFile, runCanaryScenario, scenarioPaths, type Canaries, type SyncMode } from './canary-scenario';
import { deviceKeys, keyEncryptionKey, storedKeyRecord } from './canary-secrets';

afterAll(() => cleanupTemp());

/**
 * The `sync` options of an encrypted workspace, as the CLI takes them:
 * `--encrypt --passphrase-file F` on device A's first run creates the
 * encrypted workspace; `--passphrase-file F` unlocks it on a joining device
 * (and is given again on later runs, where the device already holds the
 * keys). The passphrase file holds the passphrase and a line end, as `echo`
 * writes it.
 */
export function encryptedSyncArgs(mode: SyncMode, first: boolean): string[] {
  if (!mode.encrypted) return [];
  return [...(first ? ['--encrypt'] : []), '--passphrase-file', mode.passphraseFile];
}

/** The canaries that travel with the workspace (all but the passphrase, which only an encrypted run uses). */
function contentCanaries(c: Canaries): Record<string, string> {
  const { passphrase: _, ...content } = c;
  return content;
}

const found = (hits: Hit[], label: string, source: RegExp) => hits.some((h) => h.label === label && source.test(h.source));

describe('canaries', () => {
  it('a plain workspace: every canary is found, through every capture path (the positive control)', async () => {
    const canaries = makeCanaries();
    const mode: SyncMode = { encrypted: false };
    const run = await runCanaryScenario({ canaries, timeoutSeconds: 60, extraArgs: (device, first) => encryptedSyncArgs(mode, device === 'A' && first) });
    const hits = scan(run.sources, buildNeedles({ strings: contentCanaries(canaries), fields: ['part_of'] }));

    const missing = [...Object.keys(contentCanaries(canaries)), 'field part_of'].filter((label) => !hits.some((h) => h.label === label));
    expect(missing, `canaries not found:\n${describeHits(hits)}`).toEqual([]);
    // A device's upload, unmasked from its WebSocket frames; the download to the other device.
    expect(found(hits, 'body', /to server ws message/)).toBe(true);
    expect(found(hits, 'edit', /to server ws message/)).toBe(true);
    expect(found(hits, 'body', /to client (ws message|#\d+ .*\(body)/)).toBe(true);
    // The attachment's upload (an HTTP body) and its blob file.
    expect(found(hits, 'attachmentBytes', /to server #\d+ .*\(body\)/)).toBe(true);
    expect(found(hits, 'attachmentBytes', /^data \(stopped\)\/attachments\//)).toBe(true);
    // The database: its files while the server runs and after it stopped, and its rows.
    expect(found(hits, 'frontMatterValue', /^data \(live\)\/diaryx-sync\.db/)).toBe(true);
    expect(found(hits, 'frontMatterValue', /^data \(stopped\)\/diaryx-sync\.db$/)).toBe(true);
    expect(found(hits, 'file', /^sqlite \(stopped\) /)).toBe(true);
    // The log (a plain workspace's doc ids name its files).
    expect(found(hits, 'file', /^server std(err|out)$/)).toBe(true);
    // The server's text messages carry the file tree in base64: UTF-8 alone would miss those copies.
    expect(hits.some((h) => h.label === 'frontMatterValue' && h.encoding.startsWith('base64@') && /to client ws message .*\(text\)/.test(h.source))).toBe(true);
    expect(run.connections).toBeGreaterThanOrEqual(4);
  }, 180_000);

  // Skipped until the encrypted sync engine and the CLI's --encrypt / --passphrase-file are in this
  // branch: remove `.skip` to run it.
  it.skip('an encrypted workspace: no canary, passphrase, field name or key reaches the server', async () => {
    const canaries = makeCanaries();
    const mode: SyncMode = { encrypted: true, passphraseFile: passphraseFile(canaries.passphrase) };
    const run = await runCanaryScenario({ canaries, timeoutSeconds: 150, extraArgs: (device, first) => encryptedSyncArgs(mode, device === 'A' && first) });

    // It really ran encrypted: the server holds a key record, the devices hold keys, frames use e2e: doc ids.
    const record = storedKeyRecord(run.dataDir, run.workspaceId);
    expect(record, 'the server holds no key record: the workspace was synced plain').not.toBeNull();
    expect(run.sources.some((s) => /to server ws message/.test(s.name) && Buffer.from(s.bytes).includes(`e2e:${run.workspaceId}`))).toBe(true);
    const paths = scenarioPaths(canaries);
    const attachment = { [paths.attachment]: Buffer.from(`attachment ${canaries.attachmentBytes}\n`) };
    const keys = {
      ...prefixed('A', deviceKeys(run.dirA, run.workspaceId, [paths.index, paths.entry], attachment)),
      ...prefixed('B', deviceKeys(run.dirB, run.workspaceId, [paths.index, paths.entry], attachment)),
      KEK: keyEncryptionKey(record!, canaries.passphrase),
    };

    const hits = scan(run.sources, buildNeedles({ strings: { ...canaries }, fields: ['part_of'], keys }));
    expect(hits, `found at the server:\n${describeHits(hits)}`).toEqual([]);
  }, 600_000);
});

function prefixed(device: string, keys: Record<string, Uint8Array>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(keys).map(([k, v]) => [`${device} ${k}`, v]));
}
