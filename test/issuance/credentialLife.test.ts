import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTiersConfig } from '../../src/config';
import { decodeJwt } from '../../src/crypto/jwt';
import { decodeDisclosure } from '../../src/protocol/sdJwtVc/kcc';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { startBackgroundJobs } from '../../src/runtime/dispatcher';
import { WalletClient, WalletError } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';
import { makeTieredIssuer, vcOf } from '../helpers/tiers';

/**
 * The credential's life as one owner (src/issuance/) sees it: a decision changed after issuance
 * changes the credential's status; a renewal is only as good as the KCC presented for it while
 * it lasts; every configuration the metadata names is issuable in both profiles; the periodic
 * jobs Node runs are the Workers' list.
 */
const DAY = 86400;
type Tiered = Awaited<ReturnType<typeof makeTieredIssuer>>;

async function statusBit(t: { app: { request: (url: string) => Response | Promise<Response> } }, kcc: string, purpose: 'revocation' | 'suspension') {
  const entry = vcOf(kcc).credentialStatus.find((e: { statusPurpose: string }) => e.statusPurpose === purpose);
  const list = decodeJwt(await (await t.app.request(entry.statusListCredential)).text()).payload.vc as any;
  return getBit(await decodeStatusList(list.credentialSubject.encodedList), Number(entry.statusListIndex));
}

async function issuedAndApproved(t: Tiered) {
  const client = await t.wallet();
  const kcc = (await t.apply(client, 'kcc-basic')).credential as string;
  const [application] = (await t.admin('/applications?status=approved')).body.applications as { id: string }[];
  return { client, kcc, applicationId: application.id };
}

describe('an overruled approval revokes what was issued', () => {
  it('operator API: approved → rejected sets the revocation bit and the verifier reports the KCC revoked', async () => {
    const t = await makeTieredIssuer();
    const { kcc, applicationId } = await issuedAndApproved(t);
    expect((await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did])).code).toBe(0);
    // An overrule needs a reason; without `overrule` a decided application is not in review.
    expect((await t.admin(`/applications/${applicationId}/decision`, { decision: 'reject', overrule: true })).status).toBe(400);
    expect((await t.admin(`/applications/${applicationId}/decision`, { decision: 'reject', reason: 'x' })).status).toBe(409);
    const decided = await t.admin(`/applications/${applicationId}/decision`, { decision: 'reject', overrule: true, reason: 'document found forged' });
    expect(decided.status).toBe(200);
    expect(decided.body.status).toBe('rejected');
    expect(await statusBit(t, kcc, 'revocation')).toBe(true);
    const verdict = await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did]);
    expect(verdict.code).not.toBe(0);
    expect(verdict.out + verdict.err).toMatch(/revoked/);
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(kcc).id)}`)).body.status).toBe('revoked');
    const audit = (await t.admin(`/applications/${applicationId}/audit`)).body.audit as { action: string; detail: any }[];
    expect(audit.find((a) => a.action === 'idv.redecision')?.detail.credentials_revoked).toEqual([vcOf(kcc).id]);
    const events = (await t.admin('/webhooks/events')).body.events as { type: string }[];
    expect(events.map((e) => e.type)).toContain('credential.revoked');
  });

  it('review console: the overrule form revokes as well', async () => {
    const t = await makeTieredIssuer();
    const { kcc, applicationId } = await issuedAndApproved(t);
    const login = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ operator: 'Carol', token: ADMIN_TOKEN }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await (await t.app.request(`${PUBLIC_URL}/console/applications/${applicationId}`, { headers: { cookie } })).text();
    expect(page).toContain('Overrule the decision');
    const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(page)?.[1] as string;
    const res = await t.app.request(`${PUBLIC_URL}/console/applications/${applicationId}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ decision: 'reject', overrule: 'true', reason: 'sanctions hit', csrf_token: csrf, confirmed: 'yes' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(await statusBit(t, kcc, 'revocation')).toBe(true);
    expect((await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did])).out).toMatch(/revoked/);
  });

  it('back to review suspends the KCC; approved again reinstates it', async () => {
    const t = await makeTieredIssuer();
    const { kcc, applicationId } = await issuedAndApproved(t);
    const { applyResult } = await import('../../src/issuance/identityVerification');
    await applyResult(t.deps, {
      applicationId,
      provider: 'hosted',
      result: { state: 'needs_review', reasonCodes: ['vendor:rescreen'], final: false, checks: [], vendorReference: applicationId },
      eventAt: t.clock() + 1,
      actor: 'test',
    });
    expect(await statusBit(t, kcc, 'suspension')).toBe(true);
    expect((await t.admin(`/applications/${applicationId}/decision`, { decision: 'approve' })).status).toBe(200);
    expect(await statusBit(t, kcc, 'suspension')).toBe(false);
    expect(await statusBit(t, kcc, 'revocation')).toBe(false);
  });
});

