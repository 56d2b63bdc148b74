/**
 * The simulated user: real file changes in a device's folder, each followed
 * by the event a folder watcher would report (nothing when the plugin is not
 * running: the user edits while the app is closed, and the next start-up
 * picks the changes up).
 *
 * Every inserted token is recorded in the ledger with the file it went into
 * (and the files user renames took it to). The checker requires every token
 * the server acknowledged to be in the final text of some file, unless a user
 * edit took it out, or a user delete, a rename by a device that had not
 * received it, or a new file at its path may legitimately have taken it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bodyDocId } from '../common/src/wire/frame';
import { containsToken, editBody, editMetadata, newBody, newMetadata, parseFile, randomFileName, randomFolder, randomPath, renderFile, splitFile, tokensIn, type TokenMint } from './content';
import { WORKSPACE_ID, listMarkdown, type Device } from './device';
import type { Prng } from './prng';

export const USER_ACTIONS = ['create', 'edit', 'frontmatter', 'rename', 'move', 'delete', 'restore', 'focus'] as const;
export type UserAction = (typeof USER_ACTIONS)[number];

export interface TokenRecord {
  token: string;
  /** Keys the token may live under: where it was typed, then where user renames took that file. */
  keys: Set<string>;
  device: number;
  step: number;
  /** The server stored it. */
  acked: boolean;
  /** A user edit took it out again. */
  removed: boolean;
  /**
   * A file it may live in was deleted by a user (after the token was typed, or
   * before it by another device that the typing device had not heard from),
   * or a new file was created at its path (whose text replaces what the
   * server kept there): a delete wins over edits the other devices had
   * already synced, by design.
   */
  deleteExposed: boolean;
}

/** Where every token went and whether the server has it. */
export class Ledger {
  readonly tokens = new Map<string, TokenRecord>();
  /** Tokens not yet acknowledged, by body doc id. */
  private readonly pending = new Map<string, Set<string>>();
  /** Paths deleted at some point (candidates for restore). */
  readonly deletedPaths = new Set<string>();
  /** Devices that deleted each path. */
  /** When each device last deleted (or renamed away) each path, in simulated ms. */
  private readonly deleters = new Map<string, Map<number, number>>();

  private noteDelete(key: string, device: number, time: number): void {
    let byDevice = this.deleters.get(key);
    if (!byDevice) this.deleters.set(key, (byDevice = new Map()));
    byDevice.set(device, time);
  }

  /** Tokens typed into `key` on `device`; `intoExisting` when the file was already there (an edit, not a new file). */
  inserted(tokens: Iterable<string>, key: string, device: number, step: number, concurrentDelete = false): void {
    const deletedElsewhere = concurrentDelete;
    for (const token of tokens) {
      this.tokens.set(token, { token, keys: new Set([key]), device, step, acked: false, removed: false, deleteExposed: deletedElsewhere });
      const docId = bodyDocId(WORKSPACE_ID, key);
      let set = this.pending.get(docId);
      if (!set) this.pending.set(docId, (set = new Set()));
      set.add(token);
    }
  }

  removed(tokens: Iterable<string>): void {
    for (const t of tokens) {
      const rec = this.tokens.get(t);
      if (rec) rec.removed = true;
    }
  }

  /** A user deleted the file at `key` on `device`. */
  deletedKey(key: string, device: number, time: number): void {
    this.deletedPaths.add(key);
    this.recreations.delete(key);
    this.noteDelete(key, device, time);
    for (const rec of this.tokens.values()) if (rec.keys.has(key)) rec.deleteExposed = true;
  }

  /** True when a device other than `device` deleted or renamed away `key` at some point. */
  deletedByOthers(key: string, device: number): boolean {
    return this.lastDeleteByOthers(key, device) !== null;
  }

  /** When another device than `device` last deleted or renamed away `key`, or null. */
  lastDeleteByOthers(key: string, device: number): number | null {
    let last: number | null = null;
    for (const [d, t] of this.deleters.get(key) ?? []) if (d !== device && (last === null || t > last)) last = t;
    return last;
  }

  /** Files created at a path once used and deleted, since its last delete: device -> tokens. */
  private readonly recreations = new Map<string, Map<number, string[]>>();

