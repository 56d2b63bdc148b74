import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../../common/src/base64';
import { lockedMessage, notEncryptedMessage, type AttachmentKeys } from '../../../common/src/e2ee/attachment-keys';
import type { CommandResponse } from '../host-types';
import { attachmentMode, openSealedBlob, sealFile } from './sealed';

const answer = (r: Partial<CommandResponse>) => async () => ({ success: false, data: null, error: null, ...r }) as CommandResponse;
const k1 = new Uint8Array(randomBytes(32));
const k2 = new Uint8Array(randomBytes(32));
const keys: AttachmentKeys = { workspaceId: 'ws', epoch: 2, keys: new Map([[1, k1], [2, k2]]) };

describe('attachmentMode', () => {
  it('is plain only on the exact refusal of a plain workspace', async () => {
    expect(await attachmentMode(answer({ error: notEncryptedMessage('ws') }), 'ws')).toEqual({ kind: 'plain' });
    await expect(attachmentMode(answer({ error: notEncryptedMessage('other') }), 'ws')).rejects.toThrow(/attachments wait/);
    await expect(attachmentMode(answer({ error: lockedMessage('ws') }), 'ws')).rejects.toThrow(`attachments wait: ${lockedMessage('ws')}`);
    await expect(attachmentMode(answer({ error: 'Unknown sync command: GetAttachmentKeys' }), 'ws')).rejects.toThrow(/Unknown sync command/);
  });

  it('is sealed with the keys of this workspace, and refuses keys of another or a malformed answer', async () => {
    const data = { workspace_id: 'ws', epoch: 2, keys: { '1': encodeBase64(k1), '2': encodeBase64(k2) } };
    const mode = await attachmentMode(answer({ success: true, data }), 'ws');
    expect(mode).toEqual({ kind: 'sealed', keys });
    await expect(attachmentMode(answer({ success: true, data: { ...data, workspace_id: 'other' } }), 'ws')).rejects.toThrow(/keys of workspace other, not of ws/);
    await expect(attachmentMode(answer({ success: true, data: { ...data, epoch: 3 } }), 'ws')).rejects.toThrow(/none for the current epoch 3/);
    await expect(attachmentMode(answer({ success: true, data: { ...data, keys: { '1': encodeBase64(k1.subarray(1)), '2': encodeBase64(k2) } } }), 'ws')).rejects.toThrow(
      /invalid key of epoch 1/,
    );
  });
});

describe('sealFile and openSealedBlob', () => {
  const file = randomBytes(3000);
  const sha = createHash('sha256').update(file).digest('hex');

  it('seal under the current epoch and open byte-equal, checking the file hash', () => {
    const sealed = sealFile(keys, file, 'a/b.png');
    expect(sealed).toMatchObject({ hash: sha, size: 3000, ref: { epoch: 2 } });
    expect(Buffer.from(openSealedBlob(keys, sealed.ref, sealed.blob, sha, 'a/b.png')).equals(file)).toBe(true);
    expect(() => openSealedBlob(keys, sealed.ref, sealed.blob, 'f'.repeat(64), 'a/b.png')).toThrow(`a/b.png: the decrypted file hashes to ${sha}, the workspace names ${'f'.repeat(64)}`);
  });

  it('refuse, naming the path, a blob of an epoch without a key and a changed blob', () => {
    const sealed = sealFile(keys, file, 'a/b.png');
    expect(() => openSealedBlob({ ...keys, keys: new Map([[1, k1]]) }, sealed.ref, sealed.blob, sha, 'a/b.png')).toThrow('a/b.png: Missing key for epoch 2');
    const bad = sealed.blob.slice();
    bad[20] ^= 1;
    expect(() => openSealedBlob(keys, sealed.ref, bad, sha, 'a/b.png')).toThrow(`a/b.png: Attachment rejected: ${sealed.ref.addr}: content does not match its address`);
  });
});
