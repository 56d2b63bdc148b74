/** A throw-away Postgres server for one test file: started before its tests, stopped and deleted after them. */
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresInstance } from './postgres-instance';

/**
 * Registers the start and stop of the file's Postgres server (call it before hooks that use it:
 * hooks run in the order they are registered) and returns a handle usable once tests run.
 */
export function useTestPostgres(): PostgresInstance {
  let instance: PostgresInstance | undefined;
  beforeAll(async () => {
    instance = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await instance?.stop();
  });
  const started = (): PostgresInstance => {
    if (!instance) throw new Error('the test Postgres server has not started (useTestPostgres runs in beforeAll)');
    return instance;
  };
  return {
    get port() {
      return started().port;
    },
    get dataDir() {
      return started().dataDir;
    },
    log: () => started().log(),
    url: (database) => started().url(database),
    createDatabase: (name) => started().createDatabase(name),
    restart: () => started().restart(),
    pause: () => started().pause(),
    resume: () => started().resume(),
    stop: () => started().stop(),
  };
}
