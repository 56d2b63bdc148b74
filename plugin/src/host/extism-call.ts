/**
 * RawHostCall over Extism memory: the input string goes into a host memory
 * block, the host function returns the offset of its output block. Both blocks
 * are freed after the call. Only bridge.ts's HostBridge is built on this.
 */
import type { PluginHostFunctionName } from '../../../common/src/host/host-functions';
import type { RawHostCall } from './bridge';

type HostFn = (offset: I64) => I64;

let functions: Record<string, HostFn> | null = null;

export const extismHostCall: RawHostCall = (name: PluginHostFunctionName, input: string): string => {
  functions ??= Host.getFunctions() as unknown as Record<string, HostFn>;
  const fn = functions[name];
  if (!fn) throw new Error(`host function ${name} is not linked`);
  const arg = Memory.fromString(input);
  try {
    const out = Memory.find(fn(arg.offset));
    try {
      return out.len === 0 || out.len === 0n ? '' : out.readString();
    } finally {
      out.free();
    }
  } finally {
    arg.free();
  }
};