  /**
   * A user created a new file at `key` (replacing what earlier files at that
   * path held) with `tokens`. At a path used before, the text of a new file
   * replaces the server's by design; two devices doing that concurrently
   * replace each other's text, so both sides' tokens are only counted.
   */
  createdKey(key: string, device: number, tokens: string[]): void {
    const fresh = new Set(tokens);
    for (const rec of this.tokens.values()) if (rec.keys.has(key) && !fresh.has(rec.token)) rec.deleteExposed = true;
    if (!this.deletedPaths.has(key)) return;
    let byDevice = this.recreations.get(key);
    if (!byDevice) this.recreations.set(key, (byDevice = new Map()));
    byDevice.set(device, [...(byDevice.get(device) ?? []), ...tokens]);
    if (byDevice.size < 2) return;
    for (const list of byDevice.values()) {
      for (const t of list) {
        const rec = this.tokens.get(t);
        if (rec) rec.deleteExposed = true;
      }
    }
  }

  /**
   * A user renamed or moved the file at `from` (whose text was `text`) to `to`.
   * Tokens in that text follow the file; tokens the renaming device had not
   * received yet, and tokens typed later into the old path by devices that
   * had not heard of the rename, stay with the old path, by design (like a
   * delete).
   */
  renamedKey(from: string, to: string, text: string, device: number, time: number): void {
    this.deletedPaths.add(from);
    // For the other devices the old path was deleted (see `inserted`).
    this.noteDelete(from, device, time);
    for (const rec of this.tokens.values()) {
      if (!rec.keys.has(from)) continue;
      if (text.includes(rec.token)) rec.keys.add(to);
      else rec.deleteExposed = true;
    }
  }

  /** Tokens that may live under `key`. */
  tokensOf(key: string): string[] {
    return [...this.tokens.values()].filter((r) => r.keys.has(key)).map((r) => r.token);
  }

  /** Doc ids with unacknowledged tokens. */
  pendingDocs(): string[] {
    return [...this.pending.keys()];
  }

  /** Marks the tokens of `docId` found in `text` as acknowledged. */
  acknowledge(docId: string, text: string): void {
    const set = this.pending.get(docId);
    if (!set) return;
    for (const t of [...set]) {
      if (!text.includes(t)) continue;
      set.delete(t);
      const rec = this.tokens.get(t);
      if (rec) rec.acked = true;
    }
    if (set.size === 0) this.pending.delete(docId);
  }
}

export interface ActionContext {
  now: () => number;
  mint: TokenMint;
  ledger: Ledger;
  step: number;
}

function abs(device: Device, rel: string): string {
  return path.join(device.dir, ...rel.split('/'));
}

function writeFile(device: Device, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(abs(device, rel)), { recursive: true });
  fs.writeFileSync(abs(device, rel), text);
}

/** The path as the host reports it: usually workspace-relative, sometimes absolute. */
function reported(rng: Prng, device: Device, rel: string): string {
  return rng.chance(0.2) ? `${device.dir}/${rel}` : rel;
}

/**
 * True when another device deleted (or renamed away) `rel` and this device
 * has not seen that yet (its workspace doc has no tombstone there as recent
 * as that delete): text
 * typed there now races that delete, which wins over synced text by design.
 * A device that is not running cannot be asked: counted as racing.
 */
async function deleteNotSeen(device: Device, rel: string, ledger: Ledger): Promise<boolean> {
  const last = ledger.lastDeleteByOthers(rel, device.index);
  if (last === null) return false;
  if (!device.up) return true;
  const res = await device.command('GetCrdtFile', { path: rel });
  const meta = res.success ? (res.data as { deleted?: boolean; modified_at?: number } | null) : null;
  // Seen: a tombstone newer than the other device's last delete (the same time is ambiguous).
  return !(meta && meta.deleted === true && (meta.modified_at ?? 0) > last);
}

