/**
 * The snapshot-zip route as the simulated servers answer it (one node or
 * several): POST imports through the real server's importSnapshot with its
 * default limits; GET renders the workspace's files as the real export does.
 */
import { zipSync, type Zippable } from 'fflate';
import * as Y from 'yjs';
import { decodeBase64, encodeBase64 } from '../common/src/base64';
import { bodyDocId, workspaceDocId } from '../common/src/wire/frame';
import { renderFileMarkdown } from '../common/src/workspace/frontmatter';
import { compareKeys } from '../common/src/workspace/paths';
import type { HttpRequest, HttpResponse } from '../host-harness/src/host-types';
import { DEFAULT_OPTIONS } from '../server/src/options';
import { importSnapshot, isSkippedSnapshotPath, safeSnapshotPath, type ImportMode } from '../server/src/snapshot';
import type { SyncCore } from '../server/src/sync-core';
import { activeWorkspaceFiles, readBodyText } from '../server/src/workspace-files';

/** Starts the import of a POSTed zip; resolves to its failure, or null once applied. */
export function importPostedSnapshot(core: SyncCore, workspaceId: string, url: URL, req: HttpRequest, now: () => number): Promise<Error | null> {
  const mode = (url.searchParams.get('mode') ?? 'merge') as ImportMode;
  return importSnapshot(core, workspaceId, decodeBase64(req.body_base64 ?? ''), mode, {
    maxEntries: DEFAULT_OPTIONS.maxSnapshotEntries,
    maxUnzippedBytes: DEFAULT_OPTIONS.maxSnapshotUnzippedBytes,
    maxFileBytes: DEFAULT_OPTIONS.maxSnapshotFileBytes,
    now,
  }).then(
    () => null,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
}

/** The GET answer: the workspace's live files as a zip; `doc(id)` gives a doc's state (an empty doc when unknown). */
export function snapshotZipResponse(workspaceId: string, doc: (docId: string) => Y.Doc): HttpResponse {
  const files = activeWorkspaceFiles(doc(workspaceDocId(workspaceId)));
  const zippable: Zippable = {};
  const encoder = new TextEncoder();
  for (const { key, metadata } of [...files].sort((a, b) => compareKeys(a.key, b.key))) {
    const path = safeSnapshotPath(key);
    if (path === null || path !== key || isSkippedSnapshotPath(path)) continue;
    const body = readBodyText(doc(bodyDocId(workspaceId, key)));
    zippable[key] = [encoder.encode(renderFileMarkdown(metadata, body)), { level: 6 }];
  }
  return { status: 200, headers: { 'content-type': 'application/zip' }, body: '', body_base64: encodeBase64(zipSync(zippable)) };
}
