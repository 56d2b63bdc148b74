/**
 * Plugin configuration (`SyncExtismConfig`), stored under the plugin storage
 * key `sync.extism.config` as JSON `{server_url, auth_token, workspace_id}`.
 * Patch semantics, server URL normalisation and the resolution order
 * (params, then config, then the host's runtime context) follow the Rust plugin.
 */
import { normalizeServerBase } from '../../common/src/host/server-url';
import type { HostBridge } from './host/bridge';

export const CONFIG_KEY = 'sync.extism.config';

export interface SyncConfig {
  server_url: string | null;
  auth_token: string | null;
  workspace_id: string | null;
}

const KEYS = ['server_url', 'auth_token', 'workspace_id'] as const;

export function emptyConfig(): SyncConfig {
  return { server_url: null, auth_token: null, workspace_id: null };
}

/** Reads the stored config; anything unreadable counts as empty. */
export function loadConfig(host: HostBridge): SyncConfig {
  try {
    const bytes = host.storageGet(CONFIG_KEY);
    if (!bytes) return emptyConfig();
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const out = emptyConfig();
    for (const k of KEYS) out[k] = typeof v[k] === 'string' ? (v[k] as string) : null;
    return out;
  } catch {
    return emptyConfig();
  }
}

/** Serialised in the Rust field order. */
export function configJson(config: SyncConfig): string {
  return JSON.stringify({ server_url: config.server_url, auth_token: config.auth_token, workspace_id: config.workspace_id });
}

export function saveConfig(host: HostBridge, config: SyncConfig): void {
  host.storageSet(CONFIG_KEY, new TextEncoder().encode(configJson(config)));
}

/** For each key present: null clears, a string is trimmed (empty clears); other types are ignored. */
export function applyConfigPatch(config: SyncConfig, patch: unknown): SyncConfig {
  const next = { ...config };
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return next;
  const p = patch as Record<string, unknown>;
  for (const k of KEYS) {
    if (!(k in p)) continue;
    const v = p[k];
    if (v === null) next[k] = null;
    else if (typeof v === 'string') next[k] = v.trim() === '' ? null : v.trim();
  }
  return next;
}

function stringParam(params: unknown, key: string): string | null {
  if (!params || typeof params !== 'object') return null;
  const v = (params as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : null;
}

function contextString(host: HostBridge, key: string): string | null {
  const v = host.runtimeContext()[key];
  if (typeof v !== 'string' || v.trim() === '') return null;
  return v.trim();
}

export function resolveServerUrl(host: HostBridge, params: unknown, config: SyncConfig): string | null {
  const raw = stringParam(params, 'server_url') ?? config.server_url ?? contextString(host, 'server_url');
  return raw === null ? null : normalizeServerBase(raw);
}

export function resolveAuthToken(host: HostBridge, params: unknown, config: SyncConfig): string | null {
  return stringParam(params, 'auth_token') ?? config.auth_token ?? contextString(host, 'auth_token');
}
