/**
 * npm run bench [-- --quick] [-- --only suite,suite]
 * Runs every benchmark suite and writes bench/results.json and bench/results.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { machine, writeReport, type Row, type Suite, type SuiteRun } from './lib';

const SUITES: Record<string, () => Promise<{ default: Suite }>> = {
  runtime: () => import('./suites/runtime'),
  plugin: () => import('./suites/plugin'),
  sync: () => import('./suites/sync'),
  trace: () => import('./suites/trace'),
  history: () => import('./suites/history'),
  load: () => import('./suites/load'),
  'scale-out': () => import('./suites/scale-out'),
  attachments: () => import('./suites/attachments'),
  e2ee: () => import('./suites/e2ee'),
  'e2ee-sync': () => import('./suites/e2ee-sync'),
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
  },
});

const quick = values.quick ?? false;
const runs = values.runs ? Number(values.runs) : quick ? 3 : 5;
const selected = values.only ? values.only.split(',') : Object.keys(SUITES);
const rows: Row[] = [];
for (const name of selected) {
  const load = SUITES[name];
  if (!load) throw new Error(`unknown suite ${name}; known: ${Object.keys(SUITES).join(', ')}`);
  console.log(`[bench] ${name}`);
  const suite = (await load()).default;
  rows.push(...(await suite({ quick, runs, log: (m) => console.log(`[bench] ${name}: ${m}`) })));
}
const dir = path.dirname(fileURLToPath(import.meta.url));
const about = machine();
const thisRun: SuiteRun = { mode: quick ? 'quick' : 'full', date: String(about.date), cpu: String(about.cpu) };
// With --only, the other suites' rows of the previous report are kept, with
// the record of when and how they ran.
let kept: Row[] = [];
let runsBySuite: Record<string, SuiteRun> = {};
const previous = path.join(dir, 'results.json');
if (values.only && fs.existsSync(previous)) {
  const old = JSON.parse(fs.readFileSync(previous, 'utf8')) as { rows: Row[]; suites?: Record<string, SuiteRun> };
  kept = old.rows.filter((r) => !selected.includes(r.suite));
  runsBySuite = Object.fromEntries(Object.entries(old.suites ?? {}).filter(([name]) => !selected.includes(name)));
}
for (const name of selected) runsBySuite[name] = thisRun;
const out = writeReport(dir, [...kept, ...rows], about, runsBySuite);
console.log(`[bench] wrote ${out.json} and ${out.md}`);
