/**
 * The Diaryx host functions in the page, over the in-browser workspace
 * (memory-folder.ts): synchronous, string in and string out, answering
 * failures in-band like the Node harness (`{"error":...}` for reads, an error
 * string for writes, `status: 0` for HTTP). Storage values over the quota
 * (1 MiB) are refused, as Diaryx hosts do.
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';
import type { HostFunctionName, PluginHostFunctionName } from '../../../common/src/host/host-functions';
import { PathRefusedError } from '../../../common/src/host/paths';
import { MemoryFolder } from './memory-folder';
import { syncXhr, type HttpRequest } from './sync-xhr';
import type { WsRequest, WsResponse } from './ws-transport';

export interface PageHostOptions {
  folder: MemoryFolder;
  storageQuotaBytes?: number;
  runtimeContext: () => Record<string, unknown>;
  ws: (req: WsRequest) => WsResponse;
  onEvent: (event: Record<string, unknown>) => void;
  onLog: (level: string, message: string) => void;
}

function obj(input: string): Record<string, unknown> {
  const v = JSON.parse(input) as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('input must be a JSON object');
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string): string {
  if (typeof o[key] !== 'string') throw new Error(`missing string field "${key}"`);
  return o[key] as string;
}

const errorJson = (e: unknown) => JSON.stringify({ error: e instanceof Error ? e.message : String(e) });

type HostFunction = (input: string) => string;

/** Every function the plugin calls, and only names of the host ABI. */
export type PageHostFunctions = Record<PluginHostFunctionName, HostFunction> & Partial<Record<HostFunctionName, HostFunction>>;

export function createPageHostFunctions(o: PageHostOptions): PageHostFunctions {
  const { folder } = o;
  const quota = o.storageQuotaBytes ?? 1024 * 1024;
  const unsupported = (name: string) => () => JSON.stringify({ error: `${name} is not supported by this host` });
  const write = (fn: (v: Record<string, unknown>) => void) => (input: string) => {
    try {
      fn(obj(input));
      return '';
    } catch (e) {
      return e instanceof PathRefusedError ? e.message : `${(e as Error).message}`;
    }
  };
  const missing = (path: string) => new Error(`${path}: No such file or directory`);
  return {
    host_log: (input) => {
      try {
        const v = obj(input);
        o.onLog(typeof v.level === 'string' ? v.level : 'trace', String(v.message ?? ''));
      } catch {
        // malformed log input is dropped
      }
      return '';
    },
    host_read_file: (input) => {
      try {
        const path = str(obj(input), 'path');
        const text = folder.readText(path);
        if (text === null) throw missing(path);
        return text;
      } catch (e) {
        return errorJson(e);
      }
    },
    host_read_binary: (input) => {
      try {
        const path = str(obj(input), 'path');
        const bytes = folder.read(path);
        if (bytes === null) throw missing(path);
        return JSON.stringify({ data: encodeBase64(bytes) });
      } catch (e) {
        return errorJson(e);
      }
    },
    host_list_files: (input) => {
      try {
        const v = obj(input);
        return JSON.stringify(folder.list(typeof v.prefix === 'string' ? v.prefix : ''));
      } catch (e) {
        return errorJson(e);
      }
    },
    host_file_exists: (input) => {
      try {
        return folder.exists(str(obj(input), 'path')) ? 'true' : 'false';
      } catch {
        return 'false';
      }
    },
    host_write_file: write((v) => void folder.writeText(str(v, 'path'), str(v, 'content'), true)),
    host_write_binary: write((v) => void folder.write(str(v, 'path'), decodeBase64(str(v, 'content')), true)),
    host_delete_file: write((v) => folder.delete(str(v, 'path'), true)),
    host_storage_get: (input) => {
      try {
        const data = folder.storage.data.get(str(obj(input), 'key'));
        return data === undefined ? '' : JSON.stringify({ data: encodeBase64(data) });
      } catch (e) {
        return errorJson(e);
      }
    },
    host_storage_set: write((v) => {
      const key = str(v, 'key');
      const data = typeof v.data === 'string' ? decodeBase64(v.data) : new Uint8Array(0);
      if (data.length === 0) folder.storage.delete(key);
      else if (data.length > quota) throw new Error(`Storage quota exceeded: ${data.length} bytes > ${quota} bytes for key ${key}`);
      else folder.storage.set(key, data);
    }),
    host_get_timestamp: () => String(Date.now()),
    host_get_now: () => new Date().toISOString(),
    host_http_request: (input) => {
      try {
        return JSON.stringify(syncXhr(obj(input) as unknown as HttpRequest));
      } catch (e) {
        const msg = `host_http_request: ${(e as Error).message}`;
        return JSON.stringify({ status: 0, headers: {}, body: msg, error: msg });
      }
    },
    host_ws_request: (input) => {
      try {
        return JSON.stringify(o.ws(obj(input) as unknown as WsRequest));
      } catch (e) {
        return JSON.stringify({ ok: false, error: `host_ws_request: ${(e as Error).message}` });
      }
    },
    host_emit_event: (input) => {
      try {
        o.onEvent(obj(input));
        return '';
      } catch (e) {
        return errorJson(e);
      }
    },
    host_get_runtime_context: () => JSON.stringify(o.runtimeContext()),
    host_plugin_command: () => JSON.stringify({ success: false, error: 'host_plugin_command is not supported by this host' }),
    host_run_wasi_module: unsupported('host_run_wasi_module'),
    host_request_file: unsupported('host_request_file'),
  };
}
