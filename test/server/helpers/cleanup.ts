/** Clean-up after each test: steps run in reverse order of registration, so what started last stops first. */
import fs from 'node:fs';
import { afterEach } from 'vitest';
import { tempDataDir } from './server';

export type CleanupStep = () => Promise<void> | void;

export interface Cleanup {
  /** Runs `step` after the current test. */
  push(step: CleanupStep): void;
  /** A fresh temporary data folder, removed after the current test. */
  tempDataDir(): string;
}

/** Registers the after-each hook of the calling test file and returns its list of steps. */
export function useCleanup(): Cleanup {
  const steps: CleanupStep[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return {
    push: (step) => void steps.push(step),
    tempDataDir() {
      const dir = tempDataDir();
      steps.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}
