/**
 * An independent client, built only from yjs, y-protocols and ws with the v2
 * framing (`[u8 len][doc id][y-sync]`, common/src/wire/PROTOCOL.md), syncs the
 * workspace doc and body docs with the server and with a device: its edits
 * appear in the device's folder, the device's edits appear in its docs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestClient, fileMeta } from '../server/helpers/client';
import {
  cleanupTemp,
  createToken,
  entryText,
  readFile,
  rfc3339,
  startDevice,
  startServerProcess,
  stopDevice,
  tempDir,
  waitFor,
  writeFile,
  type Device,
  type ServerProcess,
} from './helpers';

const WS = 'ws-raw';
const WORKSPACE_DOC = `workspace:${WS}`;
const body = (key: string) => `body:${WS}/${key}`;

let server: ServerProcess;
let token: string;
let device: Device | null = null;
const clients: TestClient[] = [];

beforeAll(async () => {
  const dataDir = tempDir('server');
  token = await createToken(dataDir, 'alice');
  server = await startServerProcess(dataDir);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (device) await stopDevice(device);
  await server?.stop();
  cleanupTemp();
});

/** Connects and joins the workspace doc through the Files-Ready handshake, then pulls its full state. */
async function rawClient(): Promise<TestClient> {
  const client = await TestClient.connect(`${server.url.replace(/^http/, 'ws')}/sync2`, token);
  clients.push(client);
  client.sendStep1(WORKSPACE_DOC);
  await client.waitForText('file_manifest');
  client.sendText('{"type":"files_ready"}');
  await client.waitForText('sync_complete');
  // The handshake drops the frame that started it: ask again now that the doc is joined.
  await client.roundTrip(WORKSPACE_DOC);
  return client;
}

function filesOf(client: TestClient): Record<string, { title: string | null; deleted: boolean }> {
  const out: Record<string, { title: string | null; deleted: boolean }> = {};
  for (const [k, v] of client.doc(WORKSPACE_DOC).getMap<string>('files').entries()) out[k] = JSON.parse(v);
  return out;
}

it('a raw yjs client and a device see each other’s workspace and body edits', async () => {
  device = await startDevice('device', tempDir('device'), { serverUrl: server.url, token, workspaceId: WS });
  await device.job.waitUntilSynced(20_000);
  writeFile(device.dir, 'shared.md', entryText({ title: 'Shared', body: '\nWritten on the device.\n' }));
  await waitFor(async () => (await device!.job.verify()).length === 0, 'the server to hold shared.md');

  const raw = await rawClient();
  expect(raw.textsOfType('file_manifest')[0]).toMatchObject({ files: [{ doc_id: body('shared.md'), filename: 'shared.md', title: 'Shared', deleted: false }] });
  expect(filesOf(raw)['shared.md']).toMatchObject({ title: 'Shared', deleted: false });
  raw.sendStep1(body('shared.md'));
  await raw.waitForDoc(body('shared.md'), (d) => d.getText('body').toString() === '\nWritten on the device.\n', 'the device’s body in the raw doc');

  // Raw client -> device: a new file (body first, then its workspace entry) and an edit of an existing body.
  const when = Date.UTC(2026, 2, 14, 12, 0, 0);
  raw.doc(body('from-raw.md')).getText('body').insert(0, '\nHello from a raw client.\n');
  raw.doc(WORKSPACE_DOC).getMap('files').set('from-raw.md', fileMeta('from-raw.md', { title: 'From raw', modified_at: when }));
  const sharedText = raw.doc(body('shared.md')).getText('body');
  sharedText.insert(sharedText.length, 'Appended by the raw client.\n');
  const expected = `---\ntitle: From raw\nupdated: "${rfc3339(when)}"\n---\n\nHello from a raw client.\n`;
  await waitFor(() => readFile(device!.dir, 'from-raw.md') === expected, 'from-raw.md in the device folder');
  await waitFor(() => readFile(device!.dir, 'shared.md')?.endsWith('\nWritten on the device.\nAppended by the raw client.\n'), 'the raw edit in shared.md');

  // Device -> raw client: a body edit and a new file.
  const sharedNow = readFile(device.dir, 'shared.md')!;
  writeFile(device.dir, 'shared.md', sharedNow.replace('Written on the device.', 'Written on the device, then edited there.'));
  writeFile(device.dir, 'device-new.md', entryText({ title: 'Device new', body: '\nNew on the device.\n' }));
  await raw.waitForDoc(
    body('shared.md'),
    (d) => d.getText('body').toString() === '\nWritten on the device, then edited there.\nAppended by the raw client.\n',
    'the device’s edit in the raw doc',
  );
  await waitFor(() => filesOf(raw)['device-new.md']?.title === 'Device new', 'device-new.md in the raw workspace doc');
  raw.sendStep1(body('device-new.md'));
  await raw.waitForDoc(body('device-new.md'), (d) => d.getText('body').toString() === '\nNew on the device.\n', 'device-new.md body');

  // A second raw client sees the same state from the server alone.
  await raw.roundTrip(WORKSPACE_DOC);
  const other = await rawClient();
  expect(filesOf(other)).toEqual(filesOf(raw));
  for (const key of ['shared.md', 'from-raw.md', 'device-new.md']) {
    other.sendStep1(body(key));
    await other.waitForDoc(body(key), (d) => d.getText('body').toString() === raw.doc(body(key)).getText('body').toString(), `${key} from the server`);
  }
  await waitFor(async () => (await device!.job.verify()).length === 0, 'the device folder to match the server');
});
