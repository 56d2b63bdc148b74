/**
 * The Diaryx host functions over a real workspace folder: one synchronous
 * `(input) => output` function per name, string in and string out, as the
 * plugin imports them from `extism:host/user`.
 *
 * By default no function throws: malformed input, refused paths and I/O
 * failures are answered in-band (`{"error":...}` JSON for reads, an error
 * string for writes and deletes, `status:0` for HTTP), because a throw would
 * fail the whole plugin call. Functions this host does not implement
 * (namespaces, plugin-to-plugin commands, WASI modules, file pickers, proxies)
 * answer an explicit "not supported" error rather than a fake success.
 *
 * `family` makes file and storage failures look the way another Diaryx host
 * answers them (see HostFamily), so the plugin can be tested against each.
 */
import { decodeBase64, encodeBase64 } from '../../common/src/base64';
import { ALL_HOST_FUNCTIONS } from '../../common/src/host/host-functions';
import { type HostCallRecord, type HostLogLevel, type HttpRequest, type HttpResponse, type WsRequest, type WsResponse } from './host-types';
import { SecretStore } from './secret-store';
import { PluginStorage, StorageQuotaError } from './plugin-storage';
import { syncHttpRequest } from './sync-http';
import { PathRefusedError } from '../../common/src/host/paths';
import { WorkspaceFs, sha256Hex } from './workspace-fs';

export type HostFunction = (input: string) => string;

/**
 * How a host answers a failed file or storage call:
 * - `current`: in-band errors (`{"error":...}` for reads, an error string for
 *   writes), as current Diaryx hosts do;
 * - `web`: the web app of the plugin's era: `""` for a missing or unreadable
 *   file (text or binary) and for a failed storage read; write, delete and
 *   storage-write failures are swallowed (answered `""`, as a success);
 * - `desktop`: the desktop app of the plugin's era (Rust host on wasmtime):
 *   the host function fails, which traps the whole export call; a missing
 *   file is a failure for reads and deletes.
 */
export type HostFamily = 'current' | 'web' | 'desktop';

/** A host function failed the way a trapping host does: thrown, never answered. */
export class HostTrapError extends Error {
  override name = 'HostTrapError';
  constructor(
    readonly fn: string,
    readonly detail: string,
  ) {
    super(`${fn} trapped: ${detail}`);
  }
}
export type HostFunctionTable = Record<string, HostFunction>;

export interface HostFunctionOptions {
  /** The workspace folder every path is relative to. */
  workspaceDir: string;
  /** Folder of this plugin's storage values (one per plugin id); omitted = in memory. */
  storageDir?: string;
  /** Per-value storage quota in bytes (default 1 MiB). */
  storageQuotaBytes?: number;
  /** Milliseconds since the Unix epoch (default Date.now); drives both timestamp functions. */
  clock?: () => number;
  /** Receives host_log messages (default: dropped). */
  onLog?: (level: HostLogLevel, message: string) => void;
  /** Receives host_emit_event payloads, parsed, with the raw JSON text. */
  onEvent?: (event: unknown, raw: string) => void;
  /** host_get_runtime_context's answer (an object, or a function read on every call). */
  runtimeContext?: Record<string, unknown> | (() => Record<string, unknown>);
  /** host_ws_request handler (default: refuses, no WebSocket bridge). */
  ws?: (req: WsRequest) => WsResponse;
  /** host_http_request handler (default: real HTTP through sync-http's worker). */
  http?: (req: HttpRequest) => HttpResponse;
  /** host_workspace_file_set handler (default: a "not supported" error string). */
  workspaceFileSet?: () => string[];
  /** host_is_cancelled handler (default: never cancelled). */
  isCancelled?: (token: string) => boolean;
  /** JSON file holding secrets; omitted = in memory. */
  secretsFile?: string;
  /** Every call is appended here (name, input, output). */
  callLog?: HostCallRecord[];
  /** Called after every call with the same record. */
  onCall?: (record: HostCallRecord) => void;
  /** Called after the plugin wrote a workspace file (workspace-relative path, bytes written). */
  onFileWritten?: (path: string, data: Uint8Array) => void;
  /** Called after the plugin deleted a workspace file. */
  onFileDeleted?: (path: string) => void;
  /** How file and storage failures are answered (default `current`; see HostFamily). */
  family?: HostFamily;
}

