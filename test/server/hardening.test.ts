/**
 * What an attacker on the network can do to a running server: request lines
 * that used to throw outside any handler, handshakes that used to leak
 * connection slots, token-less floods, revoked tokens. The process must keep
 * serving everybody else.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeFrame } from '../../common/src/wire/frame';
import { TestClient } from './helpers/client';
import { spawnCli, startChildServer, type ChildServer } from './helpers/child';
import { startTestServer, type TestServer } from './helpers/server';
import { waitFor } from './helpers/wait';
import { useCleanup } from './helpers/cleanup';

const cleanup = useCleanup();

const dataDir = () => cleanup.tempDataDir();

async function child(extra: string[] = []): Promise<{ server: ChildServer; dir: string }> {
  const dir = dataDir();
  const server = await startChildServer(dir, extra);
  cleanup.push(async () => {
    if (server.proc.exitCode === null) {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
  });
  return { server, dir };
}

async function inProcess(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const ts = await startTestServer({ dataDir: ':memory:', ...options });
  cleanup.push(() => ts.stop());
  return ts;
}

async function connect(url: string, token: string | null): Promise<TestClient> {
  const c = await TestClient.connect(url, token);
  cleanup.push(() => c.close());
  return c;
}

async function cliToken(dir: string, user: string): Promise<string> {
  const run = spawnCli(['token', 'create', '--user', user, '--data-dir', dir]);
  expect((await run.exited).code).toBe(0);
  return run.stdout.join('').trim().split('\n').pop()!;
}

/** Writes raw bytes to the server and collects what comes back until the socket closes (or `ms` pass). */
function rawExchange(port: number, bytes: string, ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes);
  });
}

const UPGRADE_HEADERS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** The server's own SyncStep1 answer proves a doc was joined. */
async function joined(c: TestClient, docId: string): Promise<void> {
  c.sendStep1(docId);
  await waitFor(() => c.framesFor(docId).some((f) => f.subtype === 1), `joined ${docId}`);
}

describe('request targets that do not parse', () => {
  it('answers or drops each raw request, and the process keeps serving', async () => {
    const { server, dir } = await child();
    const port = Number(new URL(server.url).port);
    const lines = ['GET //[ HTTP/1.1', 'GET http://[ HTTP/1.1', 'GET http://:99999/ HTTP/1.1', 'OPTIONS //[ HTTP/1.1'];
    for (const line of lines) {
      const plain = await rawExchange(port, `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
      // Either an HTTP error answer or a dropped connection, never a crash.
      if (plain !== '') expect(plain, line).toMatch(/^HTTP\/1\.1 (400|404|204) /);
      for (const version of ['13', '8']) {
        const upgrade = await rawExchange(port, `${line}\r\nHost: x\r\n${UPGRADE_HEADERS}Sec-WebSocket-Version: ${version}\r\n\r\n`);
        expect(upgrade, `${line} (upgrade, version ${version})`).not.toMatch(/^HTTP\/1\.1 101/);
      }
      expect(server.proc.exitCode, `after ${line}`).toBeNull();
      expect(await (await fetch(`${server.url}/health`)).text(), `after ${line}`).toBe('OK');
    }
    // A reset in the middle of an upgrade is no crash either.
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(`GET /sync2 HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}Sec-WebSocket-Version: 13\r\n\r\n`);
    s.resetAndDestroy();
    // And the server still syncs.
    const token = await cliToken(dir, 'alice');
    const c = await connect(server.wsUrl, token);
    await joined(c, 'body:ws/a.md');
    expect(server.proc.exitCode).toBeNull();
    expect(server.stderr.join('')).not.toMatch(/uncaught exception|unhandled rejection/);
  });
});

describe('the last-resort handler', () => {
  it('logs an exception that escaped every handler and keeps the process running', async () => {
    const dir = dataDir();
    const script = path.join(dir, 'guard.mts');
    const src = path.resolve(import.meta.dirname, '../../server/src');
    fs.writeFileSync(
      script,
      [
        `import { installCrashGuard } from ${JSON.stringify(pathToFileURL(path.join(src, 'http-server.ts')).href)};`,
        `import { createLogger } from ${JSON.stringify(pathToFileURL(path.join(src, 'log.ts')).href)};`,
        `installCrashGuard(createLogger('error'));`,
        `setTimeout(() => { throw new Error('boom'); }, 10);`,
        `setTimeout(() => { void Promise.reject(new Error('nope')); }, 20);`,
        `setTimeout(() => { process.stdout.write('still here\\n'); process.exit(0); }, 300);`,
      ].join('\n'),
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(import.meta.dirname, '../..') });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => proc.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toBe('still here\n');
    expect(err).toMatch(/error uncaught exception; still serving .*boom/);
    expect(err).toMatch(/error unhandled rejection; still serving .*nope/);
  });
});

describe('connection slots', () => {
  it('a failed handshake takes no slot; closed sockets give theirs back', async () => {
    const ts = await inProcess({ maxConnectionsPerUser: 3 });
    const token = ts.server.createToken('alice');
    const port = ts.server.port;
    for (let i = 0; i < 40; i++) {
      const answer = await rawExchange(port, `GET /sync2?token=${token} HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}Sec-WebSocket-Version: 7\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    }
    const open = [await connect(ts.wsUrl, token), await connect(ts.wsUrl, token), await connect(ts.wsUrl, token)];
    await expect(TestClient.connect(ts.wsUrl, token)).rejects.toThrow(/HTTP 429/);
    await open[0].close();
    await waitFor(async () => {
      try {
        const c = await connect(ts.wsUrl, token);
        return c;
      } catch {
        return null;
      }
    }, 'a slot is free again');
  });
});

