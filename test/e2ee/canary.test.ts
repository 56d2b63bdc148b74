/**
 * The canary test (spec e2ee.md 9.1). Two `diaryx-sync sync --once` devices
 * sync a workspace full of random canaries through recording proxies in
 * front of real server processes, on SQLite and on two Postgres nodes
 * (canary-scenario.ts, canary-deployments.ts); then every frame and HTTP
 * message, the servers' logs, their data folders, database files, table
 * rows and dump are searched for each canary in every encoding
 * leak-scanner.ts knows.
 *
 * - Plain workspace: the positive control. Every canary must be found, and
 *   through each capture path (frames both ways, HTTP bodies, database file,
 *   table rows, attachment blobs): a scanner or capture that cannot see is a
 *   test that cannot fail.
 * - Encrypted workspace: zero hits, for the canaries, the passphrase, the
 *   field name `part_of`, and every key (root keys, K_name, K_doc, K_att,
 *   attachment file keys, the KEK).
 *
 * One run per backend and mode, on the default engine only (this file is
 * not in the per-engine list of vitest.config.ts) and the CLI's one host:
 * what reaches the server is the plugin's own bytes, the same on every
 * engine, and each encrypted run pays the passphrase KDF inside the
 * plugin (15-30 s) on both devices. Both backends run encrypted too: the
 * relay between nodes, Postgres's storage, dump and log are paths of their
 * own.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp } from '../e2e/helpers';
import { buildNeedles, describeHits, scan } from '../helpers/leak-scanner';
import type { Backend } from './canary-deployments';
import { makeCanaries, passphraseFile, runCanaryScenario, scenarioPaths, type Canaries, type SyncMode } from './canary-scenario';
import { deviceKeys, keyEncryptionKey } from './canary-secrets';

afterAll(() => cleanupTemp());

/** The canaries that travel with the workspace (all but the passphrase, which only an encrypted run uses). */
function contentCanaries(c: Canaries): Record<string, string> {
  const { passphrase: _, ...content } = c;
  return content;
}

