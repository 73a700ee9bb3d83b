import { importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { silentLogger } from '../../src/http/context';
import type { IdvDeps } from '../../src/idv/deps';
import type { IssuerKey } from '../../src/issuer';
import { startNodeIssuer } from '../../src/runtime/node';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { createNodePiiVault } from '../../src/runtime/nodePiiVault';
import { openPostgres } from '../../src/runtime/postgres';
import { WalletClient, WalletError } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeIssuerKeys } from '../helpers/issuer';
import { balancedFetch, startTestPostgres, type TestPostgres } from '../helpers/postgres';

/**
 * Several issuer instances (real Node HTTP servers, src/runtime/node.ts) on one PostgreSQL
 * database, behind a load balancer that sends each request of a wallet to the next instance in
 * turn. They share what must be shared (PUBLIC_URL, signing keys, PII key, ADMIN_TOKEN) and
 * nothing else. Single-use values hold across instances: of 250 concurrent redemptions spread
 * over both, exactly one wins.
 */
const PUBLIC_URL = 'http://kcc.lb.test';
const ADMIN_TOKEN = 'pg-instances-admin-token-0123456789';
const RACE = 250;
const PRE_AUTH = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';

let server: TestPostgres;
let keys: IssuerKey[];
const piiKey = crypto.getRandomValues(new Uint8Array(32));
const idv = (): IdvDeps => ({ vendors: new Map(), outboundSecrets: [], vault: createNodePiiVault(piiKey) });

async function startInstances(databaseUrl: string, n: number, config: Record<string, unknown> = {}, keysOf: (i: number) => IssuerKey[] = () => keys) {
  const instances = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startNodeIssuer({
        port: 0,
        dataDir: '/nonexistent-unused-with-postgres',
        databaseUrl,
        databasePoolSize: 10,
        keys: keysOf(i),
        idv: idv(),
        logger: silentLogger,
        backgroundIntervalMs: 0,
        config: { publicUrl: PUBLIC_URL, adminToken: ADMIN_TOKEN, rateLimits: { enabled: false }, ...config },
      }),
    ),
  );
  const direct = instances.map((i) => `http://127.0.0.1:${i.port}`);
  return { instances, direct, close: () => Promise.all(instances.map((i) => i.close())) };
}

beforeAll(async () => {
  server = await startTestPostgres();
  keys = await makeIssuerKeys();
}, 60_000);
afterAll(async () => server?.stop());

async function approve(instanceUrl: string, applicantDid: string) {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const list = (await (await fetch(`${instanceUrl}/admin/applications?status=review`, { headers: auth })).json()) as {
    applications: { id: string; applicant_did: string }[];
  };
  const mine = list.applications.find((a) => a.applicant_did === applicantDid);
  expect(mine, 'the application awaits review').toBeDefined();
  const res = await fetch(`${instanceUrl}/admin/applications/${mine!.id}/decision`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve' }),
  });
  expect(res.status).toBe(200);
}

/** Verifies a KCC's signature against the DID document an instance serves (all serve the same). */
async function verifyKcc(jwt: string, holderDid: string, instanceUrl: string) {
  const doc = (await (await fetch(`${instanceUrl}/.well-known/did.json`)).json()) as {
    id: string;
    verificationMethod: { id: string; publicKeyJwk: Record<string, string> }[];
  };
  const { kid } = JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')) as { kid: string };
  const method = doc.verificationMethod.find((m) => m.id === kid);
  expect(method, `the DID document lists ${kid}`).toBeDefined();
  const { payload } = await jwtVerify(jwt, await importJWK(method!.publicKeyJwk, 'EdDSA'));
  expect(payload.iss).toBe(doc.id);
  expect(payload.sub).toBe(holderDid);
}

