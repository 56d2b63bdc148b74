/**
 * Attachments through the real CLI and a real server process: a photo an
 * entry references arrives byte-identical on the second device (front matter
 * `attachments:` and a body link), its BinaryRef gets hash, size, type and
 * upload time, a change of the photo follows, a file no entry references is
 * named once and stays here, and an upload cut by a server crash completes
 * on the next run.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, createToken, entryText, startServerProcess, tempDir, waitFor, writeFile, type ServerProcess } from './helpers';
import { runCli, startCli, type CliProcess } from './cli-helpers';
import { countingProxy } from '../helpers/counting-proxy';

let dataDir: string;
let server: ServerProcess;
let token: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  dataDir = tempDir('att-server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
}, 60_000);
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await server?.stop();
  cleanupTemp();
});

const env = () => ({ DIARYX_SYNC_TOKEN: token });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileSha = (dir: string, rel: string) => (fs.existsSync(path.join(dir, rel)) ? sha(fs.readFileSync(path.join(dir, rel))) : null);

function sync(dir: string, workspaceId: string): CliProcess {
  const p = startCli(['sync', '--dir', dir, '--server', server.url, '--workspace-id', workspaceId], { env: env() });
  running.push(p);
  return p;
}

const once = (dir: string, workspaceId: string) =>
  runCli(['sync', '--dir', dir, '--server', server.url, '--workspace-id', workspaceId, '--once', '--timeout', '60'], { env: env() });

function writeBytes(dir: string, rel: string, bytes: Uint8Array): void {
  const file = path.join(dir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}


const stripTime = (text: string) => text.split('\n').filter(Boolean).map((l) => l.replace(/^\d\d:\d\d:\d\d /, ''));

describe('attachments between two CLI devices', () => {
  it('sends a referenced photo and a linked file to the other device byte-identical, and follows a change', async () => {
    const a = tempDir('att-a');
    const b = tempDir('att-b');
    const photo = randomBytes(9 * 1024 * 1024 + 123); // two parts
    const report = randomBytes(5000);
    writeBytes(a, '_attachments/photo.jpg', photo);
    writeBytes(a, 'days/files/report.pdf', report);
    // Equal bytes under a second path, linked from the body only: found by its own path on the server.
    writeBytes(a, 'days/files/report-copy.pdf', report);
    writeFile(a, 'README.md', entryText({ title: 'Photos', extra: { attachments: '["_attachments/photo.jpg"]' }, body: '\n![](/_attachments/photo.jpg)\n' }));
    writeFile(a, 'days/monday.md', entryText({ title: 'Monday', body: '\nSee [the report](files/report.pdf) and [its copy](files/report-copy.pdf).\n' }));
    const devA = sync(a, 'ws-att');
    await devA.waitOutput(/↑ sent attachment _attachments\/photo\.jpg \(9\.4 MB\)/, 60_000);
    await devA.waitOutput(/↑ sent attachment days\/files\/report\.pdf/);

    const devB = sync(b, 'ws-att');
    await devB.waitOutput(/↓ received attachment _attachments\/photo\.jpg/, 60_000);
    await devB.waitOutput(/↓ received attachment days\/files\/report\.pdf/);
    await devB.waitOutput(/↓ received attachment days\/files\/report-copy\.pdf/);
    expect(fileSha(b, '_attachments/photo.jpg')).toBe(sha(photo));
    expect(fileSha(b, 'days/files/report.pdf')).toBe(sha(report));
    expect(fileSha(b, 'days/files/report-copy.pdf')).toBe(sha(report));

    // A file no entry references is named once and stays on this device.
    writeBytes(a, 'stray.bin', randomBytes(100));
    await devA.waitOutput(/! not synced: stray\.bin: no entry references it/);
    writeBytes(a, 'stray.bin', randomBytes(200));
    // The photo changes on A: B gets the new bytes.
    const photo2 = randomBytes(300_000);
    writeBytes(a, '_attachments/photo.jpg', photo2);
    await waitFor(() => fileSha(b, '_attachments/photo.jpg') === sha(photo2), 'B to get the changed photo', 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nA:\n${devA.stdout}${devA.stderr}\nB:\n${devB.stdout}${devB.stderr}`);
    });
    expect(stripTime(devA.stderr).filter((l) => l.includes('stray.bin'))).toEqual([
      '! not synced: stray.bin: no entry references it; only Markdown entries and the files they reference sync',
    ]);
    expect(fs.existsSync(path.join(b, 'stray.bin'))).toBe(false);
    await devA.stop();
    await devB.stop();

    // B's entry carries the filled BinaryRef (hash, size, type, upload time) from the workspace doc.
    const got = await runCli(['command', 'GetCrdtFile', JSON.stringify({ path: 'README.md' }), '--dir', b]);
    expect(got.code, got.stderr).toBe(0);
    const meta = JSON.parse(got.stdout) as { data: { attachments: { path: string; hash: string; size: number; mime_type: string; uploaded_at: number | null }[] } };
    expect(meta.data.attachments).toEqual([
      expect.objectContaining({ path: '_attachments/photo.jpg', hash: sha(photo2), size: photo2.length, mime_type: 'image/jpeg', uploaded_at: expect.any(Number) }),
    ]);
    // The entry's front matter on B is A's, unchanged by the filled reference.
    expect(fs.readFileSync(path.join(b, 'README.md'), 'utf8')).toBe(fs.readFileSync(path.join(a, 'README.md'), 'utf8'));
  }, 180_000);

  it('--once waits for the attachments, and an upload cut by a server crash completes on the next run', async () => {
    const a = tempDir('att-crash-a');
    const b = tempDir('att-crash-b');
    const big = randomBytes(48 * 1024 * 1024); // six parts
    writeBytes(a, 'big.mov', big);
    writeFile(a, 'film.md', entryText({ title: 'Film', extra: { attachments: '["big.mov"]' }, body: '\nA film.\n' }));
    const devA = sync(a, 'ws-crash');
    const uploads = path.join(dataDir, 'attachments', 'uploads');
    // Killed as soon as the server holds a first part of the upload.
    await waitFor(() => fs.existsSync(uploads) && fs.readdirSync(uploads).some((id) => fs.existsSync(path.join(uploads, id, '1'))), 'a first part on the server', 60_000, 5);
    await server.kill();
    devA.proc.kill('SIGKILL');
    await devA.exited;
    const blob = path.join(dataDir, 'attachments', 'blobs', sha(big).slice(0, 2), sha(big));
    expect(fs.existsSync(blob)).toBe(false);
    const pending = JSON.parse(fs.readFileSync(path.join(a, '.diaryx', 'attachments', 'state.json'), 'utf8')) as { pending: { path: string }[] };
    expect(pending.pending.map((t) => t.path)).toEqual(['big.mov']);

    const partsKept = fs.readdirSync(uploads).flatMap((id) => fs.readdirSync(path.join(uploads, id))).filter((n) => /^\d+$/.test(n)).length;
    expect(partsKept).toBeGreaterThan(0);
    server = await startServerProcess(dataDir, { port: server.port });
    // The next run goes through a byte counter: the parts the server kept are not sent again.
    const proxy = await countingProxy(server.port);
    const r = await runCli(['sync', '--dir', a, '--server', `http://127.0.0.1:${proxy.port}`, '--workspace-id', 'ws-crash', '--once', '--timeout', '60'], { env: env() });
    await proxy.close();
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.bytes()).toBeLessThan(big.length - partsKept * 8 * 1024 * 1024 + 1024 * 1024);
    expect(sha(fs.readFileSync(blob))).toBe(sha(big));
    expect(fs.readdirSync(uploads)).toEqual([]);
    const rb = await once(b, 'ws-crash');
    expect(rb.code, rb.stderr).toBe(0);
    expect(fileSha(b, 'big.mov')).toBe(sha(big));
  }, 240_000);
});
