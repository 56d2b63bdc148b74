import { describe, expect, it } from 'vitest';
import { hostEventFor, serializeSyncEvent, type SyncEvent } from './events';

describe('serializeSyncEvent (envelope JSON)', () => {
  const cases: Array<[SyncEvent, string]> = [
    [{ type: 'statusChanged', status: { state: 'connected' } }, '{"type":"statusChanged","status":{"state":"connected"}}'],
    [
      { type: 'statusChanged', status: { state: 'reconnecting', attempt: 3 } },
      '{"type":"statusChanged","status":{"state":"reconnecting","attempt":3}}',
    ],
    [{ type: 'progress', completed: 0, total: 120 }, '{"type":"progress","completed":0,"total":120}'],
    [{ type: 'filesChanged', files: [] }, '{"type":"filesChanged","files":[]}'],
    [{ type: 'filesChanged', files: ['a.md', 'b/c.md'] }, '{"type":"filesChanged","files":["a.md","b/c.md"]}'],
    [
      { type: 'bodyChanged', file_path: 'notes/a.md', body: 'line\n"q"' },
      '{"type":"bodyChanged","file_path":"notes/a.md","body":"line\\n\\"q\\""}',
    ],
    [{ type: 'error', message: 'boom' }, '{"type":"error","message":"boom"}'],
    [{ type: 'peerJoined', peer_count: 2 }, '{"type":"peerJoined","peer_count":2}'],
    [{ type: 'peerLeft', peer_count: 1 }, '{"type":"peerLeft","peer_count":1}'],
    [{ type: 'syncComplete', files_synced: 42 }, '{"type":"syncComplete","files_synced":42}'],
    [{ type: 'focusListChanged', files: ['x.md'] }, '{"type":"focusListChanged","files":["x.md"]}'],
  ];
  it.each(cases)('%j', (event, json) => {
    expect(serializeSyncEvent(event)).toBe(json);
  });

  it('statusChanged connected is 55 bytes', () => {
    expect(new TextEncoder().encode(serializeSyncEvent({ type: 'statusChanged', status: { state: 'connected' } })).length).toBe(55);
  });

  it('orders fields as declared even when the input object is built differently', () => {
    const event = { body: 'b', file_path: 'p', type: 'bodyChanged' } as SyncEvent;
    expect(serializeSyncEvent(event)).toBe('{"type":"bodyChanged","file_path":"p","body":"b"}');
    const status = { attempt: 1, state: 'reconnecting' } as const;
    expect(serializeSyncEvent({ type: 'statusChanged', status })).toBe(
      '{"type":"statusChanged","status":{"state":"reconnecting","attempt":1}}',
    );
  });

  it('escapes control characters like serde_json', () => {
    expect(serializeSyncEvent({ type: 'error', message: '\u0001\t\u001f\u007f/' })).toBe(
      '{"type":"error","message":"\\u0001\\t\\u001f\u007f/"}',
    );
  });
});

describe('hostEventFor (host_emit_event JSON, keys sorted)', () => {
  const cases: Array<[SyncEvent, string]> = [
    [{ type: 'statusChanged', status: { state: 'connected' } }, '{"status":"connected","type":"SyncStatusChanged"}'],
    [
      { type: 'statusChanged', status: { state: 'reconnecting', attempt: 2 } },
      '{"status":"reconnecting","type":"SyncStatusChanged"}',
    ],
    [{ type: 'progress', completed: 1, total: 2 }, '{"completed":1,"total":2,"type":"SyncProgress"}'],
    [{ type: 'filesChanged', files: ['a', 'b'] }, '{"doc_name":"","files_synced":2,"type":"SyncCompleted"}'],
    [{ type: 'bodyChanged', file_path: 'a.md', body: 'x' }, '{"body":"x","path":"a.md","type":"ContentsChanged"}'],
    [{ type: 'error', message: 'bad' }, '{"error":"bad","status":"error","type":"SyncStatusChanged"}'],
    [{ type: 'peerJoined', peer_count: 3 }, '{"peer_count":3,"type":"PeerJoined"}'],
    [{ type: 'peerLeft', peer_count: 0 }, '{"peer_count":0,"type":"PeerLeft"}'],
    [{ type: 'syncComplete', files_synced: 7 }, '{"doc_name":"","files_synced":7,"type":"SyncCompleted"}'],
    [{ type: 'focusListChanged', files: ['f'] }, '{"files":["f"],"type":"FocusListChanged"}'],
  ];
  it.each(cases)('%j', (event, json) => {
    const obj = hostEventFor(event);
    expect(JSON.stringify(obj)).toBe(json);
    expect(Object.keys(obj)).toEqual([...Object.keys(obj)].sort());
  });
});
