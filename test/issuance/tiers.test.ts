import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { WalletError } from '../../src/wallet/client';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { TIERS, makeTieredIssuer, vcOf } from '../helpers/tiers';

const DAY = 86400;

async function statusBit(t: Awaited<ReturnType<typeof makeTieredIssuer>>, kcc: string, purpose: 'revocation' | 'suspension') {
  const entry = vcOf(kcc).credentialStatus.find((e: any) => e.statusPurpose === purpose);
  const res = await t.app.request(entry.statusListCredential);
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
  const list = decodeJwt(await res.text()).payload.vc as any;
  expect(list.credentialSubject.statusPurpose).toBe(purpose);
  const bits = await decodeStatusList(list.credentialSubject.encodedList);
  expect(bits.length * 8).toBeGreaterThanOrEqual(131_072);
  return getBit(bits, Number(entry.statusListIndex));
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(WalletError);
    const err = e as WalletError;
    expect(err.status).toBe(400);
    expect((err.body as any).error).toBe('invalid_request');
    return (err.body as any).error_description as string;
  }
  throw new Error('expected a refusal');
}

describe('tiers as configuration', () => {
  it('publishes one credential configuration and one Presentation Definition per tier', async () => {
    const t = await makeTieredIssuer();
    const meta = (await (await t.app.request(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as any;
    expect(Object.keys(meta.credential_configurations_supported)).toEqual(['kcc-basic', 'kcc-enhanced', 'kcc-basic_sd_jwt', 'kcc-enhanced_sd_jwt']);
    expect(meta.credential_configurations_supported['kcc-enhanced'].credential_definition.type).toEqual(['VerifiableCredential', 'KnownCustomerCredential']);

    const res = await t.app.request(`${PUBLIC_URL}/presentation-definitions/kcc-enhanced`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('public');
    const pd = (await res.json()) as any;
    expect(pd.id).toBe('kcc-enhanced');
    const patterns = pd.input_descriptors[0].constraints.fields.map((f: any) => f.filter.pattern ?? f.filter.const);
    expect(patterns).toEqual(['KnownCustomerCredential', t.deps.issuer.did, '^document_verification$', '^sanction_screening$']);
    expect((await t.app.request(`${PUBLIC_URL}/presentation-definitions/nope`)).status).toBe(404);
    const list = (await (await t.app.request(`${PUBLIC_URL}/presentation-definitions`)).json()) as any;
    expect(list.tiers.map((x: any) => x.id)).toEqual(['kcc-basic', 'kcc-enhanced']);
  });

  it('selects the tier with presentation_definition_id; an unknown id is a clear invalid_request', async () => {
    const t = await makeTieredIssuer();
    const bad = await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=platinum`, { headers: { accept: 'application/json' } });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as any;
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toContain('unknown presentation_definition_id');
    expect(body.error_description).toContain('kcc-basic, kcc-enhanced');

    const ok = (await (
      await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=kcc-enhanced`, { headers: { accept: 'application/json' } })
    ).json()) as any;
    // The tier accepts prior credentials: the request asks for them (spec: vp_token with presentation_definition).
    expect(ok.response_type).toBe('id_token vp_token');
    expect(ok.presentation_definition.id).toBe('kcc-enhanced-prior-kcc');
    expect(ok.presentation_definition.input_descriptors[0].constraints.fields[1].filter.enum).toEqual([t.deps.issuer.did]);

    const client = await t.wallet();
    const r = await t.apply(client, 'kcc-enhanced');
    const vc = vcOf(r.credential as string);
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect(vc.evidence.map((e: any) => e.kind)).toEqual(['document_verification', 'sanction_screening']);
    expect(decodeJwt(r.credential as string).payload.exp).toBe(t.nowSeconds() + 180 * DAY);
    expect(r.idvRequest.credential_offer.credential_configuration_ids).toEqual(['kcc-enhanced', 'kcc-enhanced_sd_jwt']);
  });

  it('keeps the default: no tiers configured → one tier, id_token only, KCC with status entries', async () => {
    const t = await makeTestIssuer();
    const req = (await (await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } })).json()) as any;
    expect(req.response_type).toBe('id_token');
    expect(req.presentation_definition).toBeUndefined();
    const ok = await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=KnownCustomerCredential`);
    expect(ok.status).toBe(200);
    expect((await t.app.request(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=x`)).status).toBe(400);
    const pd = (await (await t.app.request(`${PUBLIC_URL}/presentation-definitions/KnownCustomerCredential`)).json()) as any;
    expect(pd.id).toBe('KnownCustomerCredential');
  });
});

