/**
 * The browser host (host-harness/web/) in headless Chromium against the real
 * sync server: two browser contexts sync an edit, the History tab lists it
 * with its device and restores an old version on both devices, the Snapshots
 * tab creates, lists and restores a snapshot (a deleted file comes back), the
 * tabs run in `sandbox="allow-scripts"` iframes that never reach the network
 * and show a clear error for an unknown command. Screenshots of both tabs in
 * light and dark theme (and at 320 px) go to test-results/screenshots/.
 */
import { describe, expect, it } from 'vitest';
import { pluginCommand, screenshotPath, useBrowserSetup, waitFor, waitForFile, writeInEditor, type DeviceOptions } from './web-helpers';

const NOTE_V1 = '---\ntitle: Notes\n---\nThe first version of the note.\n';
const NOTE_V2 = '---\ntitle: Notes\n---\nThe second version, edited on the laptop.\n';

describe('browser host', () => {
  const setup = useBrowserSetup();

  const open = (workspaceId: string, device: string, extra: Partial<DeviceOptions> = {}) => setup.open({ workspaceId, device, ...extra });

  it('two devices: an edit appears on the other, History lists it with its device, a restore from the tab brings the old text back on both', async () => {
    const workspaceId = await setup.server.createWorkspace('two-devices');
    const laptop = await open(workspaceId, 'Laptop');
    const phone = await open(workspaceId, 'Phone');

    await writeInEditor(laptop, 'notes.md', NOTE_V1);
    await waitForFile(phone, 'notes.md', (t) => t !== null && t.includes('The first version'), 'the note on the phone');
    await writeInEditor(laptop, 'notes.md', NOTE_V2);
    await waitForFile(phone, 'notes.md', (t) => t !== null && t.includes('The second version'), 'the edit on the phone');

    // The laptop's History tab (scope: the open file) lists the edit with the laptop as its device.
    const items = laptop.history.locator('#versions > li[data-update-id]');
    await waitFor(async () => (await items.count()) >= 3, "the three saves in the History tab");
    await expect.poll(() => items.first().locator('.device').innerText()).toBe('Laptop');
    await expect.poll(() => items.first().locator('.badge').innerText()).toBe('edit');

    // The phone's History lists the received change too, from the laptop.
    await phone.page.click('button.file[data-path="notes.md"]');
    const phoneItems = phone.history.locator('#versions > li[data-update-id]');
    await waitFor(async () => (await phoneItems.count()) >= 1, 'versions on the phone');
    await expect.poll(() => phoneItems.first().locator('.device').innerText()).toBe('Laptop');
    await expect.poll(() => phoneItems.first().locator('.badge').innerText()).toBe('received');

    // "Changes" of the newest version shows the edit as a line diff.
    await items.first().locator('button.show-changes').click();
    await expect.poll(() => laptop.history.locator('#diff').innerText()).toMatch(/- The first version of the note\.[\s\S]*\+ The second version/);

    // Restore the newest version (one per save) that still has the first text.
    const ids = await items.evaluateAll((lis) => lis.map((li) => Number((li as HTMLElement).dataset.updateId)));
    let target: number | null = null;
    for (const id of ids) {
      const v = await pluginCommand<{ content: string | null }>(laptop, 'GetFileVersion', { file_path: 'notes.md', update_id: id });
      if (v.content?.includes('The first version')) {
        target = id;
        break;
      }
    }
    expect(target).not.toBeNull();
    const item = laptop.history.locator(`#versions > li[data-update-id="${target}"]`);
    await item.getByRole('button', { name: 'Restore…' }).click();
    await item.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => laptop.history.locator('#status').innerText()).toMatch(/^Restored notes\.md/);

    await waitForFile(laptop, 'notes.md', (t) => t !== null && t.includes('The first version') && !t.includes('second'), 'the restored note on the laptop');
    await waitForFile(phone, 'notes.md', (t) => t !== null && t.includes('The first version') && !t.includes('second'), 'the restored note on the phone');
    await expect.poll(() => laptop.page.inputValue('#editor')).toContain('The first version');
    expect(laptop.iframeRequests).toEqual([]);
    expect(phone.iframeRequests).toEqual([]);
  });

  it('snapshots: create (by keyboard), list, preview, restore; a deleted file comes back', async () => {
    const workspaceId = await setup.server.createWorkspace('snapshots');
    const d = await open(workspaceId, 'Desk');
    await writeInEditor(d, 'journal/monday.md', '---\ntitle: Monday\n---\nWent for a walk.\n');
    await writeInEditor(d, 'journal/tuesday.md', '---\ntitle: Tuesday\n---\nRead a book.\n');

    await d.page.click('#tab-snapshots');
    const s = d.snapshots;
    await s.locator('#name').focus();
    await d.page.keyboard.type('Before cleanup');
    await d.page.keyboard.press('Enter');
    const items = s.locator('#snapshots > li[data-id]');
    await waitFor(async () => (await items.count()) === 1, 'the snapshot in the list');
    await expect.poll(() => items.first().locator('.name').innerText()).toBe('Before cleanup');
    await expect.poll(() => items.first().innerText()).toMatch(/2 files/);

    // Keyboard: Tab from the list's first button reaches Preview; Enter opens it.
    await items.first().locator('button.preview').focus();
    await d.page.keyboard.press('Enter');
    await expect.poll(() => s.locator('#preview-files').innerText()).toMatch(/journal\/monday\.md[\s\S]*journal\/tuesday\.md/);
    await d.page.keyboard.press('Escape');
    await expect.poll(() => s.locator('#preview').isHidden()).toBe(true);

    // After the snapshot: tuesday deleted, monday edited, a new file created.
    await d.page.click('#tab-files');
    await d.page.click('button.file[data-path="journal/tuesday.md"]');
    await d.page.click('#delete');
    await d.idle();
    await writeInEditor(d, 'journal/monday.md', '---\ntitle: Monday\n---\nWent for a run instead.\n');
    await writeInEditor(d, 'scratch.md', '---\ntitle: Scratch\n---\nscratch\n');
    expect(await d.file('journal/tuesday.md')).toBeNull();

    await d.page.click('#tab-snapshots');
    const item = items.first();
    await item.getByRole('button', { name: 'Restore…' }).click();
    await item.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => s.locator('#status').innerText()).toMatch(/^Restored “Before cleanup”: 2 files brought back, 1 newer file removed/);

    await waitForFile(d, 'journal/tuesday.md', (t) => t !== null && t.includes('Read a book.'), 'the deleted file back');
    expect(await d.file('journal/monday.md')).toContain('Went for a walk.');
    expect(await d.file('scratch.md')).toBeNull();
    await waitFor(async () => (await items.count()) === 2, 'the automatic snapshot in the list');
    await expect.poll(() => items.first().innerText()).toMatch(/Before restoring Before cleanup[\s\S]*automatic/);
    const crdt = await pluginCommand<[string, { deleted: boolean }][]>(d, 'ListCrdtFiles', {});
    expect(crdt.map(([p]) => p)).toEqual(['journal/monday.md', 'journal/tuesday.md']);
    expect(d.iframeRequests).toEqual([]);
  });

  it('tabs run sandboxed without network access and show a clear error for an unknown command; screenshots in both themes', async () => {
    const workspaceId = await setup.server.createWorkspace('sandbox');
    const d = await open(workspaceId, 'Tablet');
    await writeInEditor(d, 'ideas.md', '---\ntitle: Ideas\n---\nA garden diary.\nMore light in the kitchen.\n');
    await writeInEditor(d, 'ideas.md', '---\ntitle: Ideas\n---\nA garden diary.\nMore light in the hallway.\nPaint the fence.\n');
    // Made from the Snapshots tab, as a person would (the tab lists what it made).
    await d.page.click('#tab-snapshots');
    await d.snapshots.locator('#name').fill('Spring plans');
    await d.page.keyboard.press('Enter');
    await waitFor(async () => (await d.snapshots.locator('#snapshots > li[data-id]').count()) === 1, 'the snapshot in the list');
    await d.page.click('#tab-files');

    const frameOf = async (component: string) => {
      const src = await d.page.locator(`iframe[data-component="${component}"]`).evaluate((e) => (e as HTMLIFrameElement).src);
      return d.page.frames().find((f) => f.url() === src)!;
    };
    for (const component of ['sync.history', 'sync.snapshots']) {
      expect(await d.page.locator(`iframe[data-component="${component}"]`).getAttribute('sandbox')).toBe('allow-scripts');
    }
    const historyFrame = await frameOf('sync.history');
    const snapshotsFrame = await frameOf('sync.snapshots');
    const frames = [historyFrame, snapshotsFrame];
    expect(d.page.frames().length).toBe(3);
    for (const frame of frames) {
      const probe = await frame.evaluate(async (target) => {
        let parentAccess = 'blocked';
        try {
          void (parent as Window).document.title;
          parentAccess = 'reached';
        } catch {
          // expected: opaque origin
        }
        const fetchResult = await fetch(target).then(
          () => 'reached',
          () => 'blocked',
        );
        const xhr = await new Promise<string>((resolve) => {
          try {
            const x = new XMLHttpRequest();
            x.open('GET', target);
            x.onload = () => resolve('reached');
            x.onerror = () => resolve('blocked');
            x.send();
          } catch {
            resolve('blocked');
          }
        });
        let storage = 'blocked';
        try {
          void localStorage.length;
          storage = 'reached';
        } catch {
          // expected: no storage in an opaque origin
        }
        return { origin: self.origin, parentAccess, fetchResult, xhr, storage };
      }, `${setup.server.url}/health`);
      expect(probe).toEqual({ origin: 'null', parentAccess: 'blocked', fetchResult: 'blocked', xhr: 'blocked', storage: 'blocked' });
    }
    expect(d.iframeRequests).toEqual([]);
    // The attempts were refused inside the browser (CSP), before any connection.
    await waitFor(() => d.blockedRequests.length >= 2, 'the refused requests to be reported');
    for (const r of d.blockedRequests) expect(r).toBe(`GET ${setup.server.url}/health`);

    // An unknown command sent by the tab shows a clear error in the tab.
    await historyFrame.evaluate(() => (window as unknown as { command(n: string, p: unknown): Promise<unknown> }).command('NoSuchCommand', {}));
    await expect.poll(() => d.history.locator('#errors [role="alert"]').innerText()).toContain('“NoSuchCommand” failed: Plugin command error: Unknown sync command: NoSuchCommand');
    await d.history.getByRole('button', { name: 'Dismiss' }).click();
    await expect.poll(() => d.history.locator('#errors').innerText()).toBe('');

    // Screenshots: both tabs, light and dark, with the changes of the newest version open.
    await d.history.locator('#versions > li[data-update-id] button.show-changes').first().click();
    await expect.poll(() => d.history.locator('#diff').innerText()).toContain('Paint the fence');
    for (const theme of ['light', 'dark'] as const) {
      await d.page.evaluate((t) => (window as unknown as { diaryxHost: { setTheme(t: string): void } }).diaryxHost.setTheme(t), theme);
      await expect.poll(() => historyFrame.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
      const bg = await historyFrame.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(bg).toBe(theme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(255, 255, 255)');
      await d.page.locator('iframe[data-component="sync.history"]').screenshot({ path: screenshotPath(`history-${theme}.png`) });
      await d.page.click('#tab-snapshots');
      await d.snapshots.locator('#snapshots > li[data-id] button.preview').first().click();
      await expect.poll(() => d.snapshots.locator('#preview-files').innerText()).toContain('ideas.md');
      await d.page.locator('iframe[data-component="sync.snapshots"]').screenshot({ path: screenshotPath(`snapshots-${theme}.png`) });
      await d.page.click('#tab-files');
    }

    // 320 px wide: the layout stacks and the tabs fit without sideways scrolling.
    await d.page.setViewportSize({ width: 320, height: 900 });
    await d.page.evaluate(() => (window as unknown as { diaryxHost: { setTheme(t: string): void } }).diaryxHost.setTheme('light'));
    for (const component of ['sync.history', 'sync.snapshots']) {
      if (component === 'sync.snapshots') await d.page.click('#tab-snapshots');
      const iframe = d.page.locator(`iframe[data-component="${component}"]`);
      const width = await iframe.evaluate((e) => e.getBoundingClientRect().width);
      expect(width).toBeLessThanOrEqual(320);
      await iframe.scrollIntoViewIfNeeded();
      await iframe.screenshot({ path: screenshotPath(`${component.replace('sync.', '')}-320px.png`) });
    }
    for (const frame of frames) {
      const overflow = await frame.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    }
    expect(d.iframeRequests).toEqual([]);
  });
});
