import { DcqlQuery } from 'dcql';
import { EdDSASigner } from 'did-jwt';
import { createVerifiableCredentialJwt, createVerifiablePresentationJwt } from 'did-jwt-vc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TierConfig } from '../../src/config';
import { base64urlDecode } from '../../src/crypto/base64url';
import { decodeJwt } from '../../src/crypto/jwt';
import type { Logger } from '../../src/ports/logger';
import { WalletClient } from '../../src/wallet/client';
import { Holder } from '../../src/wallet/holder';
import { openPostgres } from '../../src/runtime/postgres';
import type { StatsQueries } from '../../src/store/stats';
import type { Store } from '../../src/store/types';
import { createPiiVault, type PiiVault } from '../../src/idv/piiVault';
import { purgeExpiredPii } from '../../src/issuance/personalData';
import { reviewApplication } from '../../src/issuance/review';
import { postgresBinDir, startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';
import {
  type Ca,
  type Leaf,
  issueMdl,
  makeCa,
  makeHolderKey,
  makeLeaf,
  presentMdl,
  presentSdJwtVc,
  sdJwtVcIssuer,
  statusListToken,
  tableFetch,
} from '../helpers/presentedCredentials';

/**
 * Credentials people already hold as IDV input, through the SIOPv2 flow over HTTP (the app's
 * own request handling): the tier's request carries the held-credential definition, the wallet
 * answers with a PID (SD-JWT VC, @sd-jwt/sd-jwt-vc holder and KB-JWT) or an mDL (@owf/mdoc
 * DeviceResponse over the OpenID4VP handover), and the application is opened with what they cover.
 */
const PID_ISS = 'https://pid.example.eu';
const STATUS_URI = 'https://pid.example.eu/status/1';
const PII = ['Erika', 'Mustermann', '1964-08-12', 'Jane', 'Doe', '1990-04-01', 'Mallory', 'Evilson'];
const RETENTION_DAYS = 7;

const TIERS: TierConfig[] = [
  { id: 'kcc-held', name: 'Basic', requiredChecks: ['document_verification'], validityDays: 365, acceptsCredentials: ['eu-pid', 'mdl', 'employee-id'] },
  {
    id: 'kcc-held-enhanced',
    name: 'Enhanced',
    requiredChecks: ['document_verification', 'sanction_screening'],
    validityDays: 180,
    acceptsCredentials: ['eu-pid', 'mdl', 'employee-id'],
  },
];

let pidCa: Ca;
let iaca: Ca;
let pidProvider: Leaf;
let ds: Leaf;
let wallet: Awaited<ReturnType<typeof makeHolderKey>>;
let employer: Holder;
const table = new Map<string, string>();

const now = () => Math.floor(Date.now() / 1000);

function trustJson() {
  return {
    trustAnchors: { 'pid-ca': pidCa.pem, iaca: iaca.pem },
    sdJwtVc: [{ id: 'eu-pid', name: 'EU PID', vct: 'urn:eudi:pid:1', x5cTrustAnchors: ['pid-ca'], satisfies: ['document_verification'] }],
    mdoc: [{ id: 'mdl', name: 'Mobile driving licence', docType: 'org.iso.18013.5.1.mDL', iacaRoots: ['iaca'], satisfies: ['document_verification'] }],
    jwtVc: [
      {
        id: 'employee-id',
        name: 'Employee identity',
        type: 'EmployeeIdentityCredential',
        issuers: [employer.did],
        satisfies: ['document_verification', 'sanction_screening'],
      },
    ],
  };
}

async function issuePid(extra: Record<string, unknown> = {}) {
  return sdJwtVcIssuer(pidProvider.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(pidProvider.der).toString('base64')] }).issue({
    vct: 'urn:eudi:pid:1',
    iss: PID_ISS,
    iat: now() - 60,
    exp: now() + 86400,
    cnf: { jwk: wallet.publicJwk },
    given_name: 'Erika',
    family_name: 'Mustermann',
    birthdate: '1964-08-12',
    nationalities: ['DE'],
    address: { country: 'DE' },
    ...extra,
  });
}

/** Where the applications are: the in-memory SQLite of makeTestIssuer, or a PostgreSQL database. */
interface Backend {
  store?: Store;
  stats?: StatsQueries;
  applicationIds?: (did: string) => Promise<string[]>;
}

