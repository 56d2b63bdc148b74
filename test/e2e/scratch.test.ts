import { afterAll, it } from 'vitest';
import { cleanupTemp, createToken, entryText, folderSnapshot, startDevice, startServerProcess, stopDevice, tempDir, waitForSameFolders, writeFile } from './helpers';

it('scratch', async () => {
  const dataDir = tempDir('server');
  const token = await createToken(dataDir, 'alice');
  const server = await startServerProcess(dataDir);
  const a = await startDevice('a', tempDir('a'), { serverUrl: server.url, token, workspaceId: 'w' });
  const b = await startDevice('b', tempDir('b'), { serverUrl: server.url, token, workspaceId: 'w' });
  await a.job.waitUntilSynced(10000); await b.job.waitUntilSynced(10000);
  writeFile(a.dir, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\n' }));
  await waitForSameFolders([a, b]);
  writeFile(a.dir, 'hello.md', entryText({ title: 'Hello', body: '\nFirst line.\nSecond line.\n' }));
  try { await waitForSameFolders([a, b], undefined, 5000); } catch (e) { console.log(String(e)); }
  for (const d of [a, b]) console.log(d.name, JSON.stringify((await d.job.host.plugin.command('ListCrdtFiles', {})).data), d.logs.filter(l => !l.startsWith('debug')).slice(-20).join('\n'));
  await stopDevice(a); await stopDevice(b); await server.stop();
}, 60000);
afterAll(cleanupTemp);
