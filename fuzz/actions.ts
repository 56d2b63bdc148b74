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
  private readonly deleters = new Map<string, Set<number>>();

  /** Tokens typed into `key` on `device`; `intoExisting` when the file was already there (an edit, not a new file). */
  inserted(tokens: Iterable<string>, key: string, device: number, step: number, intoExisting = false): void {
    const deletedElsewhere = intoExisting && [...(this.deleters.get(key) ?? [])].some((d) => d !== device);
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
  deletedKey(key: string, device: number): void {
    this.deletedPaths.add(key);
    let set = this.deleters.get(key);
    if (!set) this.deleters.set(key, (set = new Set()));
    set.add(device);
    for (const rec of this.tokens.values()) if (rec.keys.has(key)) rec.deleteExposed = true;
  }

  /** A user created a new file at `key` (replacing what earlier files at that path held). */
  createdKey(key: string): void {
    for (const rec of this.tokens.values()) if (rec.keys.has(key)) rec.deleteExposed = true;
  }

  /**
   * A user renamed or moved the file at `from` (whose text was `text`) to `to`.
   * Tokens in that text follow the file; tokens the renaming device had not
   * received yet, and tokens typed later into the old path by devices that
   * had not heard of the rename, stay with the old path, by design (like a
   * delete).
   */
  renamedKey(from: string, to: string, text: string, device: number): void {
    this.deletedPaths.add(from);
    // For the other devices the old path was deleted (see `inserted`).
    let set = this.deleters.get(from);
    if (!set) this.deleters.set(from, (set = new Set()));
    set.add(device);
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
      ctx.ledger.createdKey(rel);
      ctx.ledger.inserted(tokensIn(body), rel, device.index, ctx.step);
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
      ctx.ledger.renamedKey(rel, target, text, device.index);
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
      ctx.ledger.deletedKey(rel, device.index);
      await device.event('file_deleted', { path: reported(rng, device, rel) });
      return `delete ${rel}`;
    }
    case 'restore': {
      const candidates = [...ctx.ledger.deletedPaths].filter((p) => !files.includes(p)).sort();
      if (candidates.length === 0) return null;
      const rel = rng.pick(candidates);
      const body = newBody(rng, ctx.mint, device.index);
      writeFile(device, rel, renderFile(newMetadata(rng, rel, now), body));
      ctx.ledger.createdKey(rel);
      ctx.ledger.inserted(tokensIn(body), rel, device.index, ctx.step);
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
  ctx.ledger.inserted([...after].filter((t) => !before.has(t)), rel, device.index, ctx.step, true);
  fs.writeFileSync(file, out);
  await device.event('file_saved', { path: reported(rng, device, rel) });
  return `edit ${rel}`;
}
