/**
 * Folders byte for byte through the real `diaryx-sync sync --once` (a child
 * process), a real server process and real folders: the other device gets
 * each file exactly as its author wrote it (no `updated` line added, no front
 * matter added to a file without any, link titles, quoting and comments kept),
 * and the authoring device's own front matter is never rewritten when another
 * device's edit comes back.
 */
import { expect, it } from 'vitest';
import { useCliServer } from './cli-helpers';
import { folderSnapshot, readFile, tempDir, writeFile } from './helpers';

const server = useCliServer();
const syncOnce = (dir: string, workspaceId: string) => server.syncOnce(dir, workspaceId);

async function ok(dir: string, workspaceId: string): Promise<void> {
  const run = await syncOnce(dir, workspaceId);
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
}

const AUTHORED: Record<string, string> = {
  'README.md': '---\ntitle: Trial Journal\ncontents:\n  - "[Monday](/monday.md)"\n  - "[Plain](/plain.md)"\n---\n# Trial\n',
  'monday.md': '---\ntitle: Monday\npart_of: "[Trial Journal](/README.md)"\n---\nMonday text\n',
  'plain.md': 'No front matter at all.\n',
  'styled.md': "---\n# written by hand\ntitle: 'Single quoted'\ntags:\n  - x\n  - y\nupdated: 2026-01-01T10:00:00Z\npart_of: '[Trial Journal](/README.md)'\n---\n\nStyled body\n",
  'crlf.md': '---\r\ntitle: Windows\r\n---\r\nLine one\r\n',
};

it('the other device gets every file byte for byte, and the author keeps its own front matter', async () => {
  const a = tempDir('author');
  for (const [rel, text] of Object.entries(AUTHORED)) writeFile(a, rel, text);
  await ok(a, 'ws-fidelity');
  expect(folderSnapshot(a)).toEqual(AUTHORED);

  const b = tempDir('reader');
  await ok(b, 'ws-fidelity');
  expect(folderSnapshot(b)).toEqual(AUTHORED);

  // A body edit on the reader comes back to the author: only the body changes there.
  writeFile(b, 'monday.md', AUTHORED['monday.md'].replace('Monday text', 'Monday text, edited on B'));
  writeFile(b, 'plain.md', 'No front matter at all, edited on B.\n');
  await ok(b, 'ws-fidelity');
  await ok(a, 'ws-fidelity');
  expect(readFile(a, 'monday.md')).toBe('---\ntitle: Monday\npart_of: "[Trial Journal](/README.md)"\n---\nMonday text, edited on B\n');
  expect(readFile(a, 'plain.md')).toBe('No front matter at all, edited on B.\n');
  expect(folderSnapshot(a)).toEqual(folderSnapshot(b));

  // A front matter edit keeps the author's wording on the other device too.
  const retitled = AUTHORED['styled.md'].replace("'Single quoted'", "'Still single quoted'").replace('2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z');
  writeFile(a, 'styled.md', retitled);
  await ok(a, 'ws-fidelity');
  await ok(b, 'ws-fidelity');
  expect(readFile(b, 'styled.md')).toBe(retitled.replace('Styled body', 'Styled body'));
  expect(folderSnapshot(b)).toEqual(folderSnapshot(a));
});
