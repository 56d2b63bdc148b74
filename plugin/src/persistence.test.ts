import { describe, expect, it } from 'vitest';
import { RETENTION_KEY } from './commands/retention';
import { CONCURRENT_EDITS_KEY } from './concurrent-edits-log';
import { CONFIG_KEY } from './config';
import { manifestKey } from './core/history-codec';
import { BODY_MANIFEST_KEY, WORKSPACE_KEY, bodyStorageKey, storageKeyEntry } from './persistence';
import { SNAPSHOT_INDEX_KEY, snapshotChunkKey } from './snapshot-store';

describe('the storage key table', () => {
  it('has an entry, with its module, for every key the plugin names in code', () => {
    const cases: [string, string, string][] = [
      [CONFIG_KEY, 'sync.extism.config', 'config.ts'],
      [WORKSPACE_KEY, 'workspace_crdt', 'doc-persistence.ts'],
      [bodyStorageKey('notes/a.md'), 'body:<key>', 'doc-persistence.ts'],
      [BODY_MANIFEST_KEY, 'body_doc_manifest', 'persistence.ts'],
      [manifestKey('history'), 'history:manifest', 'core/history-codec.ts'],
      [RETENTION_KEY, 'history_retention', 'commands/retention.ts'],
      [SNAPSHOT_INDEX_KEY, 'snapshot_index', 'snapshot-store.ts'],
      [snapshotChunkKey('s1', 2), 'snapshot:<id>:<n>', 'snapshot-store.ts'],
      ['device_id', 'device_id', 'doc-persistence.ts'],
      [CONCURRENT_EDITS_KEY, 'concurrent_edits', 'concurrent-edits-log.ts'],
      [`${WORKSPACE_KEY}:part:3.1`, '<key>:part:<gen>.<n>', 'large-values.ts'],
    ];
    for (const [key, entry, module] of cases) expect(storageKeyEntry(key), key).toMatchObject({ key: entry, module });
  });
});
