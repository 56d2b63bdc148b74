/**
 * Typed access to the Diaryx host functions. This is the only module that
 * talks to the host: everything else receives a HostBridge.
 *
 * Each host function takes a string (JSON unless noted) and returns a string;
 * the conventions below follow the Diaryx hosts. A failure the host reports
 * in-band (an error string or `{"error": ...}`) becomes a thrown HostError, so
 * callers can never ignore it by accident.
 *
 * The bridge is transport-agnostic: inside the wasm plugin `RawHostCall` goes
 * through Extism memory (extism-call.ts); in Node tests it calls the harness's
 * host function table directly, so both layers run the same encoding code.
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';
import type { PluginHostFunctionName } from '../../../common/src/host/host-functions';

/** Calls one host function: string in, string out. */
export type RawHostCall = (name: PluginHostFunctionName, input: string) => string;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A host function reported a failure. */
export class HostError extends Error {
  override name = 'HostError';
  constructor(
    readonly fn: PluginHostFunctionName,
    readonly detail: string,
  ) {
    super(`${fn} failed: ${detail}`);
  }
}

export type { HttpRequest, HttpResponse, WsRequest, WsResponse } from '../../../common/src/host-json';
import type { HttpRequest, HttpResponse, WsRequest, WsResponse } from '../../../common/src/host-json';

/** JSON object whose only meaningful key is a string `error`. */
function inBandError(text: string): string | null {
  if (!text.startsWith('{')) return null;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { error?: unknown }).error === 'string') {
      const keys = Object.keys(v);
      if (keys.length === 1) return (v as { error: string }).error;
    }
  } catch {
    // not JSON: plain file text
  }
  return null;
}

function parseJson(fn: PluginHostFunctionName, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HostError(fn, `invalid JSON response: ${(e as Error).message}`);
  }
}

/**
 * Host calls one export call may make. The Extism JS SDK gives every memory
 * block of a call a new index and addresses them as `index << 48` in an i64,
 * so a call that allocates more than 32767 blocks breaks; each host call uses
 * one or two blocks. Work that can wait (saving) stops at this budget.
 */
export const HOST_CALLS_PER_EXPORT = 12_000;

export class HostBridge {
  /** Files written or deleted through this bridge so far (successful or not). */
  fileWrites = 0;
  private readonly call: RawHostCall;
  private calls = 0;
  /** Host time read during this export call (null: not read yet); see timestamp(). */
  private callTime: number | null = null;
  /** Export calls are marked (beginExportCall): the time is read once per call. */
  private perCallTime = false;

  constructor(call: RawHostCall) {
    this.call = (name, input) => {
      this.calls++;
      return call(name, input);
    };
  }

  /** Starts counting host calls for a new export call. */
  beginExportCall(): void {
    this.calls = 0;
    this.callTime = null;
    this.perCallTime = true;
  }

  /** Host calls left in this export call's budget. */
  callBudget(): number {
    return HOST_CALLS_PER_EXPORT - this.calls;
  }

  /** Counts `n` host calls that work already decided on will make later in this export call. */
  reserveCalls(n: number): void {
    this.calls += n;
  }

  log(level: LogLevel, message: string): void {
    this.call('host_log', JSON.stringify({ level, message }));
  }

  /** File text. Throws HostError when the host answers `{"error": ...}`. */
  readFile(path: string): string {
    const out = this.call('host_read_file', JSON.stringify({ path }));
    const err = inBandError(out);
    if (err !== null) throw new HostError('host_read_file', err);
    return out;
  }

  readBinary(path: string): Uint8Array {
    const out = this.call('host_read_binary', JSON.stringify({ path }));
    if (out === '') return new Uint8Array(0);
    const v = parseJson('host_read_binary', out) as { data?: unknown; error?: unknown };
    if (typeof v.error === 'string') throw new HostError('host_read_binary', v.error);
    if (typeof v.data !== 'string') throw new HostError('host_read_binary', 'response has no data');
    return decodeBase64(v.data);
  }

  /** Every entry under `prefix`, recursively (directories and files). */
  listFiles(prefix: string): string[] {
    const out = this.call('host_list_files', JSON.stringify({ prefix }));
    const err = inBandError(out);
    if (err !== null) throw new HostError('host_list_files', err);
    const v = parseJson('host_list_files', out);
    if (!Array.isArray(v)) throw new HostError('host_list_files', 'response is not an array');
    return v.filter((p): p is string => typeof p === 'string');
  }

