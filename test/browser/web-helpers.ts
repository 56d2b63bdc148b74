/**
 * Set-up for the browser-host tests: the real sync server as a child process
 * (`serve --port 0`, a token from `token create`), remote workspaces created
 * over its HTTP API, the web host page served by startWebHost, and device
 * pages (one browser context each) with a guard that records every network
 * request made by a plugin iframe.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, FrameLocator, Page, Request } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startWebHost, type WebHost } from '../../host-harness/src/web-host';
import { runCli } from '../e2e/cli-helpers';
import { launchChromium } from '../helpers/chromium';
import { spawnCli, startChildServer, type ChildServer } from '../server/helpers/child';
import { waitFor } from '../server/helpers/wait';

export { waitFor };

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

export interface SyncServer {
  url: string;
  token: string;
  child: ChildServer;
  dataDir: string;
  createWorkspace(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startSyncServer(): Promise<SyncServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-web-server-'));
  const tokenCmd = spawnCli(['token', 'create', '--user', 'alice', '--data-dir', dataDir]);
  const { code } = await tokenCmd.exited;
  if (code !== 0) throw new Error(`token create failed: ${tokenCmd.stderr.join('')}`);
  const token = tokenCmd.stdout.join('').trim().split('\n').pop()!.trim();
  // The web host page is served from another origin (its own port).
  const child = await startChildServer(dataDir, ['--cors-origins', '*']);
  return {
    url: child.url,
    token,
    child,
    dataDir,
    async createWorkspace(name) {
      const res = await fetch(`${child.url}/api/workspaces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 200) throw new Error(`creating workspace ${name}: HTTP ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    },
    async close() {
      child.proc.kill('SIGTERM');
      await child.exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Device {
  context: BrowserContext;
  page: Page;
  /** Requests made by a plugin iframe that reached the network (never expected). */
  iframeRequests: string[];
  /** Requests a plugin iframe attempted and the browser refused (CSP). */
  blockedRequests: string[];
  history: FrameLocator;
  snapshots: FrameLocator;
  /** A workspace file's text in the page's in-browser folder (null when absent). */
  file(path: string): Promise<string | null>;
  /** Waits until every queued plugin call has finished. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface DeviceOptions {
  server: SyncServer;
  webUrl: string;
  /** The remote workspace the page links to; omitted or empty: the page starts unlinked. */
  workspaceId?: string;
  device: string;
  theme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
}

