/**
 * The `diaryx-sync` command as a person runs it: a child process of
 * `bin/diaryx-sync.mjs`, its stdout and stderr collected, for runs that end
 * by themselves (`runCli`) and for `sync` left running (`startCli`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT, waitFor } from './helpers';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  proc: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<CliResult>;
  /** Waits until stderr (or stdout) matches. */
  waitOutput(re: RegExp, timeout?: number): Promise<void>;
  /** SIGTERM (a person's Ctrl-C) and wait for the exit. */
  stop(): Promise<CliResult>;
}

const BIN = path.join(ROOT, 'bin', 'diaryx-sync.mjs');

/** Starts `diaryx-sync ...args`. */
export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliProcess {
  return startProcess(process.execPath, [BIN, ...args], opts);
}

/** Starts a shell command on a pseudo-terminal (`script`), so that it sees a terminal. */
export function startOnTerminal(command: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliProcess {
  return startProcess('script', ['-qfec', command, '/dev/null'], opts);
}

function startProcess(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }): CliProcess {
  const proc = spawn(file, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<CliResult>((resolve) => proc.once('exit', (code) => resolve({ code, stdout, stderr })));
  return {
    proc,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    async waitOutput(re: RegExp, timeout = 30_000) {
      try {
        await waitFor(() => re.test(stderr) || re.test(stdout) || proc.exitCode !== null, `output ${re}`, timeout);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      }
      if (!re.test(stderr) && !re.test(stdout)) throw new Error(`exited (${proc.exitCode}) before ${re}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs `diaryx-sync ...args` to its end. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return startCli(args, opts).exited;
}
