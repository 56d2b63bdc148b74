/** The command line on Postgres: `serve --database` refusing bad input clearly, `token` commands with --database. */
import { describe, expect, it } from 'vitest';
import { TestClient } from '../server/helpers/client';
import { spawnCli } from '../server/helpers/child';
import { waitFor } from '../server/helpers/wait';
import { useTestPostgres } from '../../server/src/testing/use-postgres';
import { startNode, stopNode } from './nodes';

const pgi = useTestPostgres();

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const cli = spawnCli(args, env);
  const { code } = await cli.exited;
  return { code, out: cli.stdout.join(''), err: cli.stderr.join('') };
}

describe('serve and token on Postgres', () => {
  it('refuses a URL that is not postgres:// and a database that does not answer, with exit 2 and a one-line reason', async () => {
    const bad = await run(['serve', '--port', '0', '--database', 'mysql://db/x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--database: expected postgres://');
    const env = await run(['serve', '--port', '0'], { DIARYX_SYNC_DATABASE_URL: 'not a url' });
    expect(env.code).toBe(2);
    expect(env.err).toContain('DIARYX_SYNC_DATABASE_URL: expected postgres://');
    const down = await run(['serve', '--port', '0', '--database', pgi.url('no_such_database')]);
    expect(down.code).toBe(2);
    expect(down.err).toMatch(/Could not open the Postgres database: .*no_such_database/);
  });

  it('token create/list/revoke --database work with a running node, and a created token opens documents there', async () => {
    const url = await pgi.createDatabase('cli');
    const node = await startNode(url);
    try {
      const created = await run(['token', 'create', '--user', 'dana', '--database', url]);
      expect(created.code).toBe(0);
      const token = created.out.trim().split('\n').pop()!;
      const c = await TestClient.connect(node.wsUrl, token);
      c.sendStep1('body:dana/a.md');
      await waitFor(() => c.framesFor('body:dana/a.md').some((f) => f.subtype === 1), 'join with the new token');
      const listed = await run(['token', 'list', '--user', 'dana'], { DIARYX_SYNC_DATABASE_URL: url });
      expect(listed.code).toBe(0);
      const id = listed.out.trim().split(/\s+/)[0];
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      const revoked = await run(['token', 'revoke', id, '--database', url]);
      expect(revoked.code).toBe(0);
      await waitFor(() => c.closeCode === 4001, 'the socket closed after the revoke', 15_000);
    } finally {
      await stopNode(node);
    }
  });
});