describe('two issuer instances on one PostgreSQL database', () => {
  it('both come up when started at the same moment against an empty database', async () => {
    const url = await server.createDatabase();
    const { instances, direct, close } = await startInstances(url, 2);
    try {
      for (const base of direct) expect((await fetch(`${base}/.well-known/openid-credential-issuer`)).status).toBe(200);
      expect(instances[0].deps.issuer.did).toBe(instances[1].deps.issuer.did);
      // Each migration applied once, however many instances raced to apply it.
      const rows = await instances[0].postgres!`SELECT hash FROM drizzle.__drizzle_migrations`;
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    } finally {
      await close();
    }
  });

  describe('a wallet whose consecutive requests alternate between them', () => {
    let url: string;
    let cluster: Awaited<ReturnType<typeof startInstances>>;
    beforeAll(async () => {
      url = await server.createDatabase();
      cluster = await startInstances(url, 2);
    });
    afterAll(async () => cluster?.close());

    const wallet = async () => {
      const lb = balancedFetch(PUBLIC_URL, () => cluster.direct, { failover: false });
      return { lb, client: new WalletClient(await Holder.create(), lb.fetch) };
    };

    it('completes an immediate flow', async () => {
      const { lb, client } = await wallet();
      const flow = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
      expect(flow.deferred).toBe(false);
      await verifyKcc(flow.credential!, client.holder.did, cluster.direct[1]);
      // Round robin: every step went to the other instance than the one before.
      expect(lb.route.length).toBeGreaterThanOrEqual(6);
      for (let i = 1; i < lb.route.length; i++) expect(lb.route[i].instance).not.toBe(lb.route[i - 1].instance);
      const recorded = await cluster.instances[1].deps.store.issuedCredentials.get(decodeJwt(flow.credential!).payload.jti as string);
      expect(recorded?.subjectDid).toBe(client.holder.did);
    });

    it('completes a deferred flow decided through one instance and collected through the other', async () => {
      const { client } = await wallet();
      const flow = await applyForKcc(client, {
        issuer: PUBLIC_URL,
        identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
        pollAttempts: 1,
        pollIntervalMs: 0,
      });
      expect(flow.deferred).toBe(true);
      expect(flow.credential).toBeUndefined();
      await approve(cluster.direct[0], client.holder.did);
      const other = new WalletClient(client.holder, (u, i) => fetch(u.replace(PUBLIC_URL, cluster.direct[1]), i));
      const r = await other.deferred(`${PUBLIC_URL}/oid4vci/deferred-credential`, flow.accessToken, flow.transactionId!);
      expect(r.credential).toBeTypeOf('string');
      await verifyKcc(r.credential!, client.holder.did, cluster.direct[0]);
    });

    it('refuses a rejected applicant whichever instance answers', async () => {
      const { client } = await wallet();
      const refused = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: 'Declined' }, pollAttempts: 0 }).catch(
        (e) => e,
      );
      expect(refused).toBeInstanceOf(WalletError);
      expect((refused as WalletError).body).toMatchObject({ error: 'credential_request_denied' });
    });

    /** Opens an approved application and returns its pre-authorized code, without redeeming it. */
    async function approvedCode(client: WalletClient, family = 'Doe') {
      const pfi = await client.discover(PUBLIC_URL);
      const idvRequest = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
      const form = await client.submitIdvForm(idvRequest.url, { ...SAMPLE_IDENTITY, family_name: family });
      expect(form.status).toBe(200);
      return { pfi, code: idvRequest.credential_offer.grants[PRE_AUTH]['pre-authorized_code'] };
    }

    it(`${RACE} concurrent redemptions of one pre-authorized code over both instances give one token`, async () => {
      const { lb, client } = await wallet();
      const { code } = await approvedCode(client);
      const before = [...lb.hits];
      const results = await Promise.all(
        Array.from({ length: RACE }, () =>
          lb
            .fetch(`${PUBLIC_URL}/oauth2/token`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({ grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: client.holder.did }).toString(),
            })
            .then(async (r) => ({ status: r.status, body: (await r.json()) as { access_token?: string; error?: string } })),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status !== 200).every((r) => r.body.error === 'invalid_grant')).toBe(true);
      expect(lb.hits.map((h, i) => h - (before[i] ?? 0))).toEqual([RACE / 2, RACE / 2]);
    });

    it(`${RACE} concurrent credential requests with one c_nonce over both instances give one credential`, async () => {
      const { lb, client } = await wallet();
      const { pfi, code } = await approvedCode(client);
      const token = await client.token(`${PUBLIC_URL}/oauth2/token`, code);
      const results = await Promise.all(
        Array.from({ length: RACE }, () =>
          client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, pfi.did, token.c_nonce).then(
            (r) => ({ ok: true as const, credential: r.credential }),
            (e: WalletError) => ({ ok: false as const, error: (e.body as { error?: string })?.error }),
          ),
        ),
      );
      const issued = results.filter((r) => r.ok);
      expect(issued).toHaveLength(1);
      expect(results.filter((r) => !r.ok).every((r) => r.error === 'invalid_proof')).toBe(true);
      const app = (await cluster.instances[0].deps.store.applications.listByStatus('approved', 1000)).find((a) => a.applicantDid === client.holder.did)!;
      expect(await cluster.instances[1].deps.store.issuedCredentials.listForApplication(app.id)).toHaveLength(1);
      expect(lb.hits.every((h) => h > RACE / 4)).toBe(true);
    });

    it(`${RACE} concurrent collections of one deferred transaction over both instances give one credential`, async () => {
      const { lb, client } = await wallet();
      const flow = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: 'Review' }, pollAttempts: 0 });
      await approve(cluster.direct[1], client.holder.did);
      const results = await Promise.all(
        Array.from({ length: RACE }, () =>
          client.deferred(`${PUBLIC_URL}/oid4vci/deferred-credential`, flow.accessToken, flow.transactionId!).then(
            (r) => ({ ok: true as const, credential: r.credential }),
            (e: WalletError) => ({ ok: false as const, error: (e.body as { error?: string })?.error }),
          ),
        ),
      );
      // Every collection answers the one credential (a collection whose answer was lost can be repeated).
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(new Set(results.map((r) => (r.ok ? r.credential : undefined))).size).toBe(1);
      const tx = await cluster.instances[0].deps.store.transactions.get(flow.transactionId!);
      expect(tx?.consumedAt).not.toBeNull();
      expect((await cluster.instances[1].deps.store.issuedCredentials.get(tx!.credentialId!))?.transactionId).toBe(flow.transactionId);
      expect(lb.hits.every((h) => h > RACE / 4)).toBe(true);
    });

    it('a console session opened on one instance is valid on the other (HMAC under the shared ADMIN_TOKEN)', async () => {
      const login = await fetch(`${cluster.direct[0]}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ operator: 'Ops One', token: ADMIN_TOKEN }).toString(),
        redirect: 'manual',
      });
      expect(login.status).toBe(303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0];
      const page = await fetch(`${cluster.direct[1]}/console?status=review`, { headers: { cookie }, redirect: 'manual' });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Ops One');
      const without = await fetch(`${cluster.direct[1]}/console?status=review`, { redirect: 'manual' });
      expect(without.status).toBe(303);
    });
  });

  it('a rolling key rotation: while one instance signs with the new key and the other with the old, flows complete through both', async () => {
    const url = await server.createDatabase();
    const crypto = createNodeCryptoProvider();
    const older = { id: 'key-1', alg: 'EdDSA' as const, privateJwk: await crypto.generateKeyPair('EdDSA') };
    const newer = { id: 'key-2', alg: 'EdDSA' as const, privateJwk: await crypto.generateKeyPair('EdDSA') };
    // Mid-roll: instance 0 already has [new, old] (new signs), instance 1 still [old, new].
    const cluster = await startInstances(url, 2, {}, (i) =>
      i === 0
        ? [
            { ...newer, createdAt: '2026-02-01T00:00:00Z' },
            { ...older, createdAt: '2026-01-01T00:00:00Z' },
          ]
        : [
            { ...older, createdAt: '2026-02-01T00:00:00Z' },
            { ...newer, createdAt: '2026-01-01T00:00:00Z' },
          ],
    );
    try {
      expect(cluster.instances.map((i) => i.deps.issuer.signer.kid.split('#')[1])).toEqual(['key-2', 'key-1']);
      const kids = new Set<string>();
      for (let n = 0; n < 2; n++) {
        // Start the flow on instance n, so each instance signs some access tokens the other verifies.
        const lb = balancedFetch(PUBLIC_URL, () => (n === 0 ? cluster.direct : [...cluster.direct].reverse()), { failover: false });
        const client = new WalletClient(await Holder.create(), lb.fetch);
        const flow = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
        kids.add(JSON.parse(Buffer.from(flow.credential!.split('.')[0], 'base64url').toString('utf8')).kid);
        for (const base of cluster.direct) await verifyKcc(flow.credential!, client.holder.did, base);
      }
      expect([...kids].map((k) => k.split('#')[1]).sort()).toEqual(['key-1', 'key-2']);
    } finally {
      await cluster.close();
    }
  });

  it('rate limits are per instance: one instance limiting a client does not limit it on the other', async () => {
    const url = await server.createDatabase();
    const cluster = await startInstances(url, 2, { rateLimits: { enabled: true, perIp: 5, perClient: 100, windowSeconds: 60 } });
    try {
      const get = (i: number) => fetch(`${cluster.direct[i]}/idv/siopv2/initiate`).then((r) => r.status);
      for (let n = 0; n < 5; n++) expect(await get(0)).toBe(200);
      expect(await get(0)).toBe(429);
      for (let n = 0; n < 5; n++) expect(await get(1)).toBe(200);
      expect(await get(1)).toBe(429);
    } finally {
      await cluster.close();
    }
  });

  it('a background job runs on at most one instance at a time, and a dead holder releases its lock', async () => {
    const url = await server.createDatabase();
    const a = await openPostgres(url, { poolSize: 3 });
    const b = await openPostgres(url, { poolSize: 3 });
    try {
      let release!: () => void;
      const held = new Promise<void>((ok) => (release = ok));
      let started!: () => void;
      const running = new Promise<void>((ok) => (started = ok));
      const first = a.runExclusive('outbound_webhooks', async () => {
        started();
        await held;
      });
      await running;
      let ranOnB = false;
      expect(
        await b.runExclusive('outbound_webhooks', async () => {
          ranOnB = true;
        }),
      ).toBe(false);
      expect(ranOnB).toBe(false);
      // Another job is not held up by this one.
      expect(await b.runExclusive('pii_retention', async () => undefined)).toBe(true);
      release();
      expect(await first).toBe(true);
      expect(
        await b.runExclusive('outbound_webhooks', async () => {
          ranOnB = true;
        }),
      ).toBe(true);
      expect(ranOnB).toBe(true);

      // The holder's connection dies mid-job (its instance crashed): the lock goes with it.
      let unblock!: () => void;
      const stuck = a.runExclusive('pii_retention', () => new Promise<void>((ok) => (unblock = ok)));
      await new Promise((r) => setTimeout(r, 200));
      expect(await b.runExclusive('pii_retention', async () => undefined)).toBe(false);
      const [killed] = await b.client`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()`;
      expect(killed.n).toBe(1);
      // pg_terminate_backend signals the backend; its locks go when it has exited (a moment later).
      let freed = false;
      for (let i = 0; i < 50 && !freed; i++) {
        freed = await b.runExclusive('pii_retention', async () => undefined);
        if (!freed) await new Promise((r) => setTimeout(r, 100));
      }
      expect(freed).toBe(true);
      unblock();
      await stuck;
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
