/**
 * The seeded convergence simulation on end-to-end encrypted workspaces
 * (`npm run fuzz -- --encrypted`): the server runs E2eeService on its SQLite
 * database, devices hold the keys, every fault of the plain runs plus
 * concurrent compactions; the checker also requires that nothing the devices
 * wrote is on the server side in the clear. And the plaintext scan itself:
 * it finds text put where it must not be.
 */
import '../../fuzz/seeded-crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canaryOf } from '../../fuzz/content';
import { databaseSources, directorySources, findPlaintext, framesSource } from '../../fuzz/plaintext-scan';
import { generateSchedule, type GenerateOptions, type Schedule } from '../../fuzz/schedule';
import { runSchedule } from '../../fuzz/simulation';
import { openDatabase } from '../../server/src/db';
import { SqliteEncryptedStore } from '../../server/src/storage/sqlite-e2ee';
import { PLUGIN_WASM } from '../helpers/paths';

const TOKEN = '⟦abcdefgh23⟧';
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-plaintext-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

/** Bytes that look like ciphertext (no token, no canary). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('plaintext scan of the server side', () => {
  it('finds a token stored in a row of the encrypted store, in its table and in the database file', async () => {
    const dir = path.join(temp, 'server');
    const db = openDatabase(dir);
    const store = new SqliteEncryptedStore(db);
    expect((await store.putKeys('ws', 0, '{"v":1}')).ok).toBe(true);
    const plaintext = new TextEncoder().encode(`\n${TOKEN} a body typed on a device, stored as is\n`);
    const env = new Uint8Array([...noise(40, 1), ...plaintext, ...noise(40, 2)]);
    const out = await store.append('e2e:ws/AAAAAAAAAAAAAAAAAAAAAA', 'ws', noise(24, 3), env, 1 << 20);
    expect(out.kind).toBe('stored');
    const hits = findPlaintext([...databaseSources(db), ...directorySources(dir)], { canary: null, strings: [] });
    db.close();
    expect(hits.some((h) => h.startsWith(`token ${TOKEN} (utf-8) in table e2ee_envelopes`))).toBe(true);
    expect(hits.some((h) => h.includes('in file '))).toBe(true);
  });

  it('finds the canary in any encoding, tokens as UTF-16, paths and body lines; nothing in noise', () => {
    const canary = canaryOf(7);
    const filePath = `journal/2026/today-${canary}.md`;
    const line = 'a line of a body that is long enough to search';
    const needles = { canary, strings: [filePath, line, 'x.md'] };
    const sources = [
      { name: 'b64', bytes: Buffer.from(`{"name":"${Buffer.from(`notes-${canary}`).toString('base64')}"}`) },
      { name: 'utf16', bytes: Buffer.concat([Buffer.from(noise(9, 4)), Buffer.from(TOKEN, 'utf16le')]) },
      framesSource('frames', [noise(100, 5), `{"files":["${filePath}"]}`, Buffer.from(line, 'utf16le')]),
      { name: 'noise', bytes: noise(1 << 16, 6) },
      // Four bytes are too short to search: `x.md` in noise is not a finding.
      { name: 'short', bytes: Buffer.from('..x.md..') },
    ];
    const hits = findPlaintext(sources, needles);
    expect(hits.some((h) => h.includes('in b64') && h.includes('base64'))).toBe(true);
    expect(hits.some((h) => h.startsWith(`token ${TOKEN} (utf-16le) in utf16`))).toBe(true);
    expect(hits.some((h) => h.startsWith(JSON.stringify(filePath)) && h.includes('in frames'))).toBe(true);
    expect(hits.some((h) => h.startsWith(JSON.stringify(line)) && h.includes('utf-16le'))).toBe(true);
    expect(hits.filter((h) => h.includes(' in noise') || h.includes(' in short'))).toEqual([]);
  });
});

interface Case extends Omit<GenerateOptions, 'seed' | 'encrypted'> {
  seeds: number[];
}

// Short runs, and full-length seeds whose failures led to the fixes below (fuzz/README.md, "Encrypted workspaces").
const CASES: Case[] = [
  { seeds: [1, 8, 13, 19], devices: 2, steps: 80 },
  { seeds: [1002, 1005, 1024, 1049, 1078, 5007, 5092, 20391, 30134, 30219], devices: 3, steps: 200 },
];

function replayCommand(c: Case, seed: number): string {
  return `npm run fuzz -- --encrypted --seed ${seed} --devices ${c.devices} --steps ${c.steps}${c.faults !== undefined ? ` --faults ${c.faults}` : ''}`;
}

describe('seeded convergence simulation, encrypted workspace', () => {
  it('replays an encrypted seed exactly', async () => {
    const schedule = generateSchedule({ seed: 11, devices: 2, steps: 60, encrypted: true });
    const a = await runSchedule(schedule, { wasm: PLUGIN_WASM });
    const b = await runSchedule(schedule, { wasm: PLUGIN_WASM });
    const summary = (r: typeof a) => ({ actions: r.actions, messages: r.messages, rounds: r.rounds, faults: r.faults, failures: r.failures.map((f) => f.kind) });
    expect(summary(b)).toEqual(summary(a));
  }, 60_000);

  for (const c of CASES) {
    for (const seed of c.seeds) {
      it(`seed ${seed}: ${c.devices} devices, ${c.steps} steps, faults x${c.faults ?? 1}, encrypted`, async () => {
        const schedule = generateSchedule({ ...c, seed, encrypted: true });
        expect(schedule.steps.some((s) => s.t === 'compact-race')).toBe(true);
        const result = await runSchedule(schedule, { wasm: PLUGIN_WASM });
        const report = result.failures.map((f) => `[${f.kind}] ${f.message}`).join('\n');
        expect(result.failures, `replay: ${replayCommand(c, seed)}\n${report}`).toEqual([]);
        expect(result.actions).toBeGreaterThan(0);
      }, 60_000);
    }
  }
});

/**
 * Shrunk schedules of engine bugs the encrypted runs found (fuzz/README.md, "Encrypted
 * workspaces"), fixed: each must converge. Each failed before its fix.
 */
