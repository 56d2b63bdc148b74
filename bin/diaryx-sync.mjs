#!/usr/bin/env node
// Entry point of the `diaryx-sync` command: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/register-text-assets.mjs');
const { main } = await import('../host-harness/src/cli/index.ts');
process.exitCode = await main(process.argv);
