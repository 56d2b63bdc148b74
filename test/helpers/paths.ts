/** Locations of the build artefacts the tests load. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PLUGIN_WASM = path.join(ROOT, 'dist', 'diaryx_sync.wasm');
export const PROBE_WASM = path.join(ROOT, '.build', 'test', 'probe.wasm');
export const PROBE_NOWIZER_WASM = path.join(ROOT, '.build', 'test', 'probe.nowizer.wasm');
