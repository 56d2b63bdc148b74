/**
 * The contract every `SessionDocs` keeps, as one vitest suite run against
 * each implementation (the in-memory double and the plugin's own docs), so a
 * session test over the double says something about the plugin.
 *
 * Two devices of one workspace exchange state only through `SessionDocs`
 * (diffs against state vectors, remote applies), the way the session moves
 * it; the fixture makes the local edits a host would (file saves, deletes).
 */
import { describe, expect, it } from 'vitest';
import { bodyDocId, workspaceDocId } from '../../../../common/src/wire/frame';
import type { SessionDocs } from '../session-host';

/** One device: its docs and the local edits its host would make. */
export interface SessionDocsDevice {
  readonly docs: SessionDocs;
  /** A new file saved here: its workspace entry, the file on disk and its body doc holding `body`. */
  createFile(key: string, body: string): void;
  /** A file that is on disk and in the workspace doc while its body doc is still empty (never loaded). */
  createFileOnDiskOnly(key: string, body: string): void;
  /** The file saved here with new text. */
  editBody(key: string, text: string): void;
  /** The file deleted here. */
  deleteFile(key: string): void;
  /** The host wrote `text` to the file itself: text coming back is an echo. */
  trackContent(key: string, text: string): void;
  /** The text of the body doc ('' when there is none). */
  bodyText(key: string): string;
  /** The body of the file on disk (without front matter), or null when there is no file. */
  diskBody(key: string): string | null;
}

/** Two devices of workspace `workspaceId`, fresh for each test. */
export interface SessionDocsPair {
  readonly workspaceId: string;
  a: SessionDocsDevice;
  b: SessionDocsDevice;
}

const noDisk = { writeToDisk: false, focused: true };
const toDisk = { writeToDisk: true, focused: true };

/** What `from` has that `to` lacks, applied to `to` as a SyncStep2 would be; returns the changed keys. */
function syncWorkspace(from: SessionDocs, to: SessionDocs, writeToDisk = true): string[] {
  return to.applyWorkspaceUpdate(from.encodeWorkspaceDiff(to.workspaceStateVector()), 'sync', writeToDisk);
}

/** The body update `to` lacks from `from`. */
function bodyDiff(from: SessionDocs, to: SessionDocs, key: string): Uint8Array {
  return from.encodeBodyDiff(key, to.bodyStateVector(key));
}