export async function openDevice(browser: Browser, o: DeviceOptions): Promise<Device> {
  const context = await browser.newContext({ viewport: o.viewport ?? { width: 1280, height: 820 } });
  const page = await context.newPage();
  const iframeRequests: string[] = [];
  const blockedRequests: string[] = [];
  // A plugin iframe's own document comes from a blob: URL (not the network);
  // anything else it requests counts, unless the browser refused it before it
  // left the page (CSP).
  const fromIframe = (req: Request) => req.frame() !== page.mainFrame() && !(req.isNavigationRequest() && req.url().startsWith('blob:'));
  page.on('requestfinished', (req) => {
    if (fromIframe(req)) iframeRequests.push(`${req.method()} ${req.url()}`);
  });
  page.on('requestfailed', (req) => {
    if (!fromIframe(req)) return;
    const reason = req.failure()?.errorText ?? '';
    if (/BLOCKED_BY_CSP|ERR_BLOCKED_BY_CLIENT|csp/i.test(reason)) blockedRequests.push(`${req.method()} ${req.url()}`);
    else iframeRequests.push(`${req.method()} ${req.url()} (${reason})`);
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const query = new URLSearchParams({
    server: o.server.url,
    token: o.server.token,
    device: o.device,
    persist: '0',
    theme: o.theme ?? 'light',
  });
  if (o.workspaceId) query.set('workspace', o.workspaceId);
  await page.goto(`${o.webUrl}/?${query}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready !== undefined, null, { timeout: 60_000 });
  const ready = await page.evaluate(() => document.documentElement.dataset.ready);
  if (ready !== 'true') throw new Error(`web host failed: ${await page.locator('#app').innerText()} ${errors.join('; ')}`);
  return {
    context,
    page,
    iframeRequests,
    blockedRequests,
    history: page.frameLocator('iframe[data-component="sync.history"]'),
    snapshots: page.frameLocator('iframe[data-component="sync.snapshots"]'),
    file: (p) =>
      page.evaluate((rel) => (window as unknown as { diaryxHost: { folder: { readText(p: string): string | null } } }).diaryxHost.folder.readText(rel), p),
    idle: () => page.evaluate(() => (window as unknown as { diaryxHost: { idle(): Promise<void> } }).diaryxHost.idle()),
    close: () => context.close(),
  };
}

/** Creates (or opens) a file in the page's editor, types `text` and saves it. */
export async function writeInEditor(d: Device, file: string, text: string): Promise<void> {
  const { page } = d;
  const existing = page.locator(`button.file[data-path="${file}"]`);
  if ((await existing.count()) === 0) {
    await page.fill('#new-file', file);
    await page.click('#create-file');
  } else {
    await existing.click();
  }
  await page.waitForFunction((f) => document.getElementById('editor-path')?.textContent === f, file);
  await page.fill('#editor', text);
  await page.click('#save');
  await d.idle();
}

/** Waits until the device's copy of `file` satisfies `test`. */
export async function waitForFile(d: Device, file: string, test: (text: string | null) => boolean, what: string): Promise<string | null> {
  let last: string | null = null;
  await waitFor(async () => test((last = await d.file(file))), `${what} (last: ${JSON.stringify(last)})`, 30_000, 50);
  return last;
}

/** Plugin command run by the test through the page's call queue. */
export async function pluginCommand<T>(d: Device, command: string, params: unknown = {}): Promise<T> {
  const res = await d.page.evaluate(
    ([c, p]) => (window as unknown as { diaryxHost: { runner: { command(c: string, p: unknown): Promise<unknown> } } }).diaryxHost.runner.command(c as string, p),
    [command, params] as const,
  );
  const r = res as { success: boolean; data: T; error?: string };
  if (!r.success) throw new Error(`${command} failed: ${r.error}`);
  return r.data;
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return path.join(SCREENSHOT_DIR, name);
}

/** What a browser test file shares: one server, the web host page and Chromium, started before its tests. */
export interface BrowserTestSetup {
  readonly server: SyncServer;
  readonly webUrl: string;
  /** Opens a device page on the shared server and web host; it is closed after the tests. */
  open(o: Omit<DeviceOptions, 'server' | 'webUrl'>): Promise<Device>;
}

/** Registers the set-up and tear-down of a browser test file (or describe block) and returns its parts. */
export function useBrowserSetup(): BrowserTestSetup {
  let server: SyncServer | undefined;
  let web: WebHost | undefined;
  let browser: Browser | undefined;
  const devices: Device[] = [];
  const started = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`the browser test set-up has not started the ${what}`);
    return x;
  };
  beforeAll(async () => {
    [server, web, browser] = await Promise.all([startSyncServer(), startWebHost(), launchChromium()]);
  });
  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    await browser?.close();
    await web?.close();
    await server?.close();
  });
  return {
    get server() {
      return started(server, 'sync server');
    },
    get webUrl() {
      return started(web, 'web host').url;
    },
    async open(o) {
      const d = await openDevice(started(browser, 'browser'), { ...o, server: started(server, 'sync server'), webUrl: started(web, 'web host').url });
      devices.push(d);
      return d;
    },
  };
}

/** One `diaryx-sync sync --once` run of a folder (another device, not running in between); resolves to its exit code. */
export function syncFolderOnce(server: SyncServer, dir: string, workspaceId: string): Promise<number | null> {
  const args = ['sync', '--dir', dir, '--server', server.url, '--token', server.token, '--workspace-id', workspaceId, '--once'];
  return runCli(args).then((r) => r.code);
}
