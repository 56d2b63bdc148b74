/**
 * The browser host page shows the pictures an entry references: a CLI device
 * uploads a photo referenced from an entry (front matter and a body link),
 * and the page, in headless Chromium against the real server, shows it
 * decoded under the editor, downloading it on display when its folder lacks it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { syncFolderOnce, useBrowserSetup, waitFor } from './web-helpers';

/** A 2x1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR4nGP4z8DwHwyBNAMANfkF+4+VVc4AAAAASUVORK5CYII=', 'base64');

const setup = useBrowserSetup();

it('shows the pictures of the open entry, downloaded on display', async () => {
  const workspaceId = await setup.server.createWorkspace('pictures');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-web-att-'));
  try {
    fs.mkdirSync(path.join(dir, '_attachments'));
    fs.writeFileSync(path.join(dir, '_attachments', 'dot.png'), PNG);
    fs.writeFileSync(path.join(dir, '_attachments', 'linked.png'), PNG);
    fs.writeFileSync(
      path.join(dir, 'day.md'),
      '---\ntitle: Day\nattachments: ["_attachments/dot.png"]\n---\nA dot: ![](/_attachments/dot.png) and ![another](_attachments/linked.png)\n',
    );
    expect(await syncFolderOnce(setup.server, dir, workspaceId)).toBe(0);

    const d = await setup.open({ workspaceId, device: 'Browser' });
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
