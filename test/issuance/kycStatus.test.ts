import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';
import { signJwt } from '../../src/crypto/jwt';
import { KYC_AUTHORIZATION_TYP } from '../../src/protocol/kycAuthorization';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

const execFileAsync = promisify(execFile);

/** The KYCPort-style status API (seed 000): GET /api/v1/kyc/{subject}/status with a tenant key. */
const KEY = 'tenant-key-0123456789abcdef0123456789';

async function setup(kycApiKeys = [KEY]) {
  const clock = testClock();
  const t = await makeTestIssuer({ clock, config: { kycApiKeys } });
  /** A tenant's read; a Holder subject authorises the tenant (`tenant-1`, the bare KEY) first, as its wallet would. */
  const status = async (subject: Holder | string, key = KEY, suffix = '', tenant = 'tenant-1') => {
    const did = typeof subject === 'string' ? subject : subject.did;
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (typeof subject !== 'string') {
      headers['kyc-subject-authorization'] = await signKycStatusAuthorization(subject.signer, {
        subject: did,
        tenant,
        audience: PUBLIC_URL,
        now: Math.floor(clock() / 1000),
      });
    }
    const res = await t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(did)}/status${suffix}`, { headers });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const apply = async (familyName: string) => {
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch, { now: () => Math.floor(clock() / 1000) });
    const result = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: familyName }, pollAttempts: 0 }).catch(
      (e) => e,
    );
    return { holder, result };
  };
  return { t, clock, status, apply };
}

describe('KYC status API', () => {
  it('answers exactly kyc_status, kyc_tier and aml_clear for each state', async () => {
    const s = await setup();
    expect((await s.status(await Holder.create())).body).toEqual({ kyc_status: 'unverified', kyc_tier: null, aml_clear: false });
    const approved = await s.apply('Doe');
    const verified = await s.status(approved.holder);
    expect(verified.status).toBe(200);
    expect(verified.headers.get('cache-control')).toBe('no-store');
    expect(verified.body).toEqual({ kyc_status: 'verified', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    expect((await s.status(approved.holder, KEY, '/')).body.kyc_status).toBe('verified'); // KYCPort's trailing slash
    const review = await s.apply('Review');
    expect((await s.status(review.holder)).body).toEqual({ kyc_status: 'pending', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    const declined = await s.apply('Declined');
    expect((await s.status(declined.holder)).body).toEqual({ kyc_status: 'rejected', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    // Suspended → pending; revoked → rejected.
    const [kcc] = await s.t.deps.store.credentialStatus.listForSubject(approved.holder.did);
    const change = (action: string) =>
      s.t.app.request(`${PUBLIC_URL}/admin/credentials/${encodeURIComponent(kcc.credentialId)}/status`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action, reason: 'check' }),
      });
    expect((await change('suspend')).status).toBe(200);
    expect((await s.status(approved.holder)).body.kyc_status).toBe('pending');
    expect((await change('reinstate')).status).toBe(200);
    expect((await s.status(approved.holder)).body.kyc_status).toBe('verified');
    // Past exp → expired.
    s.clock.advance(366 * 86400);
    expect((await s.status(approved.holder)).body).toEqual({ kyc_status: 'expired', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    expect((await change('revoke')).status).toBe(200);
    expect((await s.status(approved.holder)).body.kyc_status).toBe('rejected');
  });

  it('a subject cannot hide its revocation by opening a new application: rejected until a new approval', async () => {
    const s = await setup();
    const approved = await s.apply('Doe');
    expect((await s.status(approved.holder)).body.kyc_status).toBe('verified');
    const [application] = await s.t.deps.store.applications.listForApplicant(approved.holder.did, 1);
    const decide = (id: string, body: object) =>
      s.t.app.request(`${PUBLIC_URL}/admin/applications/${id}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // The operator overrules the approval: the KCC is revoked and the subject reads as rejected.
    expect((await decide(application.id, { decision: 'reject', overrule: true, reason: 'document found forged' })).status).toBe(200);
    expect((await s.status(approved.holder)).body).toEqual({ kyc_status: 'rejected', kyc_tier: 'KnownCustomerCredential', aml_clear: false });
    s.clock.advance(3600);
    // The same DID opens a new application (SIOPv2 only, form not submitted): still rejected.
    const client = new WalletClient(approved.holder, s.t.fetch, { now: () => Math.floor(s.clock() / 1000) });
    const pfi = await client.discover(PUBLIC_URL);
    const idv = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    expect((await s.status(approved.holder)).body.kyc_status).toBe('rejected');
    // …and while that application awaits review: still rejected (only a new approval lifts it).
    await client.submitIdvForm(idv.url, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    expect((await s.status(approved.holder)).body.kyc_status).toBe('rejected');
    const [reopened] = await s.t.deps.store.applications.listForApplicant(approved.holder.did, 1);
    expect(reopened.status).toBe('review');
    expect((await decide(reopened.id, { decision: 'approve' })).status).toBe(200);
    expect((await s.status(approved.holder)).body.kyc_status).toBe('verified');
  });

  it('refuses a missing or wrong key (401), a subject that is not a DID (400), and is off without keys (404)', async () => {
    const s = await setup();
    expect((await s.status('did:jwk:x', 'wrong')).status).toBe(401);
    const none = await s.t.app.request(`${PUBLIC_URL}/api/v1/kyc/did%3Ajwk%3Ax/status`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error).toBe('unauthorized');
    expect((await s.status('not-a-did')).status).toBe(400);
    expect((await (await setup([])).status('did:jwk:x')).status).toBe(404);
  });
});

