/**
 * One simulated device: a workspace folder, its plugin storage, the harness's
 * real host functions over both, and a plugin instance (the built .wasm, or
 * the same TypeScript in V8 with engine `node`).
 *
 * Host functions are the harness's own (`createHostFunctions`) with three
 * hooks: `host_ws_request` goes to the simulated network, `host_http_request`
 * to the in-process server, and `host_storage_set` fails while the device's
 * storage is "full" (nothing is written then). Time is the simulation clock.
 *
 * Lifecycle: `boot` loads a plugin and runs the host's start-up sequence
 * (init, set_config, InitializeWorkspaceCrdt for files changed while it was
 * not running, file_deleted for entries whose file is gone), like SyncJob.
 * `crash` releases the instance without `shutdown` (nothing saved at the
 * end); `stop` is a graceful shutdown. Either way the socket goes away.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeBase64 } from '../common/src/base64';
import { decodeFrame } from '../common/src/wire/frame';
import { decodeSyncMessages } from '../common/src/wire/sync';
import { createHostFunctions, type HostFunctionTable } from '../host-harness/src/host-functions';
import type { HttpRequest, WsRequest } from '../host-harness/src/host-types';
import { PluginCallError, PluginHost } from '../host-harness/src/plugin-host';
import type { Network, NetDevice } from './network';
import type { Prng } from './prng';
import { withRandomSource } from './seeded-crypto';
import { SERVER_URL, type SimBackend } from './sim-server';

export const WORKSPACE_ID = 'fuzz-workspace';

/** Devices whose export calls and socket sends are printed (FUZZ_TRACE_CALLS=0,2). */
const TRACE_CALLS = new Set((process.env.FUZZ_TRACE_CALLS ?? '').split(',').filter((x) => x !== '').map(Number));

function describeFrame(base64: string): string {
  try {
    const { docId, payload } = decodeFrame(decodeBase64(base64));
    return `${docId} ${decodeSyncMessages(payload).map((m) => m.kind).join('+')}`;
  } catch {
    return '(undecodable)';
  }
}

/** A plugin export failed or trapped: always a finding. */
export class PluginTrap extends Error {
  override name = 'PluginTrap';
}

export interface DeviceOptions {
  index: number;
  engine: 'wasm' | 'node';
  wasm: string;
  dir: string;
  random: Prng;
  server: SimBackend;
  now: () => number;
  network: () => Network;
}

export interface DeviceStats {
  storageRefusals: number;
  calls: number;
}

export class Device implements NetDevice {
  readonly index: number;
  readonly name: string;
  readonly dir: string;
  readonly storageDir: string;
  host: PluginHost | null = null;
  /** host_storage_set fails until this simulated time. */
  storageFailUntil = -1;
  /** A boot scheduled after a crash (simulated time), or null. */
  bootAt: number | null = null;
  /** The host links the workspace at start-up (false while the user has unlinked it). */
  linked = true;
  readonly stats: DeviceStats = { storageRefusals: 0, calls: 0 };
  /** Last log lines of the plugin (for failure reports). */
  readonly logs: string[] = [];
  private readonly functions: HostFunctionTable;

  constructor(private readonly options: DeviceOptions) {
    this.index = options.index;
    this.name = `dev${options.index}`;
    this.dir = options.dir;
    this.storageDir = path.join(options.dir, '.diaryx', 'plugin-storage', 'diaryx.sync');
    fs.mkdirSync(this.storageDir, { recursive: true });
    const base = createHostFunctions({
      workspaceDir: this.dir,
      storageDir: this.storageDir,
      clock: options.now,
      ws: (req: WsRequest) => {
        if (TRACE_CALLS.has(this.index)) console.log(`      [${this.name}] ws ${req.type} ${req.type === 'send_binary' ? describeFrame(req.data) : req.type === 'send_text' ? req.text : ''}`);
        return options.network().wsRequest(this.index, req);
      },
      http: (req: HttpRequest) => options.server.httpRequest(req),
      runtimeContext: { device_name: this.name },
      onLog: (level, message) => this.log(`${level} ${message}`),
      onEvent: (_event, raw) => {
        if (raw.includes('"error"')) this.log(`event ${raw.slice(0, 300)}`);
      },
    });
    this.functions = {
      ...base,
      host_storage_set: (input) => {
        if (options.now() < this.storageFailUntil) {
          this.stats.storageRefusals++;
          return 'host_storage_set: No space left on device';
        }
        return base.host_storage_set(input);
      },
    };
  }

