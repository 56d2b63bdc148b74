/**
 * Instantiates the plugin on the named engine (see engine.ts). The engines
 * are loaded on first use: the Extism SDKs load node:wasi when imported, and
 * Node prints an experimental-feature warning for it.
 */
import type { EngineInstance, EngineName, EngineOptions } from './engine';

export async function createEngine(engine: EngineName, options: EngineOptions): Promise<EngineInstance> {
  if (engine === 'kernel') return (await import('./kernel-engine')).createKernelEngine(options);
  return (await import('./extism-sdk')).createSdkEngine(engine, options);
}
