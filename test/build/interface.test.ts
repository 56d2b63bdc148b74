/**
 * The built modules import only what every Extism host provides and export
 * exactly the plugin's functions, as listed in plugin/wasm-interface.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build script without type declarations
import { interfaceProblems, loadInterfaceTable, readInterface } from '../../scripts/build/interface.mjs';
import { EXPORT_NAMES } from '../../plugin/src/exports';
import { PLUGIN_WASM, PROBE_NOWIZER_WASM, PROBE_WASM, ROOT } from '../helpers/paths';

type Iface = { imports: { module: string; name: string; kind: string; type: string }[]; exports: { name: string; type: string }[] };

/** The plugin's export table (test/plugin/exports.test.ts holds it to the Rust plugin's list). */
const PLUGIN_EXPORTS = [...EXPORT_NAMES].sort();

function read(file: string): Iface {
  return readInterface(fs.readFileSync(file)) as Iface;
}

describe('dist/diaryx_sync.wasm', () => {
  const iface = () => read(PLUGIN_WASM);

  it('exports exactly the plugin functions (plus memory), each () -> i32, and no _start', () => {
    const names = iface().exports.map((e) => e.name).sort();
    expect(names).toEqual([...PLUGIN_EXPORTS, 'memory'].sort());
    for (const e of iface().exports) if (e.name !== 'memory') expect(e.type).toBe('()->(i32)');
  });

  it('imports only Extism kernel, WASI and extism:host/user functions with the right types', () => {
    const declared = fs.readFileSync(path.join(ROOT, 'plugin', 'src', 'abi.d.ts'), 'utf8');
    const hostNames = [...declared.matchAll(/^\s*(host_[a-z_]+)\(/gm)].map((m) => m[1]);
    const problems = interfaceProblems(iface(), loadInterfaceTable(), { exportNames: PLUGIN_EXPORTS, hostNames });
    expect(problems).toEqual([]);
    const modules = new Set(iface().imports.map((i) => i.module));
    expect([...modules].sort()).toEqual(['extism:host/env', 'extism:host/user', 'wasi_snapshot_preview1']);
  });
});

describe('probe fixture', () => {
  it('imports only the host function it calls', () => {
    const user = read(PROBE_WASM).imports.filter((i) => i.module === 'extism:host/user').map((i) => i.name);
    expect(user).toEqual(['probe_upper']);
  });

  it('conforms to the table with and without pre-initialisation', () => {
    for (const [file, preinitialised] of [[PROBE_WASM, true], [PROBE_NOWIZER_WASM, false]] as const) {
      const iface = read(file);
      const exportNames = iface.exports.map((e) => e.name).filter((n) => n !== 'memory' && n !== 'wizer.initialize');
      expect(interfaceProblems(iface, loadInterfaceTable(), { exportNames, hostNames: ['probe_upper'], preinitialised })).toEqual([]);
    }
  });

  it('finds departures from the table', () => {
    const bad: Iface = {
      imports: [
        { module: 'env', name: 'mystery', kind: 'func', type: '()->()' },
        { module: 'extism:host/env', name: 'alloc', kind: 'func', type: '(i32)->(i32)' },
        { module: 'extism:host/user', name: 'host_x', kind: 'func', type: '(i32)->(i32)' },
      ],
      exports: [{ name: '_start', type: '()->()' }],
    };
    const problems = interfaceProblems(bad, loadInterfaceTable(), { exportNames: [], hostNames: ['host_x'] });
    expect(problems.join('\n')).toMatch(/env\.mystery: not provided/);
    expect(problems.join('\n')).toMatch(/alloc: type/);
    expect(problems.join('\n')).toMatch(/host_x: type/);
    expect(problems.join('\n')).toMatch(/_start must not exist/);
    expect(problems.join('\n')).toMatch(/memory missing/);
  });
});