  get engine(): 'wasm' | 'node' {
    return this.options.engine;
  }

  get up(): boolean {
    return this.host !== null;
  }

  private log(line: string): void {
    this.logs.push(line);
    if (this.logs.length > 400) this.logs.splice(0, 200);
  }

  /** Calls an export; a failure is a PluginTrap. Ignored when the plugin is not running. */
  async call(name: string, input: string | Uint8Array): Promise<void> {
    await this.callText(name, input);
  }

  async callText(name: string, input: string | Uint8Array): Promise<string | null> {
    const host = this.host;
    if (!host) return null;
    this.stats.calls++;
    if (TRACE_CALLS.has(this.index)) console.log(`    [${this.name}] ${name} ${typeof input === 'string' ? input.slice(0, 120) : `(${input.length} bytes)`}`);
    const random = this.options.random;
    try {
      return await withRandomSource(
        (bytes) => random.fill(bytes),
        () => host.callText(name, input),
      );
    } catch (e) {
      const detail = e instanceof PluginCallError ? e.detail : (e as Error).message;
      throw new PluginTrap(`${this.name}: ${name} failed: ${detail}`);
    }
  }

  /** handle_command; resolves to the parsed response. */
  async command(name: string, params: unknown = {}): Promise<{ success: boolean; data?: unknown; error?: string | null }> {
    const text = await this.callText('handle_command', JSON.stringify({ command: name, params }));
    if (text === null) throw new PluginTrap(`${this.name}: ${name}: plugin is not running`);
    return JSON.parse(text) as { success: boolean; data?: unknown; error?: string | null };
  }

  /** A command that must succeed; resolves to its data. */
  async ok<T>(name: string, params: unknown = {}): Promise<T> {
    const res = await this.command(name, params);
    if (!res.success) throw new PluginTrap(`${this.name}: ${name} failed: ${res.error}`);
    return res.data as T;
  }

  /** on_event (nothing when the plugin is not running: the host is closed, the user edits anyway). */
  async event(type: string, payload: Record<string, unknown>): Promise<void> {
    if (!this.host) return;
    await this.call('on_event', JSON.stringify({ event_type: type, payload }));
  }

  /** Loads the plugin and runs the host's start-up sequence. */
  async boot(): Promise<void> {
    if (this.host) return;
    this.bootAt = null;
    const random = this.options.random;
    this.host = await PluginHost.load({
      wasm: this.options.wasm,
      engine: this.options.engine,
      functions: this.functions,
      randomBytes: (bytes) => random.fill(bytes),
    });
    await this.callText('manifest', '');
    await this.call('init', JSON.stringify({ workspace_root: this.dir }));
    // Refused while the storage is full (a reported error, not a trap); the host sets it again at the next start.
    const configured = await this.command('set_config', { server_url: SERVER_URL, auth_token: this.options.server.token, workspace_id: this.linked ? WORKSPACE_ID : null });
    if (!configured.success) this.log(`set_config failed: ${configured.error}`);
    if (listMarkdown(this.dir).length > 0) await this.ok('InitializeWorkspaceCrdt', { workspace_path: this.dir });
    const files = await this.ok<[string, unknown][]>('ListCrdtFiles', {});
    for (const [key] of files) {
      if (!fs.existsSync(path.join(this.dir, key))) await this.event('file_deleted', { path: key });
    }
  }

  /** The process dies: no shutdown, the socket vanishes. */
  async crash(): Promise<void> {
    const host = this.host;
    if (!host) return;
    this.host = null;
    this.options.network().stop(this.index);
    await host.dispose();
  }

  /** Graceful stop: shutdown (state saved, socket closed by the guest). */
  async stop(): Promise<void> {
    const host = this.host;
    if (!host) return;
    try {
      await withRandomSource(
        (bytes) => this.options.random.fill(bytes),
        () => host.shutdown(),
      );
    } catch (e) {
      throw new PluginTrap(`${this.name}: shutdown failed: ${(e as Error).message}`);
    } finally {
      this.host = null;
      this.options.network().stop(this.index);
      await host.dispose();
    }
  }
}

/** Workspace-relative Markdown files of a folder (dot folders skipped), sorted. */
export function listMarkdown(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) return;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.md')) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/** Every file under `dir` except the `.diaryx` folder: path -> bytes as text. */
export function folderSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (rel === '' && entry.name === '.diaryx') continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out[child] = fs.readFileSync(path.join(dir, child)).toString('latin1');
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
