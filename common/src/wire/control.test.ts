import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeCrdtState,
  encodeDocAction,
  encodeFileManifest,
  encodeFocus,
  encodeFocusListChanged,
  encodePeerJoined,
  encodePeerLeft,
  encodeReadOnlyChanged,
  encodeSessionEnded,
  encodeSessionJoined,
  encodeSyncComplete,
  encodeSyncProgress,
  encodeUnfocus,
  FILES_READY_SNAKE_TEXT,
  FILES_READY_TEXT,
  isFilesReady,
  parseControlMessage,
} from './control';

const envSeed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FC_SEED;
const seed = envSeed ? Number(envSeed) : Date.now() % 2 ** 31;
console.log(`control.test fast-check seed: ${seed} (set FC_SEED to replay)`);

describe('FilesReady', () => {
  it('is exactly {"type":"FilesReady"} (21 bytes)', () => {
    expect(FILES_READY_TEXT).toBe('{"type":"FilesReady"}');
    expect(new TextEncoder().encode(FILES_READY_TEXT).length).toBe(21);
    expect(FILES_READY_SNAKE_TEXT).toBe('{"type":"files_ready"}');
  });
  it('both spellings are recognised, other casings are not', () => {
    expect(isFilesReady(parseControlMessage(FILES_READY_TEXT))).toBe(true);
    expect(isFilesReady(parseControlMessage(FILES_READY_SNAKE_TEXT))).toBe(true);
    expect(isFilesReady(parseControlMessage('{"type":"FilesReady","extra":1}'))).toBe(true);
    expect(isFilesReady(parseControlMessage('{"type":"filesReady"}'))).toBe(false);
    expect(isFilesReady(parseControlMessage('{"type":"sync_complete","files_synced":1}'))).toBe(false);
    expect(isFilesReady(null)).toBe(false);
  });
});