async function setup(backend: Backend = {}, trust: Record<string, unknown> = trustJson()) {
  const lines: string[] = [];
  const logger: Logger = {
    info: (msg: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ msg, ...fields })),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ msg, ...fields })),
    error: (msg: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ msg, ...fields })),
  } as unknown as Logger;
  const clock = testClock();
  // The hosted form's PII vault: the presented credentials' claims are sealed by the same key.
  const vault = await createPiiVault(crypto.getRandomValues(new Uint8Array(32)));
  const t = await makeTestIssuer({
    clock,
    logger,
    config: { tiers: TIERS, idv: { retentionDays: RETENTION_DAYS } },
    idv: { vendors: new Map(), outboundSecrets: [], vault },
    presentedCredentialTrust: trust,
    presentedFetch: tableFetch(table).fetch,
    store: backend.store,
    stats: backend.stats,
  });
  const holder = await Holder.create();
  const client = new WalletClient(holder, t.fetch, { now: () => Math.floor(clock() / 1000) });
  const admin = async (path: string) =>
    (await (await t.app.request(`${PUBLIC_URL}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as any;
  const pfi = await client.discover(PUBLIC_URL);
  const initiate = (tier: string) => client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: tier });
  const post = async (params: Record<string, unknown>) => {
    const res = await t.fetch(`${PUBLIC_URL}/idv/siopv2/response`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    const body = (await res.json()) as any;
    // The response names no application: the newest one of this applicant.
    const ids = await applicationIds(holder.did);
    return { status: res.status, body, applicationId: ids.at(-1) };
  };
  const idToken = (request: { client_id: string; nonce: string }) =>
    holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now: Math.floor(clock() / 1000) });
  const applicationIds =
    backend.applicationIds ??
    (async (did: string) =>
      (t.sqlite.prepare('select id from applications where applicant_did = ? order by rowid').all(did) as { id: string }[]).map((r) => r.id));
  const countApplications = async () => (await applicationIds(holder.did)).length;
  /** The sealed claims row of an application, read through the store (either backend), and what the vault opens of it. */
  const sealedClaims = async (applicationId: string) => {
    const row = await t.deps.store.presentedClaims.get(applicationId);
    return { row, opened: row?.ciphertext ? await vault.open(applicationId, row.ciphertext, row.keyId) : undefined };
  };
  const sealedFormPii = async (applicationId: string) => {
    const row = await t.deps.store.pii.get(applicationId);
    return row?.ciphertext ? ((await vault.open(applicationId, row.ciphertext, row.keyId)) as Record<string, string>) : undefined;
  };
  return { t, client, holder, admin, initiate, post, idToken, lines, countApplications, clock, vault, sealedClaims, sealedFormPii };
}

/** Another issuer's jwt_vc_json (did-jwt-vc 4.0.16) for `subject`, in a VP the applicant signs over the SIOP nonce. */
const didJwtIssuer = (h: Holder) => ({ did: h.did, alg: 'EdDSA', signer: EdDSASigner(base64urlDecode(h.privateJwk.d as string)) });
async function employeeVp(applicant: Holder, subject: string, request: { nonce: string; client_id: string }) {
  const vc = await createVerifiableCredentialJwt(
    {
      sub: subject,
      nbf: now() - 60,
      exp: now() + 86400,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'EmployeeIdentityCredential'],
        credentialSubject: { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1985-12-10', nationality: 'GB', countryOfResidence: 'GB' },
      },
    },
    didJwtIssuer(employer),
    { header: { kid: `${employer.did}#0`, typ: 'JWT' } },
  );
  return createVerifiablePresentationJwt(
    { vp: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiablePresentation'], verifiableCredential: [vc] }, iat: now() } as never,
    didJwtIssuer(applicant),
    { challenge: request.nonce, domain: request.client_id, header: { kid: `${applicant.did}#0`, typ: 'JWT' } },
  );
}
const employeeSubmission = (definitionId: string) => ({
  id: 's3',
  definition_id: definitionId,
  descriptor_map: [
    { id: 'employee-id', format: 'jwt_vp_json', path: '$', path_nested: { id: 'employee-id', format: 'jwt_vc_json', path: '$.verifiableCredential[0]' } },
  ],
});

const pidSubmission = (definitionId: string) => ({ id: 's1', definition_id: definitionId, descriptor_map: [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }] });

beforeAll(async () => {
  pidCa = await makeCa('CN=PID CA, C=DE');
  iaca = await makeCa('CN=IACA, C=US');
  pidProvider = await makeLeaf(pidCa, 'CN=PID Provider, C=DE', { sanUrl: PID_ISS });
  ds = await makeLeaf(iaca, 'CN=DS, C=US');
  wallet = await makeHolderKey();
  employer = await Holder.create();
  table.set(STATUS_URI, await statusListToken(STATUS_URI, [0, 0, 1, 2], pidProvider.privateJwk, PID_ISS));
});

describe('credentials people already hold, in the SIOPv2 flow', () => {
  it('a PID covering every check opens an approved application without the form; the KCC carries the evidence it stood in for', async () => {
    const s = await setup();
    const served = (await (await s.t.app.request(`${PUBLIC_URL}/presentation-definitions/kcc-held-held`)).json()) as any;
    expect(served.id).toBe('kcc-held-held');
    expect(served.input_descriptors.map((d: any) => d.id)).toEqual(['eu-pid', 'org.iso.18013.5.1.mDL', 'employee-id']);

    const request = await s.initiate('kcc-held');
    expect(request.response_type).toBe('id_token vp_token');
    expect(request.presentation_definition?.id).toBe('kcc-held-held');
    const vp = await presentSdJwtVc(await issuePid({ status: { status_list: { idx: 0, uri: STATUS_URI } } }), wallet.privateJwk, {
      aud: request.client_id,
      nonce: request.nonce,
    });
    const res = await s.post({ id_token: await s.idToken(request), vp_token: vp, presentation_submission: pidSubmission('kcc-held-held') });
    expect(res.status).toBe(200);
    // Nothing missing: straight to the finish page, approved.
    expect(res.body.url).toBe(`${PUBLIC_URL}/idv/finish.html`);
    const application = await s.admin(`/applications/${res.applicationId}`);
    expect(application.status).toBe('approved');
    expect(application.prefill.missing_checks).toEqual([]);
    expect(application.prefill.verified_evidence).toHaveLength(1);
    const evidence = application.prefill.verified_evidence[0];
    expect(evidence).toMatchObject({ kind: 'document_verification', checks: ['verified_credential'], source: 'eu-pid' });
    expect(evidence.credential).toMatchObject({
      type: ['Evidence', 'VerifiedCredentialEvidence'],
      kind: 'verified_credential',
      format: 'dc+sd-jwt',
      credential_type: 'urn:eudi:pid:1',
      accepted_as: 'eu-pid',
    });
    expect(evidence.credential.issuer).toContain(PID_ISS);
    // The claims the PID vouched for: sealed with the form's vault key, bound to the application,
    // retention counting from this decision; none in the application record or its prefill.
    const sealed = await s.sealedClaims(res.applicationId as string);
    expect(sealed.row?.keyId).toBe(s.vault.keyId);
    expect(sealed.row?.purgeAfter).toBe(Math.floor(s.clock() / 1000) + RETENTION_DAYS * 86400);
    expect(sealed.opened).toEqual({
      fields: { given_name: 'Erika', family_name: 'Mustermann', birthdate: '1964-08-12', country_of_residence: 'DE' },
      nationality: 'DE',
      credentials: ['EU PID'],
    });
    await expect(s.vault.open('another-application', sealed.row?.ciphertext as string, sealed.row?.keyId)).rejects.toThrow();
    // A reviewer sees them (no form was filled), the opening audited as pii.viewed.
    const review = await reviewApplication(s.t.deps, { role: 'reviewer', party: 'ana', actor: 'console:ana' }, res.applicationId as string);
    expect(review.pii).toEqual({
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1964-08-12',
      country_of_residence: 'DE',
      nationality: 'DE',
      presented_credentials: 'EU PID',
    });
    expect(review.audit.at(-1)).toMatchObject({ actor: 'console:ana', action: 'pii.viewed' });
    const atRest = JSON.stringify(s.t.sqlite.prepare('SELECT * FROM presented_claims').all()) + JSON.stringify(application);
    for (const value of ['Erika', 'Mustermann', '1964-08-12']) expect(atRest).not.toContain(value);

    // Redeemed: the status list is re-checked, the KCC issued with the evidence and the PID's country.
    const offer = res.body.credential_offer;
    const code = offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const credential = await s.client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, PUBLIC_URL, token.c_nonce as string);
    const vc = decodeJwt(credential.credential as string).payload.vc as any;
    expect(vc.credentialSubject.countryOfResidence).toBe('DE');
    expect(vc.evidence.map((e: any) => e.kind)).toEqual(['document_verification']);
    // No claim of the PID in any log line.
    const logs = s.lines.join('\n');
    for (const value of PII) expect(logs).not.toContain(value);
  });

  it('an mDL covers document verification of the enhanced tier: the form asks only for the rest, without the document fields', async () => {
    const s = await setup();
    const request = await s.initiate('kcc-held-enhanced');
    const mdl = await issueMdl(ds, wallet.publicJwk, { family_name: 'Doe', given_name: 'Jane', issuing_country: 'US', resident_country: 'US' });
    const vp = await presentMdl(mdl, wallet.privateJwk, { clientId: request.client_id, nonce: request.nonce, responseUri: request.response_uri }, [
      'given_name',
      'family_name',
      'resident_country',
    ]);
    const res = await s.post({
      id_token: await s.idToken(request),
      vp_token: vp,
      presentation_submission: {
        id: 's2',
        definition_id: 'kcc-held-enhanced-held',
        descriptor_map: [{ id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$' }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toContain('/idv/form');
    const application = await s.admin(`/applications/${res.applicationId}`);
    expect(application.status).toBe('pending');
    expect(application.prefill.missing_checks).toEqual(['sanction_screening']);
    expect(application.prefill.verified_evidence[0].credential).toMatchObject({
      format: 'mso_mdoc',
      credential_type: 'org.iso.18013.5.1.mDL',
      accepted_as: 'mdl',
    });
    // The consent step and the form behind it: the person's fields, no identity document fields (the mDL vouched for the document).
    const consent = await (await s.t.app.request(res.body.url)).text();
    expect(consent).toContain('<li>Family name</li>');
    expect(consent).not.toContain('<li>Document number</li>');
    const html = await (
      await s.t.app.request(res.body.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ consent: 'accept', step: 'consent' }),
      })
    ).text();
    expect(html).not.toContain('name="document_number"');
    expect(html).not.toContain('name="document_type"');
    // What the mDL vouched for is shown read-only (labelled, described by the note naming it) and not posted;
    // the birth date it did not disclose is asked.
    expect(html).toContain('<p class="hint" id="vouched-note">Taken from your Mobile driving licence. They cannot be changed here.</p>');
    expect(html).toContain(
      '<label for="given_name">Given name(s)</label>\n<input type="text" id="given_name" readonly aria-describedby="vouched-note" value="Jane">',
    );
    expect(html).toContain('<input type="text" id="family_name" readonly aria-describedby="vouched-note" value="Doe">');
    expect(html).toContain('<input type="text" id="country_of_residence" readonly aria-describedby="vouched-note" value="United States">');
    for (const name of ['given_name', 'family_name', 'country_of_residence']) expect(html).not.toContain(`name="${name}"`);
    expect(html).toMatch(/<input type="text" inputmode="numeric" id="birthdate" name="birthdate_day" required/);
    expect((await s.sealedClaims(res.applicationId as string)).opened).toEqual({
      fields: { given_name: 'Jane', family_name: 'Doe', country_of_residence: 'US' },
      credentials: ['Mobile driving licence'],
    });
    // A client posting other values for the vouched fields does not override them: the sealed values are used.
    const form = await s.client.submitIdvForm(res.body.url, {
      given_name: 'Mallory',
      family_name: 'Evilson',
      birthdate: '1990-04-01',
      country_of_residence: 'FR',
    });
    expect(form.status).toBe(200);
    const decided = await s.admin(`/applications/${res.applicationId}`);
    expect(decided.status).toBe('approved');
    expect(decided.country_of_residence).toBe('US');
    expect(await s.sealedFormPii(res.applicationId as string)).toEqual({
      given_name: 'Jane',
      family_name: 'Doe',
      birthdate: '1990-04-01',
      country_of_residence: 'US',
    });
    // Decided: the claims' retention clock runs with the form PII's.
    const formPii = await s.t.deps.store.pii.get(res.applicationId as string);
    expect(formPii?.purgeAfter).toBeGreaterThan(0);
    expect((await s.sealedClaims(res.applicationId as string)).row?.purgeAfter).toBe(formPii?.purgeAfter);
    // The KCC: document verification carried from the mDL, screening done by IDV.
    const code = res.body.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const credential = await s.client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, PUBLIC_URL, token.c_nonce as string);
    const vc = decodeJwt(credential.credential as string).payload.vc as any;
    expect(vc.evidence.map((e: any) => e.kind).sort()).toEqual(['document_verification', 'sanction_screening']);
    expect(vc.evidence.find((e: any) => e.kind === 'document_verification').checks).toEqual(['verified_credential']);
    expect(vc.credentialSubject.countryOfResidence).toBe('US');
    const logs = s.lines.join('\n');
    for (const value of PII) expect(logs).not.toContain(value);
  });

  it('refuses, with nothing decided and the nonce still usable: a KB-JWT over another nonce, another audience, no KB-JWT, an untrusted issuer, a revoked PID, the wrong descriptor', async () => {
    const s = await setup();
    const request = await s.initiate('kcc-held');
    const otherCa = await makeCa('CN=Other CA, C=DE');
    const impostor = await makeLeaf(otherCa, 'CN=Impostor, C=DE', { sanUrl: PID_ISS });
    const untrusted = await sdJwtVcIssuer(impostor.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(impostor.der).toString('base64')] }).issue({
      vct: 'urn:eudi:pid:1',
      iss: PID_ISS,
      iat: now() - 60,
      exp: now() + 86400,
      cnf: { jwk: wallet.publicJwk },
      given_name: 'Erika',
      address: { country: 'DE' },
    });
    const pid = await issuePid();
    const cases: [string, string, Record<string, unknown>][] = [
      ['other nonce', 'nonce', { vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce: 'another-nonce' }) }],
      ['other audience', 'aud', { vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: 'did:web:other.example', nonce: request.nonce }) }],
      ['no KB-JWT', 'Key Binding', { vp_token: await presentSdJwtVc(pid, wallet.privateJwk, undefined) }],
      ['untrusted issuer', 'not trusted', { vp_token: await presentSdJwtVc(untrusted, wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }) }],
      [
        'revoked',
        'revoked',
        {
          vp_token: await presentSdJwtVc(await issuePid({ status: { status_list: { idx: 2, uri: STATUS_URI } } }), wallet.privateJwk, {
            aud: request.client_id,
            nonce: request.nonce,
          }),
        },
      ],
      [
        'wrong descriptor',
        'mdoc',
        {
          vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }),
          presentation_submission: {
            id: 's',
            definition_id: 'kcc-held-held',
            descriptor_map: [{ id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$' }],
          },
        },
      ],
    ];
    for (const [name, reason, params] of cases) {
      const res = await s.post({ id_token: await s.idToken(request), presentation_submission: pidSubmission('kcc-held-held'), ...params });
      expect(res.status, name).toBe(400);
      expect(res.body.error, name).toBe('invalid_request');
      expect(res.body.error_description.toLowerCase(), name).toContain(reason.toLowerCase());
      for (const value of PII) expect(res.body.error_description, name).not.toContain(value);
    }
    expect(await s.countApplications()).toBe(0);
    // The nonce was never consumed by a refusal: the genuine answer still opens the application.
    const ok = await s.post({
      id_token: await s.idToken(request),
      vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }),
      presentation_submission: pidSubmission('kcc-held-held'),
    });
    expect(ok.status).toBe(200);
    expect(await s.countApplications()).toBe(1);
    const logs = s.lines.join('\n');
    for (const value of PII) expect(logs).not.toContain(value);
  });

  it('another issuer’s jwt_vc_json covering both checks of the enhanced tier decides it without the form; one bound to another holder is refused', async () => {
    const s = await setup();
    const request = await s.initiate('kcc-held-enhanced');
    const stranger = await Holder.create();
    const foreign = await s.post({
      id_token: await s.idToken(request),
      vp_token: await employeeVp(s.holder, stranger.did, request),
      presentation_submission: employeeSubmission('kcc-held-enhanced-held'),
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_request');
    expect(await s.countApplications()).toBe(0);
    const res = await s.post({
      id_token: await s.idToken(request),
      vp_token: await employeeVp(s.holder, s.holder.did, request),
      presentation_submission: employeeSubmission('kcc-held-enhanced-held'),
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(`${PUBLIC_URL}/idv/finish.html`);
    const application = await s.admin(`/applications/${res.applicationId}`);
    expect(application.status).toBe('approved');
    expect(application.prefill.verified_evidence.map((e: any) => [e.kind, e.credential.format, e.credential.issuer])).toEqual([
      ['document_verification', 'jwt_vc_json', employer.did],
      ['sanction_screening', 'jwt_vc_json', employer.did],
    ]);
    const code = res.body.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const credential = await s.client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, PUBLIC_URL, token.c_nonce as string);
    const vc = decodeJwt(credential.credential as string).payload.vc as any;
    expect(vc.credentialSubject.countryOfResidence).toBe('GB');
    expect(vc.credentialSubject.tier).toBe('Enhanced');
    expect((await s.sealedClaims(res.applicationId as string)).opened).toEqual({
      fields: { given_name: 'Ada', family_name: 'Lovelace', birthdate: '1985-12-10', country_of_residence: 'GB' },
      nationality: 'GB',
      credentials: ['Employee identity'],
    });
    for (const value of ['Ada', 'Lovelace', '1985-12-10']) expect(s.lines.join('\n')).not.toContain(value);
  });

  it('redemption re-checks the PID: suspended by its issuer after the application opened, the code is refused', async () => {
    const s = await setup();
    const uri = 'https://pid.example.eu/status/2';
    table.set(uri, await statusListToken(uri, [0, 0, 0, 0], pidProvider.privateJwk, PID_ISS));
    const request = await s.initiate('kcc-held');
    const vp = await presentSdJwtVc(await issuePid({ status: { status_list: { idx: 3, uri } } }), wallet.privateJwk, {
      aud: request.client_id,
      nonce: request.nonce,
    });
    const res = await s.post({ id_token: await s.idToken(request), vp_token: vp, presentation_submission: pidSubmission('kcc-held-held') });
    expect(res.status).toBe(200);
    expect((await s.admin(`/applications/${res.applicationId}`)).status).toBe('approved');
    table.set(uri, await statusListToken(uri, [0, 0, 0, 2], pidProvider.privateJwk, PID_ISS));
    const code = res.body.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const refused = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code).then(
      () => undefined,
      (e) => e as { status: number; body: any },
    );
    expect(refused?.status).toBe(400);
    expect(refused?.body.error).toBe('invalid_grant');
    expect(refused?.body.error_description).toContain('suspended');
  });

  it('a PID on the enhanced tier vouches for every person field: all read-only, and posted day, month and year do not replace its birth date', async () => {
    const s = await setup();
    const request = await s.initiate('kcc-held-enhanced');
    const res = await s.post({
      id_token: await s.idToken(request),
      vp_token: await presentSdJwtVc(await issuePid(), wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }),
      presentation_submission: pidSubmission('kcc-held-enhanced-held'),
    });
    expect(res.status).toBe(200);
    const html = await (
      await s.t.app.request(res.body.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-language': 'de' },
        body: JSON.stringify({ consent: 'accept', step: 'consent' }),
      })
    ).text();
    // Nothing left to type: every field read-only (the date as its three parts), the note in the page's language.
    expect(html).toContain('Aus Ihrem Nachweis (EU PID) übernommen.');
    expect(html).toContain('<input type="text" id="birthdate" readonly aria-describedby="vouched-note" inputmode="numeric" value="12">');
    expect(html).toContain('<input type="text" id="birthdate_year" readonly aria-describedby="vouched-note" inputmode="numeric" value="1964">');
    expect(html).not.toMatch(/<input[^>]* name="(?!csrf_token|consent)/);
    expect(html).not.toContain('<select');
    const form = await s.client.submitIdvForm(res.body.url, {
      given_name: 'Mallory',
      birthdate_day: '1',
      birthdate_month: '1',
      birthdate_year: '2000',
      country_of_residence: 'FR',
    });
    expect(form.status).toBe(200);
    expect((await s.admin(`/applications/${res.applicationId}`)).status).toBe('approved');
    expect(await s.sealedFormPii(res.applicationId as string)).toEqual({
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1964-08-12',
      country_of_residence: 'DE',
    });
    for (const value of PII) expect(s.lines.join('\n')).not.toContain(value);
  });

  it('the sealed claims follow the form PII: erased by the erase action, on consent declined, and purged with the retention job; nothing sealed on a refusal', async () => {
    const s = await setup();
    const open = async (tier: string) => {
      const request = await s.initiate(tier);
      const res = await s.post({
        id_token: await s.idToken(request),
        vp_token: await presentSdJwtVc(await issuePid(), wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }),
        presentation_submission: pidSubmission(`${tier}-held`),
      });
      expect(res.status).toBe(200);
      return res;
    };
    // A refused answer seals nothing.
    const refusedRequest = await s.initiate('kcc-held');
    const refused = await s.post({
      id_token: await s.idToken(refusedRequest),
      vp_token: await presentSdJwtVc(await issuePid(), wallet.privateJwk, { aud: refusedRequest.client_id, nonce: 'another-nonce' }),
      presentation_submission: pidSubmission('kcc-held-held'),
    });
    expect(refused.status).toBe(400);
    expect(s.t.sqlite.prepare('SELECT count(*) AS n FROM presented_claims').get()).toEqual({ n: 0 });

    // Erased on request (the admin erase action), with the audit entry.
    const erasedApp = (await open('kcc-held')).applicationId as string;
    const erase = await s.t.app.request(`${PUBLIC_URL}/admin/applications/${erasedApp}/erase-pii`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'applicant asked' }),
    });
    expect(await erase.json()).toEqual({ application_id: erasedApp, erased: true });
    expect((await s.sealedClaims(erasedApp)).row).toMatchObject({ ciphertext: null, erasedReason: 'operator_request' });
    expect((await reviewApplication(s.t.deps, { role: 'reviewer', party: 'ana', actor: 'console:ana' }, erasedApp)).pii).toBe('erased');
    expect((await s.t.deps.store.audit.listForApplication(erasedApp)).map((e) => e.action)).toContain('pii.erased');

    // Declined on the consent step: withdrawn, and the claims are not kept.
    const declined = await open('kcc-held-enhanced');
    expect((await s.client.submitIdvForm(declined.body.url, { consent: 'decline' })).status).toBe(200);
    expect((await s.sealedClaims(declined.applicationId as string)).row).toMatchObject({ ciphertext: null, erasedReason: 'consent_declined' });

    // Kept through the retention period after the decision, then purged by the job. The erased
    // approval is overruled first: an uncollected approval of the same DID and tier would otherwise
    // be resumed by this SIOPv2 answer (resumeApplication, src/issuance/applications.ts).
    const overrule = await s.t.app.request(`${PUBLIC_URL}/admin/applications/${erasedApp}/decision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'reject', reason: 'test: overruled', overrule: true }),
    });
    expect(overrule.status).toBe(200);
    const kept = (await open('kcc-held')).applicationId as string;
    expect(kept).not.toBe(erasedApp);
    const pending = (await open('kcc-held-enhanced')).applicationId as string;
    s.clock.advance(RETENTION_DAYS * 86400 - 1);
    expect(await purgeExpiredPii(s.t.deps)).toBe(0);
    expect((await s.sealedClaims(kept)).opened).toMatchObject({ fields: { given_name: 'Erika' } });
    s.clock.advance(1);
    expect(await purgeExpiredPii(s.t.deps)).toBe(1);
    expect((await s.sealedClaims(kept)).row).toMatchObject({ ciphertext: null, erasedReason: 'retention' });
    expect((await s.t.deps.store.audit.listForApplication(kept)).map((e) => e.action)).toContain('pii.purged');
    // Undecided (the form not submitted yet): kept; its clock starts at the decision, as the form PII's.
    expect((await s.sealedClaims(pending)).row).toMatchObject({ purgeAfter: null, erasedAt: null });
    for (const value of PII) expect(s.lines.join('\n')).not.toContain(value);
  });

  it('with requestWith dcql_query the request carries a DCQL query (no definition), answered by a vp_token keyed by credential query id', async () => {
    const s = await setup({}, { ...trustJson(), requestWith: 'dcql_query' });
    const request = (await s.initiate('kcc-held')) as any;
    expect(request.response_type).toBe('id_token vp_token');
    expect(request.presentation_definition).toBeUndefined();
    // The dcql library accepts the query the request carries.
    const query = DcqlQuery.parse(request.dcql_query);
    DcqlQuery.validate(query);
    expect(query.credentials.map((c) => [c.id, c.format])).toEqual([
      ['eu-pid', 'dc+sd-jwt'],
      ['mdl', 'mso_mdoc'],
      ['employee-id', 'jwt_vc_json'],
    ]);
    const pid = await issuePid();
    const present = (nonce: string) => presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce });
    // Refused, nothing opened: bound to another nonce; a presentation_submission (PE) in a DCQL answer; an unknown query id.
    const refusals: [string, Record<string, unknown>][] = [
      ['nonce', { vp_token: { 'eu-pid': [await present('another-nonce')] } }],
      ['presentation_submission', { vp_token: { 'eu-pid': [await present(request.nonce)] }, presentation_submission: pidSubmission('kcc-held-held') }],
      ['not a credential query', { vp_token: { 'bank-kyc': [await present(request.nonce)] } }],
    ];
    for (const [reason, params] of refusals) {
      const res = await s.post({ id_token: await s.idToken(request), ...params });
      expect(res.status, reason).toBe(400);
      expect(res.body.error_description, reason).toContain(reason);
    }
    expect(await s.countApplications()).toBe(0);
    const res = await s.post({ id_token: await s.idToken(request), vp_token: { 'eu-pid': [await present(request.nonce)] } });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(`${PUBLIC_URL}/idv/finish.html`);
    const application = await s.admin(`/applications/${res.applicationId}`);
    expect(application.status).toBe('approved');
    expect(application.prefill.verified_evidence[0]).toMatchObject({ kind: 'document_verification', source: 'eu-pid' });
    expect((await s.sealedClaims(res.applicationId as string)).opened).toMatchObject({ fields: { given_name: 'Erika' } });
    const code = res.body.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const credential = await s.client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, PUBLIC_URL, token.c_nonce as string);
    expect((decodeJwt(credential.credential as string).payload.vc as any).credentialSubject.countryOfResidence).toBe('DE');
  });

  it('refuses to start when a tier accepts a credential the trust configuration does not define', async () => {
    await expect(
      makeTestIssuer({ config: { tiers: [{ ...TIERS[0], acceptsCredentials: ['eu-pid', 'nope'] }] }, presentedCredentialTrust: trustJson() }),
    ).rejects.toThrow(/accepts credential nope/);
    await expect(makeTestIssuer({ config: { tiers: [TIERS[0]] } })).rejects.toThrow(/PRESENTED_CREDENTIAL_TRUST is not set/);
  });
});

describe.skipIf(!postgresBinDir())('credentials people already hold, on PostgreSQL', () => {
  let server: TestPostgres;
  let pg: Awaited<ReturnType<typeof openPostgres>>;
  beforeAll(async () => {
    server = await startTestPostgres();
    pg = await openPostgres(await server.createDatabase(), { poolSize: 2 });
  }, 60_000);
  afterAll(async () => {
    await pg?.close();
    await server?.stop();
  });

  it('a PID opens an approved application whose prefill keeps its evidence; a refusal writes nothing; redemption issues the KCC', async () => {
    const s = await setup({
      store: pg.store,
      stats: pg.stats,
      applicationIds: async (did) =>
        (await pg.client<{ id: string }[]>`select id from applications where applicant_did = ${did} order by created_at, id`).map((r) => r.id),
    });
    const request = await s.initiate('kcc-held');
    const pid = await issuePid({ status: { status_list: { idx: 0, uri: STATUS_URI } } });
    const refused = await s.post({
      id_token: await s.idToken(request),
      vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce: 'another-nonce' }),
      presentation_submission: pidSubmission('kcc-held-held'),
    });
    expect(refused.status).toBe(400);
    expect(await s.countApplications()).toBe(0);
    const res = await s.post({
      id_token: await s.idToken(request),
      vp_token: await presentSdJwtVc(pid, wallet.privateJwk, { aud: request.client_id, nonce: request.nonce }),
      presentation_submission: pidSubmission('kcc-held-held'),
    });
    expect(res.status).toBe(200);
    const application = await s.admin(`/applications/${res.applicationId}`);
    expect(application.status).toBe('approved');
    expect(application.prefill.verified_evidence[0].credential).toMatchObject({ kind: 'verified_credential', format: 'dc+sd-jwt', accepted_as: 'eu-pid' });
    // The claims sealed in PostgreSQL's presented_claims, with the retention clock of the decision.
    const [row] = await pg.client<
      { ciphertext: string; purge_after: string }[]
    >`select ciphertext, purge_after from presented_claims where application_id = ${res.applicationId as string}`;
    for (const value of ['Erika', 'Mustermann', '1964-08-12']) expect(row.ciphertext).not.toContain(value);
    expect(Number(row.purge_after)).toBe(Math.floor(s.clock() / 1000) + RETENTION_DAYS * 86400);
    expect((await s.sealedClaims(res.applicationId as string)).opened).toMatchObject({ fields: { given_name: 'Erika', birthdate: '1964-08-12' } });
    const code = res.body.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await s.client.token(`${PUBLIC_URL}/oauth2/token`, code);
    const credential = await s.client.credential(`${PUBLIC_URL}/oid4vci/credential`, token.access_token, PUBLIC_URL, token.c_nonce as string);
    expect((decodeJwt(credential.credential as string).payload.vc as any).credentialSubject.countryOfResidence).toBe('DE');
  });
});