/** Bad input to a host function (answered in-band). */
class InputError extends Error {
  override name = 'InputError';
}

function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EEXIST: 'File exists',
  ENOSPC: 'No space left on device',
};

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && ERRNO_TEXT[err.code]) return ERRNO_TEXT[err.code];
  return e instanceof Error ? e.message : String(e);
}

/** Runs a file operation; an I/O error is re-thrown with the path in its message. */
function onPath<T>(path: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    if (e instanceof PathRefusedError || e instanceof InputError) throw e;
    throw new Error(`${path}: ${describe(e)}`);
  }
}

function parseObject(fn: string, input: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch (e) {
    throw new InputError(`${fn}: invalid JSON input: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${fn}: input must be a JSON object`);
  return v as Record<string, unknown>;
}

function str(fn: string, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new InputError(`${fn}: missing string field "${key}"`);
  return v;
}

function decodeB64(fn: string, text: string): Uint8Array {
  try {
    return decodeBase64(text);
  } catch (e) {
    throw new InputError(`${fn}: invalid base64: ${(e as Error).message}`);
  }
}

/** Local RFC 3339 time with offset, second precision (`2026-01-02T03:04:05+01:00`). */
export function formatLocalRfc3339(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

/** Builds the full host function table for one plugin over one workspace folder. */
export function createHostFunctions(options: HostFunctionOptions): HostFunctionTable {
  const workspace = new WorkspaceFs(options.workspaceDir);
  const storage = new PluginStorage({ dir: options.storageDir, quotaBytes: options.storageQuotaBytes });
  const clock = options.clock ?? Date.now;
  const secrets = new SecretStore(options.secretsFile);
  const http = options.http ?? syncHttpRequest;

  const family = options.family ?? 'current';
  /** Files whose failed read a `web` host answers with `""`. */
  const blankOnFailure = new Set(['host_read_file', 'host_read_binary', 'host_storage_get']);
  /** Read-side wrapper: failures become `{"error":...}` (or `""`, or a trap, by family). */
  const read =
    (fn: string, body: (input: string) => string): HostFunction =>
    (input) => {
      try {
        return body(input);
      } catch (e) {
        if (family === 'desktop') throw new HostTrapError(fn, describe(e));
        if (family === 'web' && blankOnFailure.has(fn)) return '';
        return errorJson(describe(e));
      }
    };
  /** Write-side wrapper: failures become a plain error string (or are swallowed, or trap, by family). */
  const write =
    (fn: string, body: (input: string) => void): HostFunction =>
    (input) => {
      try {
        body(input);
        return '';
      } catch (e) {
        if (family === 'desktop') throw new HostTrapError(fn, describe(e));
        if (family === 'web') return '';
        const bare = e instanceof InputError || e instanceof PathRefusedError || e instanceof StorageQuotaError;
        return bare ? describe(e) : `${fn}: ${describe(e)}`;
      }
    };
  const unsupported = (fn: string): HostFunction => () => errorJson(`${fn} is not supported by this host`);

  const writeBytes = (path: string, data: Uint8Array) => {
    const rel = onPath(path, () => workspace.writeBytes(path, data));
    options.onFileWritten?.(rel, data);
  };

  const table: HostFunctionTable = {
    host_log: (input) => {
      try {
        const v = parseObject('host_log', input);
        const raw = typeof v.level === 'string' ? v.level : '';
        const level: HostLogLevel = ['error', 'warn', 'info', 'debug'].includes(raw) ? (raw as HostLogLevel) : 'trace';
        options.onLog?.(level, typeof v.message === 'string' ? v.message : JSON.stringify(v.message ?? ''));
        return '';
      } catch (e) {
        return errorJson(describe(e));
      }
    },

    host_read_file: read('host_read_file', (input) => {
      const path = str('host_read_file', parseObject('host_read_file', input), 'path');
      return Buffer.from(onPath(path, () => workspace.readBytes(path))).toString('utf8');
    }),

    host_read_binary: read('host_read_binary', (input) => {
      const path = str('host_read_binary', parseObject('host_read_binary', input), 'path');
      return JSON.stringify({ data: encodeBase64(onPath(path, () => workspace.readBytes(path))) });
    }),

    host_list_files: read('host_list_files', (input) => {
      const v = parseObject('host_list_files', input);
      const prefix = typeof v.prefix === 'string' ? v.prefix : '';
      return JSON.stringify(workspace.listRecursive(prefix));
    }),

    host_list_dir: read('host_list_dir', (input) => {
      const path = str('host_list_dir', parseObject('host_list_dir', input), 'path');
      return JSON.stringify(onPath(path, () => workspace.listDir(path)));
    }),

    host_workspace_file_set: () => {
      if (!options.workspaceFileSet) return 'host_workspace_file_set is not supported by this host';
      try {
        return JSON.stringify(options.workspaceFileSet());
      } catch (e) {
        return `host_workspace_file_set: ${describe(e)}`;
      }
    },

    host_file_exists: (input) => {
      try {
        const path = str('host_file_exists', parseObject('host_file_exists', input), 'path');
        return workspace.exists(path) ? 'true' : 'false';
      } catch {
        return 'false';
      }
    },

    host_file_metadata: (input) => {
      const missing = JSON.stringify({ exists: false, size_bytes: null, modified_at_ms: null });
      try {
        const path = str('host_file_metadata', parseObject('host_file_metadata', input), 'path');
        const st = workspace.stat(path);
        if (!st) return missing;
        return JSON.stringify({ exists: true, size_bytes: st.size, modified_at_ms: Math.trunc(st.mtimeMs) });
      } catch {
        return missing;
      }
    },

    host_write_file: write('host_write_file', (input) => {
      const v = parseObject('host_write_file', input);
      const path = str('host_write_file', v, 'path');
      const content = str('host_write_file', v, 'content');
      writeBytes(path, Buffer.from(content, 'utf8'));
    }),

    host_write_binary: write('host_write_binary', (input) => {
      const v = parseObject('host_write_binary', input);
      const path = str('host_write_binary', v, 'path');
      const data = decodeB64('host_write_binary', str('host_write_binary', v, 'content'));
      writeBytes(path, data);
    }),

    host_delete_file: write('host_delete_file', (input) => {
      const path = str('host_delete_file', parseObject('host_delete_file', input), 'path');
      // The desktop host's delete fails for a file that is not there.
      if (family === 'desktop' && !workspace.exists(path)) throw new Error(`${path}: No such file or directory`);
      const rel = onPath(path, () => workspace.deleteFile(path));
      options.onFileDeleted?.(rel);
    }),

    host_hash_file: (input) => {
      try {
        const path = str('host_hash_file', parseObject('host_hash_file', input), 'path');
        return JSON.stringify({ hash: sha256Hex(workspace.readBytes(path)) });
      } catch {
        return '';
      }
    },

    host_emit_event: (input) => {
      let event: unknown;
      try {
        event = JSON.parse(input);
      } catch (e) {
        return errorJson(`host_emit_event: invalid JSON input: ${(e as Error).message}`);
      }
      try {
        options.onEvent?.(event, input);
        return '';
      } catch (e) {
        return errorJson(`host_emit_event: ${describe(e)}`);
      }
    },

    host_storage_get: read('host_storage_get', (input) => {
      const key = str('host_storage_get', parseObject('host_storage_get', input), 'key');
      const data = storage.get(key);
      return data === null ? '' : JSON.stringify({ data: encodeBase64(data) });
    }),

    host_storage_set: write('host_storage_set', (input) => {
      const v = parseObject('host_storage_set', input);
      const key = str('host_storage_set', v, 'key');
      const data = v.data === null || v.data === undefined ? new Uint8Array(0) : decodeB64('host_storage_set', str('host_storage_set', v, 'data'));
      storage.set(key, data);
    }),

    host_secret_get: (input) => {
      try {
        const value = secrets.get(str('host_secret_get', parseObject('host_secret_get', input), 'key'));
        return value === undefined ? '' : JSON.stringify({ value });
      } catch (e) {
        return errorJson(describe(e));
      }
    },

    host_secret_set: write('host_secret_set', (input) => {
      const v = parseObject('host_secret_set', input);
      secrets.set(str('host_secret_set', v, 'key'), str('host_secret_set', v, 'value'));
    }),

    host_secret_delete: write('host_secret_delete', (input) => {
      secrets.set(str('host_secret_delete', parseObject('host_secret_delete', input), 'key'), undefined);
    }),

    host_get_timestamp: () => String(Math.trunc(clock())),

    host_get_now: () => formatLocalRfc3339(clock()),

    host_http_request: (input) => {
      let req: Record<string, unknown>;
      try {
        req = parseObject('host_http_request', input);
      } catch (e) {
        const msg = describe(e);
        return JSON.stringify({ status: 0, headers: {}, body: msg, error: msg });
      }
      try {
        return JSON.stringify(http(req as unknown as HttpRequest));
      } catch (e) {
        const msg = `host_http_request: ${describe(e)}`;
        return JSON.stringify({ status: 0, headers: {}, body: msg, error: msg });
      }
    },

    host_ws_request: (input) => {
      try {
        const req = parseObject('host_ws_request', input);
        if (typeof req.type !== 'string') throw new InputError('host_ws_request: missing string field "type"');
        if (!options.ws) return JSON.stringify({ ok: false, error: 'host_ws_request: no WebSocket bridge in this host' });
        return JSON.stringify(options.ws(req as unknown as WsRequest));
      } catch (e) {
        const msg = describe(e);
        return JSON.stringify({ ok: false, error: msg.startsWith('host_ws_request') ? msg : `host_ws_request: ${msg}` });
      }
    },

    host_get_runtime_context: () => {
      try {
        const ctx = typeof options.runtimeContext === 'function' ? options.runtimeContext() : options.runtimeContext;
        return JSON.stringify(ctx ?? {});
      } catch (e) {
        return errorJson(`host_get_runtime_context: ${describe(e)}`);
      }
    },

    host_is_cancelled: (input) => {
      try {
        const token = str('host_is_cancelled', parseObject('host_is_cancelled', input), 'token');
        return JSON.stringify({ cancelled: options.isCancelled?.(token) ?? false });
      } catch (e) {
        return errorJson(describe(e));
      }
    },

    host_plugin_command: () =>
      JSON.stringify({ success: false, error: 'host_plugin_command is not supported by this host' }),
    host_proxy_request: () => {
      const msg = 'host_proxy_request is not supported by this host';
      return JSON.stringify({ status: 0, headers: {}, body: msg, error: msg });
    },
    host_run_wasi_module: unsupported('host_run_wasi_module'),
    host_request_file: unsupported('host_request_file'),
  };
  for (const name of ALL_HOST_FUNCTIONS) {
    if (name.startsWith('host_namespace_')) table[name] = unsupported(name);
  }

  // Recording wrapper: every call goes to the call log; nothing escapes as a throw.
  const recorded: HostFunctionTable = {};
  for (const [name, fn] of Object.entries(table)) {
    recorded[name] = (input: string) => {
      let output: string;
      let trap: HostTrapError | null = null;
      try {
        output = fn(input);
      } catch (e) {
        if (e instanceof HostTrapError) trap = e;
        output = errorJson(`${name}: ${describe(e)}`);
      }
      if (trap !== null) output = `<trap: ${trap.detail}>`;
      if (options.callLog || options.onCall) {
        const record = { name, input, output };
        options.callLog?.push(record);
        try {
          options.onCall?.(record);
        } catch {
          // an observer failure must not fail the plugin call
        }
      }
      if (trap !== null) throw trap;
      return output;
    };
  }
  return recorded;
}
