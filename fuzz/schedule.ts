/**
 * A run as data: its configuration and a list of steps. A seed expands to a
 * schedule (`generateSchedule`); a schedule replays the same run; shrinking
 * removes steps. Each step carries its own seed for the choices it makes
 * (which file, which text, which message), so any subsequence still runs.
 */
import { USER_ACTIONS, type UserAction } from './actions';
import type { NetConfig } from './network';
import { Prng } from './prng';

export type Step =
  | { t: 'user'; action: UserAction; dev: number; seed: number }
  | { t: 'concurrent'; devs: number[]; seed: number }
  | { t: 'deliver'; n: number; seed: number }
  | { t: 'advance'; ms: number }
  | { t: 'drop-link'; dev: number; handshake: boolean }
  | { t: 'crash-plugin'; dev: number; downMs: number }
  | { t: 'restart-plugin'; dev: number }
  | { t: 'crash-server'; downMs: number; node?: number; append?: 'before' | 'after' }
  | { t: 'restart-server'; node?: number }
  | { t: 'restart-db'; downMs: number }
  | { t: 'storage-fail'; dev: number; ms: number }
  | { t: 'server-storage-fail'; ms: number }
  | { t: 'link-after-offline'; dev: number; edits: number; seed: number }
  /** Encrypted runs: two devices are asked to compact the same doc at once (two nodes' CompactHints). */
  | { t: 'compact-race'; devs: number[]; seed: number };

export interface RunConfig {
  seed: number;
  devices: number;
  /** Devices (by index) that run the plugin's TypeScript in V8 instead of the .wasm. */
  nodeDevices: number[];
  net: NetConfig;
  /** Largest number of heal rounds allowed before the run counts as not converging. */
  maxRounds: number;
  /** Server nodes on one Postgres database (absent: one node on SQLite). */
  nodes?: number;
  /** The workspace is end-to-end encrypted (absent: plain). */
  encrypted?: boolean;
}

export interface Schedule {
  config: RunConfig;
  steps: Step[];
}

export interface GenerateOptions {
  seed: number;
  devices: number;
  steps: number;
  /** How many devices run with engine `node` (default: one in three, never all when there are 2+). */
  nodeDevices?: number;
  /** Scales every fault probability (default 1; 0 = no faults). */
  faults?: number;
  /** Server nodes on one Postgres database (default 1: one node on SQLite). */
  nodes?: number;
  /** An end-to-end encrypted workspace. */
  encrypted?: boolean;
}

const USER_WEIGHTS: Record<UserAction, number> = {
  create: 5,
  edit: 10,
  frontmatter: 3,
  rename: 1.5,
  move: 1,
  delete: 1.5,
  restore: 1,
  focus: 1,
};

/** Expands a seed into a schedule. */
export function generateSchedule(options: GenerateOptions): Schedule {
  const rng = new Prng(options.seed);
  const faults = options.faults ?? 1;
  const n = Math.max(1, options.devices);
  const nodeCount = options.nodeDevices ?? (n >= 2 ? Math.floor(n / 3) : 0);
  const nodeDevices = rng.shuffle([...Array(n).keys()]).slice(0, Math.min(nodeCount, n)).sort((a, b) => a - b);
  const net: NetConfig = {
    maxDelayMs: rng.pick([0, 50, 200, 1000]),
    pDrop: faults * rng.pick([0, 0, 0.01, 0.03]),
    pDuplicate: faults * rng.pick([0, 0.01, 0.05]),
    pReorder: faults * rng.pick([0, 0, 0.02, 0.1]),
  };
  const steps: Step[] = [];
  const weights = {
    user: 30,
    concurrent: n >= 2 ? 4 : 0,
    deliver: 40,
    advance: 15,
    'drop-link': 2 * faults,
    'crash-plugin': 0.8 * faults,
    'restart-plugin': 0.4 * faults,
    'crash-server': 0.3 * faults,
    'restart-server': 0.2 * faults,
    'storage-fail': 2 * faults,
    'server-storage-fail': 0.2 * faults,
  };
  for (let i = 0; i < options.steps; i++) {
    const kind = rng.weighted(weights);
    const dev = rng.int(n);
    const seed = rng.u32();
    switch (kind) {
      case 'user':
        steps.push({ t: 'user', action: rng.weighted(USER_WEIGHTS), dev, seed });
        break;
      case 'concurrent': {
        const devs = rng.shuffle([...Array(n).keys()]).slice(0, rng.range(2, n)).sort((a, b) => a - b);
        steps.push({ t: 'concurrent', devs, seed });
        break;
      }
      case 'deliver':
        steps.push({ t: 'deliver', n: rng.range(1, 12), seed });
        break;
      case 'advance':
        steps.push({ t: 'advance', ms: rng.pick([10, 100, 500, 2000, 6000]) });
        break;
      case 'drop-link':
        steps.push({ t: 'drop-link', dev, handshake: rng.chance(0.5) });
        break;
      case 'crash-plugin':
        steps.push({ t: 'crash-plugin', dev, downMs: rng.pick([0, 500, 5000]) });
        break;
      case 'restart-plugin':
        steps.push({ t: 'restart-plugin', dev });
        break;
      case 'crash-server':
        steps.push({ t: 'crash-server', downMs: rng.pick([0, 1000, 8000]) });
        break;
      case 'restart-server':
        steps.push({ t: 'restart-server' });
        break;
      case 'storage-fail':
        steps.push({ t: 'storage-fail', dev, ms: rng.pick([2000, 10000, 30000]) });
        break;
      case 'server-storage-fail':
        steps.push({ t: 'server-storage-fail', ms: rng.pick([500, 3000]) });
        break;
    }
  }
  // Half the runs with 2+ devices: one device unlinks, edits, and links the workspace again by
  // uploading its folder (drawn from a stream of its own, so the other steps stay as they were).
  // Not in encrypted runs: a link uploads a snapshot zip, which an encrypted workspace has none of.
  const linkRng = new Prng(options.seed ^ 0x11c0);
  if (n >= 2 && linkRng.chance(0.5) && !options.encrypted) {
    const at = linkRng.int(steps.length + 1);
    steps.splice(at, 0, { t: 'link-after-offline', dev: linkRng.int(n), edits: linkRng.range(1, 4), seed: linkRng.u32() });
  }
  const nodes = options.nodes ?? 1;
  if (nodes > 1) addNodeFaults(steps, options.seed, nodes, faults);
  if (options.encrypted && n >= 2) addCompactRaces(steps, options.seed, n);
  return {
    config: { seed: options.seed, devices: n, nodeDevices, net, maxRounds: 40, ...(nodes > 1 ? { nodes } : {}), ...(options.encrypted ? { encrypted: true } : {}) },
    steps,
  };
}

