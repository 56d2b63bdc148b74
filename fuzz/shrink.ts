/**
 * Shrinks a failing schedule to a short list of steps that still fails the
 * same way (same failure kind): first without network faults if that still
 * fails, then by removing chunks of steps, halving the chunk size down to
 * single steps (a simple delta debugging), within a time budget.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Failure } from './checker';
import { describeStep, type Schedule } from './schedule';
import { runSchedule, type RunOptions } from './simulation';

export interface ShrinkResult {
  schedule: Schedule;
  failure: Failure;
  runs: number;
}

/** Whether `schedule` fails with `kind`; returns that failure. */
async function failsWith(schedule: Schedule, kind: string, options: RunOptions): Promise<Failure | null> {
  const result = await runSchedule(schedule, { ...options, trace: undefined });
  return result.failures.find((f) => f.kind === kind) ?? null;
}

export async function shrinkSchedule(
  schedule: Schedule,
  failure: Failure,
  options: RunOptions & { budgetMs: number; progress?: (line: string) => void },
): Promise<ShrinkResult> {
  const deadline = Date.now() + options.budgetMs;
  let best = schedule;
  let bestFailure = failure;
  let runs = 0;
  const attempt = async (candidate: Schedule): Promise<boolean> => {
    if (Date.now() > deadline) return false;
    runs++;
    const f = await failsWith(candidate, failure.kind, options);
    if (!f) return false;
    best = candidate;
    bestFailure = f;
    options.progress?.(`  shrunk to ${candidate.steps.length} steps`);
    return true;
  };

  const calm = { maxDelayMs: best.config.net.maxDelayMs, pDrop: 0, pDuplicate: 0, pReorder: 0 };
  const net = best.config.net;
  if (net.pDrop > 0 || net.pDuplicate > 0 || net.pReorder > 0) await attempt({ ...best, config: { ...best.config, net: calm } });

  let chunk = Math.max(1, Math.floor(best.steps.length / 2));
  while (chunk >= 1 && Date.now() < deadline) {
    let removed = false;
    for (let start = 0; start < best.steps.length && Date.now() < deadline; ) {
      const steps = [...best.steps.slice(0, start), ...best.steps.slice(start + chunk)];
      if (steps.length < best.steps.length && (await attempt({ ...best, steps }))) removed = true;
      else start += chunk;
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  return { schedule: best, failure: bestFailure, runs };
}

/** Writes a schedule as JSON (replay with `npm run fuzz -- --replay <file>`); returns the path. */
export function saveSchedule(schedule: Schedule, dir: string, name: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(schedule, null, 1)}\n`);
  return file;
}

export function loadSchedule(file: string): Schedule {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Schedule;
}

/** The steps of a schedule, one per line. */
export function formatSteps(schedule: Schedule): string {
  return schedule.steps.map((s, i) => `  ${String(i).padStart(3)}. ${describeStep(s)}`).join('\n');
}
