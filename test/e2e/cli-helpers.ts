/**
 * The `diaryx-sync` command as a person runs it: a child process of
 * `bin/diaryx-sync.mjs`, its stdout and stderr collected, for runs that end
 * by themselves (`runCli`) and for `sync` left running (`startCli`); and
 * `useCliServer`, a real server process for a test file's `sync` runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ROOT, cleanupTemp, createToken, startServerProcess, tempDir, waitFor, type ServerProcess } from './helpers';

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

/** A server process for one test file, with a user's token, and `diaryx-sync sync` runs against it. */
export interface CliServer {
  readonly url: string;
  readonly port: number;
  /** `alice`'s token. */
  readonly token: string;
  /** The token of another user named in `useCliServer`'s options. */
  tokenOf(user: string): string;
  /** Stops `p` (SIGTERM) after the current test. */
  track(p: CliProcess): CliProcess;
  /** `sync --dir dir --server … --token … --workspace-id id ...extra`, left running (stopped after each test). */
  sync(dir: string, workspaceId: string, extra?: string[]): CliProcess;
  /** The same with `--once`, to its end. */
  syncOnce(dir: string, workspaceId: string, extra?: string[]): Promise<CliResult>;
}

/**
 * Starts a real server process before the file's tests (user `alice`, and
 * `otherUsers`) and stops it after them; `sync` processes still running after
 * a test are stopped (SIGTERM) before the next one.
 */
export function useCliServer(options: { otherUsers?: string[] } = {}): CliServer {
  let server: ServerProcess | undefined;
  let token = '';
  const tokens = new Map<string, string>();
  const running: CliProcess[] = [];
  beforeAll(async () => {
    const dataDir = tempDir('server');
    token = await createToken(dataDir, 'alice');
    for (const user of options.otherUsers ?? []) tokens.set(user, await createToken(dataDir, user));
    server = await startServerProcess(dataDir);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });
  afterAll(async () => {
    await server?.stop();
    cleanupTemp();
  });
  const args = (dir: string, workspaceId: string, extra: string[]) => ['sync', '--dir', dir, '--server', server!.url, '--token', token, '--workspace-id', workspaceId, ...extra];
  return {
    get url() {
      return server!.url;
    },
    get port() {
      return server!.port;
    },
    get token() {
      return token;
    },
    tokenOf(user) {
      const t = tokens.get(user);
      if (t === undefined) throw new Error(`no token for ${user}: name the user in useCliServer({ otherUsers })`);
      return t;
    },
    track(p) {
      running.push(p);
      return p;
    },
    sync(dir, workspaceId, extra = []) {
      const p = startCli(args(dir, workspaceId, extra));
      running.push(p);
      return p;
    },
    syncOnce(dir, workspaceId, extra = []) {
      return runCli(args(dir, workspaceId, [...extra, '--once']));
    },
  };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