  fileExists(path: string): boolean {
    const out = this.call('host_file_exists', JSON.stringify({ path })).trim();
    return out === 'true';
  }

  writeFile(path: string, content: string): void {
    this.fileWrites++;
    const out = this.call('host_write_file', JSON.stringify({ content, path }));
    if (out !== '') throw new HostError('host_write_file', inBandError(out) ?? out);
  }

  writeBinary(path: string, content: Uint8Array): void {
    this.fileWrites++;
    const out = this.call('host_write_binary', JSON.stringify({ content: encodeBase64(content), path }));
    if (out !== '') throw new HostError('host_write_binary', inBandError(out) ?? out);
  }

  deleteFile(path: string): void {
    this.fileWrites++;
    const out = this.call('host_delete_file', JSON.stringify({ path }));
    if (out !== '') throw new HostError('host_delete_file', inBandError(out) ?? out);
  }

  /** Stored bytes, or null when the key is absent. */
  storageGet(key: string): Uint8Array | null {
    const out = this.call('host_storage_get', JSON.stringify({ key }));
    if (out === '') return null;
    if (out.startsWith('{')) {
      const v = parseJson('host_storage_get', out) as { data?: unknown; error?: unknown };
      if (typeof v.error === 'string') throw new HostError('host_storage_get', v.error);
      // An object without `data` is no storage answer: taken as "missing", it would let a save replace what is stored.
      if (!('data' in v)) throw new HostError('host_storage_get', 'answer has neither "data" nor "error"');
      if (v.data === null || v.data === '') return null;
      if (typeof v.data !== 'string') throw new HostError('host_storage_get', 'data is not a string');
      return decodeBase64(v.data);
    }
    return decodeBase64(out);
  }

  /** Stores bytes (empty bytes delete the key). Throws HostError on refusal (quota). */
  storageSet(key: string, data: Uint8Array): void {
    const out = this.call('host_storage_set', JSON.stringify({ data: encodeBase64(data), key }));
    if (out !== '') throw new HostError('host_storage_set', inBandError(out) ?? out);
  }

  /**
   * Unix epoch milliseconds from the host (the plugin never reads a clock
   * itself). Within a marked export call the first answer stands for the
   * whole call: a call happens at one instant, and each read is a host call.
   */
  timestamp(): number {
    if (this.callTime !== null) return this.callTime;
    const out = this.call('host_get_timestamp', '').trim();
    const ms = Number(out);
    if (out === '' || !Number.isFinite(ms)) throw new HostError('host_get_timestamp', `not a number: ${out}`);
    if (this.perCallTime) this.callTime = Math.trunc(ms);
    return Math.trunc(ms);
  }

  httpRequest(req: HttpRequest): HttpResponse {
    const ordered: Record<string, unknown> = {};
    if (req.body !== undefined) ordered.body = req.body;
    if (req.body_base64 !== undefined) ordered.body_base64 = req.body_base64;
    ordered.headers = req.headers;
    ordered.method = req.method;
    if (req.timeout_ms !== undefined) ordered.timeout_ms = req.timeout_ms;
    ordered.url = req.url;
    const out = this.call('host_http_request', JSON.stringify(ordered));
    const v = parseJson('host_http_request', out) as Partial<HttpResponse>;
    if (typeof v !== 'object' || v === null || typeof v.status !== 'number') {
      throw new HostError('host_http_request', 'response has no status');
    }
    return {
      status: v.status,
      headers: v.headers && typeof v.headers === 'object' ? v.headers : {},
      body: typeof v.body === 'string' ? v.body : '',
      body_base64: typeof v.body_base64 === 'string' ? v.body_base64 : undefined,
      error: typeof v.error === 'string' ? v.error : undefined,
    };
  }

  wsRequest(req: WsRequest): WsResponse {
    const out = this.call('host_ws_request', JSON.stringify(req));
    if (out === '') return { ok: true };
    const v = parseJson('host_ws_request', out) as Partial<WsResponse>;
    return { ok: v.ok === true, error: typeof v.error === 'string' ? v.error : undefined };
  }

  emitEvent(event: object): void {
    this.call('host_emit_event', JSON.stringify(event));
  }

  /** Host context (server_url, auth_token, current_workspace ...); {} when empty or malformed. */
  runtimeContext(): Record<string, unknown> {
    const out = this.call('host_get_runtime_context', '');
    if (out.trim() === '') return {};
    try {
      const v = JSON.parse(out) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
}
