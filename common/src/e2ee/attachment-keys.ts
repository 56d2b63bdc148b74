/**
 * The `GetAttachmentKeys` answer: the attachment keys K_att(e) of the linked,
 * unlocked encrypted workspace, which the plugin hands its host so that the
 * host seals and opens attachment blobs (fast natively, minutes for large
 * files inside the plugin). Never a root key: K_att opens attachments only.
 *
 *   {"workspace_id":w,"epoch":e,"keys":{"1":b64,...}}
 *
 * `epoch` is the one new blobs are sealed in; `keys` holds every epoch the
 * device has. A plain workspace and a locked one are refused with the errors
 * below, so a host tells "plain: move the files as they are" apart from
 * anything else (which must never upload a file's bytes).
 */
import { decodeBase64 } from '../base64';

/** The refusal for a workspace that is not end-to-end encrypted on this device. */
export function notEncryptedMessage(workspaceId: string): string {
  return `Workspace ${workspaceId} is not end-to-end encrypted`;
}

/** The refusal for an encrypted workspace whose keys this device does not hold. */
export function lockedMessage(workspaceId: string): string {
  return `Workspace ${workspaceId} is end-to-end encrypted and locked on this device: unlock it with its passphrase (UnlockWorkspace)`;
}

export interface AttachmentKeysAnswer {
  workspace_id: string;
  epoch: number;
  keys: Record<string, string>;
}

export interface AttachmentKeys {
  workspaceId: string;
  /** The epoch new blobs are sealed in. */
  epoch: number;
  /** K_att by epoch. */
  keys: ReadonlyMap<number, Uint8Array>;
}

/** Reads an answer; throws an Error naming the field when it is not one. */
export function parseAttachmentKeys(value: unknown): AttachmentKeys {
  const bad = (field: string): never => {
    throw new Error(`GetAttachmentKeys answered an invalid ${field}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('answer');
  const v = value as Partial<AttachmentKeysAnswer>;
  if (typeof v.workspace_id !== 'string' || v.workspace_id === '') bad('workspace_id');
  if (typeof v.epoch !== 'number' || !Number.isInteger(v.epoch) || v.epoch < 1) bad('epoch');
  if (v.keys === null || typeof v.keys !== 'object' || Array.isArray(v.keys)) return bad('keys');
  const keys = new Map<number, Uint8Array>();
  for (const [e, b64] of Object.entries(v.keys)) {
    const epoch = Number(e);
    if (!/^[1-9]\d*$/.test(e) || typeof b64 !== 'string') bad(`key of epoch ${e}`);
    let key: Uint8Array;
    try {
      key = decodeBase64(b64);
    } catch {
      return bad(`key of epoch ${e}`);
    }
    if (key.length !== 32) bad(`key of epoch ${e}`);
    keys.set(epoch, key);
  }
  if (!keys.has(v.epoch!)) bad(`keys: none for the current epoch ${v.epoch}`);
  return { workspaceId: v.workspace_id!, epoch: v.epoch!, keys };
}