export function runSessionDocsSuite(name: string, pair: () => Promise<SessionDocsPair> | SessionDocsPair): void {
  describe(`SessionDocs contract: ${name}`, () => {
    it('a local file goes out as a workspace update, and the other device sees it as an active file on disk', async () => {
      const { workspaceId, a, b } = await pair();
      a.createFile('notes/a.md', 'hello');
      const ids = a.docs.drainLocalUpdates().map((u) => u.docId);
      expect(ids).toContain(workspaceDocId(workspaceId));
      expect(ids).toContain(bodyDocId(workspaceId, 'notes/a.md'));
      expect(a.docs.drainLocalUpdates()).toEqual([]);

      expect(b.docs.isActiveFile('notes/a.md')).toBe(false);
      expect(syncWorkspace(a.docs, b.docs)).toContain('notes/a.md');
      expect(b.docs.isActiveFile('notes/a.md')).toBe(true);
      expect(b.docs.activeFileKeys()).toEqual(['notes/a.md']);
      expect(b.docs.fileExistsOnDisk('notes/a.md')).toBe(true);
      // Remote changes are not local changes: nothing to send back.
      expect(b.docs.drainLocalUpdates()).toEqual([]);
      // Both sides hold the same state now: nothing left to send either way.
      expect(syncWorkspace(b.docs, a.docs)).toEqual([]);
      expect(b.docs.workspaceStateVector()).toEqual(a.docs.workspaceStateVector());
    });

    it('a remote file is not written when writing to disk is off', async () => {
      const { a, b } = await pair();
      a.createFile('a.md', 'x');
      syncWorkspace(a.docs, b.docs, false);
      expect(b.docs.isActiveFile('a.md')).toBe(true);
      expect(b.docs.fileExistsOnDisk('a.md')).toBe(false);
    });

    it('a deleted file leaves the active set of both devices', async () => {
      const { a, b } = await pair();
      a.createFile('a.md', 'x');
      a.createFile('b.md', 'y');
      syncWorkspace(a.docs, b.docs);
      a.deleteFile('a.md');
      expect(a.docs.isActiveFile('a.md')).toBe(false);
      expect(syncWorkspace(a.docs, b.docs)).toContain('a.md');
      expect(b.docs.isActiveFile('a.md')).toBe(false);
      expect(b.docs.activeFileKeys()).toEqual(['b.md']);
    });

    it('a host path resolves to the key of an active file, anything else to null', async () => {
      const { a } = await pair();
      a.createFile('notes/a.md', 'x');
      expect(a.docs.resolveFileKey('notes/a.md')).toBe('notes/a.md');
      expect(a.docs.resolveFileKey('./notes/a.md')).toBe('notes/a.md');
      expect(a.docs.resolveFileKey('notes/missing.md')).toBeNull();
      a.deleteFile('notes/a.md');
      expect(a.docs.resolveFileKey('notes/a.md')).toBeNull();
    });

    it('a remote body update reports the new text once and writes the file', async () => {
      const { a, b } = await pair();
      a.createFile('a.md', 'hello');
      syncWorkspace(a.docs, b.docs);
      const update = bodyDiff(a.docs, b.docs, 'a.md');
      expect(b.docs.applyBodyUpdates('a.md', [update], toDisk)).toEqual({ content: 'hello', isEcho: false });
      expect(b.bodyText('a.md')).toBe('hello');
      expect(b.diskBody('a.md')).toBe('hello');
      expect(b.docs.hasBody('a.md')).toBe(true);
      // The same update again changes nothing.
      expect(b.docs.applyBodyUpdates('a.md', [update], toDisk)).toEqual({ content: null, isEcho: false });
      expect(b.docs.drainLocalUpdates().filter((u) => u.docId.startsWith('body:'))).toEqual([]);
      expect(bodyDiff(b.docs, a.docs, 'a.md').length).toBeLessThanOrEqual(2);
    });

    it('remote text equal to what the host wrote itself is an echo: reported, not written', async () => {
      const { a, b } = await pair();
      a.createFile('a.md', 'v1');
      syncWorkspace(a.docs, b.docs);
      b.docs.applyBodyUpdates('a.md', [bodyDiff(a.docs, b.docs, 'a.md')], toDisk);
      a.editBody('a.md', 'v2');
      b.trackContent('a.md', 'v2');
      expect(b.docs.applyBodyUpdates('a.md', [bodyDiff(a.docs, b.docs, 'a.md')], toDisk)).toEqual({ content: 'v2', isEcho: true });
      expect(b.diskBody('a.md')).toBe('v1');
    });

    it('a body update applied without its predecessor waits as pending structs until the gap closes', async () => {
      const { a, b } = await pair();
      a.createFile('a.md', 'one');
      syncWorkspace(a.docs, b.docs);
      const sv = b.docs.bodyStateVector('a.md');
      const first = a.docs.encodeBodyDiff('a.md', sv);
      const afterFirst = a.docs.bodyStateVector('a.md');
      a.editBody('a.md', 'one two');
      const second = a.docs.encodeBodyDiff('a.md', afterFirst);
      b.docs.applyBodyUpdates('a.md', [second], noDisk);
      expect(b.docs.bodyHasPendingStructs('a.md')).toBe(true);
      b.docs.applyBodyUpdates('a.md', [first], noDisk);
      expect(b.docs.bodyHasPendingStructs('a.md')).toBe(false);
      expect(b.bodyText('a.md')).toBe('one two');
    });

    it('a workspace update applied without its predecessor waits as pending structs until the gap closes', async () => {
      const { a, b } = await pair();
      const sv = b.docs.workspaceStateVector();
      a.createFile('a.md', 'x');
      const first = a.docs.encodeWorkspaceDiff(sv);
      const afterFirst = a.docs.workspaceStateVector();
      a.createFile('b.md', 'y');
      const second = a.docs.encodeWorkspaceDiff(afterFirst);
      b.docs.applyWorkspaceUpdate(second, 'remote', false);
      expect(b.docs.workspaceHasPendingStructs()).toBe(true);
      b.docs.applyWorkspaceUpdate(first, 'remote', false);
      expect(b.docs.workspaceHasPendingStructs()).toBe(false);
      expect(b.docs.activeFileKeys()).toEqual(['a.md', 'b.md']);
    });

    it('malformed update bytes are refused with an error', async () => {
      const { a } = await pair();
      a.createFile('a.md', 'x');
      const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07);
      expect(() => a.docs.applyWorkspaceUpdate(garbage, 'remote', false)).toThrow();
      expect(() => a.docs.applyBodyUpdates('a.md', [garbage], noDisk)).toThrow();
      expect(a.bodyText('a.md')).toBe('x');
    });

    it('a body is created only by asking for its state, never by looking', async () => {
      const { a } = await pair();
      expect(a.docs.hasBody('new.md')).toBe(false);
      expect(a.docs.hasBody('new.md')).toBe(false);
      expect(a.docs.encodeBodyDiff('new.md', Uint8Array.of(0)).length).toBeLessThanOrEqual(2);
    });

    it('a file on disk with an empty body doc holds its text once loaded and the server has answered', async () => {
      const { a } = await pair();
      a.createFileOnDiskOnly('a.md', 'from disk');
      expect(a.docs.fileExistsOnDisk('a.md')).toBe(true);
      a.docs.ensureBodyLoaded('a.md');
      // The server's first answer for a body it does not have: nothing to apply.
      a.docs.applyBodyUpdates('a.md', [], noDisk);
      expect(a.bodyText('a.md')).toBe('from disk');
      expect(a.diskBody('a.md')).toBe('from disk');
    });

    it('grants at least one body request when some are wanted, never more than wanted', async () => {
      const { a } = await pair();
      const granted = a.docs.claimBodyRequests(3);
      expect(granted).toBeGreaterThanOrEqual(1);
      expect(granted).toBeLessThanOrEqual(3);
      expect(a.docs.claimBodyRequests(0)).toBe(0);
    });
  });
}
