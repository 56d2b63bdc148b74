/**
 * The plugin's disk module (plugin/src/disk.ts) over the harness's host
 * functions on a temporary folder: conflict copies, and body writes for a
 * file whose workspace entry is missing for a while.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { WorkspaceDisk } from '../../plugin/src/disk';
import type { PluginHostFunctionName } from '../../common/src/host/host-functions';
import { HostBridge } from '../../plugin/src/host/bridge';
import { PluginState } from '../../plugin/src/state';
import { CLOCK_START } from './helpers';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function openDisk(): { dir: string; disk: WorkspaceDisk; state: PluginState } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-conflict-'));
  dirs.push(dir);
  const functions = createHostFunctions({ workspaceDir: dir, storageDir: path.join(dir, '.storage'), clock: () => CLOCK_START });
  const host = new HostBridge((name: PluginHostFunctionName, input: string) => {
    const fn = functions[name];
    if (fn === undefined) throw new Error(`host function ${name} missing in the test host`);
    return fn(input);
  });
  const state = new PluginState(host, { workspaceRoot: dir, workspaceId: 'w1' });
  return { dir, disk: new WorkspaceDisk(state, host), state };
}

const bodyOf = (dir: string, rel: string): string => fs.readFileSync(path.join(dir, rel), 'utf8').split('---\n').pop() ?? '';

describe('conflict copies', () => {
  it('a second conflict of the same file does not overwrite the first copy (which the user may have edited)', () => {
    const { dir, disk, state } = openDisk();
    const device = state.deviceId.slice(0, 8);
    const first = disk.writeConflictCopy('notes/a.md', 'first text\n');
    expect(first).toBe(`notes/a (conflict ${device}).md`);
    // The user edits the copy.
    const edited = fs.readFileSync(path.join(dir, first!), 'utf8').replace('first text', 'first text, edited');
    fs.writeFileSync(path.join(dir, first!), edited);

    const second = disk.writeConflictCopy('notes/a.md', 'second text\n');
    expect(second).toBe(`notes/a (conflict ${device} 2).md`);
    expect(fs.readFileSync(path.join(dir, first!), 'utf8')).toBe(edited);
    expect(bodyOf(dir, second!)).toContain('second text');
    expect(state.workspace.getFile(second!)?.deleted).toBe(false);
  });

  it('the same text again reuses the existing copy instead of adding another', () => {
    const { dir, disk } = openDisk();
    const first = disk.writeConflictCopy('a.md', 'same text\n');
    const before = fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort();
    expect(disk.writeConflictCopy('a.md', 'same text\n')).toBe(first);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort()).toEqual(before);
  });
});

describe('a file whose workspace entry is missing for a while', () => {
  // A remote overwrite of the entry can delete the old value before the new
  // one can be integrated (it waits for missing updates): the key has no value.
  it('gets its body doc text under its own front matter', () => {
    const { dir, disk, state } = openDisk();
    fs.writeFileSync(path.join(dir, 'a.md'), '---\ntitle: A\n---\nold text\n');
    state.bodies.setBody('a.md', 'old text\nremote line\n');
    expect(state.workspace.getFile('a.md')).toBeNull();
    expect(disk.writeFromCrdt('a.md')).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'a.md'), 'utf8')).toBe('---\ntitle: A\n---\nold text\nremote line\n');
  });

  it('is left alone when its body doc never had any text', () => {
    const { dir, disk } = openDisk();
    fs.writeFileSync(path.join(dir, 'a.md'), 'own text\n');
    expect(disk.writeFromCrdt('a.md')).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.md'), 'utf8')).toBe('own text\n');
  });
});
