/**
 * The canary scenario (spec e2ee.md 9.1): unique random strings in a folder
 * name, a file name, a title, a front matter key and value, a body, an
 * attachment's name and bytes, a later edit, and the passphrase; two
 * devices (real `diaryx-sync sync --once` processes) sync them through
 * recording proxies in front of real server processes (SQLite, or two nodes
 * on Postgres); then everything the servers saw and kept is gathered as scan
 * sources (canary-deployments.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { KeyRecord } from '../../common/src/e2ee/key-record';
import type { ScanSource } from '../helpers/leak-scanner';
import { runCli, type CliResult } from '../e2e/cli-helpers';
import { entryText, readFile, tempDir, writeFile } from '../e2e/helpers';
import { startDeployment, type Backend } from './canary-deployments';

/** The secrets of one run, by label. */
export interface Canaries {
  folder: string;
  file: string;
  title: string;
  frontMatterKey: string;
  frontMatterValue: string;
  body: string;
  attachmentName: string;
  attachmentBytes: string;
  /** Written on device B after it joined, to travel back to A. */
  edit: string;
  passphrase: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A fresh canary: letters and digits only, so that URL, JSON and YAML
 * escaping leave it as it is (its UTF-8 is what any of them would carry),
 * mixed case so the lower-case form is a needle of its own.
 */
export function canary(kind: string): string {
  const bytes = randomBytes(20);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return `Cn${kind}${s}`;
}

export function makeCanaries(): Canaries {
  return {
    folder: canary('Dir'),
    file: canary('File'),
    title: canary('Title'),
    frontMatterKey: `k${canary('Key')}`,
    frontMatterValue: canary('Val'),
    body: canary('Body'),
    attachmentName: canary('Att'),
    attachmentBytes: canary('Bytes'),
    edit: canary('Edit'),
    passphrase: canary('Pass'),
  };
}

/** Paths of the scenario's files, from its canaries. */
export function scenarioPaths(c: Canaries): { entry: string; attachment: string; index: string } {
  return { index: 'README.md', entry: `${c.folder}/${c.file}.md`, attachment: `${c.folder}/files/${c.attachmentName}.txt` };
}

/** How a device's `sync` joins the workspace: plain, or encrypted (creating it on the first device, unlocking it on the others). */
export type SyncMode = { encrypted: false } | { encrypted: true; passphraseFile: string };

/**
 * The `sync` options of an encrypted workspace, as the CLI takes them:
 * `--encrypt --passphrase-file F` on device A's first run creates the
 * encrypted workspace; `--passphrase-file F` unlocks it on a joining device
 * (and is given again on later runs, where the device already holds the
 * keys). The passphrase file holds the passphrase and a line end, as `echo`
 * writes it.
 */
export function encryptedSyncArgs(mode: SyncMode, creates: boolean): string[] {
  if (!mode.encrypted) return [];
  return [...(creates ? ['--encrypt'] : []), '--passphrase-file', mode.passphraseFile];
}

export interface ScenarioOptions {
  canaries: Canaries;
  backend: Backend;
  mode: SyncMode;
  /** Longest one `sync --once` may take (its `--timeout`), seconds. */
  timeoutSeconds: number;
  /** Whether the entry references an attachment that syncs too (default true). */
  attachment?: boolean;
}

/** What a scenario run leaves: every source, and what a test checks beside the scan. */
export interface ScenarioCapture {
  sources: ScanSource[];
  workspaceId: string;
  dirA: string;
  dirB: string;
  /** The key record the server kept for the workspace (null: it was synced plain). */
  keyRecord: KeyRecord | null;
}

/** Runs `sync --once` and fails with its output unless it exits 0. */
async function syncOnce(label: string, args: string[], token: string): Promise<CliResult> {
  const res = await runCli(args, { env: { DIARYX_SYNC_TOKEN: token } });
  if (res.code !== 0) throw new Error(`${label}: sync --once exited ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
  return res;
}

/**
 * Device A writes the files and syncs; B (an empty folder) syncs and must hold
 * them byte-identical; B edits the body and syncs; A syncs and must hold the
 * edit. Then everything the servers saw and kept is captured
 * (canary-deployments.ts). The servers are this run's own, so another run's
 * canaries never show here.
 */
export async function runCanaryScenario(opts: ScenarioOptions): Promise<ScenarioCapture> {
  const c = opts.canaries;
  const paths = scenarioPaths(c);
  const deployment = await startDeployment(opts.backend);
  try {
    const workspaceId = `canary-${randomBytes(6).toString('hex')}`;
    const dirA = tempDir('canary-a');
    const dirB = tempDir('canary-b');
    const args = (dir: string, device: 'A' | 'B', first: boolean) => [
      'sync', '--dir', dir, '--server', deployment.url(device), '--workspace-id', workspaceId, '--once', '--timeout', String(opts.timeoutSeconds),
      ...encryptedSyncArgs(opts.mode, device === 'A' && first),
    ];

    writeFile(dirA, paths.index, entryText({ title: 'Journal', contents: [paths.entry], body: '\n# Journal\n' }));
    const attachment = opts.attachment ?? true;
    const entry = entryText({
      title: c.title,
      partOf: '../README.md',
      // Listed in front matter too: an encrypted workspace syncs the attachments entries list
      // (the server cannot tell it which path a body-only link names).
      extra: { [c.frontMatterKey]: c.frontMatterValue, ...(attachment ? { attachments: `["files/${c.attachmentName}.txt"]` } : {}) },
      body: `\n${c.body}\n${attachment ? `\nSee [the note](files/${c.attachmentName}.txt).\n` : ''}`,
    });
    writeFile(dirA, paths.entry, entry);
    if (attachment) writeFile(dirA, paths.attachment, `attachment ${c.attachmentBytes}\n`);

    await syncOnce('A (first)', args(dirA, 'A', true), deployment.token);
    await syncOnce('B (join)', args(dirB, 'B', false), deployment.token);
    expect(readFile(dirB, paths.entry), 'B holds the entry as A wrote it').toBe(entry);
    if (attachment) expect(readFile(dirB, paths.attachment), 'B holds the attachment').toBe(`attachment ${c.attachmentBytes}\n`);

    const edited = `${entry}\n${c.edit}\n`;
    writeFile(dirB, paths.entry, edited);
    await syncOnce('B (edit)', args(dirB, 'B', false), deployment.token);
    await syncOnce('A (again)', args(dirA, 'A', false), deployment.token);
    expect(readFile(dirA, paths.entry), "A holds B's edit").toContain(c.edit);

    const keyRecord = await deployment.keyRecord(workspaceId);
    const sources = await deployment.stopAndCapture();
    return { sources, workspaceId, dirA, dirB, keyRecord };
  } finally {
    await deployment.close();
  }
}

/** Writes the passphrase to a file only the owner can read (as a person keeps one) and returns its path. */
export function passphraseFile(passphrase: string): string {
  const file = path.join(tempDir('canary-pass'), 'passphrase');
  fs.writeFileSync(file, `${passphrase}\n`, { mode: 0o600 });
  return file;
}
