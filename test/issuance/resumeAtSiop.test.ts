import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import type { Holder } from '../../src/wallet/holder';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';
import { ADMIN_TOKEN } from '../helpers/issuer';

/**
 * A wallet whose token answer was lost (the token was recorded, the code is spent, the wallet
 * never saw the access token) starts again at the SIOPv2 step with the same DID and gets an
 * offer for its still-uncollected application, without redoing IDV (src/issuance/applications.ts
 * `resumeApplication`). Over real HTTP: the token request succeeds on the server and the wallet
 * throws the answer away.
 */
let t: HttpIssuer;
beforeAll(async () => {
  t = await startHttpIssuer();
});
afterAll(async () => t?.close());

const json = { 'content-type': 'application/json' };
const jtiOf = (jwt: string) => decodeJwt(jwt).payload.jti as string;

/** The token request sent and answered 200 on the server, its answer "lost": returned only so the test can try it later. */
async function tokenAnswerLost(code: string, holder: Holder): Promise<{ access_token: string; c_nonce: string }> {
  const res = await fetch(`${t.url}/oauth2/token`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': code, client_id: holder.did }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; c_nonce: string };
}

/** The wallet's own retry with its code: spent, so invalid_grant. */
async function expectCodeSpent(code: string, holder: Holder) {
  const res = await fetch(`${t.url}/oauth2/token`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': code, client_id: holder.did }),
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
}

/** A credential request (draft 13) with an access token and a fresh Nonce Endpoint nonce. */
async function credentialWith(accessToken: string, holder: Holder) {
  const nonce = ((await (await fetch(`${t.url}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string }).c_nonce;
  const proof = await holder.createProofJwt({ audience: t.url, nonce });
  const res = await fetch(`${t.url}/oid4vci/credential`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proof } }),
  });
  return { status: res.status, body: (await res.json()) as { credential?: string; error?: string; transaction_id?: string } };
}

async function adminPost(path: string, body: unknown) {
  const res = await fetch(`${t.url}/admin${path}`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function adminCredentials(did: string) {
  const res = await fetch(`${t.url}/admin/credentials?subject=${encodeURIComponent(did)}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await res.json()) as { credentials: { id: string }[] }).credentials.map((c) => c.id);
}

/** SIOPv2 again with the same DID: the IDV Request. */
async function siopAgain(client: WalletClient) {
  const pfi = await client.discover(t.url);
  return client.respond(await client.initiate(pfi.idvEndpoint, pfi));
}

describe('a lost token answer: the wallet starts again at SIOPv2 with the same DID', () => {
  it('gets an offer for its approved application without IDV, collects exactly one KCC; the old access token gets no second', async () => {
    const app = await applyUntilOffer(t.url, fetch);
    const lost = await tokenAnswerLost(app.preAuthorizedCode, app.holder);
    await expectCodeSpent(app.preAuthorizedCode, app.holder);
    const applicationsBefore = (await t.deps.store.applications.listForApplicant(app.holder.did)).length;

    const idvRequest = await siopAgain(app.client);
    expect(idvRequest.url).toBe(`${t.url}/idv/approved/finish.html`);
    const code = idvRequest.credential_offer.grants[PRE_AUTH_GRANT]['pre-authorized_code'];
    expect(code).not.toBe(app.preAuthorizedCode);
    // No new application: the same one, its IDV not redone.
    expect((await t.deps.store.applications.listForApplicant(app.holder.did)).length).toBe(applicationsBefore);

    // The reference wallet's whole flow from there (finish.html: nothing to fill in).
    const result = await applyForKcc(new WalletClient(app.holder, fetch), { issuer: t.url, identity: SAMPLE_IDENTITY, pollAttempts: 0 });
    // applyForKcc did SIOPv2 once more: resumed again (the code just handed out is spent in turn).
    expect(result.idvRequest.url).toBe(`${t.url}/idv/approved/finish.html`);
    const kcc = result.credential!;
    expect(decodeJwt(kcc).payload.sub).toBe(app.holder.did);
    expect(await adminCredentials(app.holder.did)).toEqual([jtiOf(kcc)]);

    // The lost access token was revoked when the grant was reissued: no second KCC through it.
    const old = await credentialWith(lost.access_token, app.holder);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_token');
    // Nor through the code handed out by the first restart (spent by the second).
    await expectCodeSpent(code, app.holder);
    // The live grant gives the same KCC again, never a second.
    const again = await credentialWith(result.accessToken, app.holder);
    expect(again.body.credential).toBe(kcc);
    expect(await t.deps.store.credentialStatus.listForSubject(app.holder.did)).toHaveLength(1);

    // Collected: SIOPv2 now opens a new application (a renewal), with its form.
    const fresh = await siopAgain(app.client);
    expect(fresh.url).toMatch(/\/idv\/form\//);
    expect((await t.deps.store.applications.listForApplicant(app.holder.did)).length).toBe(applicationsBefore + 1);
  });

  it('in review: the resumed grant opens a deferred transaction, and after approval exactly one KCC is collected', async () => {
    const app = await applyUntilOffer(t.url, fetch, { familyName: 'Review' });
    const lost = await tokenAnswerLost(app.preAuthorizedCode, app.holder);
    const idvRequest = await siopAgain(app.client);
    expect(idvRequest.url).toBe(`${t.url}/idv/review/finish.html`);
    const token = await app.client.token(`${t.url}/oauth2/token`, idvRequest.credential_offer.grants[PRE_AUTH_GRANT]['pre-authorized_code']);
    const first = await credentialWith(token.access_token, app.holder);
    expect(first.status).toBe(202);
    const [application] = await t.deps.store.applications.listForApplicant(app.holder.did);
    await adminPost(`/applications/${application.id}/decision`, { decision: 'approve' });
    const collected = await app.client.deferred(`${t.url}/oid4vci/deferred-credential`, token.access_token, first.body.transaction_id!);
    expect(collected.credential).toMatch(/^ey/);
    expect((await credentialWith(lost.access_token, app.holder)).status).toBe(401);
    expect(await adminCredentials(app.holder.did)).toEqual([jtiOf(collected.credential!)]);
  });

  it('a claim whose record never came (the request died) is taken over through the resumed grant: the claimed id, one KCC', async () => {
    const app = await applyUntilOffer(t.url, fetch);
    await tokenAnswerLost(app.preAuthorizedCode, app.holder);
    const [application] = await t.deps.store.applications.listForApplicant(app.holder.did);
    const claimed = 'urn:uuid:00000000-0000-4000-8000-0000000c1a1d';
    expect(await t.deps.store.issuedCredentials.claim(application.id, claimed, Math.floor(Date.now() / 1000))).toBe(true);
    const idvRequest = await siopAgain(app.client);
    expect(idvRequest.url).toBe(`${t.url}/idv/approved/finish.html`);
    const token = await app.client.token(`${t.url}/oauth2/token`, idvRequest.credential_offer.grants[PRE_AUTH_GRANT]['pre-authorized_code']);
    const res = await credentialWith(token.access_token, app.holder);
    expect(res.status).toBe(200);
    expect(jtiOf(res.body.credential!)).toBe(claimed);
    expect(await adminCredentials(app.holder.did)).toEqual([claimed]);
  });

  it('re-approval after an overrule: the wallet that lost its grant collects a new KCC; an operator revocation is never undone', async () => {
    const app = await applyUntilOffer(t.url, fetch);
    const token = await app.client.token(`${t.url}/oauth2/token`, app.preAuthorizedCode);
    const first = (await credentialWith(token.access_token, app.holder)).body.credential!;
    const [application] = await t.deps.store.applications.listForApplicant(app.holder.did);
    await adminPost(`/applications/${application.id}/decision`, { decision: 'reject', overrule: true, reason: 'document found forged' });
    // The decision's clock is in seconds: the re-approval must come after the revocation's second.
    await new Promise((ok) => setTimeout(ok, 1100));
    await adminPost(`/applications/${application.id}/decision`, { decision: 'approve', overrule: true, reason: 'verified after all' });
    const resumed = await siopAgain(app.client);
    expect(resumed.url).toBe(`${t.url}/idv/approved/finish.html`);
    const second = await app.client.token(`${t.url}/oauth2/token`, resumed.credential_offer.grants[PRE_AUTH_GRANT]['pre-authorized_code']);
    const kcc = (await credentialWith(second.access_token, app.holder)).body.credential!;
    expect(jtiOf(kcc)).not.toBe(jtiOf(first));

    // The operator revokes that KCC (the application stays approved): SIOPv2 opens a new application, it does not hand out another KCC.
    const revoke = await fetch(`${t.url}/admin/credentials/${encodeURIComponent(jtiOf(kcc))}/status`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ action: 'revoke', reason: 'fraud' }),
    });
    expect(revoke.status, await revoke.clone().text()).toBe(200);
    await new Promise((ok) => setTimeout(ok, 1100));
    const fresh = await siopAgain(app.client);
    expect(fresh.url).toMatch(/\/idv\/form\//);
  });

  it('a DID that never applied, or whose application was declined, opens a new application as before', async () => {
    const declined = await applyUntilOffer(t.url, fetch, { familyName: 'Declined' });
    await tokenAnswerLost(declined.preAuthorizedCode, declined.holder);
    expect((await siopAgain(declined.client)).url).toMatch(/\/idv\/form\//);
    await expect(siopAgain(new WalletClient(declined.holder, fetch))).resolves.toMatchObject({ url: expect.stringMatching(/\/idv\/form\//) });
  });
});