/** Opens token-less sockets that send junk frames as fast as they can, reconnecting when closed. */
function flood(wsUrl: string, sockets: number): { stop(): void; opened: () => number } {
  let stopped = false;
  let opened = 0;
  const junk = [new Uint8Array([200, 1, 2, 3]), encodeFrame('body:victim/a.md', new Uint8Array([0, 0, 1, 0])), new Uint8Array(64).fill(0xff)];
  const one = () => {
    if (stopped) return;
    const ws = new WebSocket(`${wsUrl}?token=dxs_flood`);
    ws.on('open', () => {
      opened++;
      for (let i = 0; i < 2_000 && ws.readyState === ws.OPEN; i++) ws.send(junk[i % junk.length]);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => setTimeout(one, 5));
  };
  for (let i = 0; i < sockets; i++) one();
  return { stop: () => (stopped = true), opened: () => opened };
}

describe('token-less floods', () => {
  it('close the flooding sockets, log little, and /health and an authorised client keep answering', async () => {
    const { server, dir } = await child();
    const token = await cliToken(dir, 'alice');
    const c = await connect(server.wsUrl, token);
    await joined(c, 'body:ws/a.md');
    const f = flood(server.wsUrl, 4);
    cleanup.push(() => f.stop());
    await waitFor(() => f.opened() >= 40, 'flood sockets opened and closed', 20_000);
    const health: number[] = [];
    const relay: number[] = [];
    for (let i = 0; i < 20; i++) {
      let t0 = performance.now();
      expect(await (await fetch(`${server.url}/health`)).text()).toBe('OK');
      health.push(performance.now() - t0);
      t0 = performance.now();
      await c.roundTrip('body:ws/a.md');
      relay.push(performance.now() - t0);
    }
    f.stop();
    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
    console.log(`[hardening] under a 4-socket token-less flood: /health p99 ${p99(health).toFixed(1)} ms, round trip p99 ${p99(relay).toFixed(1)} ms`);
    expect(server.proc.exitCode).toBeNull();
    // Refusals are rate-limited: a few lines per kind per 10 s, not one per frame.
    const lines = server.stderr.join('').split('\n').filter((l) => l.includes('closing a socket without a valid token'));
    expect(f.opened()).toBeGreaterThan(lines.length);
    expect(lines.length).toBeLessThan(100);
  }, 90_000);

  it('caps the frames handled per second of one socket', async () => {
    const ts = await inProcess({ maxFramesPerSecond: 50 });
    const c = await connect(ts.wsUrl, ts.server.createToken('alice'));
    await joined(c, 'body:ws/a.md');
    const t0 = performance.now();
    for (let i = 0; i < 150; i++) c.sendStep1('body:ws/a.md');
    await waitFor(() => c.framesFor('body:ws/a.md').filter((f) => f.subtype === 1).length >= 151, 'all answered', 20_000);
    // 150 frames at 50 per second cannot all be handled within two seconds.
    expect(performance.now() - t0).toBeGreaterThan(2_000);
  });
});

describe('token revocation', () => {
  it('token list shows ids, token revoke closes the open sockets of that token only', async () => {
    const { server, dir } = await child(['--token-check-interval-ms', '200']);
    const revoked = await cliToken(dir, 'alice');
    const kept = await cliToken(dir, 'alice');
    const list = spawnCli(['token', 'list', '--user', 'alice', '--data-dir', dir]);
    expect((await list.exited).code).toBe(0);
    const ids = list.stdout.join('').trim().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(list.stdout.join('')).not.toContain(revoked);

    const a = await connect(server.wsUrl, revoked);
    const b = await connect(server.wsUrl, kept);
    await joined(a, 'body:ws/a.md');
    await joined(b, 'body:ws/a.md');
    const { createHash } = await import('node:crypto');
    const id = createHash('sha256').update(revoked).digest('hex').slice(0, 16);
    const run = spawnCli(['token', 'revoke', id, '--data-dir', dir]);
    expect((await run.exited).code).toBe(0);
    expect(run.stdout.join('')).toContain(`Revoked token ${id} of user "alice"`);
    await waitFor(() => a.closeCode !== null, 'revoked socket closed');
    expect(a.closeCode).toBe(4001);
    await b.roundTrip('body:ws/a.md');
    expect(b.closeCode).toBeNull();
    expect((await fetch(`${server.url}/api/workspaces`, { headers: { Authorization: `Bearer ${revoked}` } })).status).toBe(401);
    await expect(TestClient.connect(server.wsUrl, revoked).then((c) => (cleanup.push(() => c.close()), c.closeCode))).resolves.toBeNull();

    const again = spawnCli(['token', 'revoke', id, '--data-dir', dir]);
    expect((await again.exited).code).toBe(2);
    expect(again.stderr.join('')).toContain(`No token with id ${id}`);
    const bad = spawnCli(['token', 'revoke', 'xyz', '--data-dir', dir]);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr.join('')).toContain('Invalid token id');
  }, 60_000);
});
