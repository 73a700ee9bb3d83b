import { describe, expect, it, vi } from 'vitest';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import worker from '../../src/runtime/worker';
import { runScheduledJobs, SCHEDULED_JOBS, type WorkerEnv } from '../../src/runtime/workerIssuer';
import type { AppDeps } from '../../src/http/context';

/** The worker entry's own logic, in Node: configuration errors, the per-env cache, the job runner. */
const crypto = createWebCryptoProvider();

/** A D1 binding that may be prepared against (the store prepares statements up front) but never runs one. */
const unused = () => {
  throw new Error('the database is not used in these tests');
};
const unusedStatement = { bind: () => unusedStatement, all: unused, raw: unused, run: unused, first: unused };
const unusedD1 = { prepare: () => unusedStatement, batch: unused, exec: unused } as unknown as WorkerEnv['DB'];

async function env(overrides: Partial<WorkerEnv> = {}): Promise<WorkerEnv> {
  return {
    DB: unusedD1, // these requests never reach the database
    PUBLIC_URL: 'https://pfi.example',
    ISSUER_PRIVATE_JWK: JSON.stringify(await crypto.generateKeyPair('EdDSA')),
    ISSUER_NAME: 'First name',
    PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

const metadata = (e: WorkerEnv) => worker.fetch(new Request('https://pfi.example/.well-known/openid-credential-issuer'), e);

describe('worker entry', () => {
  it('answers a JSON server_error, without the secret, when a binding is wrong, and recovers once fixed', async () => {
    const e = await env({ ISSUER_PRIVATE_JWK: '{"kty":"OKP","crv":"Ed25519","x":"abc","d":"TOP-SECRET"' });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await metadata(e);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error', error_description: 'the issuer is not configured correctly' });
    expect(errors.mock.calls.flat().join(' ')).toContain('ISSUER_PRIVATE_JWK is not valid JSON');
    expect(errors.mock.calls.flat().join(' ')).not.toContain('TOP-SECRET');
    errors.mockRestore();
    // The failure is not cached: the same env, corrected, serves.
    e.ISSUER_PRIVATE_JWK = JSON.stringify(await crypto.generateKeyPair('ES256K'));
    expect((await metadata(e)).status).toBe(200);
  });

  it('refuses to start without PII_DATA_KEY: a generated key would differ per isolate', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await metadata(await env({ PII_DATA_KEY: undefined }));
    expect(res.status).toBe(500);
    expect(errors.mock.calls.flat().join(' ')).toContain('PII_DATA_KEY is not set');
    errors.mockRestore();
  });

  it('builds the issuer once per env object and reuses it', async () => {
    const e = await env();
    const first = (await (await metadata(e)).json()) as { display: { name: string }[] };
    e.ISSUER_NAME = 'Changed name';
    const again = (await (await metadata(e)).json()) as { display: { name: string }[] };
    expect(JSON.stringify(again)).toBe(JSON.stringify(first)); // built once: the change is not seen
    const other = (await (await metadata({ ...e })).json()) as object;
    expect(JSON.stringify(other)).toContain('Changed name'); // another env builds its own
  });

  it('logs and counts a failing scheduled job instead of throwing, so later jobs still run', async () => {
    const logged: string[] = [];
    const log = (event: string) => logged.push(event);
    const store = {
      siopRequests: { deleteExpired: async () => 1 },
      preAuthorizedCodes: {
        deleteExpired: async () => {
          throw new Error('D1 unavailable');
        },
      },
      cNonces: { deleteExpired: async () => 0 },
    };
    const deps = { store, config: { ttl: { accessToken: 60 } }, logger: { info: log, warn: log, error: log } } as unknown as AppDeps;
    expect(SCHEDULED_JOBS.map(([name]) => name)).toEqual([
      'purge_expired',
      'dispatch_webhooks',
      'purge_expired_pii',
      'mark_abandoned_applications',
      'purge_operator_sessions',
      'refresh_status_lists',
      'announce_expired_credentials',
    ]);
    const { failed } = await runScheduledJobs(deps, Date.now());
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(logged[0]).toBe('scheduled_job_failed'); // purge_expired
    expect(logged).toHaveLength(SCHEDULED_JOBS.length); // and every later job still ran
    expect(logged.filter((e) => e === 'scheduled_job_failed')).toHaveLength(failed);
  });
});