describe('parseControlMessage: server to client', () => {
  it('file_manifest, with defaults for files and client_is_new', () => {
    const text =
      '{"type":"file_manifest","files":[{"doc_id":"body:w/a.md","filename":"a.md","title":"A","part_of":null,"deleted":false}],"client_is_new":true}';
    expect(parseControlMessage(text)).toEqual({
      type: 'file_manifest',
      files: [{ doc_id: 'body:w/a.md', filename: 'a.md', title: 'A', part_of: null, deleted: false }],
      client_is_new: true,
    });
    expect(parseControlMessage('{"type":"file_manifest"}')).toEqual({ type: 'file_manifest', files: [], client_is_new: false });
    expect(parseControlMessage('{"type":"file_manifest","files":[{"path":"a.md"}, 3]}')).toEqual({
      type: 'file_manifest',
      files: [
        { doc_id: '', filename: '', title: null, part_of: null, deleted: false },
        { doc_id: '', filename: '', title: null, part_of: null, deleted: false },
      ],
      client_is_new: false,
    });
    expect(parseControlMessage('{"type":"file_manifest","files":{}}')).toBeNull();
    expect(parseControlMessage('{"type":"file_manifest","client_is_new":"yes"}')).toBeNull();
  });

  it('crdt_state needs a string state', () => {
    expect(parseControlMessage('{"type": "crdt_state", "state": "AQAAAA=="}')).toEqual({ type: 'crdt_state', state: 'AQAAAA==' });
    expect(parseControlMessage('{"type":"crdt_state"}')).toBeNull();
    expect(parseControlMessage('{"type":"crdt_state","state":1}')).toBeNull();
  });

  it('sync_complete needs files_synced', () => {
    expect(parseControlMessage('{"files_synced":42,"type":"sync_complete"}')).toEqual({ type: 'sync_complete', files_synced: 42 });
    expect(parseControlMessage('{"type":"sync_complete"}')).toBeNull();
    expect(parseControlMessage('{"type":"sync_complete","files_synced":-1}')).toBeNull();
    expect(parseControlMessage('{"type":"sync_complete","files_synced":1.5}')).toBeNull();
  });

  it('sync_progress needs both counts', () => {
    expect(parseControlMessage('{"type": "sync_progress", "completed": 5, "total": 10}')).toEqual({
      type: 'sync_progress',
      completed: 5,
      total: 10,
    });
    expect(parseControlMessage('{"type":"sync_progress","completed":5}')).toBeNull();
  });

  it('peer_joined / peer_left default peer_count to 0 and accept guestId or guest_id', () => {
    expect(parseControlMessage('{"type":"peer_joined"}')).toEqual({ type: 'peer_joined', guest_id: null, peer_count: 0 });
    expect(parseControlMessage('{"guestId":"g1","peer_count":3,"type":"peer_joined"}')).toEqual({
      type: 'peer_joined',
      guest_id: 'g1',
      peer_count: 3,
    });
    expect(parseControlMessage('{"type":"peer_left","guest_id":"g2","peer_count":1}')).toEqual({
      type: 'peer_left',
      guest_id: 'g2',
      peer_count: 1,
    });
    expect(parseControlMessage('{"type":"peer_left","peer_count":null}')).toBeNull();
  });

  it('focus_list_changed needs a list of strings', () => {
    expect(parseControlMessage('{"type":"focus_list_changed","files":["a.md"]}')).toEqual({
      type: 'focus_list_changed',
      files: ['a.md'],
    });
    expect(parseControlMessage('{"type":"focus_list_changed"}')).toBeNull();
    expect(parseControlMessage('{"type":"focus_list_changed","files":[1]}')).toBeNull();
  });

  it('session_joined, session_ended, read_only_changed', () => {
    expect(parseControlMessage('{"type":"session_joined"}')).toEqual({
      type: 'session_joined',
      joinCode: null,
      workspaceId: null,
      readOnly: null,
    });
    expect(parseControlMessage(encodeSessionJoined('ABC', 'w', true))).toEqual({
      type: 'session_joined',
      joinCode: 'ABC',
      workspaceId: 'w',
      readOnly: true,
    });
    expect(parseControlMessage('{"type":"session_ended"}')).toEqual({ type: 'session_ended' });
    expect(parseControlMessage('{"type":"read_only_changed","read_only":false}')).toEqual({
      type: 'read_only_changed',
      read_only: false,
    });
    expect(parseControlMessage('{"type":"read_only_changed"}')).toBeNull();
  });
});

describe('parseControlMessage: client to server', () => {
  it('focus / unfocus, files optional', () => {
    expect(parseControlMessage('{"type":"focus","files":["a.md"]}')).toEqual({ type: 'focus', files: ['a.md'] });
    expect(parseControlMessage('{"type":"unfocus"}')).toEqual({ type: 'unfocus', files: [] });
  });
  it('leave / save actions', () => {
    expect(parseControlMessage('{"action":"leave","doc":"body:w/a.md"}')).toEqual({
      type: 'doc_action',
      action: 'leave',
      doc: 'body:w/a.md',
    });
    expect(parseControlMessage('{"action":"save","doc":"workspace:w"}')).toEqual({
      type: 'doc_action',
      action: 'save',
      doc: 'workspace:w',
    });
    expect(parseControlMessage('{"action":"drop","doc":"x"}')).toBeNull();
    expect(parseControlMessage('{"action":"leave"}')).toBeNull();
  });
});

describe('parseControlMessage never throws', () => {
  it('non-JSON, non-objects and unknown types give null', () => {
    for (const t of ['', 'hello', '[]', 'null', '1', '"x"', '{"type":5}', '{"type":"nope"}', '{']) {
      expect(parseControlMessage(t)).toBeNull();
    }
  });
  it('random strings and random JSON values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (text) => {
        expect(() => parseControlMessage(text)).not.toThrow();
      }),
      { seed, numRuns: 2000 },
    );
  });
  it('random objects with a known type', () => {
    const types = ['file_manifest', 'crdt_state', 'sync_complete', 'session_joined', 'peer_joined', 'peer_left',
      'session_ended', 'sync_progress', 'focus_list_changed', 'read_only_changed', 'FilesReady', 'files_ready',
      'focus', 'unfocus'];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(fc.string(), fc.jsonValue()), (type, rest) => {
        expect(() => parseControlMessage(JSON.stringify({ ...rest, type }))).not.toThrow();
      }),
      { seed, numRuns: 1000 },
    );
  });
});

