import { generateKeyPairSync } from 'node:crypto';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import type { PublicJwk } from '../../src/crypto/keys';
import { allocateCredentialStatus, applyDecisionToCredentials, changeCredentialStatus } from '../../src/issuance/credentialStatus';
import { signSdJwtKnownCustomerCredentials } from '../../src/issuance/sdJwtCredential';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { defaultVct } from '../../src/protocol/sdJwtVc/settings';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { verifySdJwtVc } from '../../src/verifier/verifySdJwtVc';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';
import { admin, applicationIdOf, openApplication, redeem, submitIdentity } from '../helpers/steps';

/**
 * The IETF Token Status List is the Bitstring lists' twin: the same list id, the same index per
 * credential, built from the same status rows, so revoke, suspend, reinstate and a decision's
 * consequences show in both formats at once. Decoded here by @sd-jwt/jwt-status-list.
 */
type TestIssuer = Awaited<ReturnType<typeof makeTestIssuer>>;

async function tokenList(t: TestIssuer, listId = 1) {
  const res = await t.fetch(`${PUBLIC_URL}/token-status/${listId}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
  return getListFromStatusListJWT(await res.text());
}

async function bitstring(t: TestIssuer, purpose: 'revocation' | 'suspension', listId = 1) {
  const jwt = await (await t.fetch(`${PUBLIC_URL}/status/${listId}/${purpose}`)).text();
  return decodeStatusList((decodeJwt(jwt).payload.vc as { credentialSubject: { encodedList: string } }).credentialSubject.encodedList);
}

async function slot(t: TestIssuer) {
  const now = Math.floor(t.deps.clock() / 1000);
  const credentialId = `urn:uuid:${crypto.randomUUID()}`;
  const status = await allocateCredentialStatus(t.deps, {
    credentialId,
    subjectDid: 'did:example:a',
    tierId: t.deps.config.tiers[0].id,
    evidence: [],
    issuedAt: now,
    expiresAt: now + 86400,
  });
  return { credentialId, index: status.index };
}

function holderJwk(): PublicJwk {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string };
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
}

describe('IETF Token Status List (statuslist+jwt)', () => {
  it('is a signed Status List Token: typ, sub = its URI, iat, exp, ttl, two bits per status', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    await slot(t);
    const res = await t.fetch(`${PUBLIC_URL}/token-status/1`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    const { header, payload } = decodeJwt(await res.text());
    expect(header).toMatchObject({ typ: 'statuslist+jwt', alg: 'EdDSA', kid: t.deps.issuer.signer.kid });
    expect(payload).toMatchObject({
      iss: PUBLIC_URL,
      sub: `${PUBLIC_URL}/token-status/1`,
      ttl: t.deps.config.statusList.cacheSeconds,
      status_list: { bits: 2 },
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(t.deps.config.statusList.validitySeconds);
    expect((await tokenList(t)).statusList.length).toBe(t.deps.config.statusList.size);
    // Kept while the list is unchanged (same bytes), rebuilt as soon as a status changes.
    const first = await (await t.fetch(`${PUBLIC_URL}/token-status/1`)).text();
    clock.advance(60); // a rebuild would carry a new iat
    expect(await (await t.fetch(`${PUBLIC_URL}/token-status/1`)).text()).toBe(first);
    await changeCredentialStatus(t.deps, (await slot(t)).credentialId, 'suspend', { actor: 'test' });
    expect(await (await t.fetch(`${PUBLIC_URL}/token-status/1`)).text()).not.toBe(first);
    expect((await t.fetch(`${PUBLIC_URL}/token-status/2`)).status).toBe(404);
    expect((await t.fetch(`${PUBLIC_URL}/token-status/0`)).status).toBe(404);
    expect((await t.fetch(`${PUBLIC_URL}/token-status/x`)).status).toBe(404);
  });

  it('before and after revoke, suspend and reinstate, in step with the Bitstring lists', async () => {
    const t = await makeTestIssuer();
    const a = await slot(t);
    const b = await slot(t);
    const both = async () => {
      const list = await tokenList(t);
      const [rev, sus] = [await bitstring(t, 'revocation'), await bitstring(t, 'suspension')];
      return [a, b].map((s) => ({ token: list.getStatus(s.index), revoked: getBit(rev, s.index), suspended: getBit(sus, s.index) }));
    };
    expect(await both()).toEqual([
      { token: 0, revoked: false, suspended: false },
      { token: 0, revoked: false, suspended: false },
    ]);
    await changeCredentialStatus(t.deps, a.credentialId, 'suspend', { actor: 'test' });
    expect(await both()).toEqual([
      { token: 2, revoked: false, suspended: true },
      { token: 0, revoked: false, suspended: false },
    ]);
    await changeCredentialStatus(t.deps, a.credentialId, 'reinstate', { actor: 'test' });
    expect(await both()).toEqual([
      { token: 0, revoked: false, suspended: false },
      { token: 0, revoked: false, suspended: false },
    ]);
    await changeCredentialStatus(t.deps, b.credentialId, 'suspend', { actor: 'test' });
    await changeCredentialStatus(t.deps, b.credentialId, 'revoke', { actor: 'test' });
    // Revoked while suspended: INVALID (final) in the token list, both bits in the Bitstring lists.
    expect(await both()).toEqual([
      { token: 0, revoked: false, suspended: false },
      { token: 1, revoked: true, suspended: true },
    ]);
    await changeCredentialStatus(t.deps, a.credentialId, 'revoke', { actor: 'test' });
    expect((await both())[0]).toEqual({ token: 1, revoked: true, suspended: false });
  });

  it('a batch of 5 SD-JWT VCs under one decision: five keys, five indices; overruling the decision revokes all five', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    await submitIdentity(t, client, idvRequest);
    const token = await redeem(t, holder, code);
    const applicationId = await applicationIdOf(t, token.access_token);
    const application = (await t.deps.store.applications.get(applicationId))!;
    expect(application.status).toBe('approved');

    // What the credential endpoint will do for proofs.jwt with five keys: claim once, sign five, record five.
    expect(await t.deps.store.issuedCredentials.claim(applicationId, `urn:uuid:${crypto.randomUUID()}`, Math.floor(t.deps.clock() / 1000))).toBe(true);
    const keys = Array.from({ length: 5 }, holderJwk);
    const batch = await signSdJwtKnownCustomerCredentials(t.deps, application, {
      holders: keys.map((jwk) => ({ jwk, did: holder.did })),
      evidence: [{ kind: 'document_verification', checks: ['passport'], verifiedAt: Math.floor(t.deps.clock() / 1000) }],
      vct: defaultVct(PUBLIC_URL),
    });
    for (const c of batch) {
      await t.deps.store.issuedCredentials.record({
        id: c.id,
        applicationId,
        subjectDid: application.applicantDid,
        jwtSha256: Buffer.from(t.deps.crypto.sha256(c.sdJwt)).toString('base64url'),
        issuedAt: c.issuedAt,
        expiresAt: c.expiresAt,
        transactionId: null,
      });
    }
    expect(batch).toHaveLength(5);
    expect(new Set(batch.map((c) => c.index)).size).toBe(5);
    const payloads = batch.map((c) => decodeJwt(c.sdJwt.split('~')[0]).payload as { cnf: { jwk: PublicJwk }; status: { status_list: { idx: number } } });
    expect(payloads.map((p) => p.cnf.jwk.x)).toEqual(keys.map((k) => k.x));
    expect(payloads.map((p) => p.status.status_list.idx)).toEqual(batch.map((c) => c.index));
    // Unlinkable copies: no claim in the clear beyond the always-disclosed ones (no jti, no sub).
    for (const p of payloads) expect(Object.keys(p).sort()).toEqual(['_sd', '_sd_alg', 'cnf', 'exp', 'iat', 'iss', 'status', 'vct']);

    const options = {
      verifier: createNodeCryptoProvider(),
      now: Math.floor(t.deps.clock() / 1000),
      fetchIssuerMetadata: async (url: string) => (await t.fetch(url)).json(),
      fetchStatusList: async (url: string) => (await t.fetch(url)).text(),
      trustedIssuers: [PUBLIC_URL],
    };
    for (const c of batch) expect((await verifySdJwtVc(c.sdJwt, options)).ok).toBe(true);

    const decided = await admin(t, 'POST', `/applications/${applicationId}/decision`, { decision: 'reject', overrule: true, reason: 'document found forged' });
    expect(decided.status).toBe(200);
    const list = await tokenList(t);
    const revocation = await bitstring(t, 'revocation');
    expect(batch.map((c) => list.getStatus(c.index))).toEqual([1, 1, 1, 1, 1]);
    expect(batch.map((c) => getBit(revocation, c.index))).toEqual([true, true, true, true, true]);
    for (const c of batch) expect((await verifySdJwtVc(c.sdJwt, options)).reasons).toEqual(['status: revoked']);
  });

  it('a decision sent back to review suspends every copy, approving again reinstates them', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    await submitIdentity(t, client, idvRequest);
    const applicationId = await applicationIdOf(t, (await redeem(t, holder, code)).access_token);
    const application = (await t.deps.store.applications.get(applicationId))!;
    const batch = await signSdJwtKnownCustomerCredentials(t.deps, application, {
      holders: [{ jwk: holderJwk() }, { jwk: holderJwk() }],
      evidence: [],
      vct: 'urn:example:kcc',
    });
    for (const c of batch) {
      await t.deps.store.issuedCredentials.record({
        id: c.id,
        applicationId,
        subjectDid: application.applicantDid,
        jwtSha256: c.id,
        issuedAt: c.issuedAt,
        expiresAt: c.expiresAt,
        transactionId: null,
      });
    }
    expect(decodeJwt(batch[0].sdJwt.split('~')[0]).payload.vct).toBe('urn:example:kcc');
    await applyDecisionToCredentials(t.deps, applicationId, 'review', 'test');
    let list = await tokenList(t);
    expect(batch.map((c) => list.getStatus(c.index))).toEqual([2, 2]);
    await applyDecisionToCredentials(t.deps, applicationId, 'approved', 'test');
    list = await tokenList(t);
    expect(batch.map((c) => list.getStatus(c.index))).toEqual([0, 0]);
  });
});
