/**
 * Rules of the plugin's source that keep each concept in one place: every
 * event for the host leaves through the event sink (plugin/src/events.ts),
 * the only module besides the bridge that calls `emitEvent`; and no source
 * file grows past MAX_LINES (a file that does has more than one concept in it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

const PLUGIN_SRC = path.join(ROOT, 'plugin/src');
/** The most lines a plugin source file may have (tests excluded). */
const MAX_LINES = 400;

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

  it(`keeps every source file within ${MAX_LINES} lines`, () => {
    const lines = (file: string) => {
      const text = fs.readFileSync(path.join(PLUGIN_SRC, file), 'utf8');
      return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    };
    const over = pluginSources()
      .filter((file) => lines(file) > MAX_LINES)
      .map((file) => `${file}: ${lines(file)} lines`);
    expect(over).toEqual([]);
  });
});
