/**
 * The Encryption block of the settings tab (host-owned, like the workspace
 * block): the linked workspace's end-to-end encryption as `GetSyncStatus`
 * reports it, and the plugin's encryption commands (`LinkWorkspace` with
 * `encrypt`, `UnlockWorkspace`, `LockWorkspace`, `ChangePassphrase`).
 *
 * A device linked to an encrypted workspace whose keys it never held reports
 * `plain` (it knows nothing of the workspace yet), so for a linked `plain`
 * workspace the block asks the server whether it holds a key record
 * (`GET /api/workspaces/{id}/keys`) and offers to unlock it when it does.
 *
 * The plugin runs on the page's main thread, so the page cannot repaint while
 * a command derives the key: the note saying so is painted before the
 * command is queued. Passphrases live only in the password inputs, which are
 * emptied as soon as they are read; nothing here logs or stores them.
 */
import type { SettingsDeps } from './settings';
import { h, uid } from './settings';

/** What the block shows: the device's state, or that of a workspace it has not unlocked yet. */
export type EncryptionView =
  | { kind: 'unlinked' }
  | { kind: 'plain'; workspaceId: string }
  | { kind: 'joining'; workspaceId: string }
  | { kind: 'locked'; workspaceId: string }
  | { kind: 'unlocked'; workspaceId: string }
  | { kind: 'unknown'; workspaceId: string | null; reason: string };

const STATE_TEXT: Record<EncryptionView['kind'], string> = {
  unlinked: 'No remote workspace is linked. You can create an end-to-end encrypted one below.',
  plain: 'Not end-to-end encrypted: the server can read this workspace. Encryption is chosen when a workspace is created.',
  joining: 'Locked: this workspace is end-to-end encrypted and this device has not unlocked it yet. Enter the passphrase to sync it.',
  locked: 'Locked: the keys are not on this device, so nothing syncs until you unlock it with the passphrase.',
  unlocked: 'Unlocked: end-to-end encrypted. This device holds the keys and syncs; the server sees only encrypted data.',
  unknown: 'The encryption state is not known.',
};

const DERIVING = 'Deriving the key from the passphrase. This takes several seconds, and the page does not respond until it is done.';

/** Lets the browser paint (the note above all) before the plugin call blocks the main thread. */
const painted = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function keyRecordExists(serverUrl: string, token: string, workspaceId: string): Promise<boolean> {
  const url = `${serverUrl.replace(/\/+$/, '')}/api/workspaces/${encodeURIComponent(workspaceId)}/keys`;
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  const body = await res.text().catch(() => '');
  throw new Error(`the server answered HTTP ${res.status} for the key record${body ? `: ${body.slice(0, 200)}` : ''}`);
}

/** The block's view from the plugin's config and `GetSyncStatus`, and the server's key record for a linked `plain` workspace. */
export async function encryptionView(deps: SettingsDeps): Promise<EncryptionView> {
  const config = await deps.runner.command('get_config', {});
  if (!config.success) return { kind: 'unknown', workspaceId: null, reason: `The configuration could not be read: ${config.error}` };
  const c = (config.data ?? {}) as Record<string, unknown>;
  const workspaceId = typeof c.workspace_id === 'string' && c.workspace_id.trim() !== '' ? c.workspace_id : null;
  if (workspaceId === null) return { kind: 'unlinked' };
  const status = await deps.runner.command('GetSyncStatus', {});
  const encryption = status.success ? (status.data as { encryption?: unknown } | null)?.encryption : undefined;
  if (encryption === 'locked' || encryption === 'unlocked') return { kind: encryption, workspaceId };
  if (encryption !== 'plain') return { kind: 'unknown', workspaceId, reason: `GetSyncStatus gave no encryption state: ${status.success ? JSON.stringify(status.data) : status.error}` };
  if (typeof c.server_url !== 'string' || c.server_url.trim() === '') return { kind: 'plain', workspaceId };
  try {
    const token = deps.account.token || (typeof c.auth_token === 'string' ? c.auth_token : '');
    return { kind: (await keyRecordExists(c.server_url, token, workspaceId)) ? 'joining' : 'plain', workspaceId };
  } catch (e) {
    return { kind: 'unknown', workspaceId, reason: `Could not ask the server whether workspace ${workspaceId} is encrypted: ${(e as Error).message}` };
  }
}

function passwordField(label: string, hint?: string): { field: HTMLElement; input: HTMLInputElement } {
  const id = uid('pass');
  const input = h('input', { id, type: 'password', autocomplete: 'new-password', spellcheck: 'false' }) as HTMLInputElement;
  return { input, field: h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null) };
}

/** Reads a new passphrase typed twice and empties both inputs; null (with the message shown) when they are empty or differ. */
function newPassphrase(a: HTMLInputElement, b: HTMLInputElement, report: (text: string, error?: boolean) => void): string | null {
  const first = a.value;
  const second = b.value;
  a.value = '';
  b.value = '';
  if (first === '') {
    report('Enter a passphrase. Nothing was changed.', true);
    return null;
  }
  if (first !== second) {
    report('The two passphrases do not match. Nothing was changed; type them again.', true);
    return null;
  }
  return first;
}

