/**
 * The browser host page: loads dist/diaryx_sync.wasm with the @extism/extism
 * browser build over an in-browser workspace, connects it to a sync server
 * over a real WebSocket, and shows the plugin the way Diaryx does: the file
 * list and editor, the settings tab, the Snapshots and History tabs in
 * sandboxed iframes and the status-bar item.
 *
 * URL parameters (all optional) preconfigure a device: `server`, `token`,
 * `workspace` (remote workspace id), `device` (device name), `profile` (which
 * in-browser folder to open; default "default"), `theme` (light|dark),
 * `persist=0` (keep nothing in IndexedDB).
 */
import { PluginRunner } from './call-queue';
import { createPageHostFunctions } from './host-functions';
import { IframeTab, type ThemeInfo } from './iframe-tab';
import { MemoryFolder } from './memory-folder';
import { h, renderSettings, type HostAccount } from './settings';
import { StatusItem } from './status-bar';
import { WorkspaceView } from './workspace-view';
import { AttachmentView } from './attachment-view';
import { WsTransport } from './ws-transport';

const params = new URLSearchParams(location.search);
const profile = params.get('profile') || 'default';
const ACCOUNT_KEY = `diaryx-web:${profile}:account`;
/** The theme chosen with the Theme button (kept across reloads, for every profile). */
const THEME_KEY = 'diaryx-web:theme';
const CSS_VARS = ['--background', '--foreground', '--muted', '--muted-foreground', '--border', '--primary', '--primary-foreground', '--destructive', '--accent', '--card', '--font-sans', '--font-mono', '--radius'];

function loadAccount(): HostAccount {
  try {
    const v = JSON.parse(localStorage.getItem(ACCOUNT_KEY) ?? '{}') as Partial<HostAccount>;
    return { token: v.token ?? '', deviceName: v.deviceName ?? '' };
  } catch {
    return { token: '', deviceName: '' };
  }
}

function themeInfo(): ThemeInfo {
  const theme = document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
  const style = getComputedStyle(document.documentElement);
  const cssVars: Record<string, string> = {};
  for (const name of CSS_VARS) {
    const v = style.getPropertyValue(name).trim();
    if (v) cssVars[name] = v;
  }
  return { theme, cssVars };
}