/** Performs one user action on `device`; returns a short description (or null when it did not apply). */
export async function performAction(kind: UserAction, device: Device, rng: Prng, ctx: ActionContext): Promise<string | null> {
  const files = listMarkdown(device.dir);
  const now = ctx.now();
  switch (kind) {
    case 'create': {
      const rel = randomPath(rng);
      if (files.includes(rel)) return performAction('edit', device, rng, ctx);
      const body = newBody(rng, ctx.mint, device.index);
      writeFile(device, rel, renderFile(newMetadata(rng, rel, now), body));
      const concurrent = await deleteNotSeen(device, rel, ctx.ledger);
      ctx.ledger.inserted(tokensIn(body), rel, device.index, ctx.step, concurrent);
      ctx.ledger.createdKey(rel, device.index, [...tokensIn(body)]);
      await device.event('file_created', { path: reported(rng, device, rel) });
      return `create ${rel}`;
    }
    case 'edit': {
      if (files.length === 0) return null;
      const rel = rng.pick(files);
      return editFile(device, rel, rng, ctx);
    }
    case 'frontmatter': {
      if (files.length === 0) return null;
      const rel = rng.pick(files);
      const text = fs.readFileSync(abs(device, rel), 'utf8');
      let parsed;
      try {
        parsed = parseFile(rel, text, now);
      } catch {
        return null;
      }
      writeFile(device, rel, renderFile(editMetadata(rng, parsed.metadata, now), splitFile(text).body));
      await device.event('file_saved', { path: reported(rng, device, rel), body_changed: false });
      return `frontmatter ${rel}`;
    }
    case 'rename':
    case 'move': {
      if (files.length === 0) return null;
      const rel = rng.pick(files);
      const folder = kind === 'rename' ? path.posix.dirname(rel).replace(/^\.$/, '') : randomFolder(rng);
      const target = folder === '' ? randomFileName(rng) : `${folder}/${randomFileName(rng)}`;
      if (target === rel || fs.existsSync(abs(device, target))) return null;
      const text = fs.readFileSync(abs(device, rel), 'utf8');
      fs.mkdirSync(path.dirname(abs(device, target)), { recursive: true });
      fs.renameSync(abs(device, rel), abs(device, target));
      ctx.ledger.renamedKey(rel, target, text, device.index, now);
      await device.event(kind === 'rename' ? 'file_renamed' : 'file_moved', {
        old_path: reported(rng, device, rel),
        new_path: reported(rng, device, target),
      });
      return `${kind} ${rel} -> ${target}`;
    }
    case 'delete': {
      if (files.length === 0) return null;
      const rel = rng.pick(files);
      fs.rmSync(abs(device, rel));
      ctx.ledger.deletedKey(rel, device.index, now);
      await device.event('file_deleted', { path: reported(rng, device, rel) });
      return `delete ${rel}`;
    }
    case 'restore': {
      const candidates = [...ctx.ledger.deletedPaths].filter((p) => !files.includes(p)).sort();
      if (candidates.length === 0) return null;
      const rel = rng.pick(candidates);
      const body = newBody(rng, ctx.mint, device.index);
      writeFile(device, rel, renderFile(newMetadata(rng, rel, now), body));
      const concurrent = await deleteNotSeen(device, rel, ctx.ledger);
      ctx.ledger.inserted(tokensIn(body), rel, device.index, ctx.step, concurrent);
      ctx.ledger.createdKey(rel, device.index, [...tokensIn(body)]);
      await device.event('file_created', { path: reported(rng, device, rel) });
      return `restore ${rel}`;
    }
    case 'focus': {
      if (files.length === 0) return null;
      const rel = rng.pick(files);
      await device.event('file_opened', { path: reported(rng, device, rel) });
      return `focus ${rel}`;
    }
  }
}

/** One body edit of an existing file (sometimes with `updated` moved to now). */
export async function editFile(device: Device, rel: string, rng: Prng, ctx: ActionContext): Promise<string | null> {
  const file = abs(device, rel);
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  const { head, body } = splitFile(text);
  const next = editBody(rng, body, ctx.mint, device.index);
  let out = head + next;
  if (head !== '' && rng.chance(0.4)) {
    try {
      const parsed = parseFile(rel, text, ctx.now());
      out = renderFile({ ...parsed.metadata, modified_at: ctx.now() }, next);
    } catch {
      // keep the front matter as it is
    }
  }
  const before = tokensIn(body);
  const after = tokensIn(next);
  // Any damage to a token the user could see counts as taking it out.
  ctx.ledger.removed(ctx.ledger.tokensOf(rel).filter((t) => (body.includes(t) && !next.includes(t)) || (containsToken(body, t) && !containsToken(next, t))));
  ctx.ledger.inserted([...after].filter((t) => !before.has(t)), rel, device.index, ctx.step, ctx.ledger.deletedByOthers(rel, device.index));
  fs.writeFileSync(file, out);
  await device.event('file_saved', { path: reported(rng, device, rel) });
  return `edit ${rel}`;
}
