/**
 * The seeded convergence simulation (fuzz/) on a fixed set of seeds: devices
 * on the built .wasm and on V8, the real server core, and a network that
 * delays, drops, duplicates and reorders messages, drops connections (also
 * mid-handshake), crashes and restarts plugins and the server, and refuses
 * storage writes. After healing, every device must hold the same files, the
 * same CRDT state and every acknowledged edit, within the round bound.
 *
 * A failure prints the command that replays the seed; `npm run fuzz` with it
 * shrinks the run to a minimal list of steps.
 */
import '../../fuzz/seeded-crypto';
import { describe, expect, it } from 'vitest';
import { generateSchedule, type GenerateOptions } from '../../fuzz/schedule';
import { seededCryptoActive } from '../../fuzz/seeded-crypto';
import { runSchedule } from '../../fuzz/simulation';
import { PLUGIN_WASM } from '../helpers/paths';

interface Case extends Omit<GenerateOptions, 'seed'> {
  seeds: number[];
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

const CASES: Case[] = [
  // No faults: concurrent edits, renames, deletes and restores alone must converge.
  { seeds: range(1, 12), devices: 3, steps: 200, faults: 0 },
  // Every fault kind, at the rates each seed picks.
  { seeds: range(100, 24), devices: 3, steps: 200 },
  // More devices, twice the fault rate.
  { seeds: range(200, 6), devices: 4, steps: 160, faults: 2 },
  { seeds: range(300, 2), devices: 5, steps: 150 },
];

function replayCommand(c: Case, seed: number): string {
  return `npm run fuzz -- --seed ${seed} --devices ${c.devices} --steps ${c.steps}${c.faults !== undefined ? ` --faults ${c.faults}` : ''}`;
}

describe('seeded convergence simulation', () => {
  it('replays a seed exactly (client ids, text, message order)', async () => {
    expect(await seededCryptoActive()).toBe(true);
    const schedule = generateSchedule({ seed: 7, devices: 3, steps: 120 });
    const a = await runSchedule(schedule, { wasm: PLUGIN_WASM });
    const b = await runSchedule(schedule, { wasm: PLUGIN_WASM });
    const summary = (r: typeof a) => ({ actions: r.actions, messages: r.messages, rounds: r.rounds, faults: r.faults, failures: r.failures.length });
    expect(summary(b)).toEqual(summary(a));
  }, 60_000);

  for (const c of CASES) {
    for (const seed of c.seeds) {
      it(`seed ${seed}: ${c.devices} devices, ${c.steps} steps, faults x${c.faults ?? 1}`, async () => {
        const schedule = generateSchedule({ ...c, seed });
        const result = await runSchedule(schedule, { wasm: PLUGIN_WASM });
        const report = result.failures.map((f) => `[${f.kind}] ${f.message}`).join('\n');
        expect(result.failures, `replay: ${replayCommand(c, seed)}\n${report}`).toEqual([]);
        expect(result.rounds).toBeLessThanOrEqual(schedule.config.maxRounds);
      }, 60_000);
    }
  }
});
