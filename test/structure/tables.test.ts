/**
 * The files that cannot be generated from the single tables say the same as
 * them: plugin/src/abi.d.ts (the build turns it into the wasm imports) names
 * exactly the plugin's host functions of common/src/host/host-functions.ts,
 * and plugin/src/index.ts defines one wasm export per entry of
 * plugin/src/exports.ts, under the entry's name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLUGIN_HOST_FUNCTIONS } from '../../common/src/host/host-functions';
import { EXPORT_NAMES } from '../../plugin/src/exports';
// @ts-expect-error plain ESM build script without type declarations
import { declaredHostFunctions } from '../../scripts/build/generate.mjs';
import { ROOT } from '../helpers/paths';

describe('single tables', () => {
  it('abi.d.ts declares exactly the host functions the table marks as the plugin\'s', () => {
    const declared = (declaredHostFunctions(path.join(ROOT, 'plugin', 'src', 'abi.d.ts')) as string[]).sort();
    expect(declared).toEqual([...PLUGIN_HOST_FUNCTIONS].sort());
  });

  it('index.ts exports each entry of the export table under its own name', () => {
    const text = fs.readFileSync(path.join(ROOT, 'plugin', 'src', 'index.ts'), 'utf8');
    const defined = [...text.matchAll(/^export const (\w+) = wasmExport\('(\w+)'\);$/gm)];
    for (const [, name, entry] of defined) expect(name).toBe(entry);
    expect(defined.map((m) => m[1])).toEqual(EXPORT_NAMES);
    // Nothing else is exported (every named export becomes a wasm export).
    expect([...text.matchAll(/^export /gm)].length).toBe(defined.length);
  });
});
