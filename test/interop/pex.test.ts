import { PEX, PresentationSubmissionLocation, Status, type IPresentationDefinition } from '@sphereon/pex';
import { beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../src/crypto/jwt';
import type { SiopRequest } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { makeTieredIssuer, vcOf } from '../helpers/tiers';

/**
 * Every Presentation Definition the issuer emits, evaluated by @sphereon/pex 4.1.0 (the DIF PE 2.0
 * engine of web5 and Sphereon wallets). PEX matches a JWT VC against its decoded payload, so a
 * field only matches through its `$.vc.…` path; a KCC of the right tier is selected, the wrong
 * tier refused, and a presentation built by PEX and signed by the holder upgrades the applicant.
 */
const pex = new PEX();
let t: Awaited<ReturnType<typeof makeTieredIssuer>>;
let basic: string;
let enhanced: string;
let client: Awaited<ReturnType<typeof t.wallet>>;

const served = async (id: string) => (await (await t.app.request(`${t.base}/presentation-definitions/${id}`)).json()) as IPresentationDefinition;

async function siopRequest(tier: string): Promise<SiopRequest> {
  const pfi = await client.discover(t.base);
  return client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: tier });
}

/** The same definition as the issuer emitted before: only the VC data model paths. */
function withoutJwtPaths(pd: IPresentationDefinition): IPresentationDefinition {
  return {
    ...pd,
    input_descriptors: pd.input_descriptors.map((d) => ({
      ...d,
      constraints: { ...d.constraints, fields: d.constraints?.fields?.map((f) => ({ ...f, path: f.path.filter((p) => !p.startsWith('$.vc.')) })) },
    })),
  } as IPresentationDefinition;
}

beforeAll(async () => {
  t = await makeTieredIssuer();
  client = await t.wallet();
  basic = (await t.apply(client, 'kcc-basic')).credential as string;
  enhanced = (await t.apply(await t.wallet(), 'kcc-enhanced')).credential as string;
  expect(vcOf(basic).credentialSubject.tier).toBe('Basic');
  expect(vcOf(enhanced).credentialSubject.tier).toBe('Enhanced');
});

