/**
 * The plugin manifest returned by the `manifest` export: the same JSON the
 * Rust `diaryx.sync` plugin returns (GuestManifest field order; `ui` entries
 * with alphabetically ordered keys, as serde_json::Value serialises them).
 * manifest.yaml at the repository root describes the same plugin for people.
 */
import { ADVERTISED_COMMANDS } from './commands/table';

export const PLUGIN_ID = 'diaryx.sync';
export const PLUGIN_VERSION = '0.1.6';

const PERMISSION_ALL = { include: ['all'], exclude: [] as string[] };

function serverFunction(name: string, method: string, path: string, description: string) {
  return { name, method, path, description };
}

/** Builds the manifest object; key order is the serialisation order. */
export function buildManifest(): Record<string, unknown> {
  return {
    protocol_version: 1,
    id: PLUGIN_ID,
    name: 'Sync',
    version: PLUGIN_VERSION,
    description: 'Real-time CRDT sync across devices',
    capabilities: ['workspace_events', 'file_events', 'crdt_commands', 'sync_transport', 'custom_commands'],
    ui: [
      {
        component: null,
        fields: [
          { description: 'Sign in to enable sync.', label: 'Account', type: 'AuthStatus' },
          { description: 'Upgrade to sync workspaces across devices.', feature: 'Sync', type: 'UpgradeBanner' },
          {
            condition: 'plus',
            fields: [
              { description: null, label: 'Connection', type: 'Section' },
              {
                description: 'Automatically configured when you sign in.',
                key: 'server_url',
                label: 'Server URL',
                placeholder: 'https://sync.diaryx.org',
                type: 'Text',
              },
              { command: 'GetProviderStatus', label: 'Check Status', type: 'Button', variant: 'outline' },
            ],
            type: 'Conditional',
          },
        ],
        icon: null,
        id: 'sync-settings',
        label: 'Sync',
        slot: 'SettingsTab',
      },
      {
        component: { component_id: 'sync.snapshots', type: 'Iframe' },
        icon: 'history',
        id: 'snapshots',
        label: 'Snapshots',
        side: 'Left',
        slot: 'SidebarTab',
      },
      {
        component: { component_id: 'sync.history', type: 'Iframe' },
        icon: 'history',
        id: 'history',
        label: 'History',
        side: 'Right',
        slot: 'SidebarTab',
      },
      { id: 'sync-status', label: 'Sync', plugin_command: 'GetSyncStatus', position: 'Right', slot: 'StatusBarItem' },
      { icon: 'cloud', id: 'diaryx.sync', label: 'Diaryx Sync', slot: 'WorkspaceProvider' },
    ],
    commands: [...ADVERTISED_COMMANDS],
    cli: [
      {
        about: 'Sync workspace with remote server',
        aliases: ['sy'],
        name: 'sync',
        subcommands: [
          {
            about: 'Authenticate via magic link',
            args: [
              { help: 'Email address', name: 'email', required: true },
              { help: 'Server URL', long: 'server', name: 'server', short: 's' },
            ],
            name: 'login',
            native_handler: 'sync_login',
            requires_workspace: false,
          },
          {
            about: 'Complete authentication',
            args: [
              { help: 'Verification token', name: 'token', required: true },
              { help: 'Device name', long: 'device-name', name: 'device-name' },
            ],
            name: 'verify',
            native_handler: 'sync_verify',
            requires_workspace: false,
          },
          { about: 'Clear credentials', name: 'logout', native_handler: 'sync_logout', requires_workspace: false },
          { about: 'Show sync status', name: 'status', native_handler: 'sync_status' },
          {
            about: 'Start continuous sync',
            args: [{ help: 'Run in background', is_flag: true, long: 'background', name: 'background', short: 'b' }],
            name: 'start',
            native_handler: 'sync_start',
          },
          { about: 'Push local changes', name: 'push', native_handler: 'sync_push' },
          { about: 'Pull remote changes', name: 'pull', native_handler: 'sync_pull' },
          {
            about: 'Configure sync settings',
            args: [
              { help: 'Set server URL', long: 'server', name: 'server' },
              { help: 'Set workspace ID', long: 'workspace-id', name: 'workspace-id' },
              { help: 'Show current config', is_flag: true, long: 'show', name: 'show' },
            ],
            name: 'config',
            native_handler: 'sync_config',
          },
        ],
      },
    ],
    requested_permissions: {
      defaults: {
        create_files: PERMISSION_ALL,
        delete_files: PERMISSION_ALL,
        edit_files: PERMISSION_ALL,
        http_requests: PERMISSION_ALL,
        plugin_storage: PERMISSION_ALL,
        read_files: PERMISSION_ALL,
      },
      reasons: {
        create_files: 'Create files received from remote sync',
        delete_files: 'Delete files removed by remote sync',
        edit_files: 'Apply remote changes to workspace files',
        http_requests: 'Communicate with the sync server',
        plugin_storage: 'Store sync configuration, CRDT state and history',
        read_files: 'Read workspace files for syncing',
      },
    },
    conversions: [],
    server_functions: [
      serverFunction('sync_ws', 'WS', '/namespaces/{id}/sync', 'WebSocket CRDT relay for real-time sync'),
      serverFunction('create_namespace', 'POST', '/namespaces', 'Create a user-owned namespace'),
      serverFunction('list_namespaces', 'GET', '/namespaces', 'List namespaces owned by the authenticated user'),
      serverFunction('put_object', 'PUT', '/namespaces/{id}/objects/{key}', 'Store bytes under the given key in a namespace'),
      serverFunction('get_object', 'GET', '/namespaces/{id}/objects/{key}', 'Retrieve bytes by key from a namespace'),
      serverFunction('delete_object', 'DELETE', '/namespaces/{id}/objects/{key}', 'Delete an object from a namespace'),
      serverFunction('list_objects', 'GET', '/namespaces/{id}/objects', 'List object metadata in a namespace'),
      serverFunction('create_session', 'POST', '/sessions', 'Create a share session for a namespace'),
      serverFunction('get_session', 'GET', '/sessions/{code}', 'Look up a session by code'),
      serverFunction('delete_session', 'DELETE', '/sessions/{code}', 'End a session'),
    ],
  };
}
