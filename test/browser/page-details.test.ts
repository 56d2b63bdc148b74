/**
 * Details of the browser host page (host-harness/web/) in headless Chromium
 * against the real sync server: Save and Delete only with a file open, the
 * Settings inputs one line tall with Link in view, the theme kept across a
 * reload, and the History tab's header agreeing with the page's connection
 * state. Screenshots go to test-results/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { startWebHost, type WebHost } from '../../host-harness/src/web-host';
import { openDevice, screenshotPath, startSyncServer, writeInEditor, type Device, type SyncServer } from './web-helpers';

describe('browser host page details', () => {
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

  it('Save and Delete need an open file; Settings inputs are one line and Link is in view; the theme survives a reload; History agrees with the connection', async () => {
    const workspaceId = await server.createWorkspace('page-details');
    const d = await openDevice(browser, { server, webUrl: web.url, workspaceId, device: 'Laptop' });
    devices.push(d);
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
});
