/**
 * The browser host page shows the pictures an entry references: a CLI device
 * uploads a photo referenced from an entry (front matter and a body link),
 * and the page, in headless Chromium against the real server, shows it
 * decoded under the editor, downloading it on display when its folder lacks it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { startWebHost, type WebHost } from '../../host-harness/src/web-host';
import { openDevice, startSyncServer, waitFor, type Device, type SyncServer } from './web-helpers';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** A 2x1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR4nGP4z8DwHwyBNAMANfkF+4+VVc4AAAAASUVORK5CYII=', 'base64');

let server: SyncServer;
let web: WebHost;
let browser: Browser;
const devices: Device[] = [];

beforeAll(async () => {
  [server, web, browser] = await Promise.all([startSyncServer(), startWebHost(), launchChromium()]);
});
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => undefined);
  await browser?.close();
  await web?.close();
  await server?.close();
});

function syncOnce(dir: string, workspaceId: string): Promise<number | null> {
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'diaryx-sync.mjs'), 'sync', '--dir', dir, '--server', server.url, '--token', server.token, '--workspace-id', workspaceId, '--once'],
    { cwd: ROOT, stdio: 'ignore' },
  );
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

it('shows the pictures of the open entry, downloaded on display', async () => {
  const workspaceId = await server.createWorkspace('pictures');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-web-att-'));
  try {
    fs.mkdirSync(path.join(dir, '_attachments'));
    fs.writeFileSync(path.join(dir, '_attachments', 'dot.png'), PNG);
    fs.writeFileSync(path.join(dir, '_attachments', 'linked.png'), PNG);
    fs.writeFileSync(
      path.join(dir, 'day.md'),
      '---\ntitle: Day\nattachments: ["_attachments/dot.png"]\n---\nA dot: ![](/_attachments/dot.png) and ![another](_attachments/linked.png)\n',
    );
    expect(await syncOnce(dir, workspaceId)).toBe(0);

    const d = await openDevice(browser, { server, webUrl: web.url, workspaceId, device: 'Browser' });
    devices.push(d);
    const { page } = d;
    await waitFor(async () => (await d.file('day.md')) !== null, 'the entry in the page');
    // Whatever the first download brought, the page fetches what it lacks on display.
    await page.evaluate(() => {
      const host = (window as unknown as { diaryxHost: { folder: { delete(p: string, byPlugin: boolean): void } } }).diaryxHost;
      host.folder.delete('_attachments/dot.png', true);
      host.folder.delete('_attachments/linked.png', true);
    });
    await page.click('button.file[data-path="day.md"]');
    for (const p of ['_attachments/dot.png', '_attachments/linked.png']) {
      const img = page.locator(`#attachments figure[data-path="${p}"] img`);
      await img.waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
        throw new Error(`${e.message}\nshown: ${await page.locator('#attachments').innerText()}`);
      });
      await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 2, `#attachments figure[data-path="${p}"] img`);
    }
    const kept = await page.evaluate(() =>
      (window as unknown as { diaryxHost: { folder: { read(p: string): Uint8Array | null } } }).diaryxHost.folder.read('_attachments/dot.png')?.length ?? 0,
    );
    expect(kept).toBe(PNG.length);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
