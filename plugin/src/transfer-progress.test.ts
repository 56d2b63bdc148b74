import { describe, expect, it } from 'vitest';
import { syncStatus } from './commands/workspace';
import { EventSink } from './events';
import { HostBridge } from './host/bridge';
import type { SyncRuntime } from './runtime';
import { formatBytes, formatCount, TransferProgress, transferStatusText, type TransferStatus } from './transfer-progress';

function recordingHost(): { host: HostBridge; events: { completed: number; total: number }[] } {
  const events: { completed: number; total: number }[] = [];
  const host = new HostBridge((name, input) => {
    if (name === 'host_emit_event') {
      const e = JSON.parse(input) as { type: string; completed: number; total: number };
      expect(e.type).toBe('SyncProgress');
      expect(Object.keys(e)).toEqual(['completed', 'total', 'type']);
      events.push({ completed: e.completed, total: e.total });
    }
    return '';
  });
  return { host, events };
}

/** What GetSyncStatus answers while `transfer` runs. */
function statusDuring(transfer: TransferStatus): Record<string, unknown> {
  const rt = { status: { error: null, progress: null, synced: false, transfer }, session: null } as unknown as SyncRuntime;
  return syncStatus(rt, false, 'plain');
}

describe('transfer progress', () => {
  it('emits 0, then at most 100 increasing steps, then the total; the sink follows every file', () => {
    const { host, events } = recordingHost();
    const seen: (TransferStatus | null)[] = [];
    const p = new TransferProgress(new EventSink(host), 'upload', (s) => seen.push(s));
    p.begin('zip', 1000);
    for (let i = 1; i <= 1000; i++) p.advance(i);
    expect(events[0]).toEqual({ completed: 0, total: 1000 });
    expect(events[events.length - 1]).toEqual({ completed: 1000, total: 1000 });
    expect(events.length).toBe(101);
    expect(seen.length).toBe(1001);
    expect(seen[500]).toMatchObject({ phase: 'zip', completed: 500, total: 1000 });
    p.begin('send', 1000, 2_500_000);
    expect(events.length).toBe(101); // the HTTP phase has nothing to count
    p.finish();
    expect(seen[seen.length - 1]).toBeNull();
  });

  it('small phases report every file', () => {
    const { host, events } = recordingHost();
    const p = new TransferProgress(new EventSink(host), 'download');
    p.begin('import', 3, 900);
    for (let i = 1; i <= 3; i++) p.advance(i);
    expect(events.map((e) => e.completed)).toEqual([0, 1, 2, 3]);
  });

  it('GetSyncStatus says what runs, with counts and sizes a person reads', () => {
    expect(statusDuring({ kind: 'upload', phase: 'zip', completed: 120, total: 1000, bytes: null })).toEqual({
      state: 'syncing',
      label: 'Uploading snapshot… 120/1,000 files',
      detail: 'Building the snapshot zip: 120/1,000 files',
      encryption: 'plain',
      progress: { completed: 120, total: 1000 },
    });
    expect(statusDuring({ kind: 'upload', phase: 'send', completed: 0, total: 1000, bytes: 1_234_567 })).toMatchObject({
      state: 'syncing',
      label: 'Uploading snapshot… sending 1,000 files (1.2 MB)',
      progress: { completed: 1000, total: 1000 },
    });
    expect(statusDuring({ kind: 'download', phase: 'receive', completed: 0, total: 0, bytes: null })).toMatchObject({
      state: 'syncing',
      label: 'Downloading snapshot…',
    });
    expect(statusDuring({ kind: 'download', phase: 'import', completed: 7, total: 12, bytes: 48_000 })).toMatchObject({
      label: 'Downloading snapshot… 7/12 files',
      detail: 'Importing the snapshot (48 KB): 7/12 files',
      progress: { completed: 7, total: 12 },
    });
    expect(transferStatusText({ kind: 'upload', phase: 'zip', completed: 0, total: 0, bytes: null }).label).toBe('Uploading snapshot… 0/0 files');
  });

  it('formats counts and sizes', () => {
    expect([0, 999, 1000, 1234567].map(formatCount)).toEqual(['0', '999', '1,000', '1,234,567']);
    expect([812, 4200, 48_000, 1_300_000, 12_000_000_000].map(formatBytes)).toEqual(['812 B', '4.2 KB', '48 KB', '1.3 MB', '12 GB']);
  });
});
