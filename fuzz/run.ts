/**
 * `npm run fuzz -- [options]`: seeded convergence simulation of the sync
 * plugin (.wasm and V8 instances), the real server core and a faulty network.
 *
 *   --seed S          first seed (default: random); --count C seeds from S (default 1)
 *   --devices N       devices per run (default 3)
 *   --steps K         schedule steps per run (default 200)
 *   --minutes M       time-boxed campaign: seeds S, S+1, ... until M minutes have passed
 *   --node-devices D  how many devices run the TypeScript in V8 (default: a third)
 *   --faults F        scale of every fault probability (default 1; 0 = none)
 *   --replay FILE     run a saved schedule (written when a seed fails)
 *   --no-shrink       do not shrink failures; --shrink-seconds T (default 300);
 *                     --shrink-kind K shrinks towards failure kind K (default: the first one)
 *   --trace           print every step (--trace-messages: and every message); --keep keeps the run folders
 *   --check-duplicates  also fail a run whose final text holds a token twice in one file
 *   --wasm PATH       plugin module (default dist/diaryx_sync.wasm)
 *   --nodes N         N server nodes on one Postgres database (started for the campaign) instead of
 *                     one node on SQLite; node kills and database restarts join the faults
 *   --encrypted       the workspace is end-to-end encrypted (one SQLite node); the checker also
 *                     scans the server's storage and frames for plaintext
 *   --encrypted-share P  a share P (0..1) of the seeds run encrypted, the rest plain (chosen by seed)
 *
 * Exit status 1 when a run failed. Each failure prints the one-line command
 * that replays it, then (after shrinking) the minimal step list and the
 * command that replays that.
 */
import './seeded-crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSchedule, type Schedule } from './schedule';
import { formatSteps, loadSchedule, saveSchedule, shrinkSchedule } from './shrink';
import { runSchedule, type FaultCounts, type RunOptions, type RunResult } from './simulation';
import { seededCryptoActive } from './seeded-crypto';
import { runDatabases } from './sim-cluster';
import { startPostgres, type PostgresInstance } from '../server/src/testing/postgres-instance';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FAILURES_DIR = path.join(ROOT, 'fuzz', 'failures');

interface Args {
  seed: number;
  count: number;
  devices: number;
  steps: number;
  minutes: number | null;
  nodeDevices: number | undefined;
  faults: number;
  replay: string | null;
  shrink: boolean;
  shrinkSeconds: number;
  shrinkKind: string | null;
  trace: boolean;
  traceMessages: boolean;
  keep: boolean;
  wasm: string;
  checkDuplicates: boolean;
  nodes: number;
  /** Share of seeds run encrypted (1 with --encrypted, 0 by default). */
  encryptedShare: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seed: Math.floor(Math.random() * 2 ** 31),
    count: 1,
    devices: 3,
    steps: 200,
    minutes: null,
    nodeDevices: undefined,
    faults: 1,
    replay: null,
    shrink: true,
    shrinkSeconds: 300,
    shrinkKind: null,
    trace: false,
    traceMessages: false,
    keep: false,
    wasm: path.join(ROOT, 'dist', 'diaryx_sync.wasm'),
    checkDuplicates: false,
    nodes: 1,
    encryptedShare: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = Number(value());
      if (!Number.isFinite(v)) throw new Error(`${a} needs a number`);
      return v;
    };
    switch (a) {
      case '--seed': args.seed = num() >>> 0; break;
      case '--count': args.count = num(); break;
      case '--devices': args.devices = num(); break;
      case '--steps': args.steps = num(); break;
      case '--minutes': args.minutes = num(); break;
      case '--node-devices': args.nodeDevices = num(); break;
      case '--faults': args.faults = num(); break;
      case '--replay': args.replay = value(); break;
      case '--no-shrink': args.shrink = false; break;
      case '--shrink-seconds': args.shrinkSeconds = num(); break;
      case '--shrink-kind': args.shrinkKind = value(); break;
      case '--trace': args.trace = true; break;
      case '--trace-messages': args.trace = true; args.traceMessages = true; break;
      case '--keep': args.keep = true; break;
      case '--check-duplicates': args.checkDuplicates = true; break;
      case '--wasm': args.wasm = path.resolve(value()); break;
      case '--nodes': args.nodes = num(); if (!Number.isInteger(args.nodes) || args.nodes < 1) throw new Error('--nodes needs a whole number of at least 1'); break;
      case '--encrypted': args.encryptedShare = 1; break;
      case '--encrypted-share': args.encryptedShare = num(); if (args.encryptedShare < 0 || args.encryptedShare > 1) throw new Error('--encrypted-share needs a number from 0 to 1'); break;
      case '--help': case '-h':
        console.log('usage: npm run fuzz -- [--seed S] [--count C] [--devices N] [--steps K] [--minutes M] [--node-devices D] [--faults F] [--replay FILE] [--no-shrink] [--trace] [--keep] [--check-duplicates] [--nodes N] [--encrypted | --encrypted-share P]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (args.encryptedShare > 0 && args.nodes > 1) throw new Error('--encrypted runs use one server node: --nodes is not supported with it');
  return args;
}

/** Whether a seed runs encrypted: all with --encrypted, a share of them (a hash of the seed) with --encrypted-share. */
function encryptedSeed(args: Args, seed: number): boolean {
  if (args.encryptedShare >= 1) return true;
  if (args.encryptedShare <= 0) return false;
  return ((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) >>> 0) % 1000) / 1000 < args.encryptedShare;
}