function debounce(fn: () => void, ms: number): () => void {
  let t: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (t) clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  // The URL's theme, else the one last chosen on this page, else the system's.
  const requested = params.get('theme') ?? localStorage.getItem(THEME_KEY);
  document.documentElement.dataset.theme =
    requested === 'dark' || requested === 'light' ? requested : matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';

  const account = loadAccount();
  if (params.has('token')) account.token = params.get('token')!;
  if (params.has('device')) account.deviceName = params.get('device')!;
  localStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));

  const folder = await MemoryFolder.open(profile, params.get('persist') !== '0');
  const logs: string[] = [];
  let runner: PluginRunner | null = null;
  const tabs: IframeTab[] = [];
  let status: StatusItem | null = null;
  const workspaceChanged = debounce(() => tabs.forEach((t) => t.event('workspace-changed', null)), 250);

  const ws = new WsTransport({
    call: (name, input) => {
      void runner?.call(name, input).catch(() => undefined).then(() => {
        workspaceChanged();
        void status?.refresh();
      });
    },
    onState: (state, detail) => {
      document.getElementById('ws-state')?.replaceChildren(`Connection: ${state}${detail ? ` (${detail})` : ''}`);
    },
  });
  const functions = createPageHostFunctions({
    folder,
    ws: ws.handle,
    runtimeContext: () => ({
      auth_token: account.token || undefined,
      device_name: account.deviceName || undefined,
      platform: 'web',
    }),
    onEvent: (event) => {
      if (event.type === 'SyncStatusChanged' || event.type === 'SyncCompleted') void status?.refresh();
    },
    onLog: (level, message) => {
      logs.push(`[${level}] ${message}`);
      if (logs.length > 500) logs.shift();
      if (level === 'error' || level === 'warn') console.warn(`[plugin] ${message}`);
    },
  });
  runner = await PluginRunner.load(params.get('wasm') || 'diaryx_sync.wasm', functions);
  const manifest = JSON.parse(await runner.callText('manifest', '')) as Record<string, unknown>;
  if (manifest.id !== 'diaryx.sync') throw new Error(`unexpected plugin id ${String(manifest.id)}`);

  const patch: Record<string, string> = {};
  if (params.has('server')) patch.server_url = params.get('server')!;
  if (params.has('workspace')) patch.workspace_id = params.get('workspace')!;
  if (Object.keys(patch).length > 0) await runner.command('set_config', patch);
  await runner.callText('init', JSON.stringify({ workspace_root: '', write_to_disk: true }));

  // ---- layout ------------------------------------------------------------
  const attachments = new AttachmentView({ folder, runner, token: () => account.token });
  const view = new WorkspaceView({
    folder,
    runner,
    onEntry: (path) => {
      void attachments.show(path).catch((e: unknown) => console.warn(`[attachments] ${String(e)}`));
      const entry = view.entry();
      tabs.forEach((t) => t.event('entry-changed', entry));
      workspaceChanged();
    },
  });
  folder.onChange(() => workspaceChanged());
  const ui = (manifest.ui as Record<string, unknown>[]) ?? [];
  const sidebars: Record<'Left' | 'Right', { id: string; label: string; panel: HTMLElement }[]> = {
    Left: [{ id: 'files', label: 'Files', panel: view.sidebar() }],
    Right: [],
  };
  for (const u of ui.filter((x) => x.slot === 'SidebarTab')) {
    const component = u.component as { type?: string; component_id?: string } | null;
    if (component?.type !== 'Iframe' || !component.component_id) continue;
    const tab = new IframeTab(runner, component.component_id, String(u.label), themeInfo, () => view.entry());
    tabs.push(tab);
    const side = u.side === 'Right' ? 'Right' : 'Left';
    sidebars[side].push({ id: String(u.id), label: String(u.label), panel: h('div', { class: 'iframe-wrap' }, tab.iframe) });
  }
  const renderSidebar = (side: 'Left' | 'Right') => {
    const items = sidebars[side];
    const list = h('div', { role: 'tablist', 'aria-label': `${side === 'Left' ? 'Left' : 'Right'} sidebar` });
    const panels = items.map((it, i) => {
      const panel = h('div', { role: 'tabpanel', id: `panel-${it.id}`, 'aria-labelledby': `tab-${it.id}` }, it.panel);
      panel.hidden = i !== 0;
      return panel;
    });
    const buttons = items.map((it, i) =>
      h('button', { type: 'button', role: 'tab', id: `tab-${it.id}`, 'aria-controls': `panel-${it.id}`, 'aria-selected': i === 0 ? 'true' : 'false', tabindex: i === 0 ? '0' : '-1' }, it.label),
    );
    const select = (n: number) => {
      buttons.forEach((b, i) => {
        b.setAttribute('aria-selected', i === n ? 'true' : 'false');
        b.tabIndex = i === n ? 0 : -1;
        panels[i].hidden = i !== n;
      });
      buttons[n].focus();
    };
    buttons.forEach((b, i) => {
      b.addEventListener('click', () => select(i));
      b.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowRight' || e.key === 'ArrowDown') select((i + 1) % buttons.length);
        if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') select((i - 1 + buttons.length) % buttons.length);
      });
    });
    list.append(...buttons);
    return h('aside', { class: `sidebar ${side.toLowerCase()}`, 'aria-label': `${side} sidebar` }, list, ...panels);
  };

  const settingsBody = h('div', { class: 'settings-body' });
  const settingsDialog = h('dialog', { id: 'settings', 'aria-label': 'Settings' },
    h('form', { method: 'dialog', class: 'dialog-head' }, h('h2', {}, 'Settings'), h('button', { class: 'outline', 'aria-label': 'Close settings' }, 'Close')),
    settingsBody) as HTMLDialogElement;
  const openSettings = async () => {
    await renderSettings(settingsBody, manifest, {
      runner: runner!,
      account,
      saveAccount: async (a) => {
        Object.assign(account, a);
        localStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
        await runner!.command('set_config', {});
      },
      changed: () => {
        workspaceChanged();
        void status?.refresh();
      },
    });
    settingsDialog.showModal();
  };
  const setTheme = (theme: 'light' | 'dark') => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
    tabs.forEach((t) => t.themeChanged());
  };
  const toggleTheme = () => setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');

  const statusBar = h('footer', { class: 'status-bar' }, h('span', { id: 'ws-state', class: 'hint' }, 'Connection: idle'), h('span', { class: 'spacer' }));
  for (const u of ui.filter((x) => x.slot === 'StatusBarItem' && typeof x.plugin_command === 'string')) {
    status = new StatusItem(runner, String(u.id), String(u.plugin_command));
    statusBar.append(status.element);
  }
  root.replaceChildren(
    h('header', { class: 'top' },
      h('h1', {}, 'Diaryx Sync'),
      h('span', { class: 'hint' }, `web host · ${profile}`),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'outline', id: 'theme-toggle', onclick: toggleTheme }, 'Theme'),
      h('button', { type: 'button', class: 'outline', id: 'open-settings', onclick: () => void openSettings() }, 'Settings')),
    h('div', { class: 'layout' }, renderSidebar('Left'), h('main', {}, view.main(), attachments.element), renderSidebar('Right')),
    statusBar,
    settingsDialog,
  );
  view.renderList();
  status?.start(1000);
  await Promise.all(tabs.map((t) => t.load()));

  const api = {
    runner,
    folder,
    view,
    attachments,
    tabs,
    logs,
    ws,
    toggleTheme,
    setTheme,
    idle: () => runner!.idle(),
  };
  (window as unknown as { diaryxHost: typeof api }).diaryxHost = api;
  document.documentElement.dataset.ready = 'true';
}

start().catch((e: unknown) => {
  const message = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  document.getElementById('app')!.replaceChildren(h('pre', { class: 'fatal', role: 'alert' }, `The plugin could not start:\n${message}`));
  document.documentElement.dataset.ready = 'error';
});
