/**
 * The settings tab's Encryption block of the browser host page
 * (host-harness/web/src/encryption-settings.ts) in headless Chromium against
 * the real sync server: a device creates an end-to-end encrypted workspace
 * from the tab (a mismatched repeat runs nothing), writes a file; a second
 * device linked to that workspace shows it locked, a wrong passphrase shows
 * the plugin's error and brings nothing, the right one unlocks it and the
 * file arrives, and it changes the passphrase; Lock on the first device shows
 * it locked, and the new passphrase unlocks it. No passphrase reaches the DOM
 * outside the password inputs, the page's logs, the console or localStorage.
 * Each create, unlock or change derives the key once inside the plugin
 * (seconds to tens of seconds on a loaded machine): five in all.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { pluginCommand, screenshotPath, useBrowserSetup, waitFor, waitForFile, writeInEditor, type Device } from './web-helpers';

const PASSPHRASE = 'correct horse battery staple 7';
const WRONG = 'incorrect pony battery staple 7';
const NEW_PASSPHRASE = 'a new passphrase, battery staple 8';
const NOTE = '---\ntitle: Secret\n---\nOnly my devices can read this line.\n';
/** One key derivation and the command around it, on a machine shared with other work. */
const DERIVATION_TIMEOUT = 180_000;

const block = '#encryption-settings';

async function openSettings(page: Page): Promise<void> {
  await page.click('#open-settings');
  await page.locator('dialog[open]').waitFor();
  await page.waitForFunction((sel) => document.querySelector(`${sel} .encryption-state`)?.getAttribute('data-encryption') !== 'checking', block);
}

async function waitForState(page: Page, state: string, timeout = DERIVATION_TIMEOUT): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, s]) => document.querySelector(`${sel} .encryption-state`)?.getAttribute('data-encryption') === s && !document.querySelector(sel)?.hasAttribute('aria-busy'),
      [block, state] as const,
      { timeout, polling: 200 },
    );
  } catch (e) {
    const shown = await page.locator(block).innerText({ timeout: 5_000 }).catch(() => '(not readable)');
    throw new Error(`the Encryption block did not reach "${state}": ${(e as Error).message}\nIt shows: ${shown}`);
  }
}

/** Records every text the block's note shows (a note painted just before the page blocks on a derivation is gone when it returns). */
async function recordNotes(page: Page): Promise<void> {
  await page.evaluate((sel) => {
    const note = document.querySelector(`${sel} > p.note`)!;
    const w = window as unknown as { encryptionNotes: string[] };
    w.encryptionNotes = [];
    new MutationObserver(() => w.encryptionNotes.push(note.textContent ?? '')).observe(note, { childList: true, characterData: true, subtree: true });
  }, block);
}

const notesSeen = (page: Page) => page.evaluate(() => (window as unknown as { encryptionNotes: string[] }).encryptionNotes);
const noteText = (page: Page) => page.locator(`${block} > p.note`).innerText();
const stateText = (page: Page) => page.locator(`${block} .encryption-state`).innerText();
const passwordValues = (page: Page) => page.locator(`${block} input[type="password"]`).evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));