const REGRESSIONS: { name: string; schedule: Schedule }[] = [
  {
    name: 'a file moved on one device while the others edit it, back at its old path there, gets all its text again: its doc state starts over (seed 5, --faults 0)',
    schedule: {"config": {"seed": 5, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 500}, {"t": "user", "action": "create", "dev": 2, "seed": 78845617}, {"t": "deliver", "n": 2, "seed": 4029649847}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 2, "seed": 2436400242}, {"t": "deliver", "n": 2, "seed": 2367729310}, {"t": "deliver", "n": 3, "seed": 152625207}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 6, "seed": 1412522258}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 3111547242}, {"t": "user", "action": "move", "dev": 1, "seed": 2412737455}]},
  },
  {
    name: 'two appends of one device stored out of counter order (here: a reordered frame): the later-stored one fills the gap, nothing is dropped or taken off the server (seed 3)',
    schedule: {"config": {"seed": 3, "devices": 2, "nodeDevices": [], "net": {"maxDelayMs": 200, "pDrop": 0.01, "pDuplicate": 0.01, "pReorder": 0.1}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 100}, {"t": "deliver", "n": 5, "seed": 3642998841}, {"t": "user", "action": "create", "dev": 0, "seed": 1991217588}, {"t": "user", "action": "create", "dev": 0, "seed": 706943127}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 1, "seed": 400307183}]},
  },
  {
    name: 'a file renamed on one device and restored at its old path there, then compacted by two devices at once: the remade doc is pulled again before any snapshot, nothing is lost (seed 1005 without reordering)',
    schedule: {"config": {"seed": 1005, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 50, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "user", "action": "create", "dev": 2, "seed": 3413719676}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 5, "seed": 358712223}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 10, "seed": 3049904121}, {"t": "user", "action": "edit", "dev": 1, "seed": 2203374977}, {"t": "user", "action": "rename", "dev": 1, "seed": 3929526694}, {"t": "advance", "ms": 100}, {"t": "user", "action": "restore", "dev": 1, "seed": 4287711745}, {"t": "deliver", "n": 12, "seed": 783519411}, {"t": "user", "action": "create", "dev": 0, "seed": 2218139714}, {"t": "compact-race", "devs": [1, 2], "seed": 1061841639}, {"t": "user", "action": "delete", "dev": 1, "seed": 2051992940}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 3, "seed": 4001595857}, {"t": "deliver", "n": 5, "seed": 1166895979}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 9, "seed": 2755989688}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 9, "seed": 4040625997}]},
  },
  {
    name: 'a file renamed on one device while two others edit it comes back at its old path there with every text: that device applies its own envelopes of the old doc again (seed 1002, no fault)',
    schedule: {"config": {"seed": 1002, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0.1}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 2000}, {"t": "deliver", "n": 9, "seed": 3855486274}, {"t": "user", "action": "create", "dev": 2, "seed": 710185015}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 6, "seed": 116505368}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 11, "seed": 3733040240}, {"t": "concurrent", "devs": [0, 1], "seed": 2225449401}, {"t": "user", "action": "edit", "dev": 0, "seed": 1852169489}, {"t": "user", "action": "rename", "dev": 1, "seed": 3887691744}]},
  },
  {
    name: 'a local update whose sealing fails (storage refuses the new run record) goes out with the next one instead of being dropped: no device waits for it (seed 1031)',
    schedule: {"config": {"seed": 1031, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 50, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "storage-fail", "dev": 0, "ms": 2000}, {"t": "user", "action": "create", "dev": 0, "seed": 501373318}, {"t": "advance", "ms": 6000}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 3265099732}]},
  },
  {
    name: 'a file moved away and restored on one device before its own Append of the old body is acknowledged: the restored body gets that text again (seed 1024, no fault)',
    schedule: {"config": {"seed": 1024, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 200, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 2000}, {"t": "deliver", "n": 4, "seed": 558646935}, {"t": "user", "action": "create", "dev": 1, "seed": 1807839131}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 8, "seed": 608915720}, {"t": "user", "action": "edit", "dev": 1, "seed": 2001753159}, {"t": "user", "action": "move", "dev": 1, "seed": 1450797810}, {"t": "user", "action": "restore", "dev": 1, "seed": 3831295399}]},
  },
  {
    name: 'an Append lost before a graceful restart while a later one of the same doc was stored: the restart sends what the server lacks, no device waits for it (seed 1049)',
    schedule: {"config": {"seed": 1049, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 50, "pDrop": 0.03, "pDuplicate": 0, "pReorder": 0.1}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 100}, {"t": "user", "action": "create", "dev": 1, "seed": 3674654117}, {"t": "user", "action": "create", "dev": 2, "seed": 2633182742}, {"t": "deliver", "n": 3, "seed": 3671510082}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 5, "seed": 3537437354}, {"t": "advance", "ms": 10}, {"t": "deliver", "n": 12, "seed": 4139648686}, {"t": "user", "action": "create", "dev": 1, "seed": 2351093820}, {"t": "user", "action": "create", "dev": 2, "seed": 896797300}, {"t": "user", "action": "edit", "dev": 2, "seed": 1815685732}, {"t": "user", "action": "edit", "dev": 2, "seed": 3251884623}, {"t": "user", "action": "frontmatter", "dev": 1, "seed": 891979410}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 8, "seed": 2165525512}, {"t": "compact-race", "devs": [1, 2], "seed": 3632812993}, {"t": "deliver", "n": 5, "seed": 2822327339}, {"t": "deliver", "n": 5, "seed": 505951902}, {"t": "restart-plugin", "dev": 1}]},
  },
  {
    name: 'a body deleted and restored on a device whose earlier edit was still on its way: no snapshot is made while structs wait, the doc is pulled again from the start, nothing is taken off the server (seed 1041)',
    schedule: {"config": {"seed": 1041, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 0, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "deliver", "n": 7, "seed": 3193146477}, {"t": "user", "action": "create", "dev": 2, "seed": 3235244573}, {"t": "storage-fail", "dev": 0, "ms": 10000}, {"t": "deliver", "n": 9, "seed": 1302358928}, {"t": "deliver", "n": 3, "seed": 2175732323}, {"t": "deliver", "n": 11, "seed": 347426463}, {"t": "user", "action": "create", "dev": 2, "seed": 46982652}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 838911513}, {"t": "drop-link", "dev": 2, "handshake": false}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 8, "seed": 1494240953}, {"t": "user", "action": "delete", "dev": 2, "seed": 2048711176}, {"t": "user", "action": "restore", "dev": 2, "seed": 858205240}, {"t": "deliver", "n": 2, "seed": 1393986484}, {"t": "deliver", "n": 7, "seed": 1046105998}, {"t": "deliver", "n": 6, "seed": 3909422232}, {"t": "deliver", "n": 8, "seed": 182997076}]},
  },
  {
    name: 'a deletion stored on a device that crashed before sending it goes out after the restart, even when a newer edit is acknowledged first (seed 1078)',
    schedule: {"config": {"seed": 1078, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 200, "pDrop": 0, "pDuplicate": 0.05, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "storage-fail", "dev": 1, "ms": 10000}, {"t": "user", "action": "create", "dev": 0, "seed": 3569855533}, {"t": "advance", "ms": 500}, {"t": "user", "action": "create", "dev": 0, "seed": 3989732552}, {"t": "deliver", "n": 8, "seed": 1080331550}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 4, "seed": 589525863}, {"t": "user", "action": "create", "dev": 2, "seed": 4214777761}, {"t": "compact-race", "devs": [0, 2], "seed": 758818760}, {"t": "storage-fail", "dev": 0, "ms": 10000}, {"t": "user", "action": "edit", "dev": 2, "seed": 2116079994}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 11, "seed": 395758096}, {"t": "user", "action": "delete", "dev": 2, "seed": 600905685}, {"t": "deliver", "n": 12, "seed": 1726204707}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 81946197}, {"t": "crash-plugin", "dev": 2, "downMs": 5000}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 2419792449}]},
  },
  {
    name: 'an edit stored on a device whose Append was lost with a crash goes out at the next connection, though newer Appends of that doc are waiting then (seed 2080)',
    schedule: {"config": {"seed": 2080, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 200, "pDrop": 0.01, "pDuplicate": 0.01, "pReorder": 0.1}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 2000}, {"t": "user", "action": "create", "dev": 1, "seed": 1820461831}, {"t": "deliver", "n": 6, "seed": 858919160}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 11, "seed": 2150076}, {"t": "storage-fail", "dev": 0, "ms": 10000}, {"t": "compact-race", "devs": [0, 1], "seed": 3541421123}, {"t": "crash-plugin", "dev": 0, "downMs": 500}, {"t": "advance", "ms": 6000}, {"t": "advance", "ms": 6000}, {"t": "user", "action": "edit", "dev": 0, "seed": 1707358196}, {"t": "crash-plugin", "dev": 0, "downMs": 500}, {"t": "user", "action": "delete", "dev": 0, "seed": 483089599}]},
  },
  {
    name: 'crashes while storage refuses writes and a server restart: every stored edit reaches the other devices (seed 2002)',
    schedule: {"config": {"seed": 2002, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 0, "pDrop": 0.03, "pDuplicate": 0.01, "pReorder": 0.02}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "deliver", "n": 10, "seed": 3095209085}, {"t": "user", "action": "create", "dev": 2, "seed": 1435893091}, {"t": "deliver", "n": 12, "seed": 3059985929}, {"t": "storage-fail", "dev": 1, "ms": 30000}, {"t": "crash-plugin", "dev": 1, "downMs": 500}, {"t": "deliver", "n": 2, "seed": 1989488136}, {"t": "restart-server"}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 11, "seed": 2877013564}, {"t": "advance", "ms": 2000}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 2574524701}, {"t": "user", "action": "edit", "dev": 2, "seed": 2003741945}, {"t": "user", "action": "edit", "dev": 2, "seed": 1298496974}, {"t": "deliver", "n": 6, "seed": 59991230}, {"t": "deliver", "n": 10, "seed": 1559601247}, {"t": "deliver", "n": 10, "seed": 1897027565}, {"t": "deliver", "n": 12, "seed": 1401720331}, {"t": "crash-plugin", "dev": 2, "downMs": 500}]},
  },
  {
    name: 'no client snapshot holds an edit that is not in the server\'s log yet (its sealing failed): the devices past the snapshot get it (seed 3111)',
    schedule: {"config": {"seed": 3111, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "user", "action": "create", "dev": 0, "seed": 1650812012}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 6, "seed": 1753812612}, {"t": "advance", "ms": 2000}, {"t": "storage-fail", "dev": 0, "ms": 30000}, {"t": "deliver", "n": 11, "seed": 4000516931}, {"t": "user", "action": "edit", "dev": 0, "seed": 2254806930}, {"t": "compact-race", "devs": [0, 2], "seed": 1971180808}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 12, "seed": 2374429082}, {"t": "crash-plugin", "dev": 0, "downMs": 0}]},
  },
  {
    name: 'an edit while storage refuses writes, then a crash: the other devices get it (seed 3019)',
    schedule: {"config": {"seed": 3019, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "user", "action": "create", "dev": 1, "seed": 2073430936}, {"t": "advance", "ms": 6000}, {"t": "user", "action": "create", "dev": 0, "seed": 2753149968}, {"t": "deliver", "n": 10, "seed": 3603552970}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 9, "seed": 4218232293}, {"t": "storage-fail", "dev": 0, "ms": 30000}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 634866218}, {"t": "deliver", "n": 8, "seed": 2503240242}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 11, "seed": 4035623914}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 7, "seed": 71706253}, {"t": "user", "action": "edit", "dev": 0, "seed": 3617661073}, {"t": "crash-plugin", "dev": 0, "downMs": 0}]},
  },
  {
    name: 'a catch-up of a doc waiting for structs (a merged update with a hole) does not hide the hole from the device whose Append was lost (seed 4101)',
    schedule: {"config": {"seed": 4101, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 50, "pDrop": 0.01, "pDuplicate": 0, "pReorder": 0.1}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "user", "action": "create", "dev": 2, "seed": 2555274265}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 9, "seed": 1012519571}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 5, "seed": 134606964}, {"t": "advance", "ms": 6000}, {"t": "crash-plugin", "dev": 2, "downMs": 5000}, {"t": "deliver", "n": 9, "seed": 335133165}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 3150587642}, {"t": "user", "action": "create", "dev": 0, "seed": 1597645923}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 2, "seed": 1116379036}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 8, "seed": 1999231207}, {"t": "crash-plugin", "dev": 0, "downMs": 500}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 4, "seed": 2053564689}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 7, "seed": 3193682539}]},
  },
  {
    name: 'a body renamed away and back while its Pull was in flight: the doc state starts over only with a Pull that goes out, so its own earlier text is read again (seed 5092)',
    schedule: {"config": {"seed": 5092, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 50, "pDrop": 0, "pDuplicate": 0.05, "pReorder": 0.02}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 500}, {"t": "deliver", "n": 11, "seed": 1054562711}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 9, "seed": 3109147653}, {"t": "user", "action": "create", "dev": 0, "seed": 3522944399}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 3, "seed": 20196344}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 7, "seed": 464895382}, {"t": "concurrent", "devs": [0, 1], "seed": 1690091853}, {"t": "user", "action": "edit", "dev": 2, "seed": 866524788}, {"t": "advance", "ms": 100}, {"t": "user", "action": "focus", "dev": 0, "seed": 3408091794}, {"t": "deliver", "n": 4, "seed": 3405884145}, {"t": "user", "action": "rename", "dev": 0, "seed": 2834309852}, {"t": "deliver", "n": 4, "seed": 179946365}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 6, "seed": 386668023}, {"t": "compact-race", "devs": [0, 1], "seed": 1974943273}]},
  },
  {
    name: 'a deletion sealed on a device, then its body renamed away and restored before the Append is acknowledged: the restored body gets the deletion too (seed 5092, shrunk)',
    schedule: {"config": {"seed": 5092, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 50, "pDrop": 0, "pDuplicate": 0.05, "pReorder": 0.02}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 2000}, {"t": "deliver", "n": 9, "seed": 3109147653}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 4, "seed": 3834393578}, {"t": "user", "action": "create", "dev": 0, "seed": 3522944399}, {"t": "advance", "ms": 100}, {"t": "storage-fail", "dev": 0, "ms": 30000}, {"t": "deliver", "n": 8, "seed": 4253414948}, {"t": "user", "action": "edit", "dev": 0, "seed": 2745144420}, {"t": "user", "action": "rename", "dev": 0, "seed": 2834309852}, {"t": "advance", "ms": 100}, {"t": "user", "action": "restore", "dev": 0, "seed": 3004471843}, {"t": "deliver", "n": 6, "seed": 2002290361}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 11, "seed": 262141821}, {"t": "compact-race", "devs": [0, 1], "seed": 817033998}]},
  },
  {
    name: 'an offline edit sealed while storage refused its dirty mark, its doc stored by a later save, then a graceful restart: the mark was stored with the doc, so the deletion goes out (seed 20391)',
    schedule: {"config": {"seed": 20391, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 2000}, {"t": "deliver", "n": 8, "seed": 1701724022}, {"t": "user", "action": "create", "dev": 1, "seed": 2303225914}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 6, "seed": 464399736}, {"t": "user", "action": "create", "dev": 2, "seed": 2139321468}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 8, "seed": 3703166177}, {"t": "user", "action": "edit", "dev": 1, "seed": 1832396472}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 4, "seed": 305590104}, {"t": "user", "action": "edit", "dev": 0, "seed": 3957710181}, {"t": "deliver", "n": 5, "seed": 2173631292}, {"t": "crash-server", "downMs": 8000}, {"t": "user", "action": "frontmatter", "dev": 1, "seed": 75056955}, {"t": "storage-fail", "dev": 0, "ms": 30000}, {"t": "user", "action": "edit", "dev": 1, "seed": 911960103}, {"t": "deliver", "n": 6, "seed": 4140349713}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 6, "seed": 1364775734}, {"t": "deliver", "n": 2, "seed": 2029736063}, {"t": "user", "action": "edit", "dev": 0, "seed": 1983592414}, {"t": "user", "action": "rename", "dev": 0, "seed": 3097611383}, {"t": "deliver", "n": 8, "seed": 2367121885}, {"t": "concurrent", "devs": [0, 2], "seed": 202540370}, {"t": "advance", "ms": 2000}, {"t": "user", "action": "create", "dev": 1, "seed": 3907860577}, {"t": "advance", "ms": 2000}, {"t": "concurrent", "devs": [0, 2], "seed": 77119057}, {"t": "compact-race", "devs": [1, 2], "seed": 1902069204}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 3, "seed": 3383338156}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 500}, {"t": "user", "action": "edit", "dev": 1, "seed": 3935582237}, {"t": "advance", "ms": 500}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 9, "seed": 2326769179}, {"t": "deliver", "n": 8, "seed": 3650661127}, {"t": "deliver", "n": 6, "seed": 2008134956}, {"t": "advance", "ms": 500}, {"t": "advance", "ms": 6000}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 6000}, {"t": "restart-plugin", "dev": 0}]},
  },
  {
    name: 'an edit made while storage refused the docs, stored only at a graceful restart whose queue of unsent changes went away: its doc is stored dirty, so the deletion goes out (seed 20391, again)',
    schedule: {"config": {"seed": 20391, "devices": 3, "nodeDevices": [1], "net": {"maxDelayMs": 1000, "pDrop": 0, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 500}, {"t": "deliver", "n": 2, "seed": 2911001494}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 12, "seed": 2992043914}, {"t": "user", "action": "create", "dev": 2, "seed": 2139321468}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 8, "seed": 3703166177}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 4, "seed": 145103150}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 12, "seed": 1734787431}, {"t": "storage-fail", "dev": 0, "ms": 30000}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 8, "seed": 2367121885}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 8, "seed": 1231575971}, {"t": "advance", "ms": 500}, {"t": "deliver", "n": 3, "seed": 3383338156}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 3885533633}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 500}, {"t": "advance", "ms": 500}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 500}, {"t": "advance", "ms": 6000}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 6000}, {"t": "restart-plugin", "dev": 0}]},
  },
  {
    name: 'a body renamed away after its own deletion was acknowledged, back at its path through another device\'s edit: its state starts over for the new doc, which gets the deletion (seed 30134)',
    schedule: {"config": {"seed": 30134, "devices": 3, "nodeDevices": [2], "net": {"maxDelayMs": 200, "pDrop": 0.01, "pDuplicate": 0, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "advance", "ms": 500}, {"t": "deliver", "n": 7, "seed": 1752665413}, {"t": "user", "action": "create", "dev": 0, "seed": 1116161289}, {"t": "user", "action": "create", "dev": 0, "seed": 2070767743}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 12, "seed": 678742036}, {"t": "compact-race", "devs": [0, 1], "seed": 2211508923}, {"t": "user", "action": "edit", "dev": 1, "seed": 1133431294}, {"t": "user", "action": "create", "dev": 2, "seed": 334865385}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 7, "seed": 386249775}, {"t": "deliver", "n": 7, "seed": 1489992399}, {"t": "user", "action": "create", "dev": 2, "seed": 3869559398}, {"t": "advance", "ms": 2000}, {"t": "deliver", "n": 12, "seed": 2453479346}, {"t": "concurrent", "devs": [0, 2], "seed": 783569418}, {"t": "advance", "ms": 6000}, {"t": "deliver", "n": 12, "seed": 2901227818}, {"t": "user", "action": "rename", "dev": 2, "seed": 3279673514}]},
  },
  {
    name: 'a body made again on a device while envelopes of the old one were acknowledged or pulled: the new doc reads its log from the start (seed 30219)',
    schedule: {"config": {"seed": 30219, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 0, "pDrop": 0.03, "pDuplicate": 0.05, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "user", "action": "frontmatter", "dev": 0, "seed": 2724545370}, {"t": "deliver", "n": 12, "seed": 1647711789}, {"t": "deliver", "n": 4, "seed": 1300127125}, {"t": "deliver", "n": 3, "seed": 3953460101}, {"t": "user", "action": "create", "dev": 1, "seed": 4168261665}, {"t": "deliver", "n": 1, "seed": 3562458348}, {"t": "user", "action": "move", "dev": 1, "seed": 1658636214}, {"t": "user", "action": "create", "dev": 0, "seed": 3971594666}, {"t": "user", "action": "edit", "dev": 1, "seed": 1663366429}, {"t": "user", "action": "create", "dev": 1, "seed": 3485143799}, {"t": "deliver", "n": 1, "seed": 3555240652}, {"t": "deliver", "n": 10, "seed": 2782727366}, {"t": "deliver", "n": 5, "seed": 2836359216}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 3345064920}, {"t": "deliver", "n": 4, "seed": 2258751307}, {"t": "drop-link", "dev": 2, "handshake": true}, {"t": "deliver", "n": 2, "seed": 620469445}, {"t": "deliver", "n": 8, "seed": 4234396460}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 1614499475}, {"t": "advance", "ms": 2000}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 9, "seed": 895598254}, {"t": "user", "action": "edit", "dev": 0, "seed": 2658388544}, {"t": "user", "action": "create", "dev": 0, "seed": 2138203873}, {"t": "user", "action": "create", "dev": 1, "seed": 1006831833}, {"t": "deliver", "n": 10, "seed": 3860806638}, {"t": "concurrent", "devs": [0, 1], "seed": 2857260135}, {"t": "user", "action": "edit", "dev": 0, "seed": 2878899300}, {"t": "deliver", "n": 10, "seed": 3761622244}, {"t": "advance", "ms": 6000}, {"t": "user", "action": "delete", "dev": 0, "seed": 1528997841}, {"t": "deliver", "n": 8, "seed": 4195001594}, {"t": "deliver", "n": 7, "seed": 1378275538}, {"t": "user", "action": "edit", "dev": 2, "seed": 52138313}, {"t": "user", "action": "rename", "dev": 1, "seed": 3863764333}, {"t": "advance", "ms": 10}, {"t": "deliver", "n": 10, "seed": 2353798874}, {"t": "user", "action": "create", "dev": 2, "seed": 3052920114}, {"t": "deliver", "n": 5, "seed": 597816276}, {"t": "user", "action": "restore", "dev": 0, "seed": 468824010}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 8, "seed": 3683526674}]},
  },
  {
    name: 'a deletion read before its text, a crash, the file deleted while the plugin was down and back through other devices: the body made again holds nothing past its cursor, so it is pulled from the start (seed 30219, again)',
    schedule: {"config": {"seed": 30219, "devices": 3, "nodeDevices": [0], "net": {"maxDelayMs": 0, "pDrop": 0.03, "pDuplicate": 0.05, "pReorder": 0}, "maxRounds": 40, "encrypted": true}, "steps": [{"t": "deliver", "n": 12, "seed": 1647711789}, {"t": "user", "action": "create", "dev": 1, "seed": 4168261665}, {"t": "deliver", "n": 1, "seed": 3562458348}, {"t": "user", "action": "move", "dev": 1, "seed": 1658636214}, {"t": "user", "action": "create", "dev": 0, "seed": 3971594666}, {"t": "user", "action": "edit", "dev": 1, "seed": 1663366429}, {"t": "user", "action": "create", "dev": 1, "seed": 3485143799}, {"t": "deliver", "n": 1, "seed": 3555240652}, {"t": "deliver", "n": 10, "seed": 2782727366}, {"t": "deliver", "n": 5, "seed": 2836359216}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 3345064920}, {"t": "deliver", "n": 4, "seed": 2258751307}, {"t": "deliver", "n": 2, "seed": 620469445}, {"t": "deliver", "n": 8, "seed": 4234396460}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 1614499475}, {"t": "deliver", "n": 8, "seed": 1980378771}, {"t": "advance", "ms": 100}, {"t": "deliver", "n": 9, "seed": 895598254}, {"t": "user", "action": "edit", "dev": 0, "seed": 2658388544}, {"t": "user", "action": "create", "dev": 0, "seed": 2138203873}, {"t": "deliver", "n": 4, "seed": 3705539119}, {"t": "deliver", "n": 11, "seed": 1662180478}, {"t": "compact-race", "devs": [1, 2], "seed": 2778399912}, {"t": "user", "action": "frontmatter", "dev": 0, "seed": 843359466}, {"t": "deliver", "n": 10, "seed": 3797290164}, {"t": "user", "action": "edit", "dev": 2, "seed": 699294146}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 2374928313}, {"t": "user", "action": "create", "dev": 1, "seed": 1006831833}, {"t": "deliver", "n": 10, "seed": 3860806638}, {"t": "user", "action": "edit", "dev": 0, "seed": 3030249567}, {"t": "deliver", "n": 11, "seed": 3075147969}, {"t": "deliver", "n": 7, "seed": 2163791943}, {"t": "deliver", "n": 5, "seed": 4223891336}, {"t": "user", "action": "delete", "dev": 1, "seed": 3646699454}, {"t": "deliver", "n": 6, "seed": 4244012770}, {"t": "concurrent", "devs": [0, 1, 2], "seed": 2278531194}, {"t": "user", "action": "edit", "dev": 1, "seed": 3478481352}, {"t": "deliver", "n": 11, "seed": 674970034}, {"t": "crash-plugin", "dev": 0, "downMs": 500}, {"t": "user", "action": "delete", "dev": 0, "seed": 388286422}]},
  },
];

describe('encrypted sync regressions (shrunk schedules)', () => {
  for (const c of REGRESSIONS) {
    it(c.name, async () => {
      const result = await runSchedule(c.schedule, { wasm: PLUGIN_WASM });
      expect(result.failures.map((f) => f.kind)).toEqual([]);
    }, 60_000);
  }
});