/** Where a plain run must show a canary, per capture path: [canary, source pattern, the path it proves]. */
const PATHS: Record<Backend, [keyof Canaries, RegExp, string][]> = {
  sqlite: [
    ['body', /^conn \d+ to server ws message/, "a device's upload, unmasked from its WebSocket frames"],
    ['edit', /^conn \d+ to server ws message/, "the second device's upload"],
    ['body', /^conn \d+ to client (ws message|#\d+ .*\(body)/, 'the download to the other device'],
    ['attachmentBytes', /^conn \d+ to server #\d+ .*\(body\)/, 'the attachment upload, an HTTP body'],
    ['attachmentBytes', /^data \(stopped\)\/attachments\//, 'the attachment blob file'],
    ['frontMatterValue', /^data \(live\)\/diaryx-sync\.db/, 'the database files while the server runs'],
    ['frontMatterValue', /^data \(stopped\)\/diaryx-sync\.db$/, 'the database file after it stopped'],
    ['file', /^sqlite \(stopped\) /, 'the table rows'],
    ['file', /^server std(err|out)$/, "the log (a plain workspace's doc ids name its files)"],
  ],
  postgres: [
    ['body', /^node 1 conn \d+ to server ws message/, "device A's upload to node 1"],
    ['body', /^node 2 conn \d+ to client (ws message|#\d+ .*\(body)/, 'the download from node 2 to device B'],
    ['edit', /^node 2 conn \d+ to server ws message/, "device B's upload to node 2"],
    ['edit', /^node 1 conn \d+ to client (ws message|#\d+ .*\(body)/, 'the edit relayed to device A through node 1'],
    ['attachmentBytes', /^node 1 conn \d+ to server #\d+ .*\(body\)/, 'the attachment upload, an HTTP body'],
    ['attachmentBytes', /^nodes data\/attachments\//, 'the attachment blob file'],
    ['frontMatterValue', /^pg_dump$/, 'the dump'],
    ['frontMatterValue', /^postgres data\/base\//, "the database's table files"],
    ['file', /^node \d std(err|out)$/, "the nodes' logs"],
    ['body', /^postgres log$/, "Postgres's log of every statement and its parameters"],
  ],
};

const BACKENDS: Backend[] = ['sqlite', 'postgres'];

/** The encrypted runs: encrypted sync through the CLI's --encrypt / --passphrase-file. */
const ENCRYPTED_SYNC_READY = true;

/**
 * Whether the encrypted runs sync an attachment too (listed in the entry's front matter: an
 * encrypted workspace syncs listed attachments, sealed by the host before upload).
 */
const ENCRYPTED_RUNS_SYNC_AN_ATTACHMENT = true;

describe.each(BACKENDS)('canaries on %s', (backend) => {
  it('a plain workspace: every canary is found, through every capture path (the positive control)', async () => {
    const canaries = makeCanaries();
    const run = await runCanaryScenario({ canaries, backend, mode: { encrypted: false }, timeoutSeconds: 60 });
    expect(run.keyRecord).toBeNull();
    const hits = scan(run.sources, buildNeedles({ strings: contentCanaries(canaries), fields: ['part_of'] }));

    const missing = [...Object.keys(contentCanaries(canaries)), 'field part_of'].filter((label) => !hits.some((h) => h.label === label));
    expect(missing, `canaries not found:\n${describeHits(hits)}`).toEqual([]);
    const blind = PATHS[backend].filter(([label, source]) => !hits.some((h) => h.label === label && source.test(h.source))).map(([label, source, what]) => `${what}: ${label} not in ${source}`);
    expect(blind, `capture paths that saw nothing:\n${describeHits(hits, 200)}`).toEqual([]);
    // The server's text messages carry the file tree in base64: UTF-8 alone would miss those copies.
    expect(hits.some((h) => h.label === 'frontMatterValue' && h.encoding.startsWith('base64@') && /to client ws message .*\(text\)/.test(h.source))).toBe(true);
  }, 180_000);

  it.skipIf(!ENCRYPTED_SYNC_READY)('an encrypted workspace: no canary, passphrase, field name or key reaches the server', async () => {
    const canaries = makeCanaries();
    const mode: SyncMode = { encrypted: true, passphraseFile: passphraseFile(canaries.passphrase) };
    const run = await runCanaryScenario({ canaries, backend, mode, timeoutSeconds: 150, attachment: ENCRYPTED_RUNS_SYNC_AN_ATTACHMENT });

    // It really ran encrypted: the server holds a key record, the devices hold keys, frames use e2e: doc ids.
    expect(run.keyRecord, 'the server holds no key record: the workspace was synced plain').not.toBeNull();
    expect(run.sources.some((s) => /to server ws message/.test(s.name) && Buffer.from(s.bytes).includes(`e2e:${run.workspaceId}`))).toBe(true);
    const paths = scenarioPaths(canaries);
    const attachment = { [paths.attachment]: Buffer.from(`attachment ${canaries.attachmentBytes}\n`) };
    const keys = {
      ...prefixed('A', deviceKeys(run.dirA, run.workspaceId, [paths.index, paths.entry], attachment)),
      ...prefixed('B', deviceKeys(run.dirB, run.workspaceId, [paths.index, paths.entry], attachment)),
      KEK: keyEncryptionKey(run.keyRecord!, canaries.passphrase),
    };

    const hits = scan(run.sources, buildNeedles({ strings: { ...canaries }, fields: ['part_of'], keys }));
    expect(hits, `found at the server:\n${describeHits(hits)}`).toEqual([]);
  }, 600_000);
});

function prefixed(device: string, keys: Record<string, Uint8Array>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(keys).map(([k, v]) => [`${device} ${k}`, v]));
}