/** Encrypted runs: a few concurrent compactions, from a stream of their own (the other steps stay the seed's). */
function addCompactRaces(steps: Step[], seed: number, devices: number): void {
  const rng = new Prng(seed ^ 0xc0a1);
  for (let i = rng.range(3, 6); i > 0; i--) {
    const devs = rng.shuffle([...Array(devices).keys()]).slice(0, 2).sort((a, b) => a - b);
    steps.splice(rng.int(steps.length + 1), 0, { t: 'compact-race', devs, seed: rng.u32() });
  }
}

/**
 * Several nodes: each server kill or restart names its node, and more node
 * kills and database restarts are inserted. Drawn from a stream of its own,
 * so the other steps of a seed are those of its single-node run.
 */
function addNodeFaults(steps: Step[], seed: number, nodes: number, faults: number): void {
  const rng = new Prng(seed ^ 0x2a0de);
  for (const step of steps) if (step.t === 'crash-server' || step.t === 'restart-server') step.node = rng.int(nodes);
  if (faults <= 0) return;
  const extra: Step[] = [];
  for (let i = rng.range(1, 2); i > 0; i--) {
    // Between steps, or armed: at the node's next append, before it reaches the database or right after it committed.
    const append = rng.pick([null, 'before', 'after'] as const);
    extra.push({ t: 'crash-server', downMs: rng.pick([0, 1000, 8000]), node: rng.int(nodes), ...(append ? { append } : {}) });
  }
  for (let i = rng.range(1, 2); i > 0; i--) extra.push({ t: 'restart-db', downMs: rng.pick([0, 1000, 8000]) });
  for (const step of extra) steps.splice(rng.int(steps.length + 1), 0, step);
}

/** One line per step, for reports. */
export function describeStep(step: Step): string {
  switch (step.t) {
    case 'user':
      return `dev${step.dev} ${step.action} (seed ${step.seed})`;
    case 'concurrent':
      return `concurrent edit on ${step.devs.map((d) => `dev${d}`).join(', ')} (seed ${step.seed})`;
    case 'deliver':
      return `deliver up to ${step.n} messages (seed ${step.seed})`;
    case 'advance':
      return `advance ${step.ms} ms`;
    case 'drop-link':
      return `drop dev${step.dev}'s connection${step.handshake ? ' (only during its handshake)' : ''}`;
    case 'crash-plugin':
      return `crash dev${step.dev}'s plugin, back after ${step.downMs} ms`;
    case 'restart-plugin':
      return `restart dev${step.dev}'s plugin gracefully`;
    case 'crash-server':
      return `kill -9 the server${step.node !== undefined ? ` node ${step.node}` : ''}${step.append ? ` at its next append (${step.append} it commits)` : ''}, back after ${step.downMs} ms`;
    case 'restart-server':
      return `restart the server${step.node !== undefined ? ` node ${step.node}` : ''} gracefully`;
    case 'restart-db':
      return `stop the database, back after ${step.downMs} ms`;
    case 'storage-fail':
      return `dev${step.dev}'s storage refuses writes for ${step.ms} ms`;
    case 'server-storage-fail':
      return `server storage refuses appends for ${step.ms} ms`;
    case 'link-after-offline':
      return `dev${step.dev} unlinks, makes ${step.edits} edit(s), links again by uploading its folder (seed ${step.seed})`;
    case 'compact-race':
      return `${step.devs.map((d) => `dev${d}`).join(' and ')} are asked to compact the same doc at once (seed ${step.seed})`;
  }
}
