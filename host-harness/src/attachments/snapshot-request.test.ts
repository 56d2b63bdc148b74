import { describe, expect, it } from 'vitest';
import { withoutSnapshotAttachments } from '../sync-job';

describe('snapshot requests of a host that moves attachments itself', () => {
  it('asks for snapshots without attachments and leaves other requests alone', () => {
    const req = (url: string) => ({ url, method: 'GET', headers: {}, body: null }) as unknown as Parameters<typeof withoutSnapshotAttachments>[0];
    expect(withoutSnapshotAttachments(req('http://h:1/api/workspaces/w/snapshot?include_attachments=true')).url).toBe(
      'http://h:1/api/workspaces/w/snapshot?include_attachments=false',
    );
    expect(withoutSnapshotAttachments(req('http://h:1/api/workspaces/w/snapshot?mode=merge')).url).toBe(
      'http://h:1/api/workspaces/w/snapshot?mode=merge&include_attachments=false',
    );
    expect(withoutSnapshotAttachments(req('http://h:1/api/workspaces')).url).toBe('http://h:1/api/workspaces');
  });
});
