/**
 * The seeded convergence simulation with two server nodes on one real
 * Postgres database (`npm run fuzz -- --nodes 2`): the devices (.wasm and V8
 * plugin instances) are spread over both nodes and reconnect to either; node
 * kills, graceful node restarts and database stops join the network, plugin
 * and storage faults. After healing, every device, the stored state and every
 * node's loaded documents must agree, and nothing the server acknowledged may
 * be lost.
 *
 * A failure prints the command that replays the seed (the schedule replays
 * exactly; see fuzz/README.md for what may differ between runs on a database).
 */
import '../../fuzz/seeded-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSchedule, type GenerateOptions } from '../../fuzz/schedule';
import { runDatabases } from '../../fuzz/sim-cluster';
import { runSchedule } from '../../fuzz/simulation';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import { PLUGIN_WASM } from '../helpers/paths';

interface Case extends Omit<GenerateOptions, 'seed'> {
  seeds: number[];
}

const CASES: Case[] = [
  { seeds: [1, 2], devices: 3, steps: 150, faults: 0, nodes: 2 },
  { seeds: [100, 101, 102, 103], devices: 3, steps: 200, nodes: 2 },
  { seeds: [200], devices: 4, steps: 160, faults: 2, nodes: 2 },
];

const pgi = useTestPostgres();

beforeAll(async () => {
}, 60_000);

function replayCommand(c: Case, seed: number): string {
  return `npm run fuzz -- --nodes 2 --seed ${seed} --devices ${c.devices} --steps ${c.steps}${c.faults !== undefined ? ` --faults ${c.faults}` : ''}`;
}

describe('seeded convergence simulation on two nodes and Postgres', () => {
  it('adds node kills and database stops to a seed without changing its other steps', () => {
    const one = generateSchedule({ seed: 100, devices: 3, steps: 200 });
    const two = generateSchedule({ seed: 100, devices: 3, steps: 200, nodes: 2 });
    expect(two).toEqual(generateSchedule({ seed: 100, devices: 3, steps: 200, nodes: 2 }));
    expect(two.config).toEqual({ ...one.config, nodes: 2 });
    // The single-node steps, in order, with the steps added for the nodes in between.
    const plain = (s: (typeof two.steps)[number]) => JSON.stringify({ ...s, node: undefined });
    const added: string[] = [];
    let i = 0;
    for (const s of two.steps) {
      if (i < one.steps.length && plain(s) === plain(one.steps[i])) i++;
      else added.push(s.t);
    }
    expect(i).toBe(one.steps.length);
    expect(added.length).toBeGreaterThan(1);
    expect(added.every((t) => t === 'crash-server' || t === 'restart-db')).toBe(true);
    expect(added).toContain('restart-db');
    for (const s of two.steps) if (s.t === 'crash-server' || s.t === 'restart-server') expect([0, 1]).toContain(s.node);
  });

  for (const c of CASES) {
    for (const seed of c.seeds) {
      it(`seed ${seed}: ${c.devices} devices on 2 nodes, ${c.steps} steps, faults x${c.faults ?? 1}`, async () => {
        const schedule = generateSchedule({ ...c, seed });
        const result = await runSchedule(schedule, { wasm: PLUGIN_WASM, database: runDatabases(pgi) });
        const report = result.failures.map((f) => `[${f.kind}] ${f.message}`).join('\n');
        expect(result.failures, `replay: ${replayCommand(c, seed)}\n${report}`).toEqual([]);
        expect(result.rounds).toBeLessThanOrEqual(schedule.config.maxRounds);
        if ((c.faults ?? 1) > 0) {
          // The faults of this mode happened (a seed whose node kills all fell on a node already down would prove little).
          expect(result.faults.serverCrashes + result.faults.serverRestarts).toBeGreaterThan(0);
          expect(result.faults.databaseRestarts).toBeGreaterThan(0);
        }
      }, 180_000);
    }
  }
});