describe('@sphereon/pex 4.1.0 against the issuer’s presentation definitions', () => {
  it('every field of every definition names both the VC path and the JWT payload path', async () => {
    const definitions = [
      await served('kcc-basic'),
      await served('kcc-enhanced'),
      (await siopRequest('kcc-enhanced')).presentation_definition as IPresentationDefinition,
    ];
    for (const pd of definitions) {
      // Client bug (4.1.0): PEX's validator lists neither EdDSA (RFC 8037) nor ES256K (RFC 8812)
      // as JWS algorithms; that is its only finding, and the same definition with ES256 passes.
      expect(PEX.validateDefinition(pd)).toEqual([
        { tag: 'root.presentation_definition', status: 'error', message: 'formats should only have known identifiers for alg or proof_type' },
      ]);
      expect(PEX.validateDefinition(JSON.parse(JSON.stringify(pd).replaceAll('"EdDSA","ES256K"', '"ES256"')))).toEqual([
        { message: 'ok', status: 'info', tag: 'root' },
      ]);
      for (const field of pd.input_descriptors.flatMap((d) => d.constraints?.fields ?? [])) {
        const vcPaths = field.path.filter((p) => p.startsWith('$.vc.'));
        expect(vcPaths.length, `${pd.id}: ${field.path.join(' ')}`).toBeGreaterThan(0);
        for (const p of vcPaths) expect(field.path, pd.id).toContain(p.replace('$.vc.', '$.'));
      }
    }
  });

  it('served tier definitions: selects the KCC of the right tier, refuses the wrong tier', async () => {
    const pdEnhanced = await served('kcc-enhanced');
    const forEnhanced = pex.evaluateCredentials(pdEnhanced, [basic, enhanced]);
    expect(forEnhanced.areRequiredCredentialsPresent).toBe(Status.INFO);
    expect(forEnhanced.value?.descriptor_map).toEqual([{ id: 'known-customer-credential', format: 'jwt_vc', path: '$.verifiableCredential[1]' }]);
    const basicOnly = pex.evaluateCredentials(pdEnhanced, [basic]);
    expect(basicOnly.areRequiredCredentialsPresent).toBe(Status.ERROR);
    expect(basicOnly.value?.descriptor_map ?? []).toEqual([]);
    // A Basic definition is met by both (Enhanced evidence includes document verification).
    expect(pex.evaluateCredentials(await served('kcc-basic'), [basic]).areRequiredCredentialsPresent).toBe(Status.INFO);
    // Without the `$.vc.` paths PEX finds nothing in a JWT VC: the defect this guards against.
    expect(pex.evaluateCredentials(withoutJwtPaths(pdEnhanced), [enhanced]).areRequiredCredentialsPresent).toBe(Status.ERROR);
  });

  it('the SIOPv2 request’s prior-credential definition selects a trusted issuer’s KCC and refuses another issuer’s', async () => {
    const pd = (await siopRequest('kcc-enhanced')).presentation_definition as IPresentationDefinition;
    expect(pd.id).toBe('kcc-enhanced-prior-kcc');
    const r = pex.evaluateCredentials(pd, [basic]);
    expect(r.areRequiredCredentialsPresent).toBe(Status.INFO);
    expect(r.value?.descriptor_map.map((d) => d.path)).toEqual(['$.verifiableCredential[0]']);
    expect(pex.evaluateCredentials(withoutJwtPaths(pd), [basic]).areRequiredCredentialsPresent).toBe(Status.ERROR);
    const other = await makeTieredIssuer({ publicUrl: 'http://other-issuer.test' });
    const foreign = (await other.apply(await other.wallet(), 'kcc-basic')).credential as string;
    expect(pex.evaluateCredentials(pd, [foreign]).areRequiredCredentialsPresent).toBe(Status.ERROR);
  });

  it('presentationFrom + a signed VP: the issuer accepts vp_token and presentation_submission and upgrades', async () => {
    const request = await siopRequest('kcc-enhanced');
    const pd = request.presentation_definition as IPresentationDefinition;
    const holder = client.holder;
    // A wallet's order: selectFrom (what the user may pick), then presentationFrom over the pick.
    const selectable = pex.selectFrom(pd, [basic], { holderDIDs: [holder.did] });
    expect(selectable.areRequiredCredentialsPresent).toBe(Status.INFO);
    expect(selectable.matches?.map((m) => m.vc_path)).toEqual([['$.verifiableCredential[0]']]);
    const result = pex.presentationFrom(pd, [basic], { holderDID: holder.did, presentationSubmissionLocation: PresentationSubmissionLocation.EXTERNAL });
    const submission = result.presentationSubmission;
    expect(submission.definition_id).toBe(pd.id);
    // PEX maps into the VP JWT's payload: `$` is the VP, its credential at `$.vp.verifiableCredential[0]`.
    expect(submission.descriptor_map).toEqual([
      {
        id: 'prior-known-customer-credential',
        format: 'jwt_vp',
        path: '$',
        path_nested: { id: 'prior-known-customer-credential', format: 'jwt_vc', path: '$.vp.verifiableCredential[0]' },
      },
    ]);
    // The holder signs PEX's presentation as a jwt_vp_json (VCDM 1.1 §6.3.1), bound to the request.
    const now = t.nowSeconds();
    const vpToken = await signJwt(
      holder.signer,
      {
        iss: holder.did,
        aud: request.client_id,
        nonce: request.nonce,
        iat: now,
        exp: now + 300,
        jti: `urn:uuid:${crypto.randomUUID()}`,
        vp: result.presentation,
      },
      { typ: 'JWT' },
    );
    // PEX can evaluate its own submission inside the signed VP.
    expect(pex.evaluatePresentation(pd, vpToken, { presentationSubmission: submission }).areRequiredCredentialsPresent).toBe(Status.INFO);
    const idToken = await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now });
    const res = await t.app.request(request.response_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id_token: idToken, vp_token: vpToken, presentation_submission: submission }),
    });
    const body = (await res.json()) as { url: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    // The presented Basic KCC counts: only the extra check is left, and it is superseded on issuance.
    const application = (await t.deps.store.applications.listByStatus('pending')).at(-1);
    const prefill = await t.deps.store.applicationPrefill.get(application!.id);
    expect(prefill!.missingChecks).toEqual(['sanction_screening']);
    expect(prefill!.supersedes).toEqual([vcOf(basic).id]);
    const form = await client.submitIdvForm(body.url, SAMPLE_IDENTITY);
    expect(form.status).toBe(200);
  });
});
