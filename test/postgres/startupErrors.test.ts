import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDatabaseUrl, postgresStartupError } from '../../src/runtime/databaseErrors';
import { openPostgres } from '../../src/runtime/postgres';
import { postgresBinDir, startTestPostgres, type TestPostgres } from '../helpers/postgres';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** What openPostgres (src/runtime/postgres.ts) throws at start, turned into the one line startup_failed prints. */
async function startupLine(url: string): Promise<string> {
  try {
    const pg = await openPostgres(url, { poolSize: 1 });
    await pg.close();
  } catch (e) {
    return postgresStartupError(url, e).message;
  }
  throw new Error('openPostgres did not fail');
}

/** src/runtime/databaseErrors.ts: startup errors name DATABASE_URL and where it points, never the password. */
describe('PostgreSQL startup errors', () => {
  it('nothing listening: "DATABASE_URL unreachable at host:port", one line, no credentials', async () => {
    const port = await freePort();
    const url = `postgres://kcc:secret-password@127.0.0.1:${port}/kcc`;
    const line = await startupLine(url);
    expect(line).toBe(`DATABASE_URL unreachable at 127.0.0.1:${port} (connection refused: is PostgreSQL running and listening there?)`);
    expect(line).not.toContain('secret-password');
  });

  it('reads host, port, database and user from the URL without its password', () => {
    expect(describeDatabaseUrl('postgres://kcc:pw@db.internal:6543/issuer?sslmode=require')).toEqual({
      host: 'db.internal',
      port: '6543',
      database: 'issuer',
      user: 'kcc',
    });
    expect(describeDatabaseUrl('postgresql://[::1]/x')).toEqual({ host: '::1', port: '5432', database: 'x', user: 'postgres' });
    expect(describeDatabaseUrl('postgres://kcc:pw@h1:5432,h2:5433/issuer')).toEqual({ host: 'h1:5432,h2:5433', port: '', database: 'issuer', user: 'kcc' });
    const timeout = postgresStartupError(
      'postgres://u:pw@10.0.0.9/d',
      Object.assign(new Error('write CONNECT_TIMEOUT 10.0.0.9:5432'), { code: 'CONNECT_TIMEOUT' }),
    );
    expect(timeout.message).toBe('DATABASE_URL unreachable at 10.0.0.9:5432 (CONNECT_TIMEOUT: no answer; check the host, the port and the firewall)');
  });

  describe.skipIf(!postgresBinDir())(`against a real server${postgresBinDir() ? '' : ' (skipped: PostgreSQL is not installed)'}`, () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startTestPostgres();
    }, 60_000);
    afterAll(async () => {
      await pg?.stop();
    });

    it('a database that does not exist, a role that does not exist', async () => {
      expect(await startupLine(`postgres://postgres@127.0.0.1:${pg.port}/no_such_db`)).toBe(
        `DATABASE_URL: database "no_such_db" does not exist at 127.0.0.1:${pg.port} (3D000)`,
      );
      const line = await startupLine(`postgres://nobody:secret-password@127.0.0.1:${pg.port}/postgres`);
      expect(line).toBe(`DATABASE_URL: PostgreSQL at 127.0.0.1:${pg.port} refused user "nobody" (28000: check the user, the password and pg_hba.conf)`);
      expect(line).not.toContain('secret-password');
    });
  });
});
