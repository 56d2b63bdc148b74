/**
 * The browser host page shows the pictures an entry references: a CLI device
 * uploads a photo referenced from an entry (front matter and a body link),
 * and the page, in headless Chromium against the real server, shows it
 * decoded under the editor, downloading it on display when its folder lacks it.
 * In an end-to-end encrypted workspace the page fetches the sealed blob by
 * its address and opens it with the plugin's attachment keys; a blob that
 * does not open is shown as missing and nothing is kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { encodeBase64 } from '../../common/src/base64';
import { encryptAttachment } from '../../common/src/e2ee/attachment-blob';
import { createKeyRecord } from '../../common/src/e2ee/key-record';
import { attachmentKey } from '../../common/src/e2ee/keys';
import { emptyMetadata } from '../../common/src/workspace/metadata';
import { TransferClient } from '../../host-harness/src/attachments/transfer-client';
import { pluginCommand, syncFolderOnce, useBrowserSetup, waitFor } from './web-helpers';

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

it('opens the sealed pictures of an end-to-end encrypted workspace, and keeps nothing of a blob that does not open', async () => {
  const { server } = setup;
  const workspaceId = await server.createWorkspace('sealed-pictures');
  const { record, keys } = createKeyRecord(workspaceId, 'a passphrase');
  const put = await fetch(`${server.url}/api/workspaces/${workspaceId}/keys`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(record),
  });
  expect(put.status).toBe(200);
  const kAtt = attachmentKey(keys.rootKeys.get(1)!, workspaceId);
  const good = encryptAttachment(kAtt, 1, PNG);
  const forged = encryptAttachment(kAtt, 1, Buffer.concat([PNG, Buffer.from([0])])).blob.slice();
  forged[40] ^= 1;
  const forgedAddr = createHash('sha256').update(forged).digest('hex');
  const client = new TransferClient(server.url, server.token, workspaceId);
  await client.upload({ blob: good.blob, hash: good.ref.addr, label: 'dot.png' });
  await client.upload({ blob: forged, hash: forgedAddr, label: 'forged.png' });
  client.close();

  const d = await setup.open({ workspaceId, device: 'Browser' });
  const { page } = d;
  // The device's keys (as an unlock stores them) and the entry as the encrypted doc sync would bring it.
  const stored = JSON.stringify({ v: 1, epoch: 1, keys: { '1': encodeBase64(keys.rootKeys.get(1)!) }, device: randomBytes(16).toString('hex'), run: 0 });
  const text = '---\ntitle: Day\nattachments: ["_attachments/dot.png", "_attachments/forged.png"]\n---\nPictures\n';
  await page.evaluate(
    ([key, value, entry]) => {
      const host = (window as unknown as {
        diaryxHost: { folder: { storage: { set(k: string, v: Uint8Array): void }; writeText(p: string, t: string, byPlugin: boolean): void } };
      }).diaryxHost;
      host.folder.storage.set(key, new TextEncoder().encode(value));
      host.folder.writeText('day.md', entry, true);
    },
    [`e2ee:${workspaceId}`, stored, text] as const,
  );
  const meta = emptyMetadata('day.md');
  const sha = createHash('sha256').update(PNG).digest('hex');
  meta.title = 'Day';
  meta.attachments = [
    { path: '_attachments/dot.png', source: 'local', hash: sha, mime_type: 'image/png', size: PNG.length, uploaded_at: 1, deleted: false, e2ee: good.ref },
    { path: '_attachments/forged.png', source: 'local', hash: sha, mime_type: 'image/png', size: PNG.length, uploaded_at: 1, deleted: false, e2ee: { ...good.ref, addr: forgedAddr } },
  ];
  await pluginCommand(d, 'SetCrdtFile', { path: 'day.md', metadata: meta });
  await page.evaluate(() => (window as unknown as { diaryxHost: { attachments: { show(p: string): Promise<void> } } }).diaryxHost.attachments.show('day.md'));
  const img = page.locator('#attachments figure[data-path="_attachments/dot.png"] img');
  await img.waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
    throw new Error(`${e.message}\nshown: ${await page.locator('#attachments').innerText()}`);
  });
  await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 2, '#attachments figure[data-path="_attachments/dot.png"] img');
  expect(await page.locator('#attachments .attachment.missing[data-path="_attachments/forged.png"]').innerText()).toBe(
    `_attachments/forged.png: Attachment rejected: ${forgedAddr}: chunk 0 failed authentication`,
  );
  const kept = await page.evaluate(() => {
    const folder = (window as unknown as { diaryxHost: { folder: { read(p: string): Uint8Array | null } } }).diaryxHost.folder;
    return [folder.read('_attachments/dot.png')?.length ?? 0, folder.read('_attachments/forged.png')?.length ?? -1];
  });
  expect(kept).toEqual([PNG.length, -1]);
}, 120_000);
