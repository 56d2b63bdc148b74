/**
 * Shared set-up for the plugin-level tests: a fresh temporary workspace folder
 * per test (removed in teardown), the built plugin loaded over it with real
 * plugin storage, a deterministic host clock, file helpers and a fingerprint
 * of the plugin storage and the folder for "nothing changed" checks.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import type { CommandResponse } from '../../host-harness/src/host-types';
import { emptyMetadata } from '../../common/src/workspace/metadata';
import { openWorkspaceHost, pluginStorageDir, type WorkspaceHost, type WorkspaceHostOptions } from '../../host-harness/src/workspace-host';
import { PLUGIN_WASM } from '../helpers/paths';

export { pluginStorageDir };

/** 2026-01-05T00:00:00Z: every host clock in these tests starts here. */
export const CLOCK_START = Date.UTC(2026, 0, 5);

const cleanups: (() => Promise<void> | void)[] = [];

/** Registers the per-test teardown (call once at the top level of each test file). */
export function useCleanup(): void {
  afterEach(async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()!;
      await fn();
    }
  });
}

/** A fresh temporary workspace folder, removed after the test. */
export function tempWorkspace(prefix = 'diaryx-plugin-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A host clock that moves forward 1 s on every reading, starting at `start`. */
export function steppingClock(start = CLOCK_START): { clock: () => number; readonly now: number } {
  let t = start;
  return {
    clock: () => (t += 1000),
    get now() {
      return t;
    },
  };
}

export type OpenOptions = Partial<Omit<WorkspaceHostOptions, 'dir'>>;

/** The built plugin over `dir` with storage under `<dir>/.diaryx/plugin-storage/diaryx.sync`; closed in teardown. */
export async function openPlugin(dir: string, options: OpenOptions = {}): Promise<WorkspaceHost> {
  const ws = await openWorkspaceHost({ wasm: PLUGIN_WASM, recordCalls: true, clock: steppingClock().clock, ...options, dir });
  cleanups.push(() => ws.close());
  return ws;
}

/** A fresh folder with the plugin loaded and initialised on it (`workspace_root` = the folder). */
export async function openInitialised(options: OpenOptions = {}): Promise<WorkspaceHost> {
  const dir = tempWorkspace();
  const ws = await openPlugin(dir, options);
  expect(await ws.plugin.init({ workspace_root: dir })).toBe('');
  return ws;
}

/** Writes a workspace file (parent folders created). */
export function writeFile(dir: string, rel: string, text: string): void {
  const abs = path.join(dir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, text);
}

export function readFile(dir: string, rel: string): string {
  return fs.readFileSync(path.join(dir, ...rel.split('/')), 'utf8');
}

export function fileExists(dir: string, rel: string): boolean {
  return fs.existsSync(path.join(dir, ...rel.split('/')));
}

/** A markdown file: front matter lines (already YAML) and a body. */
export function markdown(frontmatter: string, body: string): string {
  return `---\n${frontmatter}\n---\n${body}`;
}

/** Writes a file and reports it to the plugin as `file_created` (or `file_saved`). */
export async function createFile(ws: WorkspaceHost, rel: string, text: string, event: 'file_created' | 'file_saved' = 'file_created'): Promise<void> {
  writeFile(ws.dir, rel, text);
  await ws.plugin.event(event, { path: rel });
}

/** Runs a command and asserts it succeeded; returns its data. */
export async function ok<T = unknown>(ws: WorkspaceHost, command: string, params: unknown = {}): Promise<T> {
  const res = await ws.plugin.command(command, params);
  if (!res.success) throw new Error(`${command} failed: ${res.error}`);
  return res.data as T;
}

/** Runs a command expected to fail; returns the response. */
export async function fails(ws: WorkspaceHost, command: string, params: unknown = {}): Promise<CommandResponse> {
  const res = await ws.plugin.command(command, params);
  expect(res.success, `${command} ${JSON.stringify(params)} should fail`).toBe(false);
  return res;
}

/** Raw handle_command output text. */
export async function rawCommand(ws: WorkspaceHost, command: string, params: unknown): Promise<string> {
  return ws.plugin.callText('handle_command', JSON.stringify({ command, params }));
}

/** sha256 of every file under `root` (relative path -> hash), recursively. */
export function hashTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (abs: string, rel: string) => {
    if (!fs.existsSync(abs)) return;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(childAbs, childRel);
      else out[childRel] = crypto.createHash('sha256').update(fs.readFileSync(childAbs)).digest('hex');
    }
  };
  walk(root, '');
  return out;
}

/** Storage keys written (host_storage_set) in the call log, from index `from` on. */
export function storageSets(ws: WorkspaceHost, from = 0): { key: string; data: string }[] {
  return ws.calls
    .slice(from)
    .filter((c) => c.name === 'host_storage_set')
    .map((c) => JSON.parse(c.input) as { key: string; data: string });
}

export type FileEntry = [string, Record<string, unknown>];

export async function listFiles(ws: WorkspaceHost, includeDeleted = false): Promise<FileEntry[]> {
  return ok<FileEntry[]>(ws, 'ListCrdtFiles', includeDeleted ? { include_deleted: true } : {});
}

export async function bodyOf(ws: WorkspaceHost, docName: string): Promise<string> {
  return (await ok<{ content: string }>(ws, 'GetBodyContent', { doc_name: docName })).content;
}

/** One entry of GetHistory / GetFileHistory, as the plugin answers it. */
export type { HistoryEntry } from '../../plugin/src/core/history-types';

/** Full metadata JSON with the serde defaults, overridden by `fields`. */
export function meta(filename: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...emptyMetadata(filename), ...fields };
}

/** An initialised plugin with README.md and notes/a.md (body "alpha" and a newline), everything saved. */
export async function openSeeded(): Promise<WorkspaceHost> {
  const ws = await openInitialised();
  await createFile(ws, 'README.md', markdown('title: Root\ncontents:\n  - notes/a.md', '\n# Root\n'));
  await createFile(ws, 'notes/a.md', markdown('title: A\npart_of: ../README.md', 'alpha\n'));
  await ok(ws, 'SaveCrdtState');
  return ws;
}