describe('a renewal rests on the KCC presented for it', () => {
  /** Up to the offer of a renewal with `presented`, as a wallet would get there. */
  async function renewalOffer(t: Tiered, client: WalletClient, presented: string) {
    const pfi = await client.discover(t.base);
    const request = await client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: 'kcc-basic' });
    const idvRequest = await client.respond(request, { credentials: [presented] });
    expect(idvRequest.url).toBe(`${PUBLIC_URL}/idv/finish.html`); // fresh evidence: no IDV
    const { authorizationServer, credentialIssuer } = await client.metadata(idvRequest.credential_offer.credential_issuer);
    const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    return { pfi, authorizationServer, credentialIssuer, code };
  }
  const errorOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(WalletError);
      return (e as WalletError).body as { error: string; error_description: string };
    }
    throw new Error('expected a refusal');
  };

  it('revoked after the offer: the token endpoint refuses the code (invalid_grant) and nothing is issued', async () => {
    const t = await makeTieredIssuer();
    const { client, kcc } = await issuedAndApproved(t);
    t.clock.advance(DAY);
    const offer = await renewalOffer(t, client, kcc);
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(kcc).id)}/status`, { action: 'revoke', reason: 'lost device' })).status).toBe(200);
    const before = await t.deps.store.issuedCredentials.count();
    const err = await errorOf(client.token(offer.authorizationServer.token_endpoint, offer.code));
    expect(err.error).toBe('invalid_grant');
    expect(err.error_description).toMatch(/revoked/);
    expect(await t.deps.store.issuedCredentials.count()).toBe(before);
  });

  it('suspended after the token: the credential endpoint denies (credential_request_denied) and nothing is issued', async () => {
    const t = await makeTieredIssuer();
    const { client, kcc } = await issuedAndApproved(t);
    t.clock.advance(DAY);
    const offer = await renewalOffer(t, client, kcc);
    const token = await client.token(offer.authorizationServer.token_endpoint, offer.code);
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(kcc).id)}/status`, { action: 'suspend', reason: 'under investigation' })).status).toBe(200);
    const before = await t.deps.store.issuedCredentials.count();
    const err = await errorOf(client.credential(offer.credentialIssuer.credential_endpoint, token.access_token, offer.pfi.did, token.c_nonce));
    expect(err.error).toBe('credential_request_denied');
    expect(err.error_description).toMatch(/suspended/);
    expect(await t.deps.store.issuedCredentials.count()).toBe(before);
    // The presented KCC was not superseded either: it stays suspended, not revoked.
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(kcc).id)}`)).body.status).toBe('suspended');
  });
});

describe('every configuration in the metadata is issuable in both profiles', () => {
  const tiers = parseTiersConfig(JSON.parse(readFileSync(new URL('../../docs/tiers.example.json', import.meta.url), 'utf8')));
  const json = { 'content-type': 'application/json' };

  /** The tier claims of a KCC: from `vc` (jwt_vc_json) or from the disclosures (SD-JWT VC). */
  function tierClaims(credential: string): { tier: string; evidence: { kind: string }[] } {
    if (!credential.includes('~')) return { tier: vcOf(credential).credentialSubject.tier, evidence: vcOf(credential).evidence };
    const disclosed = Object.fromEntries(
      credential
        .split('~')
        .slice(1)
        .filter(Boolean)
        .map((d) => decodeDisclosure(d).slice(1)),
    );
    return { tier: disclosed.tier, evidence: disclosed.evidence };
  }

  it.each([['v1'], ['draft13']])('%s: one KCC of the configuration’s tier for each id, both formats', async (profile) => {
    const t = await makeTestIssuer({ config: tiers });
    const metadata = (await (await t.app.request(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as {
      credential_configurations_supported: Record<string, { format: string; vct?: string }>;
    };
    const ids = Object.keys(metadata.credential_configurations_supported);
    const tierIds = tiers.tiers!.map((tier) => tier.id);
    expect(ids).toEqual([...tierIds, ...tierIds.map((id) => `${id}_sd_jwt`)]);
    for (const id of ids) {
      const configuration = metadata.credential_configurations_supported[id];
      const tierId = id.replace(/_sd_jwt$/, '');
      const holder = await Holder.create();
      const client = new WalletClient(holder, t.fetch);
      const pfi = await client.discover(PUBLIC_URL);
      const idvRequest = await client.respond(await client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: tierId }));
      expect(idvRequest.credential_offer.credential_configuration_ids).toEqual([tierId, `${tierId}_sd_jwt`]);
      expect((await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY)).status).toBe(200);
      const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
      const token = await client.token(`${PUBLIC_URL}/oauth2/token`, code);
      const bearer = { ...json, authorization: `Bearer ${token.access_token}` };
      let credential: string;
      if (profile === 'v1') {
        const { c_nonce } = (await (await t.app.request(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string };
        const jwt = await holder.createProofJwt({ audience: PUBLIC_URL, nonce: c_nonce });
        // A configuration this token was not offered (another tier's) is refused; its own is issued.
        const other = ids.find((x) => x.replace(/_sd_jwt$/, '') !== tierId) as string;
        const wrong = await t.app.request(`${PUBLIC_URL}/oid4vci/credential`, {
          method: 'POST',
          headers: bearer,
          body: JSON.stringify({ credential_configuration_id: other, proofs: { jwt: [jwt] } }),
        });
        expect(((await wrong.json()) as { error: string }).error).toBe('invalid_credential_request');
        const { c_nonce: fresh } = (await (await t.app.request(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string };
        const res = await t.app.request(`${PUBLIC_URL}/oid4vci/credential`, {
          method: 'POST',
          headers: bearer,
          body: JSON.stringify({ credential_configuration_id: id, proofs: { jwt: [await holder.createProofJwt({ audience: PUBLIC_URL, nonce: fresh })] } }),
        });
        expect(res.status).toBe(200);
        credential = ((await res.json()) as { credentials: { credential: string }[] }).credentials[0].credential;
      } else {
        const proof = { proof_type: 'jwt', jwt: await holder.createProofJwt({ audience: pfi.did, nonce: token.c_nonce }) };
        // Draft 13 §A.1.2 / §A.3.4: jwt_vc_json by credential_definition, vc+sd-jwt by vct.
        const request =
          configuration.format === 'jwt_vc_json'
            ? { format: 'jwt_vc_json', credential_definition: { type: ['VerifiableCredential', 'KnownCustomerCredential'] }, proof }
            : { format: 'vc+sd-jwt', vct: configuration.vct, proof };
        const res = await t.app.request(`${PUBLIC_URL}/oid4vci/credential`, { method: 'POST', headers: bearer, body: JSON.stringify(request) });
        expect(res.status).toBe(200);
        credential = ((await res.json()) as { credential: string }).credential;
      }
      expect(decodeJwt(credential.split('~')[0]).header.typ).toBe(
        configuration.format === 'jwt_vc_json' ? 'JWT' : profile === 'v1' ? 'dc+sd-jwt' : 'vc+sd-jwt',
      );
      const tier = tiers.tiers!.find((x) => x.id === tierId)!;
      const claims = tierClaims(credential);
      expect(claims.tier).toBe(tier.name);
      expect(claims.evidence.map((e) => e.kind).sort()).toEqual([...tier.requiredChecks].sort());
    }
  });
});

describe('periodic jobs', () => {
  it('Node purges expired rows with the same job list Workers run (injected clock)', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const { JOBS } = await import('../../src/issuance/jobs');
    const { SCHEDULED_JOBS } = await import('../../src/runtime/workerIssuer');
    expect(SCHEDULED_JOBS).toBe(JOBS);
    const client = new WalletClient(await Holder.create(), t.fetch, { now: () => Math.floor(clock() / 1000) });
    await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate`); // an unanswered request
    await t.app.request(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' });
    const count = (table: string) => (t.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(count('siop_requests')).toBe(2);
    expect(count('c_nonces')).toBeGreaterThan(0);
    expect(count('nonces')).toBe(1);
    const jobs = startBackgroundJobs(t.deps, { intervalMs: 3_600_000 });
    try {
      await jobs.runNow();
      expect(count('siop_requests')).toBe(2); // nothing expired yet
      clock.advance(2 * DAY);
      await jobs.runNow();
      expect(count('siop_requests')).toBe(0);
      expect(count('c_nonces')).toBe(0);
      expect(count('nonces')).toBe(0);
      expect(count('pre_authorized_codes')).toBe(0); // past its retention (the access-token lifetime)
      expect(count('status_list_cache')).toBe(2); // status lists re-signed by the same run
    } finally {
      await jobs.stop();
    }
  });
});
