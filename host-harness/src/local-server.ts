/**
 * The embedded local sync server used when `diaryx-sync sync` gets no
 * `--server`: a `diaryx-sync serve` child process on 127.0.0.1 (default port
 * 3030, data in ~/.diaryx-sync/server), with one local user whose token is kept
 * in the data folder. When a server already answers on that port (a first
 * device is running), it is reused, so a second device is simply the same
 * command with another folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createToken } from '../../server/src/index';
import { ROOT } from './workspace-host';

export const LOCAL_USER = 'local';
export const DEFAULT_LOCAL_PORT = 3030;
export const DEFAULT_LOCAL_DATA_DIR = path.join(os.homedir(), '.diaryx-sync', 'server');

export interface LocalServer {
  url: string;
  token: string;
  /** True when this process started the server (and stops it in `stop`). */
  started: boolean;
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).trim() === 'OK';
  } catch {
    return false;
  }
}

/** The local user's token, created once per data folder. */
export function localToken(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `${LOCAL_USER}.token`);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = createToken(dataDir, LOCAL_USER);
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        child.stdout?.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => reject(new Error(`the local sync server exited (${code}) before listening: ${err.trim()}`)));
  });
}

/** Reuses a local server on the port or starts one; returns its URL and the local token. */
export async function ensureLocalServer(options: { port?: number; dataDir?: string } = {}): Promise<LocalServer> {
  const port = options.port ?? DEFAULT_LOCAL_PORT;
  const dataDir = path.resolve(options.dataDir ?? DEFAULT_LOCAL_DATA_DIR);
  const token = localToken(dataDir);
  const existing = `http://127.0.0.1:${port}`;
  if (port !== 0 && (await healthy(existing))) return { url: existing, token, started: false, stop: async () => {} };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'server', 'src', 'main.ts'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--allow-users', LOCAL_USER],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const url = await waitForListening(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    token,
    started: true,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
