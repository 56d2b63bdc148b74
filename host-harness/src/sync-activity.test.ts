import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activityLine } from './cli/sync-output';
import { serverUrlProblem } from './server-access';
import { ActivityTracker, describeConnectionError, type SyncActivity } from './sync-activity';
import type { WsBridgeStatus } from './ws-bridge';

describe('describeConnectionError', () => {
  it('says what a socket error means', () => {
    expect(describeConnectionError({ lastError: 'connect ECONNREFUSED 127.0.0.1:9', lastErrorCode: 'ECONNREFUSED' })).toBe('connection refused');
    expect(describeConnectionError({ lastError: 'getaddrinfo ENOTFOUND nohost.invalid', lastErrorCode: 'ENOTFOUND' })).toBe('unknown host nohost.invalid');
    expect(describeConnectionError({ lastError: 'Unexpected server response: 404', lastErrorCode: null })).toMatch(/^the server answered HTTP 404/);
    expect(describeConnectionError({ lastError: 'closed by the server (code 1009: message too big)', lastErrorCode: null })).toBe(
      'closed by the server (code 1009: message too big)',
    );
  });
});

describe('serverUrlProblem', () => {
  it('refuses a URL without a scheme or with another scheme, accepts http(s) and ws(s)', () => {
    expect(serverUrlProblem('localhost:3030')).toBe('--server localhost:3030 has no scheme: write http://localhost:3030 (or https://localhost:3030 for a server with TLS)');
    expect(serverUrlProblem('sync.example.org')).toMatch(/has no scheme/);
    expect(serverUrlProblem('ftp://x')).toMatch(/unsupported scheme ftp:/);
    for (const ok of ['http://127.0.0.1:3030', 'https://sync.example.org/', 'ws://h:1/sync2', 'wss://h']) expect(serverUrlProblem(ok)).toBeNull();
  });
});

describe('activityLine', () => {
  it('one line per kind of change, problems marked', () => {
    expect(activityLine({ kind: 'local', change: 'saved', path: 'a.md', pending: false })).toEqual({ text: '↑ sent a.md', problem: false });
    expect(activityLine({ kind: 'remote', change: 'saved', path: 'a.md' }).text).toBe('↓ received a.md');
    expect(activityLine({ kind: 'local', change: 'renamed', from: 'a.md', path: 'b/a.md', pending: true }).text).toBe(
      '→ renamed a.md → b/a.md (here, to send once connected)',
    );
    expect(activityLine({ kind: 'unreachable', reason: 'connection refused', retryInMs: 12_000, pending: 3, attempt: 5, lost: false })).toEqual({
      text: '! server unreachable: connection refused; 3 changes pending; retry in 12 s',
      problem: true,
    });
  });
});

describe('ActivityTracker', () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const socket = (over: Partial<WsBridgeStatus>): WsBridgeStatus => ({
    state: 'open',
    url: null,
    key: null,
    attempt: 0,
    nextDelayMs: null,
    queued: 0,
    opens: 1,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    lastError: null,
    lastErrorCode: null,
    ...over,
  });

  it('keeps files other than Markdown from the plugin and names them once; a rename away from .md is a delete', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-activity-'));
    const seen: SyncActivity[] = [];
    const delivered: unknown[] = [];
    const tracker = new ActivityTracker(dir, (a) => seen.push(a), () => socket({}));
    const deliver = async (e: unknown) => void delivered.push(e);
    await tracker.folderEvent({ type: 'file_created', payload: { path: 'p.png' } }, deliver);
    await tracker.folderEvent({ type: 'file_saved', payload: { path: 'p.png' } }, deliver);
    await tracker.folderEvent({ type: 'file_moved', payload: { old_path: 'n.md', new_path: 'n.txt' } }, deliver);
    expect(delivered).toEqual([{ type: 'file_deleted', payload: { path: 'n.md' } }]);
    expect(seen.filter((a) => a.kind === 'not-synced').map((a) => (a as { path: string }).path)).toEqual(['p.png', 'n.txt']);
  });

  it('says a connection failure once per attempt, and "lost" for the first after an open connection', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-activity-'));
    const seen: SyncActivity[] = [];
    const tracker = new ActivityTracker(dir, (a) => seen.push(a), () => null);
    const failed = socket({ state: 'backoff', attempt: 1, nextDelayMs: 1000, lastError: 'closed by the server (code 1001)' });
    tracker.socketStatus(failed);
    tracker.socketStatus({ ...failed, queued: 2 });
    tracker.socketStatus(socket({ state: 'backoff', attempt: 2, nextDelayMs: 1500, lastError: 'x', lastErrorCode: 'ECONNREFUSED' }));
    tracker.socketStatus(socket({ state: 'open' }));
    expect(seen.map((a) => (a.kind === 'unreachable' ? `${a.lost ? 'lost' : 'unreachable'} ${a.reason}` : a.kind))).toEqual([
      'lost closed by the server (code 1001)',
      'unreachable connection refused',
      'reconnected',
    ]);
  });

  it('during a transfer, counts the files written but still names renames and deletions', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-activity-'));
    fs.mkdirSync(path.join(dir, 'A'));
    fs.writeFileSync(path.join(dir, 'A', 'x.md'), 'x');
    fs.writeFileSync(path.join(dir, 'gone.md'), 'g');
    const seen: SyncActivity[] = [];
    const tracker = new ActivityTracker(dir, (a) => seen.push(a), () => null);
    tracker.progress(0, 10);
    tracker.fileDeleted('A/x.md');
    tracker.fileWritten('A/2026/12/x.md');
    tracker.fileWritten('B/y.md');
    tracker.fileWritten('B/z.md');
    tracker.fileDeleted('gone.md');
    expect(seen).toEqual([]);
    tracker.progress(10, 10);
    expect(seen).toEqual([
      { kind: 'remote', change: 'deleted', path: 'gone.md' },
      { kind: 'remote', change: 'renamed', path: 'A/2026/12/x.md', from: 'A/x.md' },
      { kind: 'remote-bulk', created: 2, saved: 0 },
    ]);
  });

  it('a new file whose entry and text arrive together is one line, and its next change another', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-activity-'));
    const seen: SyncActivity[] = [];
    const tracker = new ActivityTracker(dir, (a) => seen.push(a), () => null);
    const text = (body: string) => new TextEncoder().encode(`---\ntitle: M\n---\n${body}`);
    tracker.fileWritten('m.md', text(''));
    tracker.fileWritten('m.md', text('First.\n'));
    tracker.flushRemote();
    tracker.fileWritten('m.md', text('First, edited.\n'));
    tracker.flushRemote();
    // An entry alone, then its text in a later batch: still one line.
    tracker.fileWritten('n.md', text(''));
    tracker.flushRemote();
    tracker.fileWritten('n.md', text('N.\n'));
    tracker.flushRemote();
    expect(seen).toEqual([
      { kind: 'remote', change: 'created', path: 'm.md' },
      { kind: 'remote', change: 'saved', path: 'm.md' },
      { kind: 'remote', change: 'created', path: 'n.md' },
    ]);
  });
});
