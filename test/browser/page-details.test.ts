/**
 * Details of the browser host page (host-harness/web/) in headless Chromium
 * against the real sync server: Save and Delete only with a file open, the
 * Settings inputs one line tall with Link in view, the theme kept across a
 * reload, and the History tab's header agreeing with the page's connection
 * state. Screenshots go to test-results/screenshots/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenshotPath, syncFolderOnce, useBrowserSetup, waitForFile, writeInEditor } from './web-helpers';

describe('browser host page details', () => {
  const setup = useBrowserSetup();

  it('Save and Delete need an open file; Settings inputs are one line and Link is in view; the theme survives a reload; History agrees with the connection', async () => {
    const workspaceId = await setup.server.createWorkspace('page-details');
    const d = await setup.open({ workspaceId, device: 'Laptop' });
    const { page } = d;

    // No file open: nothing to save or delete.
    expect(await page.locator('#save').isDisabled()).toBe(true);
    expect(await page.locator('#delete').isDisabled()).toBe(true);
    await writeInEditor(d, 'day.md', '---\ntitle: Day\n---\ntext\n');
    expect(await page.locator('#save').isEnabled()).toBe(true);
    expect(await page.locator('#delete').isEnabled()).toBe(true);
    await page.click('#delete');
    await d.idle();
    expect(await page.locator('#save').isDisabled()).toBe(true);
    expect(await page.locator('#delete').isDisabled()).toBe(true);

    // The History header says what the page's status says: no `Connecting…` once the connection is open.
    await expect.poll(() => page.locator('#ws-state').innerText(), { timeout: 30_000 }).toBe('Connection: open');
    await expect.poll(() => d.history.locator('#status').innerText(), { timeout: 15_000 }).toMatch(/^(Synced|Syncing)/);

    // Settings: one-line inputs, Link visible without scrolling.
    await page.click('#open-settings');
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    const inputs = dialog.locator('input[type="text"], input[type="password"]');
    expect(await inputs.count()).toBeGreaterThan(0);
    for (const box of await inputs.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height))) expect(box).toBeLessThan(40);
    const link = dialog.getByRole('button', { name: 'Link', exact: true });
    const linkBox = await link.boundingBox();
    const viewport = page.viewportSize()!;
    expect(linkBox).not.toBeNull();
    expect(linkBox!.y + linkBox!.height).toBeLessThanOrEqual(viewport.height);
    await page.screenshot({ path: screenshotPath('web-settings.png') });
    await page.keyboard.press('Escape');

    // The theme chosen with the button is kept across a reload (no theme in the URL).
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await page.click('#theme-toggle');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const url = new URL(page.url());
    url.searchParams.delete('theme');
    await page.goto(url.toString());
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 60_000 });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.screenshot({ path: screenshotPath('web-dark-after-reload.png') });
  }, 180_000);

  it('History marks a concurrent edit of the same line with the devices, and shows the version before in one click', async () => {
    const workspaceId = await setup.server.createWorkspace('concurrent');
    const d = await setup.open({ workspaceId, device: 'Laptop' });
    const text = (line: string) => `---\ntitle: Shared\n---\nFirst line\nShared line ${line}.\n`;
    await writeInEditor(d, 'shared.md', text(''));

    // A second device (the CLI) gets the file, then edits the line while not running.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-web-other-'));
    try {
      expect(await syncFolderOnce(setup.server, other, workspaceId)).toBe(0);
      fs.writeFileSync(path.join(other, 'shared.md'), text('edited by the CLI'));
      // The laptop edits the same line meanwhile; the CLI device's edit comes in afterwards.
      await writeInEditor(d, 'shared.md', text('edited on the laptop'));
      expect(await syncFolderOnce(setup.server, other, workspaceId)).toBe(0);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
    await waitForFile(d, 'shared.md', (t) => t !== null && t.includes('edited by the CLI') && t.includes('edited on the laptop'), 'the merged line on the laptop');

    const marked = d.history.locator('#versions > li.concurrent');
    await expect.poll(() => marked.count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => marked.first().locator('.badge.conflict').innerText()).toBe('concurrent edit');
    const note = await marked.first().locator('.concurrent-note').innerText();
    expect(note).toMatch(/^shared\.md was edited on .+ and .+ at the same time/);
    expect(note).toContain('Laptop');

    // One click: the changes from the laptop's version before the merge.
    await marked.first().locator('button.version-before').click();
    const diff = d.history.locator('#diff');
    await expect.poll(() => diff.innerText(), { timeout: 10_000 }).toContain('edited by the CLI');
    expect(await diff.locator('del').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('Shared line edited on the laptop.')]));
    await d.page.screenshot({ path: screenshotPath('web-history-concurrent.png') });
  }, 180_000);
});