/** Everything the page shows or keeps outside the password inputs' values. */
async function pageTraces(d: Device): Promise<string> {
  return d.page.evaluate(() => {
    const host = (window as unknown as { diaryxHost: { logs: string[]; runner: { failures: string[] } } }).diaryxHost;
    const storage = Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`);
    return [document.documentElement.outerHTML, ...host.logs, ...host.runner.failures, ...storage].join('\n');
  });
}

describe('browser host: the Encryption block of the settings tab', () => {
  const setup = useBrowserSetup();

  it('creates an encrypted workspace, a second device unlocks it (a wrong passphrase first) and gets the file and changes the passphrase; Lock locks, the new passphrase unlocks', async () => {
    const laptop = await setup.open({ device: 'Laptop' });
    const consoleLines: string[] = [];
    laptop.page.on('console', (m) => consoleLines.push(m.text()));

    await openSettings(laptop.page);
    await waitForState(laptop.page, 'unlinked');
    expect(await stateText(laptop.page)).toMatch(/^No remote workspace is linked/);
    // Every password input has its own label.
    const labelled = await laptop.page.locator(`${block} input`).evaluateAll((els) => els.map((e) => (e as HTMLInputElement).labels?.length ?? 0));
    expect(labelled.length).toBe(3);
    expect(labelled.every((n) => n === 1)).toBe(true);

    // A repeat that differs: a clear message, both inputs emptied, nothing run.
    await laptop.page.getByLabel('Name of the new end-to-end encrypted workspace').fill('Journal');
    await laptop.page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await laptop.page.getByLabel('Passphrase again').fill(`${PASSPHRASE}!`);
    await laptop.page.getByRole('button', { name: 'Create encrypted workspace' }).click();
    expect(await noteText(laptop.page)).toBe('The two passphrases do not match. Nothing was changed; type them again.');
    expect(await passwordValues(laptop.page)).toEqual(['', '']);
    expect((await pluginCommand<{ workspace_id: string | null }>(laptop, 'get_config')).workspace_id).toBeNull();
    expect((await laptop.page.locator(`${block} .encryption-state`).getAttribute('data-encryption'))).toBe('unlinked');

    // Created for real: the key derived in the plugin (the note said so first), linked, unlocked.
    await recordNotes(laptop.page);
    await laptop.page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await laptop.page.getByLabel('Passphrase again').fill(PASSPHRASE);
    await laptop.page.getByRole('button', { name: 'Create encrypted workspace' }).click();
    await waitForState(laptop.page, 'unlocked');
    expect((await notesSeen(laptop.page))[0]).toMatch(/^Deriving the key from the passphrase\. This takes several seconds/);
    const workspaceId = (await pluginCommand<{ workspace_id: string | null }>(laptop, 'get_config')).workspace_id!;
    expect(workspaceId).toBeTruthy();
    expect(await noteText(laptop.page)).toBe(`Created the encrypted workspace ${workspaceId} and linked this folder to it.`);
    expect(await stateText(laptop.page)).toMatch(/^Unlocked: end-to-end encrypted/);
    expect(await passwordValues(laptop.page)).toEqual(['', '']); // the change-passphrase inputs, empty
    const keys = await fetch(`${setup.server.url}/api/workspaces/${workspaceId}/keys`, { headers: { authorization: `Bearer ${setup.server.token}` } });
    expect(keys.status).toBe(200);
    await laptop.page.screenshot({ path: screenshotPath('web-encryption-unlocked.png') });
    await laptop.page.keyboard.press('Escape');

    await writeInEditor(laptop, 'secret.md', NOTE);
    await waitFor(async () => (await pluginCommand<{ state: string }>(laptop, 'GetSyncStatus')).state === 'synced', 'the laptop synced', 60_000, 100);

    // The second device, linked to the workspace id, has no keys: the tab shows it locked.
    const phone = await setup.open({ workspaceId, device: 'Phone' });
    phone.page.on('console', (m) => consoleLines.push(m.text()));
    await openSettings(phone.page);
    await waitForState(phone.page, 'joining');
    expect(await stateText(phone.page)).toMatch(/^Locked: this workspace is end-to-end encrypted and this device has not unlocked it yet/);
    await phone.page.screenshot({ path: screenshotPath('web-encryption-locked.png') });

    // A wrong passphrase: the plugin's error, the input emptied, still locked, no file.
    await phone.page.getByLabel('Passphrase of the workspace').fill(WRONG);
    await phone.page.getByRole('button', { name: 'Unlock' }).click();
    await phone.page.waitForFunction((sel) => document.querySelector(`${sel} > p.note`)?.textContent?.startsWith('Not unlocked'), block, { timeout: DERIVATION_TIMEOUT, polling: 200 });
    expect(await noteText(phone.page)).toMatch(/^Not unlocked: .*Wrong passphrase$/);
    await waitForState(phone.page, 'joining');
    expect(await passwordValues(phone.page)).toEqual(['']);
    expect(await phone.file('secret.md')).toBeNull();

    // The right one: unlocked, and the file arrives with its text.
    await phone.page.getByLabel('Passphrase of the workspace').fill(PASSPHRASE);
    await phone.page.getByRole('button', { name: 'Unlock' }).click();
    await waitForState(phone.page, 'unlocked');
    expect(await noteText(phone.page)).toBe('Unlocked. Syncing…');
    expect(await passwordValues(phone.page)).toEqual(['', '']);
    expect(await waitForFile(phone, 'secret.md', (t) => t !== null && t.includes('Only my devices can read this line.'), 'the file on the phone')).toContain('title: Secret');

    // Change the passphrase on the phone (the new one twice; a differing repeat runs nothing).
    const recordGen = async () => {
      const res = await fetch(`${setup.server.url}/api/workspaces/${workspaceId}/keys`, { headers: { authorization: `Bearer ${setup.server.token}` } });
      return ((await res.json()) as { gen: number }).gen;
    };
    const genBefore = await recordGen();
    await phone.page.getByLabel('New passphrase', { exact: true }).fill(NEW_PASSPHRASE);
    await phone.page.getByLabel('New passphrase again').fill(PASSPHRASE);
    await phone.page.getByRole('button', { name: 'Change passphrase' }).click();
    expect(await noteText(phone.page)).toBe('The two passphrases do not match. Nothing was changed; type them again.');
    expect(await passwordValues(phone.page)).toEqual(['', '']);
    expect(await recordGen()).toBe(genBefore);
    await phone.page.getByLabel('New passphrase', { exact: true }).fill(NEW_PASSPHRASE);
    await phone.page.getByLabel('New passphrase again').fill(NEW_PASSPHRASE);
    await phone.page.getByRole('button', { name: 'Change passphrase' }).click();
    await phone.page.waitForFunction((sel) => document.querySelector(`${sel} > p.note`)?.textContent === 'Passphrase changed.', block, { timeout: DERIVATION_TIMEOUT, polling: 200 });
    await waitForState(phone.page, 'unlocked');
    expect(await passwordValues(phone.page)).toEqual(['', '']);
    expect(await recordGen()).toBe(genBefore + 1);

    // Lock on the laptop: the keys leave it, the tab and the status say locked.
    await openSettings(laptop.page);
    await waitForState(laptop.page, 'unlocked');
    await laptop.page.getByRole('button', { name: 'Lock' }).click();
    await waitForState(laptop.page, 'locked', 30_000);
    expect(await stateText(laptop.page)).toMatch(/^Locked: the keys are not on this device/);
    expect(await noteText(laptop.page)).toBe('Locked: the keys were removed from this device.');
    expect((await pluginCommand<{ encryption: string }>(laptop, 'GetSyncStatus')).encryption).toBe('locked');
    expect(await laptop.page.getByLabel('Passphrase of the workspace').isVisible()).toBe(true);

    // Unlocked again with the new passphrase (the old one no longer opens the record).
    await laptop.page.getByLabel('Passphrase of the workspace').fill(NEW_PASSPHRASE);
    await laptop.page.getByRole('button', { name: 'Unlock' }).click();
    await waitForState(laptop.page, 'unlocked');
    expect(await noteText(laptop.page)).toBe('Unlocked. Syncing…');
    await waitFor(async () => (await pluginCommand<{ state: string }>(laptop, 'GetSyncStatus')).state === 'synced', 'the laptop synced again', 60_000, 100);

    // The passphrases were never shown, kept or logged by the page.
    for (const d of [laptop, phone]) {
      const traces = await pageTraces(d);
      expect(traces).not.toContain(PASSPHRASE);
      expect(traces).not.toContain(WRONG);
      expect(traces).not.toContain(NEW_PASSPHRASE);
    }
    expect(consoleLines.join('\n')).not.toContain('staple');
  }, 480_000);
});
