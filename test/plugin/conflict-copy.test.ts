/**
 * Conflict copies (text of this device that lost against the server, kept
 * beside the file): the plugin's disk module over the harness's host
 * functions on a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { WorkspaceDisk } from '../../plugin/src/disk';
import { HostBridge, type HostFunctionName } from '../../plugin/src/host/bridge';
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
  const host = new HostBridge((name: HostFunctionName, input: string) => {
    const fn = functions[name];
    if (fn === undefined) throw new Error(`host function ${name} missing in the test host`);
    return fn(input);
  });
  const state = new PluginState(host, { workspaceRoot: dir, workspaceId: 'w1' });
  return { dir, disk: new WorkspaceDisk(state), state };
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