describe('KYC status reads scoped to the relying party', () => {
  const ACME = 'acme-key-0123456789abcdef0123456789';
  const BETA = 'beta-key-0123456789abcdef0123456789';
  const read = async (s: Awaited<ReturnType<typeof setup>>, did: string, key: string, authorization?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (authorization) headers['kyc-subject-authorization'] = authorization;
    const res = await s.t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(did)}/status`, { headers });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('a tenant reads a subject only with the subject’s authorisation naming that tenant; otherwise 404 like an unknown DID', async () => {
    const s = await setup([`acme:${ACME}`, `beta:${BETA}`]);
    const { holder } = await s.apply('Doe');
    const now = () => Math.floor(s.clock() / 1000);
    const forAcme = await signKycStatusAuthorization(holder.signer, { subject: holder.did, tenant: 'acme', audience: PUBLIC_URL, now: now() });
    expect(await read(s, holder.did, ACME, forAcme)).toEqual({
      status: 200,
      body: { kyc_status: 'verified', kyc_tier: 'KnownCustomerCredential', aml_clear: false },
    });
    // The PFI DID is an accepted audience too.
    const byDid = await signKycStatusAuthorization(holder.signer, { subject: holder.did, tenant: 'acme', audience: s.t.deps.issuer.did, now: now() });
    expect((await read(s, holder.did, ACME, byDid)).status).toBe(200);

    // Every refusal is the same 404 as a DID the issuer never saw.
    const stranger = await Holder.create();
    const unknown = await read(s, stranger.did, BETA);
    expect(unknown.status).toBe(404);
    const other = await Holder.create();
    const refusals = {
      none: await read(s, holder.did, BETA),
      otherTenant: await read(s, holder.did, BETA, forAcme),
      otherSubjectsKey: await read(
        s,
        holder.did,
        ACME,
        await signJwt(
          other.signer,
          { iss: holder.did, sub: holder.did, aud: PUBLIC_URL, tenant: 'acme', iat: now(), exp: now() + 60 },
          { typ: KYC_AUTHORIZATION_TYP },
        ),
      ),
      forAnotherSubject: await read(
        s,
        holder.did,
        ACME,
        await signKycStatusAuthorization(other.signer, { subject: other.did, tenant: 'acme', audience: PUBLIC_URL, now: now() }),
      ),
      wrongAudience: await read(
        s,
        holder.did,
        ACME,
        await signKycStatusAuthorization(holder.signer, { subject: holder.did, tenant: 'acme', audience: 'https://other-pfi.example', now: now() }),
      ),
      tooLongLived: await read(
        s,
        holder.did,
        ACME,
        await signJwt(
          holder.signer,
          { iss: holder.did, sub: holder.did, aud: PUBLIC_URL, tenant: 'acme', iat: now(), exp: now() + 86400 },
          { typ: KYC_AUTHORIZATION_TYP },
        ),
      ),
      untyped: await read(
        s,
        holder.did,
        ACME,
        await signJwt(holder.signer, { iss: holder.did, sub: holder.did, aud: PUBLIC_URL, tenant: 'acme', iat: now(), exp: now() + 60 }),
      ),
      garbage: await read(s, holder.did, ACME, 'not.a.jwt'),
    };
    for (const [name, r] of Object.entries(refusals)) expect(r, name).toEqual(unknown);
    // Short-lived: the same authorisation is refused once it has expired.
    s.clock.advance(301 + 60);
    expect(await read(s, holder.did, ACME, forAcme)).toEqual(unknown);

    // A subject that authorises a tenant but never applied reads as unverified (it proved its key).
    const fresh = await signKycStatusAuthorization(stranger.signer, { subject: stranger.did, tenant: 'beta', audience: PUBLIC_URL, now: now() });
    expect((await read(s, stranger.did, BETA, fresh)).body.kyc_status).toBe('unverified');

    // Reads are audited per tenant: the subject for a read, only a digest of the DID for a refusal.
    const rows = s.t.sqlite.prepare("SELECT actor, action, detail FROM audit_log WHERE action LIKE 'kyc.%' ORDER BY id").all() as {
      actor: string;
      action: string;
      detail: string;
    }[];
    const acme = rows.filter((r) => r.actor === 'kyc-tenant:acme');
    const beta = rows.filter((r) => r.actor === 'kyc-tenant:beta');
    expect(acme.filter((r) => r.action === 'kyc.status_read').map((r) => JSON.parse(r.detail))).toEqual([
      { subject: holder.did, kyc_status: 'verified', authorization_kid: holder.kid },
      { subject: holder.did, kyc_status: 'verified', authorization_kid: holder.kid },
    ]);
    expect(acme.filter((r) => r.action === 'kyc.status_refused').map((r) => JSON.parse(r.detail).reason)).toEqual([
      'wrong_subject',
      'wrong_subject',
      'wrong_audience',
      'too_long_lived',
      'malformed',
      'malformed',
      'expired',
    ]);
    expect(beta.map((r) => r.action)).toEqual(['kyc.status_refused', 'kyc.status_refused', 'kyc.status_refused', 'kyc.status_read']);
    expect(beta.map((r) => JSON.parse(r.detail).reason).slice(0, 3)).toEqual(['missing', 'missing', 'wrong_tenant']);
    for (const r of rows.filter((r) => r.action === 'kyc.status_refused')) expect(r.detail).not.toContain('did:');
  });

  it('`kcc-wallet authorize-kyc` prints the authorisation a relying party presents', async () => {
    const s = await setup([`acme:${ACME}`]);
    const { holder } = await s.apply('Doe');
    const dir = mkdtempSync(join(tmpdir(), 'kcc-wallet-kyc-'));
    try {
      const keyFile = join(dir, 'holder.json');
      writeFileSync(keyFile, JSON.stringify(holder.privateJwk));
      const cli = (args: string[]) => execFileAsync(process.execPath, ['--import', 'tsx', 'src/wallet/cli.ts', ...args], { cwd: join(__dirname, '..', '..') });
      const { stdout } = await cli(['authorize-kyc', `${PUBLIC_URL}/`, '--tenant', 'acme', '--key-file', keyFile, '--minutes', '2']);
      const authorization = stdout.trim();
      // The CLI signs with the wall clock; the test issuer's clock started a few seconds earlier (within the skew).
      expect(await read(s, holder.did, ACME, authorization)).toEqual({
        status: 200,
        body: { kyc_status: 'verified', kyc_tier: 'KnownCustomerCredential', aml_clear: false },
      });
      await expect(cli(['authorize-kyc', PUBLIC_URL, '--key-file', keyFile])).rejects.toThrow(/--tenant/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tenants are named in KYC_API_KEYS (name:key, several keys per tenant); names and keys are checked at start', async () => {
    const s = await setup([`acme:${ACME}`, `acme:${BETA}`]);
    const { holder } = await s.apply('Doe');
    const auth = await signKycStatusAuthorization(holder.signer, {
      subject: holder.did,
      tenant: 'acme',
      audience: PUBLIC_URL,
      now: Math.floor(s.clock() / 1000),
    });
    expect((await read(s, holder.did, ACME, auth)).status).toBe(200);
    expect((await read(s, holder.did, BETA, auth)).status).toBe(200); // acme's second key (rotation)
    await expect(setup([`Acme Bank:${ACME}`])).rejects.toThrow(/KYC_API_KEYS: a tenant name/);
    await expect(setup([`acme:short`])).rejects.toThrow(/KYC_API_KEYS must be/);
    await expect(setup([`acme:${ACME}`, `beta:${ACME}`])).rejects.toThrow(/same key twice/);
  });
});
