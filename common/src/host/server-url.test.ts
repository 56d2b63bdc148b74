import { describe, expect, it } from 'vitest';
import { httpBase, normalizeServerBase, socketBase, syncSocketUrl } from './server-url';

/** What a person may type for a server, and the bases every host and the plugin derive from it. */
const CASES: { typed: string; base: string; http: string; socket: string }[] = [
  { typed: 'https://sync.diaryx.org', base: 'https://sync.diaryx.org', http: 'https://sync.diaryx.org', socket: 'wss://sync.diaryx.org' },
  { typed: '  https://sync.diaryx.org/  ', base: 'https://sync.diaryx.org', http: 'https://sync.diaryx.org', socket: 'wss://sync.diaryx.org' },
  { typed: 'https://sync.diaryx.org/sync2/sync/', base: 'https://sync.diaryx.org', http: 'https://sync.diaryx.org', socket: 'wss://sync.diaryx.org' },
  { typed: 'https://sync.diaryx.org/sync2//', base: 'https://sync.diaryx.org', http: 'https://sync.diaryx.org', socket: 'wss://sync.diaryx.org' },
  { typed: 'http://localhost:3030/sync', base: 'http://localhost:3030', http: 'http://localhost:3030', socket: 'ws://localhost:3030' },
  { typed: 'HTTP://localhost:3030', base: 'HTTP://localhost:3030', http: 'HTTP://localhost:3030', socket: 'ws://localhost:3030' },
  { typed: 'ws://h/base/', base: 'ws://h/base', http: 'http://h/base', socket: 'ws://h/base' },
  { typed: 'wss://h/sync2', base: 'wss://h', http: 'https://h', socket: 'wss://h' },
  // Only the path's end is the sync endpoint.
  { typed: 'https://h/sync2/team', base: 'https://h/sync2/team', http: 'https://h/sync2/team', socket: 'wss://h/sync2/team' },
  { typed: 'https://h/async', base: 'https://h/async', http: 'https://h/async', socket: 'wss://h/async' },
];

describe('server URLs', () => {
  it.each(CASES)('$typed', ({ typed, base, http, socket }) => {
    expect(normalizeServerBase(typed)).toBe(base);
    expect(httpBase(typed)).toBe(http);
    expect(socketBase(typed)).toBe(socket);
    // Normalising again changes nothing.
    expect(normalizeServerBase(base)).toBe(base);
  });

  it('builds the sync socket URL with the workspace, the token and the session, encoded', () => {
    expect(syncSocketUrl('https://s.example/sync2', 'w 1', 't&k', null)).toBe('wss://s.example/sync2?workspace_id=w%201&token=t%26k');
    expect(syncSocketUrl('http://s', 'w', '', 'ABC-123')).toBe('ws://s/sync2?workspace_id=w&session=ABC-123');
    expect(syncSocketUrl('http://s', 'w', 'tok', 'CODE')).toBe('ws://s/sync2?workspace_id=w&token=tok&session=CODE');
  });
});
