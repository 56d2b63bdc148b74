/**
 * Deterministic `crypto.getRandomValues` for the plugin instances that run as
 * TypeScript in this process (engine `node`) and for every Y.Doc created here.
 *
 * lib0 (under Yjs) binds `webcrypto.getRandomValues` when it is first
 * imported, so this module must be imported before anything that imports
 * yjs: it replaces the method with a dispatcher that draws from the source
 * set by `withRandomSource` (falling back to the simulation's default source,
 * then to the OS). `seededCryptoActive()` tells whether lib0 picked it up.
 */
import { webcrypto } from 'node:crypto';

type Source = (bytes: Uint8Array) => void;

const original = webcrypto.getRandomValues.bind(webcrypto);
let current: Source | null = null;
let fallback: Source | null = null;

function dispatch<T extends ArrayBufferView | null>(array: T): T {
  const source = current ?? fallback;
  if (!source || array === null) return original(array as never) as T;
  source(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return array;
}

Object.defineProperty(webcrypto, 'getRandomValues', { value: dispatch, configurable: true, writable: true });

/** The source used outside `withRandomSource` (null: the OS). */
export function setDefaultRandomSource(source: Source | null): void {
  fallback = source;
}

/** Runs `fn` with `source` as the random source; restores the previous one when it settles. */
export async function withRandomSource<T>(source: Source, fn: () => Promise<T>): Promise<T> {
  const previous = current;
  current = source;
  try {
    return await fn();
  } finally {
    current = previous;
  }
}

/** True when Yjs client ids in this process come from the dispatcher (lib0 was imported after this module). */
export async function seededCryptoActive(): Promise<boolean> {
  const random = await import('lib0/random');
  const before = current;
  current = (bytes) => bytes.fill(7);
  try {
    return random.uint32() === 0x07070707;
  } finally {
    current = before;
  }
}
