/**
 * Rules of the plugin's source that keep each concept in one place: every
 * event for the host leaves through the event sink (plugin/src/events.ts),
 * the only module besides the bridge that calls `emitEvent`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

const PLUGIN_SRC = path.join(ROOT, 'plugin/src');

/** Every TypeScript source file of the plugin (tests and declarations left out), relative to plugin/src. */
function pluginSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) out.push(path.relative(PLUGIN_SRC, full));
    }
  };
  walk(PLUGIN_SRC);
  return out.sort();
}

describe('plugin source rules', () => {
  it('finds the plugin sources', () => {
    expect(pluginSources()).toContain('events.ts');
  });

  it('emits host events only through the event sink', () => {
    const allowed = new Set(['events.ts', 'host/bridge.ts']);
    const offenders = pluginSources().filter((file) => !allowed.has(file) && /\.emitEvent\(/.test(fs.readFileSync(path.join(PLUGIN_SRC, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
