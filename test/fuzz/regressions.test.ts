/**
 * Shrunk schedules of the bugs the convergence simulation found, replayed
 * through the same simulation (fuzz/): each failed before its fix and must
 * converge now. Replay one by hand with `npm run fuzz -- --replay <file>` after
 * writing its schedule to a file.
 */
import '../../fuzz/seeded-crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHostFunctions } from '../../host-harness/src/host-functions';
import { PluginHost } from '../../host-harness/src/plugin-host';
import type { Schedule } from '../../fuzz/schedule';
import { runSchedule } from '../../fuzz/simulation';
import { PLUGIN_WASM } from '../helpers/paths';

const CASES: { name: string; schedule: Schedule }[] = [
  {
    name: "front matter a device already had is not merged back into remote metadata: a field removed elsewhere, or the losing side of two creates at one path, leaves the file (seed 1, --faults 0)",
    schedule: {
      config: { seed: 1, devices: 3, nodeDevices: [0], net: { maxDelayMs: 200, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 0, seed: 2990575017 },
        { t: 'user', action: 'delete', dev: 0, seed: 2231827888 },
        { t: 'user', action: 'restore', dev: 1, seed: 1273339527 },
        { t: 'user', action: 'restore', dev: 2, seed: 3643894752 },
      ],
    },
  },
  {
    name: "a file that comes back (restored elsewhere) is written and its body fetched even when its metadata equals what this device last had (seed 2, --faults 0)",
    schedule: {
      config: { seed: 2, devices: 3, nodeDevices: [2], net: { maxDelayMs: 0, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 0, seed: 2626927469 },
        { t: 'deliver', n: 1, seed: 3113484259 },
        { t: 'deliver', n: 9, seed: 1186986669 },
        { t: 'advance', ms: 10 },
        { t: 'deliver', n: 4, seed: 2119122701 },
        { t: 'user', action: 'delete', dev: 2, seed: 4226917791 },
        { t: 'user', action: 'edit', dev: 0, seed: 4256852013 },
      ],
    },
  },
  {
    name: "a body emptied on one device is emptied on disk everywhere, not left with the old text (seed 13, --faults 0)",
    schedule: {
      config: { seed: 13, devices: 3, nodeDevices: [1], net: { maxDelayMs: 50, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'advance', ms: 10 },
        { t: 'user', action: 'create', dev: 1, seed: 1740911098 },
        { t: 'deliver', n: 1, seed: 1449099453 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 7, seed: 1063316859 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 6, seed: 1037320212 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 11, seed: 1601702751 },
        { t: 'user', action: 'delete', dev: 2, seed: 402051648 },
        { t: 'user', action: 'create', dev: 2, seed: 2381142697 },
        { t: 'user', action: 'restore', dev: 2, seed: 885369685 },
        { t: 'user', action: 'frontmatter', dev: 0, seed: 2622278539 },
        { t: 'user', action: 'delete', dev: 2, seed: 1118725224 },
      ],
    },
  },
  {
    name: "text of a new file waiting for the server's answer survives a remote delete of its path (seed 13, --faults 0)",
    schedule: {
      config: { seed: 13, devices: 3, nodeDevices: [1], net: { maxDelayMs: 50, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 1, seed: 1740911098 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 7, seed: 1063316859 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 6, seed: 1037320212 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 12, seed: 3331778195 },
        { t: 'advance', ms: 2000 },
        { t: 'deliver', n: 11, seed: 1601702751 },
        { t: 'user', action: 'delete', dev: 2, seed: 402051648 },
        { t: 'user', action: 'create', dev: 1, seed: 859080270 },
        { t: 'user', action: 'move', dev: 1, seed: 3181850113 },
        { t: 'user', action: 'restore', dev: 1, seed: 3672056819 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 9, seed: 2897614383 },
        { t: 'user', action: 'restore', dev: 2, seed: 885369685 },
        { t: 'user', action: 'frontmatter', dev: 0, seed: 2622278539 },
      ],
    },
  },
  {
    name: "a device entry noted while handling a message goes out with that message's effects (seed 12, --faults 0)",
    schedule: {
      config: { seed: 12, devices: 3, nodeDevices: [1], net: { maxDelayMs: 0, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'deliver', n: 7, seed: 2063166426 },
        { t: 'deliver', n: 11, seed: 3870925494 },
        { t: 'user', action: 'create', dev: 1, seed: 983740085 },
        { t: 'deliver', n: 6, seed: 1909134413 },
        { t: 'deliver', n: 7, seed: 1237234233 },
        { t: 'user', action: 'rename', dev: 0, seed: 2136059663 },
        { t: 'user', action: 'restore', dev: 0, seed: 3688855489 },
      ],
    },
  },
  {
    name: "a body doc moved to a new path does not carry structs waiting for the old doc's updates (seed 2, --faults 0)",
    schedule: {
      config: { seed: 2, devices: 3, nodeDevices: [2], net: { maxDelayMs: 0, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 1, seed: 4142669943 },
        { t: 'deliver', n: 9, seed: 299603515 },
        { t: 'deliver', n: 10, seed: 3417941513 },
        { t: 'deliver', n: 8, seed: 3553618033 },
        { t: 'deliver', n: 1, seed: 3785258770 },
        { t: 'user', action: 'focus', dev: 0, seed: 812863438 },
        { t: 'user', action: 'create', dev: 2, seed: 3965137361 },
        { t: 'user', action: 'edit', dev: 1, seed: 3828914300 },
        { t: 'user', action: 'rename', dev: 2, seed: 2216030827 },
        { t: 'user', action: 'delete', dev: 0, seed: 2917371928 },
        { t: 'user', action: 'restore', dev: 1, seed: 3299041664 },
        { t: 'user', action: 'create', dev: 2, seed: 2002126069 },
        { t: 'deliver', n: 2, seed: 3941768919 },
        { t: 'deliver', n: 6, seed: 2380710752 },
        { t: 'deliver', n: 3, seed: 826630524 },
        { t: 'deliver', n: 12, seed: 3880551993 },
        { t: 'user', action: 'edit', dev: 1, seed: 1862790792 },
        { t: 'user', action: 'focus', dev: 2, seed: 421223143 },
        { t: 'deliver', n: 6, seed: 3025420130 },
        { t: 'deliver', n: 4, seed: 520522447 },
        { t: 'deliver', n: 10, seed: 501059888 },
        { t: 'user', action: 'create', dev: 0, seed: 2289789363 },
        { t: 'deliver', n: 12, seed: 953230990 },
        { t: 'deliver', n: 8, seed: 398608884 },
        { t: 'deliver', n: 8, seed: 3362370447 },
        { t: 'user', action: 'move', dev: 0, seed: 2951576386 },
      ],
    },
  },
  {
    name: "local changes go out only once stored: a crash after storage refused them leaves no gap on the other devices (seed 101)",
    schedule: {
      config: { seed: 101, devices: 3, nodeDevices: [1], net: { maxDelayMs: 50, pDrop: 0.03, pDuplicate: 0, pReorder: 0.1 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 1, seed: 2754082135 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 9, seed: 2891979498 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 6, seed: 1337050041 },
        { t: 'advance', ms: 6000 },
        { t: 'storage-fail', dev: 2, ms: 2000 },
        { t: 'deliver', n: 6, seed: 415575003 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 9, seed: 3004279356 },
        { t: 'drop-link', dev: 1, handshake: false },
        { t: 'user', action: 'frontmatter', dev: 2, seed: 2015383994 },
        { t: 'user', action: 'edit', dev: 2, seed: 3956911904 },
        { t: 'user', action: 'create', dev: 0, seed: 1926762767 },
        { t: 'user', action: 'rename', dev: 2, seed: 2151162307 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 11, seed: 3510946966 },
        { t: 'crash-plugin', dev: 2, downMs: 0 },
      ],
    },
  },
  {
    name: "an entry kept against a remote delete gets its new `updated` time in the file too (seed 20, --faults 0)",
    schedule: {
      config: { seed: 20, devices: 3, nodeDevices: [2], net: { maxDelayMs: 200, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'advance', ms: 500 },
        { t: 'user', action: 'create', dev: 0, seed: 759926190 },
        { t: 'user', action: 'create', dev: 1, seed: 1413340482 },
        { t: 'user', action: 'create', dev: 0, seed: 511038539 },
        { t: 'deliver', n: 3, seed: 1220939932 },
        { t: 'user', action: 'delete', dev: 0, seed: 2434366854 },
        { t: 'advance', ms: 6000 },
        { t: 'user', action: 'delete', dev: 1, seed: 666229666 },
        { t: 'deliver', n: 12, seed: 2868489026 },
        { t: 'user', action: 'rename', dev: 0, seed: 4259739025 },
        { t: 'advance', ms: 2000 },
        { t: 'user', action: 'frontmatter', dev: 0, seed: 3656999552 },
        { t: 'deliver', n: 7, seed: 569930239 },
        { t: 'deliver', n: 10, seed: 3282535655 },
        { t: 'user', action: 'create', dev: 0, seed: 961283234 },
        { t: 'advance', ms: 6000 },
        { t: 'user', action: 'create', dev: 1, seed: 302673864 },
        { t: 'deliver', n: 2, seed: 947352745 },
        { t: 'deliver', n: 4, seed: 1563323683 },
        { t: 'user', action: 'restore', dev: 0, seed: 2596263706 },
        { t: 'deliver', n: 6, seed: 1457841877 },
        { t: 'user', action: 'create', dev: 1, seed: 829347368 },
        { t: 'deliver', n: 6, seed: 1212799343 },
        { t: 'deliver', n: 4, seed: 1784761608 },
        { t: 'advance', ms: 6000 },
        { t: 'user', action: 'create', dev: 1, seed: 445837776 },
        { t: 'deliver', n: 3, seed: 2263550428 },
        { t: 'deliver', n: 10, seed: 2048937681 },
        { t: 'deliver', n: 3, seed: 383164876 },
        { t: 'deliver', n: 2, seed: 1795633336 },
        { t: 'user', action: 'restore', dev: 1, seed: 2476674558 },
        { t: 'deliver', n: 1, seed: 1384696431 },
        { t: 'user', action: 'delete', dev: 1, seed: 1402556416 },
        { t: 'advance', ms: 100 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 12, seed: 2484033783 },
        { t: 'deliver', n: 3, seed: 155285911 },
        { t: 'deliver', n: 5, seed: 3348921181 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 9, seed: 3226513799 },
        { t: 'deliver', n: 3, seed: 494241409 },
        { t: 'deliver', n: 5, seed: 1053353652 },
      ],
    },
  },
  {
    name: "a file renamed onto a path another device deleted meanwhile (an earlier file there) is kept, not taken by that delete (seed 1117)",
    schedule: {
      config: { seed: 1117, devices: 3, nodeDevices: [0], net: { maxDelayMs: 50, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 0, seed: 1309169301 },
        { t: 'user', action: 'create', dev: 1, seed: 655954478 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 4, seed: 4134357928 },
        { t: 'advance', ms: 500 },
        { t: 'user', action: 'delete', dev: 0, seed: 278188048 },
        { t: 'deliver', n: 5, seed: 2771496422 },
        { t: 'user', action: 'edit', dev: 1, seed: 1922582573 },
        { t: 'user', action: 'rename', dev: 1, seed: 3110729744 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 12, seed: 9203948 },
      ],
    },
  },
  {
    name: "a conflict copy does not overwrite an earlier copy of the same file that the user edited while the plugin was down (seed 1133)",
    schedule: {
      config: { seed: 1133, devices: 3, nodeDevices: [0], net: { maxDelayMs: 200, pDrop: 0, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 0, seed: 4169545375 },
        { t: 'advance', ms: 2000 },
        { t: 'user', action: 'rename', dev: 0, seed: 3589573313 },
        { t: 'deliver', n: 10, seed: 3926739612 },
        { t: 'storage-fail', dev: 1, ms: 30000 },
        { t: 'advance', ms: 100 },
        { t: 'user', action: 'restore', dev: 1, seed: 1739605144 },
        { t: 'crash-plugin', dev: 1, downMs: 500 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 12, seed: 3716549297 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 7, seed: 3151079924 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 7, seed: 866374854 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 11, seed: 873199442 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 12, seed: 3664970990 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 12, seed: 3900806710 },
        { t: 'advance', ms: 10 },
        { t: 'user', action: 'edit', dev: 2, seed: 1601278557 },
        { t: 'deliver', n: 11, seed: 2764147360 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 7, seed: 2187830956 },
        { t: 'crash-plugin', dev: 1, downMs: 5000 },
        { t: 'user', action: 'edit', dev: 1, seed: 2058747648 },
      ],
    },
  },
  {
    name: "remote text reaches the file while its workspace entry waits for missing updates, so a local save does not take it out again (seed 2092)",
    schedule: {
      config: { seed: 2092, devices: 3, nodeDevices: [1], net: { maxDelayMs: 200, pDrop: 0.01, pDuplicate: 0, pReorder: 0 }, maxRounds: 40 },
      steps: [
        { t: 'user', action: 'create', dev: 1, seed: 2947152003 },
        { t: 'user', action: 'create', dev: 1, seed: 2406752813 },
        { t: 'advance', ms: 2000 },
        { t: 'crash-plugin', dev: 1, downMs: 500 },
        { t: 'deliver', n: 4, seed: 2255406091 },
        { t: 'user', action: 'create', dev: 0, seed: 2081843746 },
        { t: 'storage-fail', dev: 0, ms: 30000 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 9, seed: 1557082693 },
        { t: 'advance', ms: 2000 },
        { t: 'user', action: 'edit', dev: 0, seed: 514458555 },
        { t: 'deliver', n: 7, seed: 109058705 },
        { t: 'advance', ms: 500 },
        { t: 'deliver', n: 1, seed: 1895761942 },
        { t: 'deliver', n: 6, seed: 2755863561 },
        { t: 'deliver', n: 1, seed: 4054971002 },
        { t: 'user', action: 'edit', dev: 1, seed: 1893866535 },
        { t: 'concurrent', devs: [0, 1], seed: 2136105538 },
        { t: 'user', action: 'focus', dev: 0, seed: 2089604657 },
        { t: 'deliver', n: 8, seed: 3019817917 },
        { t: 'user', action: 'edit', dev: 2, seed: 2840697321 },
        { t: 'advance', ms: 500 },
        { t: 'user', action: 'create', dev: 2, seed: 862458998 },
        { t: 'concurrent', devs: [1, 2], seed: 2930377581 },
        { t: 'deliver', n: 4, seed: 3576164648 },
        { t: 'deliver', n: 8, seed: 1522633057 },
        { t: 'concurrent', devs: [0, 1, 2], seed: 364869028 },
        { t: 'advance', ms: 100 },
        { t: 'deliver', n: 4, seed: 857137447 },
        { t: 'deliver', n: 7, seed: 239299859 },
        { t: 'advance', ms: 500 },
        { t: 'user', action: 'frontmatter', dev: 1, seed: 3544332754 },
        { t: 'deliver', n: 6, seed: 1673555245 },
        { t: 'deliver', n: 12, seed: 607585443 },
        { t: 'deliver', n: 12, seed: 1978920532 },
        { t: 'advance', ms: 6000 },
        { t: 'deliver', n: 10, seed: 4154592097 },
        { t: 'concurrent', devs: [0, 1, 2], seed: 3907433330 },
      ],
    },
  },
];

describe('bugs found by the convergence simulation', () => {
  for (const { name, schedule } of CASES) {
    it(name, async () => {
      const result = await runSchedule(schedule, { wasm: PLUGIN_WASM });
      expect(result.failures.map((f) => `[${f.kind}] ${f.message}`).join('\n')).toBe('');
    }, 60_000);
  }
});

describe('plugin start-up while storage refuses writes', () => {
  it('init succeeds and reports the refused config write as an error event (seed 102)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-fuzz-init-'));
    try {
      const events: string[] = [];
      const base = createHostFunctions({ workspaceDir: dir, clock: () => Date.UTC(2026, 0, 5), onEvent: (_e, raw) => events.push(raw) });
      const functions = { ...base, host_storage_set: () => 'host_storage_set: No space left on device' };
      const host = await PluginHost.load({ wasm: PLUGIN_WASM, functions });
      try {
        await expect(host.init({ workspace_root: dir, workspace_id: 'w1', server_url: 'http://127.0.0.1:9', auth_token: 't' })).resolves.toBe('');
        expect(events.some((e) => e.includes('saving the sync config failed'))).toBe(true);
        expect((await host.command('ListCrdtFiles', {})).success).toBe(true);
      } finally {
        await host.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
