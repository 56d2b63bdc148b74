/**
 * The host function table over a temporary workspace folder: path rules,
 * atomic writes, plugin storage and its quota, in-band errors, the call log
 * and the injectable clock, event, log, context, WebSocket and HTTP handlers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_HOST_FUNCTIONS } from '../../common/src/host/host-functions';
import { createHostFunctions, formatLocalRfc3339, HostTrapError, type HostFunctionTable } from '../../host-harness/src/host-functions';
import type { HostCallRecord } from '../../host-harness/src/host-types';
import { storageFileName } from '../../host-harness/src/plugin-storage';

let root: string;
let ws: string;
let storageDir: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-hostfn-'));
  ws = path.join(root, 'ws');
  storageDir = path.join(ws, '.diaryx', 'plugin-storage', 'diaryx.sync');
  fs.mkdirSync(ws);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const j = (v: unknown) => JSON.stringify(v);
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

function table(extra: Partial<Parameters<typeof createHostFunctions>[0]> = {}): HostFunctionTable {
  return createHostFunctions({ workspaceDir: ws, storageDir, ...extra });
}

describe('host function table', () => {
  it('provides every host function of the full list', () => {
    const t = table();
    for (const name of ALL_HOST_FUNCTIONS) expect(typeof t[name], name).toBe('function');
    expect(ALL_HOST_FUNCTIONS.length).toBe(40);
  });

  it('answers the functions it does not implement with an explicit error', () => {
    const t = table();
    for (const name of ALL_HOST_FUNCTIONS.filter((n) => n.startsWith('host_namespace_'))) {
      expect(JSON.parse(t[name]('{}'))).toEqual({ error: `${name} is not supported by this host` });
    }
    expect(JSON.parse(t.host_run_wasi_module('{}')).error).toMatch(/not supported/);
    expect(JSON.parse(t.host_request_file('{"key":"x"}')).error).toMatch(/not supported/);
    expect(JSON.parse(t.host_plugin_command('{}'))).toEqual({ success: false, error: 'host_plugin_command is not supported by this host' });
    const proxy = JSON.parse(t.host_proxy_request('{}'));
    expect(proxy.status).toBe(0);
    expect(proxy.error).toMatch(/not supported/);
    expect(t.host_workspace_file_set('{}')).toBe('host_workspace_file_set is not supported by this host');
  });
});

describe('files', () => {
  it('writes, reads, lists and deletes workspace-relative paths', () => {
    const t = table();
    expect(t.host_write_file(j({ content: 'héllo', path: 'notes/a.md' }))).toBe('');
    expect(fs.readFileSync(path.join(ws, 'notes', 'a.md'), 'utf8')).toBe('héllo');
    expect(t.host_read_file(j({ path: 'notes/a.md' }))).toBe('héllo');
    expect(t.host_read_file(j({ path: './notes/a.md' }))).toBe('héllo');
    expect(t.host_read_file(j({ path: '/notes/a.md' }))).toBe('héllo');
    expect(t.host_read_file(j({ path: 'notes\\a.md' }))).toBe('héllo');
    expect(t.host_write_binary(j({ content: b64(new Uint8Array([0, 1, 255])), path: 'img/x.bin' }))).toBe('');
    expect(JSON.parse(t.host_read_binary(j({ path: 'img/x.bin' })))).toEqual({ data: 'AAH/' });
    // Everything is listed, dot-directories included (the plugin decides what to sync).
    expect(JSON.parse(t.host_list_files(j({ prefix: '' })))).toEqual([
      '.diaryx',
      '.diaryx/plugin-storage',
      '.diaryx/plugin-storage/diaryx.sync',
      'img',
      'img/x.bin',
      'notes',
      'notes/a.md',
    ]);
    expect(JSON.parse(t.host_list_files(j({ prefix: 'notes' })))).toEqual(['notes/a.md']);
    expect(JSON.parse(t.host_list_files(j({ prefix: 'missing' })))).toEqual([]);
    expect(JSON.parse(t.host_list_dir(j({ path: '' })))).toEqual(['.diaryx', 'img', 'notes']);
    expect(JSON.parse(t.host_list_dir(j({ path: 'notes' })))).toEqual(['notes/a.md']);
    expect(JSON.parse(t.host_list_dir(j({ path: 'nope' }))).error).toMatch(/No such file/);
    expect(t.host_file_exists(j({ path: 'notes/a.md' }))).toBe('true');
    expect(t.host_file_exists(j({ path: 'notes/b.md' }))).toBe('false');
    const meta = JSON.parse(t.host_file_metadata(j({ path: 'notes/a.md' })));
    expect(meta.exists).toBe(true);
    expect(meta.size_bytes).toBe(6);
    expect(typeof meta.modified_at_ms).toBe('number');
    expect(JSON.parse(t.host_file_metadata(j({ path: 'zzz' })))).toEqual({ exists: false, size_bytes: null, modified_at_ms: null });
    expect(JSON.parse(t.host_hash_file(j({ path: 'notes/a.md' })))).toEqual({ hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(t.host_hash_file(j({ path: 'zzz' }))).toBe('');
    expect(t.host_delete_file(j({ path: 'notes/a.md' }))).toBe('');
    expect(fs.existsSync(path.join(ws, 'notes', 'a.md'))).toBe(false);
    expect(t.host_delete_file(j({ path: 'notes/a.md' }))).toBe('');
    expect(JSON.parse(t.host_read_file(j({ path: 'notes/a.md' })))).toEqual({ error: 'notes/a.md: No such file or directory' });
  });

  it('hashes files with SHA-256', () => {
    const t = table();
    t.host_write_file(j({ content: 'abc', path: 'a.txt' }));
    expect(JSON.parse(t.host_hash_file(j({ path: 'a.txt' })))).toEqual({
      hash: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
  });

  it('refuses traversal in-band, without throwing', () => {
    const t = table();
    fs.writeFileSync(path.join(root, 'secret.txt'), 'top secret');
    for (const p of ['../secret.txt', 'a/../../secret.txt', '..\\secret.txt', 'notes/../../x']) {
      expect(JSON.parse(t.host_read_file(j({ path: p })))).toEqual({ error: `Path traversal not allowed: ${p}` });
      expect(JSON.parse(t.host_read_binary(j({ path: p })))).toEqual({ error: `Path traversal not allowed: ${p}` });
      expect(t.host_write_file(j({ content: 'x', path: p }))).toBe(`Path traversal not allowed: ${p}`);
      expect(t.host_write_binary(j({ content: 'eA==', path: p }))).toBe(`Path traversal not allowed: ${p}`);
      expect(t.host_delete_file(j({ path: p }))).toBe(`Path traversal not allowed: ${p}`);
      expect(t.host_file_exists(j({ path: p }))).toBe('false');
      expect(t.host_hash_file(j({ path: p }))).toBe('');
    }
    expect(fs.readFileSync(path.join(root, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('refuses symlinks that lead out of the folder', () => {
    const t = table();
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'o.md'), 'outside');
    fs.symlinkSync(outside, path.join(ws, 'link'));
    fs.symlinkSync(path.join(outside, 'o.md'), path.join(ws, 'file-link.md'));
    fs.symlinkSync(path.join(root, 'nowhere'), path.join(ws, 'dangling'));
    expect(JSON.parse(t.host_read_file(j({ path: 'link/o.md' })))).toEqual({ error: 'Path traversal not allowed: link/o.md' });
    expect(JSON.parse(t.host_read_file(j({ path: 'file-link.md' })))).toEqual({ error: 'Path traversal not allowed: file-link.md' });
    expect(t.host_write_file(j({ content: 'x', path: 'link/new.md' }))).toBe('Path traversal not allowed: link/new.md');
    expect(t.host_write_file(j({ content: 'x', path: 'dangling/new.md' }))).toBe('Path traversal not allowed: dangling/new.md');
    expect(fs.existsSync(path.join(outside, 'new.md'))).toBe(false);
    expect(JSON.parse(t.host_list_files(j({ prefix: 'link' }))).error).toBe('Path traversal not allowed: link');
    // A symlink inside the folder is fine.
    fs.writeFileSync(path.join(ws, 'real.md'), 'inside');
    fs.symlinkSync(path.join(ws, 'real.md'), path.join(ws, 'alias.md'));
    expect(t.host_read_file(j({ path: 'alias.md' }))).toBe('inside');
  });

  it('writes atomically and leaves no temp files behind', () => {
    const t = table();
    for (let i = 0; i < 20; i++) expect(t.host_write_file(j({ content: `v${i}`, path: 'deep/er/f.md' }))).toBe('');
    expect(fs.readdirSync(path.join(ws, 'deep', 'er'))).toEqual(['f.md']);
    expect(fs.readFileSync(path.join(ws, 'deep', 'er', 'f.md'), 'utf8')).toBe('v19');
  });

  it('reports I/O failures in-band', () => {
    const t = table();
    fs.mkdirSync(path.join(ws, 'dir'));
    expect(JSON.parse(t.host_read_file(j({ path: 'dir' }))).error).toMatch(/^dir: /);
    expect(t.host_write_file(j({ content: 'x', path: 'dir' }))).toMatch(/^host_write_file: dir: /);
    expect(t.host_delete_file(j({ path: 'dir' }))).toMatch(/Is a directory/);
    expect(t.host_write_binary(j({ content: '%%%', path: 'b.bin' }))).toMatch(/^host_write_binary: invalid base64/);
  });

  it('reports the harness writes and deletes to observers', () => {
    const written: [string, string][] = [];
    const deleted: string[] = [];
    const t = table({ onFileWritten: (p, d) => written.push([p, Buffer.from(d).toString()]), onFileDeleted: (p) => deleted.push(p) });
    t.host_write_file(j({ content: 'x', path: './a//b.md' }));
    t.host_delete_file(j({ path: '/a/b.md' }));
    expect(written).toEqual([['a/b.md', 'x']]);
    expect(deleted).toEqual(['a/b.md']);
  });
});

describe('malformed input', () => {
  it('never throws and answers in-band', () => {
    const t = table();
    for (const name of ALL_HOST_FUNCTIONS) {
      for (const input of ['', 'not json', '[]', 'null', '{"path":42}']) {
        expect(() => t[name](input), `${name}(${input})`).not.toThrow();
      }
    }
    expect(JSON.parse(t.host_read_file('not json')).error).toMatch(/^host_read_file: invalid JSON input/);
    expect(t.host_write_file('{}')).toBe('host_write_file: missing string field "path"');
    expect(t.host_storage_set('{"key":"k","data":"!!"}')).toMatch(/^host_storage_set: invalid base64/);
    expect(JSON.parse(t.host_emit_event('nope')).error).toMatch(/invalid JSON/);
    expect(JSON.parse(t.host_ws_request('nope'))).toMatchObject({ ok: false, error: expect.stringMatching(/^host_ws_request: /) });
    expect(JSON.parse(t.host_http_request('nope'))).toMatchObject({ status: 0, headers: {}, error: expect.stringMatching(/invalid JSON/) });
  });
});

describe('plugin storage', () => {
  it('stores bytes in files under the storage dir and deletes on empty data', () => {
    const t = table();
    expect(t.host_storage_get(j({ key: 'workspace_crdt' }))).toBe('');
    expect(t.host_storage_set(j({ data: b64(new Uint8Array([1, 2, 3])), key: 'workspace_crdt' }))).toBe('');
    expect(t.host_storage_get(j({ key: 'workspace_crdt' }))).toBe('{"data":"AQID"}');
    expect(fs.readFileSync(path.join(storageDir, storageFileName('workspace_crdt')))).toEqual(Buffer.from([1, 2, 3]));
    // A new table over the same folder sees the value.
    expect(table().host_storage_get(j({ key: 'workspace_crdt' }))).toBe('{"data":"AQID"}');
    expect(t.host_storage_set(j({ data: '', key: 'workspace_crdt' }))).toBe('');
    expect(t.host_storage_get(j({ key: 'workspace_crdt' }))).toBe('');
    expect(fs.readdirSync(storageDir)).toEqual([]);
  });

  it('keeps keys with any characters apart', () => {
    const t = table();
    const keys = ['body:notes/a.md', 'body:notes%2Fa.md', 'Body:Notes/A.md', '../x', '.', '..', '', 'ü/é', 'a'.repeat(400), 'a'.repeat(399) + 'b'];
    keys.forEach((key, i) => expect(t.host_storage_set(j({ data: b64(`v${i}`), key })), key).toBe(''));
    keys.forEach((key, i) => expect(JSON.parse(t.host_storage_get(j({ key }))).data, key).toBe(b64(`v${i}`)));
    const names = fs.readdirSync(storageDir);
    expect(names.length).toBe(keys.length);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(keys.length);
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(200);
      expect(n.startsWith('.')).toBe(false);
      expect(n).not.toMatch(/[/\\]/);
    }
  });

  it('refuses values over the quota with an error string', () => {
    const t = table({ storageQuotaBytes: 8 });
    expect(t.host_storage_set(j({ data: b64('12345678'), key: 'k' }))).toBe('');
    expect(t.host_storage_set(j({ data: b64('123456789'), key: 'k' }))).toBe('Storage quota exceeded: 9 bytes > 8 bytes for key k');
    expect(t.host_storage_get(j({ key: 'k' }))).toBe(`{"data":"${b64('12345678')}"}`);
  });

  it('defaults to a 1 MiB quota', () => {
    const t = table();
    expect(t.host_storage_set(j({ data: b64(new Uint8Array(1048576)), key: 'big' }))).toBe('');
    expect(t.host_storage_set(j({ data: b64(new Uint8Array(1048577)), key: 'big' }))).toBe(
      'Storage quota exceeded: 1048577 bytes > 1048576 bytes for key big',
    );
  });

  it('keeps values in memory when no storage dir is given', () => {
    const t = createHostFunctions({ workspaceDir: ws });
    expect(t.host_storage_set(j({ data: 'AQID', key: 'k' }))).toBe('');
    expect(t.host_storage_get(j({ key: 'k' }))).toBe('{"data":"AQID"}');
    expect(fs.existsSync(path.join(ws, '.diaryx'))).toBe(false);
  });
});

describe('secrets, clock, context, cancellation', () => {
  it('stores secrets in memory or in a file', () => {
    const file = path.join(root, 'secrets.json');
    const t = table({ secretsFile: file });
    expect(t.host_secret_get(j({ key: 'token' }))).toBe('');
    expect(t.host_secret_set(j({ key: 'token', value: 's3cret' }))).toBe('');
    expect(JSON.parse(t.host_secret_get(j({ key: 'token' })))).toEqual({ value: 's3cret' });
    expect(JSON.parse(table({ secretsFile: file }).host_secret_get(j({ key: 'token' })))).toEqual({ value: 's3cret' });
    expect(t.host_secret_delete(j({ key: 'token' }))).toBe('');
    expect(t.host_secret_get(j({ key: 'token' }))).toBe('');
  });

  it('reads time from the injected clock', () => {
    let now = 1_700_000_000_123.7;
    const t = table({ clock: () => now });
    expect(t.host_get_timestamp('')).toBe('1700000000123');
    now += 1000;
    expect(t.host_get_timestamp('ignored')).toBe('1700000001123');
    expect(t.host_get_now('')).toBe(formatLocalRfc3339(now));
    expect(t.host_get_now('')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
  });

  it('returns the injected runtime context and cancellation state', () => {
    let ctx: Record<string, unknown> = { server_url: 'http://x' };
    const t = table({ runtimeContext: () => ctx, isCancelled: (tok) => tok === 'stop' });
    expect(JSON.parse(t.host_get_runtime_context(''))).toEqual({ server_url: 'http://x' });
    ctx = {};
    expect(t.host_get_runtime_context('')).toBe('{}');
    expect(table().host_get_runtime_context('')).toBe('{}');
    expect(t.host_is_cancelled(j({ token: 'stop' }))).toBe('{"cancelled":true}');
    expect(t.host_is_cancelled(j({ token: 'go' }))).toBe('{"cancelled":false}');
  });
});

describe('sinks and handlers', () => {
  it('forwards events and logs, and records every call', () => {
    const events: unknown[] = [];
    const logs: [string, string][] = [];
    const callLog: HostCallRecord[] = [];
    const t = table({ onEvent: (e) => events.push(e), onLog: (l, m) => logs.push([l, m]), callLog });
    expect(t.host_emit_event('{"type":"SyncStatusChanged","status":"connected"}')).toBe('');
    expect(t.host_log(j({ level: 'warn', message: 'careful' }))).toBe('');
    expect(t.host_log(j({ level: 'verbose', message: 'x' }))).toBe('');
    expect(events).toEqual([{ type: 'SyncStatusChanged', status: 'connected' }]);
    expect(logs).toEqual([
      ['warn', 'careful'],
      ['trace', 'x'],
    ]);
    expect(callLog.map((c) => c.name)).toEqual(['host_emit_event', 'host_log', 'host_log']);
    expect(callLog[0]).toEqual({ name: 'host_emit_event', input: '{"type":"SyncStatusChanged","status":"connected"}', output: '' });
  });

  it('delegates WebSocket and HTTP requests to the injected handlers', () => {
    const wsSeen: unknown[] = [];
    const httpSeen: unknown[] = [];
    const t = table({
      ws: (req) => {
        wsSeen.push(req);
        return req.type === 'send_text' ? { ok: false, error: 'not connected' } : { ok: true };
      },
      http: (req) => {
        httpSeen.push(req);
        return { status: 404, headers: { a: 'b' }, body: 'nope', body_base64: b64('nope') };
      },
    });
    expect(t.host_ws_request('{"type":"send_binary","data":"AQID"}')).toBe('{"ok":true}');
    expect(t.host_ws_request('{"type":"send_text","text":"hi"}')).toBe('{"ok":false,"error":"not connected"}');
    expect(wsSeen).toEqual([{ type: 'send_binary', data: 'AQID' }, { type: 'send_text', text: 'hi' }]);
    const out = JSON.parse(t.host_http_request(j({ headers: {}, method: 'GET', url: 'http://example.invalid/' })));
    expect(out).toEqual({ status: 404, headers: { a: 'b' }, body: 'nope', body_base64: b64('nope') });
    expect(httpSeen).toEqual([{ headers: {}, method: 'GET', url: 'http://example.invalid/' }]);
  });

  it('refuses WebSocket requests when no bridge is configured', () => {
    expect(JSON.parse(table().host_ws_request('{"type":"disconnect"}'))).toEqual({
      ok: false,
      error: 'host_ws_request: no WebSocket bridge in this host',
    });
  });

  it('turns a throwing handler into an in-band error', () => {
    const t = table({
      http: () => {
        throw new Error('boom');
      },
      onEvent: () => {
        throw new Error('sink down');
      },
    });
    expect(JSON.parse(t.host_http_request(j({ method: 'GET', url: 'http://x/' })))).toEqual({
      status: 0,
      headers: {},
      body: 'host_http_request: boom',
      error: 'host_http_request: boom',
    });
    expect(JSON.parse(t.host_emit_event('{}')).error).toBe('host_emit_event: sink down');
  });
});

describe('host families: how each real host answers a failed file or storage call', () => {
  const quota = { storageQuotaBytes: 4 };

  it('current: in-band errors', () => {
    const t = table(quota);
    expect(JSON.parse(t.host_read_file(j({ path: 'gone.md' })))).toEqual({ error: 'gone.md: No such file or directory' });
    expect(JSON.parse(t.host_read_binary(j({ path: 'gone.bin' })))).toEqual({ error: 'gone.bin: No such file or directory' });
    expect(t.host_storage_set(j({ key: 'k', data: b64('too long') }))).toMatch(/quota/i);
    expect(t.host_write_file(j({ content: 'x', path: '../out.md' }))).toMatch(/traversal/);
    expect(t.host_delete_file(j({ path: 'gone.md' }))).toBe('');
  });

  it('web: "" for a missing file or failed storage read; write, delete and storage failures swallowed', () => {
    const log: HostCallRecord[] = [];
    const t = table({ ...quota, family: 'web', callLog: log });
    expect(t.host_read_file(j({ path: 'gone.md' }))).toBe('');
    expect(t.host_read_binary(j({ path: 'gone.bin' }))).toBe('');
    expect(t.host_storage_set(j({ key: 'k', data: b64('too long') }))).toBe('');
    expect(t.host_storage_get(j({ key: 'k' }))).toBe('');
    expect(t.host_write_file(j({ content: 'x', path: '../out.md' }))).toBe('');
    expect(fs.existsSync(path.join(root, 'out.md'))).toBe(false);
    expect(t.host_delete_file(j({ path: 'gone.md' }))).toBe('');
    // What works still answers as usual.
    expect(t.host_write_file(j({ content: 'hi', path: 'a.md' }))).toBe('');
    expect(t.host_read_file(j({ path: 'a.md' }))).toBe('hi');
    expect(t.host_file_exists(j({ path: 'gone.md' }))).toBe('false');
    expect(log.map((c) => c.name)).toContain('host_read_file');
  });

  it('desktop: a failed call traps (throws), and the call log still records it', () => {
    const log: HostCallRecord[] = [];
    const t = table({ ...quota, family: 'desktop', callLog: log });
    expect(() => t.host_read_file(j({ path: 'gone.md' }))).toThrow(HostTrapError);
    expect(() => t.host_read_binary(j({ path: 'gone.bin' }))).toThrow(HostTrapError);
    expect(() => t.host_storage_set(j({ key: 'k', data: b64('too long') }))).toThrow(/host_storage_set trapped/);
    expect(() => t.host_write_file(j({ content: 'x', path: '../out.md' }))).toThrow(/host_write_file trapped: Path traversal/);
    expect(() => t.host_delete_file(j({ path: 'gone.md' }))).toThrow(/host_delete_file trapped: gone.md: No such file/);
    expect(t.host_write_file(j({ content: 'hi', path: 'a.md' }))).toBe('');
    expect(t.host_read_file(j({ path: 'a.md' }))).toBe('hi');
    expect(t.host_delete_file(j({ path: 'a.md' }))).toBe('');
    expect(t.host_file_exists(j({ path: 'gone.md' }))).toBe('false');
    expect(log[0]).toEqual({ name: 'host_read_file', input: j({ path: 'gone.md' }), output: '<trap: gone.md: No such file or directory>' });
  });
});
