/**
 * The file list and the editor of the in-browser workspace. Saving writes the
 * file and sends the plugin `file_saved` (creating: `file_created`, deleting:
 * `file_deleted`); files the plugin writes (remote changes, restores) show up
 * at once, and the open file is reloaded unless it has unsaved edits.
 */
import type { PluginRunner } from './call-queue';
import type { MemoryFolder } from './memory-folder';
import { h } from './settings';

export interface WorkspaceViewDeps {
  folder: MemoryFolder;
  runner: PluginRunner;
  /** The open file changed (or its content). */
  onEntry(path: string | null): void;
}

const NEW_FILE_TEXT = (title: string) => `---\ntitle: ${JSON.stringify(title)}\n---\n\n`;

function titleOf(text: string | null): string | null {
  const m = text === null ? null : /^---\r?\n[\s\S]*?^title:\s*(.+)$/m.exec(text);
  if (!m) return null;
  const raw = m[1].trim();
  try {
    return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.replace(/^'(.*)'$/, '$1');
  } catch {
    return raw;
  }
}

export class WorkspaceView {
  current: string | null = null;
  private dirty = false;
  readonly list = h('ul', { class: 'file-list', 'aria-label': 'Files' });
  readonly editor = h('textarea', { id: 'editor', 'aria-label': 'File text', spellcheck: 'false', disabled: true }) as HTMLTextAreaElement;
  readonly pathLabel = h('span', { class: 'path', id: 'editor-path' }, 'No file open');
  readonly note = h('span', { class: 'note', 'aria-live': 'polite' });
  private readonly newName = h('input', { type: 'text', id: 'new-file', placeholder: 'notes/today.md', autocomplete: 'off', 'aria-label': 'New file path' }) as HTMLInputElement;
  // Nothing to save or delete until a file is open (see updateButtons).
  private readonly saveButton = h('button', { type: 'button', class: 'primary', id: 'save', disabled: true, onclick: () => void this.save() }, 'Save') as HTMLButtonElement;
  private readonly deleteButton = h('button', { type: 'button', class: 'outline danger', id: 'delete', disabled: true, onclick: () => void this.remove() }, 'Delete') as HTMLButtonElement;

  constructor(private readonly deps: WorkspaceViewDeps) {
    this.editor.addEventListener('input', () => {
      this.dirty = true;
      this.note.textContent = 'Unsaved changes';
    });
    this.editor.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void this.save();
      }
    });
    this.newName.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void this.create();
    });
    deps.folder.onChange((c) => {
      this.renderList();
      if (c.path === this.current && c.byPlugin) this.reloadOpenFile(c.kind === 'delete');
    });
  }

  /** The sidebar part (new file form and list). */
  sidebar(): HTMLElement {
    return h(
      'div',
      { class: 'files' },
      h('div', { class: 'row' }, this.newName, h('button', { type: 'button', class: 'outline', id: 'create-file', onclick: () => void this.create() }, 'New')),
      this.list,
    );
  }

  /** The main part (toolbar and editor). */
  main(): HTMLElement {
    return h(
      'div',
      { class: 'editor-pane' },
      h(
        'div',
        { class: 'toolbar' },
        this.pathLabel,
        this.note,
        this.saveButton,
        this.deleteButton,
      ),
      this.editor,
    );
  }

  renderList(): void {
    const files = this.deps.folder.list('').filter((p) => !p.split('/').some((part) => part.startsWith('.')));
    if (files.length === 0) {
      this.list.replaceChildren(h('li', { class: 'hint' }, 'No files yet.'));
      return;
    }
    this.list.replaceChildren(
      ...files.map((path) =>
        h(
          'li',
          {},
          h('button', {
            type: 'button',
            class: path === this.current ? 'file current' : 'file',
            'data-path': path,
            'aria-current': path === this.current ? 'true' : undefined,
            onclick: () => this.open(path),
          }, path),
        ),
      ),
    );
  }

  entry(): { path: string; title: string | null; content: string } | null {
    if (this.current === null) return null;
    const text = this.deps.folder.readText(this.current) ?? '';
    return { path: this.current, title: titleOf(text), content: text };
  }

  open(path: string): void {
    if (this.dirty && this.current && !window.confirm(`Discard unsaved changes to ${this.current}?`)) return;
    this.current = path;
    this.dirty = false;
    this.reloadOpenFile(false);
    this.renderList();
    void this.deps.runner.event('file_opened', { path });
    this.deps.onEntry(path);
  }

  /** Save needs an open file (a file deleted elsewhere can be saved back); Delete a file that exists. */
  private updateButtons(): void {
    this.saveButton.disabled = this.current === null;
    this.deleteButton.disabled = this.current === null || this.deps.folder.read(this.current) === null;
  }

  private reloadOpenFile(deleted: boolean): void {
    this.updateButtons();
    if (this.current === null) return;
    if (this.dirty) {
      this.note.textContent = 'Changed on another device; save to keep your version';
      return;
    }
    const text = this.deps.folder.readText(this.current);
    this.editor.disabled = text === null;
    this.editor.value = text ?? '';
    this.pathLabel.textContent = this.current;
    this.note.textContent = deleted || text === null ? 'Deleted' : '';
    this.deps.onEntry(this.current);
  }

  async save(): Promise<void> {
    if (this.current === null) return;
    const existed = this.deps.folder.read(this.current) !== null;
    this.deps.folder.writeText(this.current, this.editor.value, false);
    this.dirty = false;
    this.note.textContent = 'Saved';
    this.updateButtons();
    await this.deps.runner.event(existed ? 'file_saved' : 'file_created', { path: this.current });
    this.deps.onEntry(this.current);
  }

  async create(): Promise<void> {
    let path = this.newName.value.trim().replace(/^\/+/, '');
    if (path === '') return;
    if (!path.toLowerCase().endsWith('.md')) path += '.md';
    if (this.deps.folder.read(path) === null) {
      const title = path.split('/').pop()!.replace(/\.md$/i, '');
      this.deps.folder.writeText(path, NEW_FILE_TEXT(title), false);
      await this.deps.runner.event('file_created', { path });
    }
    this.newName.value = '';
    this.open(path);
    this.editor.focus();
  }

  async remove(): Promise<void> {
    if (this.current === null) return;
    const path = this.current;
    this.deps.folder.delete(path, false);
    this.current = null;
    this.dirty = false;
    this.editor.value = '';
    this.editor.disabled = true;
    this.pathLabel.textContent = 'No file open';
    this.note.textContent = `Deleted ${path}`;
    this.updateButtons();
    this.renderList();
    await this.deps.runner.event('file_deleted', { path });
    this.deps.onEntry(null);
  }
}