describe('upgrade, renewal and supersession with presented KCCs', () => {
  it('upgrades Basic → Enhanced asking only for the extra check, and revokes the superseded KCC', async () => {
    const t = await makeTieredIssuer();
    const client = await t.wallet();
    const basic = (await t.apply(client, 'kcc-basic')).credential as string;
    expect(vcOf(basic).credentialSubject.tier).toBe('Basic');
    expect(vcOf(basic).evidence.map((e: any) => e.kind)).toEqual(['document_verification']);
    expect(vcOf(basic).credentialStatus.map((e: any) => e.statusPurpose)).toEqual(['revocation', 'suspension']);
    const basicId = vcOf(basic).id;

    t.clock.advance(30 * DAY);
    const upgrade = await t.apply(client, 'kcc-enhanced', [basic]);
    expect(upgrade.steps).toContain('idv_submitted'); // sanction screening still had to be done
    const applications = await t.deps.store.applications.listByStatus('approved');
    const prefill = await t.deps.store.applicationPrefill.get(applications[applications.length - 1].id);
    expect(prefill!.missingChecks).toEqual(['sanction_screening']);
    expect(prefill!.supersedes).toEqual([basicId]);
    const view = await t.admin(`/applications/${applications[applications.length - 1].id}`);
    expect(view.body.prefill.missing_checks).toEqual(['sanction_screening']);
    expect(view.body.prefill.verified_evidence[0]).toMatchObject({ kind: 'document_verification', source: basicId });

    const enhanced = vcOf(upgrade.credential as string);
    expect(enhanced.credentialSubject.tier).toBe('Enhanced');
    expect(enhanced.evidence.map((e: any) => e.kind).sort()).toEqual(['document_verification', 'sanction_screening']);
    // The document check keeps its original time (it was not redone).
    const record = await t.deps.store.credentialStatus.get(enhanced.id);
    const times = Object.fromEntries(record!.evidence.map((e: any) => [e.kind, e.verifiedAt]));
    expect(times.sanction_screening - times.document_verification).toBe(30 * DAY);

    // Re-issue after upgrade revokes the superseded KCC; the status list and the verifier say so.
    const status = await t.admin(`/credentials/${encodeURIComponent(basicId)}`);
    expect(status.body.status).toBe('revoked');
    expect(status.body.revocation_reason).toContain('superseded');
    expect(await statusBit(t, basic, 'revocation')).toBe(true);
    expect(await statusBit(t, upgrade.credential as string, 'revocation')).toBe(false);
    const verdict = await t.cli([basic, '--trusted-issuer', t.deps.issuer.did]);
    expect(verdict.code).toBe(1);
    expect(verdict.out).toMatch(/status: revoked/);
    const good = await t.cli([upgrade.credential as string, '--trusted-issuer', t.deps.issuer.did]);
    expect(good.out).toContain('VALID');
    expect(good.code).toBe(0);
  });

  it('asks an upgrading applicant only for the fields the extra check needs', async () => {
    const t = await makeTieredIssuer();
    const client = await t.wallet();
    const basic = (await t.apply(client, 'kcc-basic')).credential as string;
    const pfi = await client.discover(PUBLIC_URL);
    const request = await client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: 'kcc-enhanced' });
    const idv = await client.respond(request, { credentials: [basic] });
    // The consent step lists only those fields, and so does the form behind it.
    const consent = await (await t.app.request(idv.url)).text();
    expect(consent).toContain('<li>Family name</li>');
    expect(consent).not.toContain('<li>Document number</li>');
    const html = await (
      await t.app.request(idv.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ consent: 'accept', step: 'consent' }),
      })
    ).text();
    expect(html).toContain('name="family_name"');
    expect(html).not.toContain('name="document_number"');
    expect(html).not.toContain('name="document_type"');
    const person = { given_name: 'Alice', family_name: 'Doe', birthdate: '1990-04-01', country_of_residence: 'US' };
    const form = await client.submitIdvForm(idv.url, person);
    expect(form.status).toBe(200);
    expect(form.location).toContain('finish.html');
    const offer = idv.credential_offer;
    const token = await client.token(`${PUBLIC_URL}/oauth2/token`, offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code']);
    const issued = await client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, pfi.did, token.c_nonce);
    const vc = vcOf(issued.credential as string);
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect(vc.evidence).toEqual([
      { type: ['DocumentVerification'], kind: 'document_verification', checks: ['passport'] },
      { type: ['SanctionScreening'], kind: 'sanction_screening', checks: ['sanctions', 'PEP'] },
    ]);
  });

  it('renews through the shortened flow: no IDV while evidence is fresh, only aged-out checks otherwise', async () => {
    const t = await makeTieredIssuer();
    const client = await t.wallet();
    const first = (await t.apply(client, 'kcc-enhanced')).credential as string;

    t.clock.advance(10 * DAY);
    const renewed = await t.apply(client, 'kcc-enhanced', [first]);
    expect(renewed.steps).toContain('idv_skipped');
    expect(renewed.idvRequest.url).toBe(`${PUBLIC_URL}/idv/finish.html`);
    const vc = vcOf(renewed.credential as string);
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect(vc.credentialSubject.countryOfResidence).toBe('US');
    expect(decodeJwt(renewed.credential as string).payload.exp).toBe(t.nowSeconds() + 180 * DAY);
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(first).id)}`)).body.status).toBe('revoked');

    // Asking for the lower tier with the Enhanced KCC: no IDV, and the Enhanced KCC stays valid.
    const basic = await t.apply(client, 'kcc-basic', [renewed.credential as string]);
    expect(basic.steps).toContain('idv_skipped');
    expect(vcOf(basic.credential as string).credentialSubject.tier).toBe('Basic');
    expect((await t.admin(`/credentials/${encodeURIComponent(vcOf(renewed.credential as string).id)}`)).body.status).toBe('active');

    // 100 days after the first screening: sanction screening (90 days) aged out, documents did not.
    t.clock.advance(90 * DAY);
    const again = await t.apply(client, 'kcc-enhanced', [renewed.credential as string]);
    expect(again.steps).toContain('idv_submitted');
    const apps = await t.deps.store.applications.listByStatus('approved');
    const prefill = await t.deps.store.applicationPrefill.get(apps[apps.length - 1].id);
    expect(prefill!.missingChecks).toEqual(['sanction_screening']);
  });
});

describe('KCCs from another trusted PFI', () => {
  it('accepts a trusted issuer’s KCC (did:web, its status list fetched) and refuses it once revoked', async () => {
    const { createDidWebResolver } = await import('../../src/did/web');
    const { testClock } = await import('../helpers/issuer');
    const clock = testClock();
    const other = await makeTieredIssuer({ publicUrl: 'http://other.test', clock });
    const otherFetch = ((input: RequestInfo | URL, init?: RequestInit) => other.app.request(String(input), init)) as typeof fetch;
    const t = await makeTieredIssuer({
      clock,
      tiers: [TIERS[0], { ...TIERS[1], acceptsPriorCredentialsFrom: ['self', 'did:web:other.test'] }],
      didMethods: createDidWebResolver({ fetch: otherFetch, allowHttp: true }),
      statusListFetch: async (url) => (await otherFetch(url)).text(),
    });
    const alice = await t.wallet();
    const foreign = (await other.apply(await other.wallet(alice.holder), 'kcc-basic')).credential as string;
    const upgraded = await t.apply(alice, 'kcc-enhanced', [foreign]);
    expect(upgraded.steps).toContain('idv_submitted');
    const apps = await t.deps.store.applications.listByStatus('approved');
    const prefill = await t.deps.store.applicationPrefill.get(apps[apps.length - 1].id);
    expect(prefill!.missingChecks).toEqual(['sanction_screening']);
    expect(prefill!.supersedes).toEqual([]); // not ours to revoke
    expect(vcOf(upgraded.credential as string).issuer).toBe(t.deps.issuer.did);

    await other.admin(`/credentials/${encodeURIComponent(vcOf(foreign).id)}/status`, { action: 'revoke', reason: 'fraud' });
    expect(await refusal(t.apply(alice, 'kcc-enhanced', [foreign]))).toContain('status: revoked');
  });
});

describe('presented credentials that are refused', () => {
  it('refuses a revoked, a suspended, an expired, another subject’s and an untrusted issuer’s KCC', async () => {
    const t = await makeTieredIssuer();
    const alice = await t.wallet();
    const kcc = (await t.apply(alice, 'kcc-basic')).credential as string;
    const id = encodeURIComponent(vcOf(kcc).id);

    // Another subject: Bob presents Alice's KCC in his own (validly signed) presentation.
    const bob = await t.wallet();
    expect(await refusal(t.apply(bob, 'kcc-enhanced', [kcc]))).toMatch(/subject .* is not did:jwk/);

    // Suspended, then reinstated.
    expect((await t.admin(`/credentials/${id}/status`, { action: 'suspend', reason: 'periodic review' })).body.status).toBe('suspended');
    expect(await refusal(t.apply(alice, 'kcc-enhanced', [kcc]))).toContain('suspended');

    // Untrusted issuer: a KCC from another PFI.
    const other = await makeTieredIssuer({ publicUrl: 'http://other.test' });
    const foreign = (await other.apply(await other.wallet(alice.holder), 'kcc-basic')).credential as string;
    expect(await refusal(t.apply(alice, 'kcc-enhanced', [foreign]))).toContain('issuer did:web:other.test is not trusted');

    // Revoked.
    expect((await t.admin(`/credentials/${id}/status`, { action: 'reinstate' })).body.status).toBe('active');
    expect((await t.admin(`/credentials/${id}/status`, { action: 'revoke', reason: 'fraud' })).body.status).toBe('revoked');
    expect(await refusal(t.apply(alice, 'kcc-enhanced', [kcc]))).toContain('revoked');

    // Expired.
    const fresh = (await t.apply(alice, 'kcc-basic')).credential as string;
    t.clock.advance(366 * DAY);
    expect(await refusal(t.apply(alice, 'kcc-enhanced', [fresh]))).toContain('expired');
  });

  it('refuses a replayed presentation (another request’s nonce) and a replayed response', async () => {
    const t = await makeTieredIssuer();
    const alice = await t.wallet();
    const kcc = (await t.apply(alice, 'kcc-basic')).credential as string;
    const pfi = await alice.discover(PUBLIC_URL);
    const first = await alice.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: 'kcc-enhanced' });
    const firstParams = await alice.authorizationResponse(first, [kcc]);
    const post = (params: Record<string, unknown>) =>
      t.app.request(first.response_uri, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
    expect((await post(firstParams)).status).toBe(200);

    // The whole response again: its nonce is spent.
    const replay = await post(firstParams);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as any).error_description).toMatch(/nonce/);

    // The old presentation with a fresh ID token for a new request: bound to the old nonce.
    const second = await alice.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: 'kcc-enhanced' });
    const secondParams = await alice.authorizationResponse(second, [kcc]);
    const mixed = await post({ ...secondParams, vp_token: firstParams.vp_token });
    expect(mixed.status).toBe(400);
    expect(((await mixed.json()) as any).error_description).toContain('presentation nonce does not match this request');

    // A submission that points at nothing, and a definition id that is not the request's.
    const wrongDef = await post({ ...secondParams, presentation_submission: { ...(secondParams.presentation_submission as any), definition_id: 'other' } });
    expect(((await wrongDef.json()) as any).error_description).toContain('definition_id');
    // The flat mapping older wallets send ({ format: jwt_vc, path: $.verifiableCredential[0] }) is understood.
    const third = await alice.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: 'kcc-enhanced' });
    const thirdParams = await alice.authorizationResponse(third, [kcc]);
    const flat = {
      ...(thirdParams.presentation_submission as any),
      descriptor_map: [{ id: 'prior-known-customer-credential', format: 'jwt_vc', path: '$.verifiableCredential[0]' }],
    };
    expect((await post({ ...thirdParams, presentation_submission: flat })).status).toBe(200);
    // Form-encoded responses work too (direct_post): the original second response still succeeds.
    const form = await t.app.request(second.response_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(Object.entries(secondParams).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString(),
    });
    expect(form.status).toBe(200);
  });

  it('refuses a vp_token on a request that asked for none', async () => {
    const t = await makeTieredIssuer({ tiers: [{ ...TIERS[0], acceptsPriorCredentialsFrom: [] }] });
    const alice = await t.wallet();
    const kcc = (await t.apply(alice, 'kcc-basic')).credential as string;
    const pfi = await alice.discover(PUBLIC_URL);
    const req = await alice.initiate(pfi.idvEndpoint, pfi);
    expect(req.response_type).toBe('id_token');
    const params = await alice.authorizationResponse(
      { ...req, response_type: 'id_token vp_token', presentation_definition: { id: 'x', input_descriptors: [{ id: 'y' }] } },
      [kcc],
    );
    const res = await t.app.request(req.response_uri, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error_description).toContain('asked for no presentation');
  });
});

describe('revocation and suspension', () => {
  it('suspends and reinstates through the operator API; the status list and the verifier follow', async () => {
    const t = await makeTieredIssuer();
    const kcc = (await t.apply(await t.wallet(), 'kcc-basic')).credential as string;
    const id = encodeURIComponent(vcOf(kcc).id);
    expect(await statusBit(t, kcc, 'suspension')).toBe(false);

    expect((await t.admin(`/credentials/${id}/status`, { action: 'suspend' })).status).toBe(400); // reason required
    const suspended = await t.admin(`/credentials/${id}/status`, { action: 'suspend', reason: 'document re-check' });
    expect(suspended.body).toMatchObject({ status: 'suspended', suspension_reason: 'document re-check' });
    expect(await statusBit(t, kcc, 'suspension')).toBe(true);
    expect(await statusBit(t, kcc, 'revocation')).toBe(false);
    const v1 = await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did, '--json']);
    expect(v1.code).toBe(1);
    expect(JSON.parse(v1.out)).toMatchObject({ valid: false, status: { revocation: false, suspension: true } });

    expect((await t.admin(`/credentials/${id}/status`, { action: 'suspend', reason: 'again' })).status).toBe(409);
    expect((await t.admin(`/credentials/${id}/status`, { action: 'reinstate' })).body.status).toBe('active');
    expect(await statusBit(t, kcc, 'suspension')).toBe(false);
    expect((await t.cli([kcc, '--trusted-issuer', t.deps.issuer.did])).code).toBe(0);

    const revoked = await t.admin(`/credentials/${id}/status`, { action: 'revoke', reason: 'customer request' });
    expect(revoked.body.status).toBe('revoked');
    expect((await t.admin(`/credentials/${id}/status`, { action: 'reinstate' })).status).toBe(409); // revocation is final
    const detail = await t.admin(`/credentials/${id}`);
    expect(detail.body.events.map((e: any) => e.action)).toEqual(['suspend', 'reinstate', 'revoke']);
    expect((await t.admin(`/credentials/urn:uuid:nope/status`, { action: 'revoke', reason: 'x' })).status).toBe(404);
    expect((await t.app.request(`${PUBLIC_URL}/admin/credentials/${id}`)).status).toBe(401);
    expect((await t.app.request(`${PUBLIC_URL}/status/99/revocation`)).status).toBe(404);
    expect((await t.app.request(`${PUBLIC_URL}/status/1/other`)).status).toBe(404);
  });

  it('revokes every KCC of an application (a re-decision to declined) or of a subject', async () => {
    const { applyDecisionToCredentials, revokeCredentialsOfSubject } = await import('../../src/issuance/credentialStatus');
    const t = await makeTieredIssuer();
    const alice = await t.wallet();
    const a = await t.apply(alice, 'kcc-basic');
    const b = await t.apply(alice, 'kcc-basic');
    const apps = await t.deps.store.applications.listByStatus('approved');
    expect((await applyDecisionToCredentials(t.deps, apps[0].id, 'rejected', 'test')).revoked).toEqual([vcOf(a.credential as string).id]);
    expect(await revokeCredentialsOfSubject(t.deps, alice.holder.did, 'IDV re-decided: declined')).toEqual([vcOf(b.credential as string).id]);
    expect(await statusBit(t, b.credential as string, 'revocation')).toBe(true);
  });

  it('allocates random, distinct indices', async () => {
    const t = await makeTieredIssuer();
    const { allocateCredentialStatus } = await import('../../src/issuance/credentialStatus');
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const s = await allocateCredentialStatus(t.deps, {
        credentialId: `urn:uuid:${i}`,
        subjectDid: 'did:example:x',
        tierId: 'kcc-basic',
        evidence: [],
        issuedAt: 0,
        expiresAt: 1,
      });
      expect(s.listId).toBe(1);
      seen.add(s.index);
    }
    expect(seen.size).toBe(100);
    // Random, not sequential: the indices spread over the list.
    expect(Math.max(...seen) - Math.min(...seen)).toBeGreaterThan(50_000);
  });

  it('opens the next list once the current one reaches maxFill', async () => {
    const t = await makeTestIssuer({ config: { statusList: { maxFill: 0.0001 } } }); // 13 of 131,072
    const { allocateCredentialStatus } = await import('../../src/issuance/credentialStatus');
    const lists: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await allocateCredentialStatus(t.deps, {
        credentialId: `urn:uuid:${i}`,
        subjectDid: 'did:example:x',
        tierId: 'KnownCustomerCredential',
        evidence: [],
        issuedAt: 0,
        expiresAt: 1,
      });
      lists.push(s.listId);
      expect(s.entries[0].statusListCredential).toBe(`${PUBLIC_URL}/status/${s.listId}/revocation`);
    }
    expect(lists.filter((l) => l === 1)).toHaveLength(13);
    expect(lists.slice(13).every((l) => l === 2)).toBe(true);
    expect((await t.app.request(`${PUBLIC_URL}/status/2/suspension`)).status).toBe(200);
  });
});
