/**
 * The plugin subcommands of the CLI, run in-process against the harness probe
 * plugin (the sync plugin's own commands are exercised where it is built):
 * manifest, call, command, event, files, body, history; output, exit status
 * and user-facing errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../host-harness/src/cli/index';
import { buildHarnessProbe } from './helpers/fixture';

let wasm: string;
let root: string;

beforeAll(() => {
  wasm = buildHarnessProbe();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'diaryx-cli-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  try {
    const code = await main(['node', 'diaryx-sync', ...args]);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

function folder(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

describe('manifest', () => {
  it('prints the manifest JSON', async () => {
    const r = await run('manifest', '--wasm', wasm);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ id: 'harness.probe', protocol_version: 1 });
    const compact = await run('manifest', '--wasm', wasm, '--compact');
    expect(compact.out.trim().split('\n').length).toBe(1);
  });

  it('fails clearly for a missing module', async () => {
    const r = await run('manifest', '--wasm', path.join(root, 'missing.wasm'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: plugin module not found: ${path.join(root, 'missing.wasm')} (check --wasm)\n`);
    expect(r.out).toBe('');
  });
});

describe('command', () => {
  it('prints the response and exits 0 on success', async () => {
    const dir = folder('cmd-ok');
    const r = await run('command', 'echo', '{"x":[1,2]}', '--dir', dir, '--wasm', wasm);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ success: true, data: { x: [1, 2] }, error: null });
  });

  it('inits the plugin with the folder as workspace_root', async () => {
    const dir = folder('cmd-init');
    const r = await run('command', 'state', '--dir', dir, '--wasm', wasm);
    expect(JSON.parse(r.out).data.initParams).toEqual({ workspace_root: dir });
  });

  it('prints the response and exits non-zero when success is false', async () => {
    const dir = folder('cmd-fail');
    const r = await run('command', 'fail', '--dir', dir, '--wasm', wasm);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.out)).toEqual({ success: false, data: null, error: 'it failed' });
    expect(r.err).toBe('error: command fail failed: it failed\n');
  });

  it('rejects bad JSON, missing folders and a missing --dir', async () => {
    const dir = folder('cmd-bad');
    expect((await run('command', 'echo', '{nope', '--dir', dir, '--wasm', wasm)).err).toMatch(/^error: PARAMS_JSON is not valid JSON/);
    const missing = await run('command', 'echo', '--dir', path.join(root, 'nope'), '--wasm', wasm);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`error: not a folder: ${path.join(root, 'nope')}\n`);
    const noDir = await run('command', 'echo', '--wasm', wasm);
    expect(noDir.code).not.toBe(0);
    expect(noDir.err).toMatch(/--dir/);
  });
});

describe('call', () => {
  it('prints text output, hex for bytes, and decoded envelopes', async () => {
    const dir = folder('call');
    expect((await run('call', 'get_config', '--dir', dir, '--wasm', wasm)).out).toBe('{}\n');
    expect((await run('call', 'echo_bytes', 'AAEC', '--input-base64', '--dir', dir, '--wasm', wasm)).out).toBe('000102\n');
    expect((await run('call', 'echo_bytes', 'abc', '--hex', '--dir', dir, '--wasm', wasm)).out).toBe('616263\n');
    const env = await run('call', 'handle_text_message', 'hi', '--decode', '--dir', dir, '--wasm', wasm);
    expect(JSON.parse(env.out)).toEqual([{ type: 'SendText', text: 'echo:hi' }]);
  });

  it('reads input from a file', async () => {
    const dir = folder('call-file');
    const input = path.join(root, 'input.bin');
    fs.writeFileSync(input, Buffer.from([0xff, 0xfe]));
    expect((await run('call', 'echo_bytes', '--input-file', input, '--dir', dir, '--wasm', wasm)).out).toBe('fffe\n');
  });

  it('persists plugin storage in the folder and shuts down unless told not to', async () => {
    const dir = folder('call-storage');
    const storage = path.join(dir, '.diaryx', 'plugin-storage', 'diaryx.sync');
    await run('call', 'get_config', '--dir', dir, '--wasm', wasm, '--no-shutdown');
    expect(fs.existsSync(path.join(storage, 'shutdown'))).toBe(false);
    await run('call', 'get_config', '--dir', dir, '--wasm', wasm);
    expect(fs.readFileSync(path.join(storage, 'shutdown'), 'utf8')).toBe('yes');
  });

  it('fails clearly for unknown exports, plugin errors and --decode misuse', async () => {
    const dir = folder('call-err');
    const unknown = await run('call', 'nope', '--dir', dir, '--wasm', wasm);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('error: the plugin has no export named nope\n');
    const trap = await run('call', 'handle_command', '{"command":"throw","params":null}', '--dir', dir, '--wasm', wasm);
    expect(trap.code).toBe(2);
    expect(trap.err).toMatch(/^error: handle_command failed: .*command threw/);
    expect((await run('call', 'get_config', '--decode', '--dir', dir, '--wasm', wasm)).err).toBe(
      'error: get_config does not return an action envelope\n',
    );
  });
});

describe('event', () => {
  it('sends on_event with the payload', async () => {
    const dir = folder('event');
    const r = await run('event', 'write', '{"path":"n/a.md","content":"body"}', '--dir', dir, '--wasm', wasm);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'n', 'a.md'), 'utf8')).toBe('body');
    expect((await run('event', 'file_saved', '[1]', '--dir', dir, '--wasm', wasm)).err).toBe('error: PAYLOAD_JSON must be a JSON object\n');
  });
});

describe('files, body, history', () => {
  it('report the plugin command error when the plugin lacks the command', async () => {
    const dir = folder('lacking');
    fs.mkdirSync(path.join(dir, '.diaryx'));
    for (const [args, name] of [
      [['files'], 'ListCrdtFiles'],
      [['files', '--deleted'], 'ListCrdtFiles'],
      [['body', 'a.md'], 'GetBodyContent'],
      [['history'], 'GetHistory'],
      [['history', '--file', 'a.md'], 'GetFileHistory'],
    ] as const) {
      const r = await run(...args, '--dir', dir, '--wasm', wasm);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(`error: ${name} failed: Unknown command: ${name}\n`);
    }
    expect((await run('history', '--limit', 'x', '--dir', dir, '--wasm', wasm)).err).toBe('error: --limit must be a non-negative integer\n');
  });

  it('refuse a folder that was never synced, without creating .diaryx in it', async () => {
    const dir = folder('never-synced');
    for (const args of [['files'], ['body', 'a.md'], ['history']]) {
      const r = await run(...args, '--dir', dir, '--wasm', wasm);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(`error: ${dir} was never synced (it has no .diaryx folder), so there is nothing to show; run \`diaryx-sync sync --dir ${dir}\` first\n`);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('the program', () => {
  it('prints its version and examples first in --help', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    const v = await run('--version');
    expect(v.code).toBe(0);
    expect(v.out).toBe(`${pkg.version}\n`);
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out.startsWith('Examples:\n')).toBe(true);
    const sync = await run('sync', '--help');
    expect(sync.out.startsWith('Examples:\n')).toBe(true);
    expect(sync.out).toMatch(/--token-file <file>/);
    expect(sync.out).toMatch(/visible to other users in `ps`/);
  });

  it('uses one default data folder for serve, token create and the embedded server', async () => {
    const { DEFAULT_LOCAL_DATA_DIR } = await import('../../host-harness/src/local-server');
    const oneLine = (text: string) => text.replace(/\s+/g, ' ');
    expect(oneLine((await run('token', 'create', '--help')).out)).toContain(`default ${DEFAULT_LOCAL_DATA_DIR},`);
    expect(oneLine((await run('serve', '--help')).out)).toContain(`default ${DEFAULT_LOCAL_DATA_DIR},`);
  });

  it('says so before creating a --data-dir that does not exist, and refuses a file', async () => {
    const fresh = path.join(root, 'new-data');
    const r = await run('token', 'create', '--user', 'x', '--data-dir', fresh);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`creating the server data folder ${fresh} (new and empty)\n`);
    expect(fs.statSync(fresh).isDirectory()).toBe(true);
    const file = path.join(root, 'data-file');
    fs.writeFileSync(file, 'x');
    for (const args of [['serve', '--port', '0'], ['token', 'create', '--user', 'x']]) {
      const bad = await run(...args, '--data-dir', file);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.err).toBe(`error: --data-dir ${file} is a file, not a folder\n`);
    }
  });
});