function replayCommand(args: Args, seed: number): string {
  const extra = [
    encryptedSeed(args, seed) ? ' --encrypted' : '',
    args.nodeDevices !== undefined ? ` --node-devices ${args.nodeDevices}` : '',
    args.faults !== 1 ? ` --faults ${args.faults}` : '',
    args.nodes > 1 ? ` --nodes ${args.nodes}` : '',
  ].join('');
  return `npm run fuzz -- --seed ${seed} --devices ${args.devices} --steps ${args.steps}${extra}`;
}

const totals = { seeds: 0, failed: 0, actions: 0, messages: 0, maxRounds: 0, lostToDeletes: 0, gapsInDeletedFiles: 0, unfillableGaps: 0, faults: {} as Record<string, number> };

function addTotals(r: RunResult): void {
  totals.seeds++;
  totals.actions += r.actions;
  totals.messages += r.messages;
  totals.maxRounds = Math.max(totals.maxRounds, r.rounds);
  totals.lostToDeletes += r.editsLostToDeletes;
  totals.gapsInDeletedFiles += r.gapsInDeletedFiles;
  totals.unfillableGaps += r.unfillableGaps;
  for (const [k, v] of Object.entries(r.faults as FaultCounts)) totals.faults[k] = (totals.faults[k] ?? 0) + v;
  if (r.failures.length > 0) totals.failed++;
}

/** The test Postgres of a campaign with several nodes (started on first use). */
let postgres: PostgresInstance | null = null;

async function databaseOption(schedule: Schedule): Promise<Pick<RunOptions, 'database'>> {
  if ((schedule.config.nodes ?? 1) <= 1) return {};
  postgres ??= await startPostgres();
  return { database: runDatabases(postgres) };
}

async function runOne(args: Args, schedule: Schedule, label: string, replay: string): Promise<boolean> {
  const database = await databaseOption(schedule);
  const result = await runSchedule(schedule, {
    ...database,
    wasm: args.wasm,
    keep: args.keep,
    trace: args.trace ? (l) => console.log(`  ${l}`) : undefined,
    traceMessages: args.traceMessages,
    checkDuplicates: args.checkDuplicates,
  });
  addTotals(result);
  const { config } = schedule;
  const servers = ((config.nodes ?? 1) > 1 ? `, ${config.nodes} server nodes on Postgres` : '') + (config.encrypted ? ', encrypted' : '');
  const summary = `${config.devices} devices (${config.nodeDevices.length} node)${servers}, ${schedule.steps.length} steps, ${result.actions} actions, ${result.messages} messages, ${result.rounds} rounds, ${(result.durationMs / 1000).toFixed(1)} s`;
  if (result.failures.length === 0) {
    console.log(`${label}: ok  ${summary}`);
    return true;
  }
  console.log(`${label}: FAILED  ${summary}`);
  for (const f of result.failures) console.log(`  [${f.kind}] ${f.message.replace(/\n/g, '\n    ')}`);
  console.log(`  replay: ${replay}`);
  if (!args.replay) {
    const file = saveSchedule(schedule, FAILURES_DIR, label.replace(/\W+/g, '-'));
    console.log(`  schedule saved: npm run fuzz -- --replay ${path.relative(ROOT, file)}`);
  }
  if (args.shrink) {
    console.log(`  shrinking (up to ${args.shrinkSeconds} s)...`);
    const target = result.failures.find((f) => f.kind === args.shrinkKind) ?? result.failures[0];
    const shrunk = await shrinkSchedule(schedule, target, {
      ...database,
      wasm: args.wasm,
      checkDuplicates: args.checkDuplicates,
      budgetMs: args.shrinkSeconds * 1000,
      progress: (l) => console.log(l),
    });
    const min = saveSchedule(shrunk.schedule, FAILURES_DIR, `${label.replace(/\W+/g, '-')}-min`);
    console.log(`  minimal schedule (${shrunk.schedule.steps.length} steps, ${shrunk.runs} runs) [${shrunk.failure.kind}]:`);
    console.log(formatSteps(shrunk.schedule));
    console.log(`  ${shrunk.failure.message.split('\n--- plugin logs ---')[0].replace(/\n/g, '\n  ')}`);
    console.log(`  replay minimal: npm run fuzz -- --replay ${path.relative(ROOT, min)}`);
  }
  return false;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!(await seededCryptoActive())) console.warn('warning: node-engine devices are not deterministic (lib0 loaded before the seeded crypto)');
  let ok = true;
  const started = Date.now();
  if (args.replay) {
    const schedule = loadSchedule(args.replay);
    ok = await runOne({ ...args, devices: schedule.config.devices }, schedule, `replay ${path.basename(args.replay)}`, `npm run fuzz -- --replay ${args.replay}`);
  } else {
    const deadline = args.minutes !== null ? started + args.minutes * 60_000 : null;
    for (let i = 0; deadline !== null ? Date.now() < deadline : i < args.count; i++) {
      const seed = (args.seed + i) >>> 0;
      const schedule = generateSchedule({ seed, devices: args.devices, steps: args.steps, nodeDevices: args.nodeDevices, faults: args.faults, nodes: args.nodes, encrypted: encryptedSeed(args, seed) });
      ok = (await runOne(args, schedule, `seed ${seed}`, replayCommand(args, seed))) && ok;
    }
  }
  const f = Object.entries(totals.faults)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `\n${totals.seeds} seeds, ${totals.failed} failed, ${totals.actions} actions, ${totals.messages} messages, longest convergence ${totals.maxRounds} rounds, ${((Date.now() - started) / 1000).toFixed(0)} s\nfaults: ${f || 'none'}\nacknowledged edits that went with a deleted file: ${totals.lostToDeletes}; server docs of deleted files left with a gap: ${totals.gapsInDeletedFiles}; docs waiting for an update no copy holds any more: ${totals.unfillableGaps}`,
  );
  process.exitCode = ok ? 0 : 1;
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 2;
  })
  .finally(() => postgres?.stop());
