/** The in-memory double keeps the SessionDocs contract the plugin's own docs keep (test/plugin/session-docs.test.ts). */
import { MemoryDocs } from './memory-docs';
import { runSessionDocsSuite, type SessionDocsDevice } from './session-docs-suite';

function device(workspaceId: string, clientId: number): SessionDocsDevice {
  const docs = new MemoryDocs(workspaceId, clientId);
  return {
    docs,
    createFile: (key, body) => {
      docs.addFile(key, {}, body);
      docs.editBody(key, body);
    },
    createFileOnDiskOnly: (key, body) => docs.addFile(key, {}, body),
    editBody: (key, text) => docs.editBody(key, text),
    deleteFile: (key) => docs.deleteFile(key),
    trackContent: (key, text) => docs.trackContent(key, text),
    bodyText: (key) => docs.bodyText(key),
    diskBody: (key) => docs.disk.get(key) ?? null,
  };
}

runSessionDocsSuite('MemoryDocs', () => ({ workspaceId: 'w1', a: device('w1', 1), b: device('w1', 2) }));