describe('encoders', () => {
  it('server messages, keys in alphabetical order', () => {
    expect(encodeCrdtState('AQID')).toBe('{"state":"AQID","type":"crdt_state"}');
    expect(encodeSyncComplete(3)).toBe('{"files_synced":3,"type":"sync_complete"}');
    expect(encodeFileManifest([{ doc_id: 'body:w/a.md', filename: 'a.md', title: null, part_of: 'index.md', deleted: false }], false)).toBe(
      '{"client_is_new":false,"files":[{"deleted":false,"doc_id":"body:w/a.md","filename":"a.md","part_of":"index.md","title":null}],"type":"file_manifest"}',
    );
    expect(encodeSessionJoined('CODE', 'w', false)).toBe('{"joinCode":"CODE","readOnly":false,"type":"session_joined","workspaceId":"w"}');
    expect(encodePeerJoined('g', 2)).toBe('{"guestId":"g","peer_count":2,"type":"peer_joined"}');
    expect(encodePeerLeft('g', 1)).toBe('{"guestId":"g","peer_count":1,"type":"peer_left"}');
    expect(encodeSessionEnded()).toBe('{"type":"session_ended"}');
    expect(encodeSyncProgress(1, 2)).toBe('{"completed":1,"total":2,"type":"sync_progress"}');
    expect(encodeFocusListChanged(['a'])).toBe('{"files":["a"],"type":"focus_list_changed"}');
    expect(encodeReadOnlyChanged(true)).toBe('{"read_only":true,"type":"read_only_changed"}');
  });
  it('client messages', () => {
    expect(encodeFocus(['a.md'])).toBe('{"type":"focus","files":["a.md"]}');
    expect(encodeUnfocus([])).toBe('{"type":"unfocus","files":[]}');
    expect(encodeDocAction('leave', 'body:w/a.md')).toBe('{"action":"leave","doc":"body:w/a.md"}');
  });
  it('every encoder output parses back to the same message', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(), fc.nat(), fc.boolean(), fc.array(fc.string()), (s, a, b, flag, list) => {
        expect(parseControlMessage(encodeCrdtState(s))).toEqual({ type: 'crdt_state', state: s });
        expect(parseControlMessage(encodeSyncComplete(a))).toEqual({ type: 'sync_complete', files_synced: a });
        expect(parseControlMessage(encodeSyncProgress(a, b))).toEqual({ type: 'sync_progress', completed: a, total: b });
        expect(parseControlMessage(encodePeerJoined(s, a))).toEqual({ type: 'peer_joined', guest_id: s, peer_count: a });
        expect(parseControlMessage(encodePeerLeft(s, a))).toEqual({ type: 'peer_left', guest_id: s, peer_count: a });
        expect(parseControlMessage(encodeFocusListChanged(list))).toEqual({ type: 'focus_list_changed', files: list });
        expect(parseControlMessage(encodeFocus(list))).toEqual({ type: 'focus', files: list });
        expect(parseControlMessage(encodeUnfocus(list))).toEqual({ type: 'unfocus', files: list });
        expect(parseControlMessage(encodeReadOnlyChanged(flag))).toEqual({ type: 'read_only_changed', read_only: flag });
        expect(parseControlMessage(encodeDocAction(flag ? 'leave' : 'save', s))).toEqual({
          type: 'doc_action',
          action: flag ? 'leave' : 'save',
          doc: s,
        });
        const entry = { doc_id: `body:w/${s}`, filename: s, title: list[0] ?? null, part_of: null, deleted: flag };
        expect(parseControlMessage(encodeFileManifest([entry], flag))).toEqual({
          type: 'file_manifest',
          files: [entry],
          client_is_new: flag,
        });
      }),
      { seed, numRuns: 300 },
    );
  });
});
