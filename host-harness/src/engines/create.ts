/** Instantiates the plugin on the named engine (see engine.ts). */
import { createKernelEngine } from './kernel-engine';
import { createSdkEngine } from './extism-sdk';
import type { EngineInstance, EngineName, EngineOptions } from './engine';

export function createEngine(engine: EngineName, options: EngineOptions): Promise<EngineInstance> {
  return engine === 'kernel' ? createKernelEngine(options) : createSdkEngine(engine, options);
}
