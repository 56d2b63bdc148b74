/**
 * The plugin's settings tab, rendered from the manifest's declarative
 * `SettingsTab` fields as Diaryx does: `Section` headings, `Text` inputs bound
 * to `get_config` / `set_config`, `Button`s running a command and showing its
 * answer, `Conditional` groups (this host counts as a "plus" account, so
 * they show and `UpgradeBanner` does not), `AuthStatus` as the account block.
 *
 * The account block belongs to the host: the token goes to the plugin through
 * the runtime context (`auth_token`), like Diaryx's signed-in session, and the
 * device name through `device_name`. The workspace block links the folder to a
 * remote workspace (`set_config {workspace_id}`), creates one
 * (`LinkWorkspace {name}`) or unlinks it; the Encryption block
 * (encryption-settings.ts) follows it.
 */
import type { PluginRunner } from './call-queue';
import { encryptionBlock } from './encryption-settings';

export interface SettingsField {
  type: string;
  key?: string;
  label?: string;
  description?: string | null;
  placeholder?: string;
  command?: string;
  variant?: string;
  condition?: string;
  feature?: string;
  fields?: SettingsField[];
}

export interface HostAccount {
  token: string;
  deviceName: string;
}

export interface SettingsDeps {
  runner: PluginRunner;
  account: HostAccount;
  /** Saves the account and makes the plugin reconcile its connection. */
  saveAccount(account: HostAccount): Promise<void>;
  /** Called after anything that may change the workspace (link, unlink). */
  changed(): void;
}

type Attrs = Record<string, string | boolean | undefined | ((ev: Event) => void)>;

export function h(tag: string, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else if (typeof v === 'string') node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

let nextId = 0;
/** A page-unique element id, for labels bound to their inputs. */
export const uid = (prefix: string) => `${prefix}-${++nextId}`;

function describeResult(data: unknown): string {
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>;
    if (typeof d.ready === 'boolean') return d.ready ? 'Ready to sync.' : String(d.message ?? 'Not ready.');
  }
  return data === null || data === undefined ? 'Done.' : JSON.stringify(data);
}

function textField(deps: SettingsDeps, f: SettingsField, config: Record<string, unknown>): HTMLElement {
  const id = uid('setting');
  const input = h('input', { id, type: 'text', placeholder: f.placeholder ?? '', autocomplete: 'off', 'data-key': f.key }) as HTMLInputElement;
  input.value = typeof config[f.key ?? ''] === 'string' ? (config[f.key ?? ''] as string) : '';
  const note = h('p', { class: 'note', 'aria-live': 'polite' });
  const save = async () => {
    const res = await deps.runner.command('set_config', { [f.key ?? '']: input.value });
    note.textContent = res.success ? 'Saved.' : `Not saved: ${res.error}`;
  };
  input.addEventListener('change', () => void save());
  return h('div', { class: 'field' }, h('label', { for: id }, f.label ?? f.key ?? ''), input, f.description ? h('p', { class: 'hint' }, f.description) : null, note);
}

function buttonField(deps: SettingsDeps, f: SettingsField): HTMLElement {
  const note = h('p', { class: 'note', 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button',
    class: f.variant === 'outline' ? 'outline' : 'primary',
    onclick: async () => {
      note.textContent = '…';
      const res = await deps.runner.command(f.command ?? '', {});
      note.textContent = res.success ? describeResult(res.data) : `Failed: ${res.error}`;
      note.classList.toggle('error', !res.success);
    },
  }, f.label ?? f.command ?? 'Run');
  return h('div', { class: 'field' }, button, note);
}

function accountBlock(deps: SettingsDeps, f: SettingsField): HTMLElement {
  const tokenId = uid('token');
  const deviceId = uid('device');
  const token = h('input', { id: tokenId, type: 'password', autocomplete: 'off', 'data-key': 'auth_token' }) as HTMLInputElement;
  token.value = deps.account.token;
  const device = h('input', { id: deviceId, type: 'text', autocomplete: 'off', 'data-key': 'device_name' }) as HTMLInputElement;
  device.value = deps.account.deviceName;
  const note = h('p', { class: 'note', 'aria-live': 'polite' }, deps.account.token ? 'Signed in with a token.' : f.description ?? '');
  const save = async () => {
    await deps.saveAccount({ token: token.value.trim(), deviceName: device.value.trim() });
    note.textContent = token.value.trim() ? 'Signed in with a token.' : 'Signed out.';
  };
  token.addEventListener('change', () => void save());
  device.addEventListener('change', () => void save());
  return h(
    'section',
    { class: 'group', 'aria-label': f.label ?? 'Account' },
    h('h3', {}, f.label ?? 'Account'),
    h('div', { class: 'field' }, h('label', { for: tokenId }, 'Access token'), token, h('p', { class: 'hint' }, 'Create one with: diaryx-sync token create --user <name>')),
    h('div', { class: 'field' }, h('label', { for: deviceId }, 'Device name'), device),
    note,
  );
}

