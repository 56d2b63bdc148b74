/**
 * Benchmark plumbing: timing, medians, machine description, result rows and
 * the JSON + Markdown report. Every workload reports the plugin figure, the
 * same work in plain Node (V8) when there is one, and their ratio.
 */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';

export interface Row {
  suite: string;
  workload: string;
  unit: string;
  plugin: number | null;
  v8: number | null;
  /** plugin / v8 (for times: how many times slower the plugin is). */
  ratio: number | null;
  target?: string;
  notes?: string;
  runs: number;
}

export interface SuiteContext {
  quick: boolean;
  runs: number;
  log(message: string): void;
}

export type Suite = (ctx: SuiteContext) => Promise<Row[]>;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time in ms of `runs` executions of fn. */
export async function timeMedian(runs: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function row(suite: string, workload: string, unit: string, plugin: number | null, v8: number | null, extra: Partial<Row> = {}): Row {
  const ratio = plugin !== null && v8 !== null && v8 > 0 ? plugin / v8 : null;
  return { suite, workload, unit, plugin, v8, ratio, runs: 1, ...extra };
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
  };
}

const fmt = (v: number | null, digits = 2) =>
  v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits);

/** When and how one suite's rows were produced (reports merge suites from several runs). */
export interface SuiteRun {
  mode: 'quick' | 'full';
  date: string;
  cpu: string;
}

export function writeReport(
  dir: string,
  rows: Row[],
  meta: Record<string, unknown>,
  suites: Record<string, SuiteRun>,
): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'results.json');
  const md = path.join(dir, 'results.md');
  fs.writeFileSync(json, JSON.stringify({ machine: meta, suites, rows }, null, 2) + '\n');
  const lines = [
    '# Benchmark results',
    '',
    `Machine: ${meta.cpu}, ${meta.cores} cores, ${meta.memory_gib} GiB, ${meta.os}, Node ${meta.node} (V8 ${meta.v8}); ${meta.date}.`,
    'Figures are medians of the given number of runs. Each suite\'s rows come from one run:',
    '',
    ...Object.entries(suites).map(([name, run]) => `- ${name}: ${run.mode}, ${run.date}, ${run.cpu}`),
    '',
    '| suite | workload | unit | plugin (QuickJS/wasm) | V8 | ratio | runs | target | notes |',
    '|---|---|---|---:|---:|---:|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.suite} | ${r.workload} | ${r.unit} | ${fmt(r.plugin)} | ${fmt(r.v8)} | ${r.ratio === null ? '–' : r.ratio.toFixed(1) + 'x'} | ${r.runs} | ${r.target ?? ''} | ${r.notes ?? ''} |`,
    ),
    '',
  ];
  fs.writeFileSync(md, lines.join('\n'));
  return { json, md };
}
