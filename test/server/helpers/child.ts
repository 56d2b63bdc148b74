/** Runs the sync server as a child process (`server/src/main.ts serve`) for crash tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code or signal once the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node --import tsx server/src/main.ts <args>` and collects its output. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; stdout: string[]; stderr: string[]; exited: ChildServer['exited'] } {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout, stderr, exited };
}

/** Starts `serve --port 0` on a data dir and waits for its `listening on` line. */
export async function startChildServer(dataDir: string, extraArgs: string[] = []): Promise<ChildServer> {
  const child = spawnCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...extraArgs]);
  const line = await waitFor(
    () => {
      if (child.proc.exitCode !== null) throw new Error(`server exited: ${child.stderr.join('')}`);
      return /listening on (http:\/\/\S+)/.exec(child.stdout.join(''));
    },
    'child server to listen',
    30_000,
  );
  const url = line[1];
  return { ...child, url, wsUrl: url.replace(/^http/, 'ws') + '/sync2' };
}