function workspaceBlock(deps: SettingsDeps, config: Record<string, unknown>): HTMLElement {
  const idInput = h('input', { id: uid('ws'), type: 'text', autocomplete: 'off', 'data-key': 'workspace_id' }) as HTMLInputElement;
  idInput.value = typeof config.workspace_id === 'string' ? config.workspace_id : '';
  const nameInput = h('input', { id: uid('wsname'), type: 'text', autocomplete: 'off', placeholder: 'My journal' }) as HTMLInputElement;
  const note = h('p', { class: 'note', 'aria-live': 'polite' });
  const report = (text: string, error = false) => {
    note.textContent = text;
    note.classList.toggle('error', error);
  };
  const link = async () => {
    const res = await deps.runner.command('set_config', { workspace_id: idInput.value.trim() || null });
    report(res.success ? (idInput.value.trim() ? 'Linked. Syncing…' : 'Unlinked.') : `Failed: ${res.error}`, !res.success);
    deps.changed();
  };
  const create = async () => {
    const res = await deps.runner.command('LinkWorkspace', { name: nameInput.value.trim() || 'My workspace' });
    if (res.success) idInput.value = String((res.data as { remote_id: string }).remote_id);
    report(res.success ? `Created and linked (${(res.data as { files_uploaded: number }).files_uploaded} files uploaded).` : `Failed: ${res.error}`, !res.success);
    deps.changed();
  };
  return h(
    'section',
    { class: 'group', 'aria-label': 'Workspace' },
    h('h3', {}, 'Workspace'),
    h('div', { class: 'field' }, h('label', { for: idInput.id }, 'Remote workspace id'), h('div', { class: 'row' }, idInput, h('button', { type: 'button', class: 'primary', onclick: link }, 'Link'))),
    h('div', { class: 'field' }, h('label', { for: nameInput.id }, 'Or create a new remote workspace'), h('div', { class: 'row' }, nameInput, h('button', { type: 'button', class: 'outline', onclick: create }, 'Create and link'))),
    note,
  );
}

function renderFields(deps: SettingsDeps, fields: SettingsField[], config: Record<string, unknown>, out: HTMLElement): void {
  for (const f of fields) {
    switch (f.type) {
      case 'AuthStatus':
        out.append(accountBlock(deps, f));
        break;
      case 'UpgradeBanner':
        break;
      case 'Conditional':
        if (f.condition === 'plus') renderFields(deps, f.fields ?? [], config, out);
        break;
      case 'Section':
        out.append(h('h3', {}, f.label ?? ''), f.description ? h('p', { class: 'hint' }, f.description) : '');
        break;
      case 'Text':
        out.append(textField(deps, f, config));
        break;
      case 'Button':
        out.append(buttonField(deps, f));
        break;
      default:
        out.append(h('p', { class: 'hint' }, `(${f.type} is not shown by this host)`));
    }
  }
}

/** Renders every SettingsTab of the manifest into `root`. */
export async function renderSettings(root: HTMLElement, manifest: Record<string, unknown>, deps: SettingsDeps): Promise<void> {
  const configRes = await deps.runner.command('get_config', {});
  const config = configRes.success && configRes.data && typeof configRes.data === 'object' ? (configRes.data as Record<string, unknown>) : {};
  root.replaceChildren();
  const ui = Array.isArray(manifest.ui) ? (manifest.ui as Record<string, unknown>[]) : [];
  for (const tab of ui.filter((u) => u.slot === 'SettingsTab')) {
    const section = h('div', { class: 'settings-tab', 'data-settings-id': String(tab.id) }, h('h2', {}, String(tab.label ?? 'Settings')));
    renderFields(deps, (tab.fields as SettingsField[]) ?? [], config, section);
    const encryption = encryptionBlock(deps);
    const changed = () => {
      deps.changed();
      void encryption.refresh();
    };
    section.append(workspaceBlock({ ...deps, changed }, config), encryption.element);
    await encryption.refresh();
    root.append(section);
  }
}