/** A form of the block whose submit runs `submit` (the page does not navigate). */
function form(className: string, submit: () => Promise<unknown>, ...children: HTMLElement[]): HTMLElement {
  return h('form', { class: className, onsubmit: (e: Event) => { e.preventDefault(); void submit(); } }, ...children);
}

/** Renders the Encryption block; `refresh` re-reads the state (after the workspace block linked or unlinked). */
export function encryptionBlock(deps: SettingsDeps): { element: HTMLElement; refresh(): Promise<void> } {
  const state = h('p', { class: 'encryption-state', 'aria-live': 'polite', 'data-encryption': 'checking' }, 'Checking…');
  const body = h('div', { class: 'encryption-body' });
  const note = h('p', { class: 'note', 'aria-live': 'polite' });
  const section = h('section', { class: 'group', 'aria-label': 'Encryption', id: 'encryption-settings' }, h('h3', {}, 'Encryption'), state, body, note);
  const report = (text: string, error = false) => {
    note.textContent = text;
    note.classList.toggle('error', error);
  };

  /** Runs one encryption command with the block disabled meanwhile, then shows its outcome and the new state. */
  const run = async (command: string, params: Record<string, unknown>, derives: boolean, done: (data: unknown) => string, failed: string) => {
    section.setAttribute('aria-busy', 'true');
    section.querySelectorAll('button').forEach((b) => (b.disabled = true));
    report(derives ? DERIVING : 'Working…');
    try {
      if (derives) await painted();
      const res = await deps.runner.command(command, params);
      report(res.success ? done(res.data) : `${failed}: ${res.error ?? 'no answer'}`, !res.success);
      deps.changed();
    } finally {
      section.removeAttribute('aria-busy');
      await refresh();
    }
  };

  const createForm = (linked: boolean) => {
    const nameId = uid('encname');
    const name = h('input', { id: nameId, type: 'text', autocomplete: 'off', placeholder: 'My journal' }) as HTMLInputElement;
    const pass = passwordField('Passphrase', 'It cannot be recovered: without it no new device can read the workspace. The workspace name stays visible to the server.');
    const again = passwordField('Passphrase again');
    const create = async () => {
      const passphrase = newPassphrase(pass.input, again.input, report);
      if (passphrase === null) return;
      await run('LinkWorkspace', { name: name.value.trim() || 'My workspace', encrypt: true, passphrase }, true,
        (d) => `Created the encrypted workspace ${(d as { remote_id: string }).remote_id} and linked this folder to it.`, 'Not created');
    };
    return form('encryption-create', create,
      h('div', { class: 'field' }, h('label', { for: nameId }, linked ? 'Or create a new end-to-end encrypted workspace (this folder is linked to it instead)' : 'Name of the new end-to-end encrypted workspace'), name),
      pass.field, again.field,
      h('button', { type: 'submit', class: 'primary' }, 'Create encrypted workspace'));
  };

  const unlockForm = (workspaceId: string) => {
    const pass = passwordField('Passphrase of the workspace');
    const unlock = async () => {
      const passphrase = pass.input.value;
      pass.input.value = '';
      if (passphrase === '') return report('Enter the passphrase.', true);
      await run('UnlockWorkspace', { passphrase, remote_id: workspaceId }, true, () => 'Unlocked. Syncing…', 'Not unlocked');
    };
    return form('encryption-unlock', unlock,
      pass.field, h('button', { type: 'submit', class: 'primary' }, 'Unlock'));
  };

  const unlockedControls = (workspaceId: string) => {
    const lock = h('button', { type: 'button', class: 'outline', onclick: () => void run('LockWorkspace', { remote_id: workspaceId }, false, () => 'Locked: the keys were removed from this device.', 'Not locked') }, 'Lock');
    const pass = passwordField('New passphrase', 'The current passphrase is not asked: this device holds the keys. Afterwards only the new passphrase unlocks the workspace on other devices.');
    const again = passwordField('New passphrase again');
    const change = async () => {
      const passphrase = newPassphrase(pass.input, again.input, report);
      if (passphrase === null) return;
      await run('ChangePassphrase', { passphrase }, true, () => 'Passphrase changed.', 'Passphrase not changed');
    };
    return [
      h('div', { class: 'field' }, h('div', { class: 'row' }, lock), h('p', { class: 'hint' }, 'Lock removes the keys from this device; sync stops until you unlock it again.')),
      form('encryption-change', change,
        h('h4', {}, 'Change passphrase'), pass.field, again.field, h('button', { type: 'submit', class: 'outline' }, 'Change passphrase')),
    ];
  };

  const refresh = async () => {
    const view = await encryptionView(deps);
    state.dataset.encryption = view.kind;
    state.textContent = view.kind === 'unknown' ? view.reason : STATE_TEXT[view.kind];
    state.classList.toggle('error', view.kind === 'unknown');
    switch (view.kind) {
      case 'unlinked':
      case 'plain':
        body.replaceChildren(createForm(view.kind === 'plain'));
        break;
      case 'joining':
      case 'locked':
        body.replaceChildren(unlockForm(view.workspaceId));
        break;
      case 'unlocked':
        body.replaceChildren(...unlockedControls(view.workspaceId));
        break;
      case 'unknown':
        body.replaceChildren();
    }
  };
  return { element: section, refresh };
}
