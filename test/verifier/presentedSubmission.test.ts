import { randomBytes } from 'node:crypto';
import { DateOnly } from '@owf/mdoc';
import { PEX, Status, type IPresentationDefinition } from '@sphereon/pex';
import { EdDSASigner } from 'did-jwt';
import { createVerifiableCredentialJwt, createVerifiablePresentationJwt } from 'did-jwt-vc';
import { beforeAll, describe, expect, it } from 'vitest';
import { base64urlDecode } from '../../src/crypto/base64url';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidResolver } from '../../src/did/resolver';
import { encodeStatusList, setBit } from '../../src/protocol/statusList';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { Holder } from '../../src/wallet/holder';
import { presentedCredentialDefinition } from '../../src/verifier/presented/definitions';
import { PresentedCredentialError, type PresentationContext, type PresentedVerificationDeps } from '../../src/verifier/presented/result';
import { verifyPresentedSubmission } from '../../src/verifier/presented/submission';
import { presentedCredentialDcqlQuery, verifyPresentedDcqlResponse } from '../../src/verifier/presented/dcql';
import { DcqlQuery } from 'dcql';
import { presentedCredentialRecheckProblem } from '../../src/verifier/presented/recheck';
import { parsePresentedCredentialTrust, type PresentedCredentialTrust } from '../../src/verifier/presented/trust';
import { issueMdl, makeCa, makeHolderKey, makeLeaf, presentMdl, presentSdJwtVc, sdJwtVcIssuer, sha256, tableFetch } from '../helpers/presentedCredentials';

/**
 * The three kinds together, as an OID4VP direct_post would carry them: vp_token (an array) and
 * presentation_submission against the definition built from the trust configuration; the other
 * issuer's jwt_vc_json made with did-jwt-vc 4.0.16 (VC and VP), its Bitstring Status List a
 * did-jwt-vc credential too; the definition checked by @sphereon/pex 4.1.0.
 */
const CLIENT_ID = 'did:web:pfi.example';
const RESPONSE_URI = 'https://pfi.example/siop/response';
const PID_ISS = 'https://pid.example.eu';
const STATUS_URL = 'https://employer.example/status/1';
const nodeCrypto = createNodeCryptoProvider();
const now = () => Math.floor(Date.now() / 1000);

let trust: PresentedCredentialTrust;
let applicant: Holder;
let otherApplicant: Holder;
let employer: Holder;
let stranger: Holder;
let pidVc: string;
let mdl: Awaited<ReturnType<typeof issueMdl>>;
let wallet: Awaited<ReturnType<typeof makeHolderKey>>;
const table = new Map<string, string>();

const didJwtIssuer = (h: Holder) => ({ did: h.did, alg: 'EdDSA', signer: EdDSASigner(base64urlDecode(h.privateJwk.d)) });

async function employeeVc(holder: Holder, issuer: Holder = employer, extra: Record<string, unknown> = {}) {
  return createVerifiableCredentialJwt(
    {
      sub: holder.did,
      nbf: now() - 60,
      exp: now() + 86400,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'EmployeeIdentityCredential'],
        credentialSubject: { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1985-12-10', nationality: 'GB', countryOfResidence: 'GB' },
        ...extra,
      },
      ...(extra.exp !== undefined ? { exp: extra.exp as number } : {}),
    },
    didJwtIssuer(issuer),
    { header: { kid: `${issuer.did}#0`, typ: 'JWT' } },
  );
}

async function vpOf(holder: Holder, vcs: string[], opts: { nonce: string; aud?: string }) {
  return createVerifiablePresentationJwt(
    { vp: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiablePresentation'], verifiableCredential: vcs }, iat: now() } as never,
    didJwtIssuer(holder),
    { challenge: opts.nonce, domain: opts.aud ?? CLIENT_ID, header: { kid: `${holder.did}#0`, typ: 'JWT' } },
  );
}

function deps(): PresentedVerificationDeps {
  return { clock: () => Date.now(), crypto: nodeCrypto, resolver: createDidResolver({ registry: createDidJwkResolver() }), fetch: tableFetch(table).fetch };
}

const context = (nonce: string, applicantDid = applicant.did): PresentationContext => ({
  applicantDid,
  nonce,
  clientId: CLIENT_ID,
  responseUri: RESPONSE_URI,
  trust,
});
const definition = () => presentedCredentialDefinition(trust, 'kcc-basic-held-credentials');

async function refused(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PresentedCredentialError) return e.reasons;
    throw e;
  }
  throw new Error('the submission was accepted');
}

async function statusListVc(revoked: number[], purpose: 'revocation' | 'suspension') {
  const bits = new Uint8Array(16 * 1024);
  for (const i of revoked) setBit(bits, i);
  return createVerifiableCredentialJwt(
    {
      sub: `${STATUS_URL}/${purpose}`,
      nbf: now() - 60,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'BitstringStatusListCredential'],
        credentialSubject: {
          id: `${STATUS_URL}/${purpose}#list`,
          type: 'BitstringStatusList',
          statusPurpose: purpose,
          encodedList: await encodeStatusList(bits),
        },
      },
    },
    didJwtIssuer(employer),
    { header: { kid: `${employer.did}#0`, typ: 'JWT' } },
  );
}

const statusEntry = (purpose: string, index: number) => ({
  type: 'BitstringStatusListEntry',
  statusPurpose: purpose,
  statusListIndex: String(index),
  statusListCredential: `${STATUS_URL}/${purpose}`,
});

beforeAll(async () => {
  applicant = await Holder.create();
  otherApplicant = await Holder.create();
  employer = await Holder.create();
  stranger = await Holder.create();
  wallet = await makeHolderKey();
  const pidCa = await makeCa('CN=PID CA, C=DE');
  const iaca = await makeCa('CN=IACA, C=US');
  const pidProvider = await makeLeaf(pidCa, 'CN=PID Provider, C=DE', { sanUrl: PID_ISS });
  const ds = await makeLeaf(iaca, 'CN=DS, C=US');
  trust = parsePresentedCredentialTrust({
    trustAnchors: { 'pid-ca': pidCa.pem, iaca: iaca.pem },
    sdJwtVc: [
      { id: 'eu-pid', name: 'EU Person Identification Data', vct: 'urn:eudi:pid:1', x5cTrustAnchors: ['pid-ca'], satisfies: ['document_verification'] },
      { id: 'loyalty', name: 'Loyalty card', vct: 'urn:example:loyalty', x5cTrustAnchors: ['pid-ca'], satisfies: [] },
    ],
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
  });
  pidVc = await sdJwtVcIssuer(pidProvider.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(pidProvider.der).toString('base64')] }).issue({
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
  });
  mdl = await issueMdl(ds, wallet.publicJwk, {
    family_name: 'Doe',
    given_name: 'Jane',
    birth_date: new DateOnly('1990-04-01'),
    issuing_country: 'US',
    resident_country: 'US',
  });
  table.set(`${STATUS_URL}/revocation`, await statusListVc([7], 'revocation'));
  table.set(`${STATUS_URL}/suspension`, await statusListVc([8], 'suspension'));
});

describe('a presentation_submission of credentials people already hold', () => {
  it('verifies a PID, an mDL and another issuer’s VC in one vp_token, each with its evidence, claims and checks', async () => {
    const nonce = randomBytes(16).toString('base64url');
    const vpToken = [
      await presentSdJwtVc(pidVc, wallet.privateJwk, { aud: CLIENT_ID, nonce }),
      await presentMdl(mdl, wallet.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI }, [
        'given_name',
        'family_name',
        'birth_date',
        'resident_country',
      ]),
      await vpOf(applicant, [await employeeVc(applicant)], { nonce }),
    ];
    const submission = {
      id: 's1',
      definition_id: 'kcc-basic-held-credentials',
      descriptor_map: [
        { id: 'eu-pid', format: 'vc+sd-jwt', path: '$[0]' },
        { id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$[1]' },
        {
          id: 'employee-id',
          format: 'jwt_vp_json',
          path: '$[2]',
          path_nested: { id: 'employee-id', format: 'jwt_vc_json', path: '$.verifiableCredential[0]' },
        },
      ],
    };
    // A form post carries vp_token and presentation_submission as JSON text.
    const verified = await verifyPresentedSubmission(
      { vpToken: JSON.stringify(vpToken), presentationSubmission: JSON.stringify(submission), definition: definition() },
      context(nonce),
      deps(),
    );
    expect(verified.map((v) => [v.descriptorId, v.evidence.format, v.evidence.credential_type, v.satisfies])).toEqual([
      ['eu-pid', 'dc+sd-jwt', 'urn:eudi:pid:1', ['document_verification']],
      ['mdl', 'mso_mdoc', 'org.iso.18013.5.1.mDL', ['document_verification']],
      ['employee-id', 'jwt_vc_json', 'EmployeeIdentityCredential', ['document_verification', 'sanction_screening']],
    ]);
    expect(verified[2].evidence.issuer).toBe(employer.did);
    expect(verified.map((v) => v.claims)).toEqual([
      { givenName: 'Erika', familyName: 'Mustermann', birthDate: '1964-08-12', nationality: 'DE', countryOfResidence: 'DE' },
      { givenName: 'Jane', familyName: 'Doe', birthDate: '1990-04-01', countryOfResidence: 'US' },
      { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1985-12-10', nationality: 'GB', countryOfResidence: 'GB' },
    ]);
  });

  it('refuses a descriptor_map pointing at the wrong descriptor, and nothing of the submission is accepted', async () => {
    const nonce = 'sub-n1';
    const pid = await presentSdJwtVc(pidVc, wallet.privateJwk, { aud: CLIENT_ID, nonce });
    const mdoc = await presentMdl(mdl, wallet.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI }, [
      'given_name',
      'family_name',
      'birth_date',
    ]);
    const run = (vpToken: unknown, descriptor_map: unknown[], definition_id = 'kcc-basic-held-credentials') =>
      refused(
        verifyPresentedSubmission(
          { vpToken, presentationSubmission: { id: 's', definition_id, descriptor_map }, definition: definition() },
          context(nonce),
          deps(),
        ),
      );
    // The PID under the loyalty card's descriptor (same format, another vct), with a good mDL beside it.
    expect(
      await run(
        [mdoc, pid],
        [
          { id: 'org.iso.18013.5.1.mDL', format: 'mso_mdoc', path: '$[0]' },
          { id: 'loyalty', format: 'vc+sd-jwt', path: '$[1]' },
        ],
      ),
    ).toEqual(['loyalty: vct urn:eudi:pid:1 is not urn:example:loyalty']);
    // The PID under the mDL's descriptor, the mDL under the PID's.
    expect(await run(pid, [{ id: 'org.iso.18013.5.1.mDL', format: 'vc+sd-jwt', path: '$' }])).toEqual([
      'org.iso.18013.5.1.mDL: format vc+sd-jwt is not mso_mdoc',
    ]);
    expect(await run(mdoc, [{ id: 'eu-pid', format: 'mso_mdoc', path: '$' }])).toEqual(["eu-pid: format mso_mdoc is not an SD-JWT VC's"]);
    expect(await run(mdoc, [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }])).toEqual(['eu-pid: the SD-JWT VC has no Key Binding JWT']);
    // Unknown descriptors, twice the same, another definition, a path to nothing.
    expect(await run(pid, [{ id: 'passport', format: 'vc+sd-jwt', path: '$' }])).toEqual(['passport: not an input descriptor of the definition']);
    expect(
      await run(
        [pid, pid],
        [
          { id: 'eu-pid', format: 'vc+sd-jwt', path: '$[0]' },
          { id: 'eu-pid', format: 'vc+sd-jwt', path: '$[1]' },
        ],
      ),
    ).toEqual(['eu-pid: the descriptor is mapped twice']);
    expect(await run(pid, [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }], 'other-definition')).toEqual([
      'presentation_submission.definition_id other-definition is not kcc-basic-held-credentials',
    ]);
    expect(await run([pid], [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$[3]' }])).toEqual(['eu-pid: path $[3] does not select one presentation']);
    expect(await run(pid, [])).toEqual(['presentation_submission maps no credential']);
    // A tier that accepts only the mDL refuses the PID's descriptor.
    expect(
      await refused(
        verifyPresentedSubmission(
          {
            vpToken: pid,
            presentationSubmission: {
              id: 's',
              definition_id: 'kcc-basic-held-credentials',
              descriptor_map: [{ id: 'eu-pid', format: 'vc+sd-jwt', path: '$' }],
            },
            definition: definition(),
            acceptedIds: ['mdl'],
          },
          context(nonce),
          deps(),
        ),
      ),
    ).toEqual(['eu-pid: not an input descriptor of the definition']);
  });
});

describe('another issuer’s jwt_vc_json as IDV input', () => {
  const submit = (vp: string, nonce: string, applicantDid = applicant.did) =>
    verifyPresentedSubmission(
      {
        vpToken: vp,
        presentationSubmission: {
          id: 's',
          definition_id: 'kcc-basic-held-credentials',
          descriptor_map: [
            {
              id: 'employee-id',
              format: 'jwt_vp_json',
              path: '$',
              path_nested: { id: 'employee-id', format: 'jwt_vc_json', path: '$.verifiableCredential[0]' },
            },
          ],
        },
        definition: definition(),
      },
      context(nonce, applicantDid),
      deps(),
    );

  it('refuses an untrusted issuer, a broken signature, an expired VC', async () => {
    const nonce = 'jwt-n1';
    expect((await refused(submit(await vpOf(applicant, [await employeeVc(applicant, stranger)], { nonce }), nonce))).join(' ')).toMatch(/is not trusted/);
    const vc = await employeeVc(applicant);
    const [h, p, s] = vc.split('.');
    const broken = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
    expect((await refused(submit(await vpOf(applicant, [broken], { nonce }), nonce))).join(' ')).toMatch(/signature/);
    const expired = await employeeVc(applicant, employer, { exp: now() - 3600 });
    expect((await refused(submit(await vpOf(applicant, [expired], { nonce }), nonce))).join(' ')).toMatch(/dates: expired/);
  });

  it('refuses a VC bound to another holder, and a VP over another nonce or audience', async () => {
    const nonce = 'jwt-n2';
    // The other applicant's VC, presented by the applicant: its subject is not the applicant DID.
    expect((await refused(submit(await vpOf(applicant, [await employeeVc(otherApplicant)], { nonce }), nonce))).join(' ')).toMatch(
      /subject did:jwk:\S+ is not did:jwk:/,
    );
    // The applicant's VC in a VP signed by someone else.
    expect((await refused(submit(await vpOf(otherApplicant, [await employeeVc(applicant)], { nonce }), nonce))).join(' ')).toMatch(
      /signed by a key of the applicant DID/,
    );
    expect(await refused(submit(await vpOf(applicant, [await employeeVc(applicant)], { nonce: 'another' }), nonce))).toEqual([
      'employee-id: vp_token: presentation nonce does not match this request',
    ]);
    expect(await refused(submit(await vpOf(applicant, [await employeeVc(applicant)], { nonce, aud: 'did:web:other.example' }), nonce))).toEqual([
      'employee-id: vp_token: presentation aud must be the PFI DID (client_id)',
    ]);
  });

  it('checks the Bitstring Status List: valid, revoked, suspended', async () => {
    const nonce = 'jwt-n3';
    const withStatus = (index: number) =>
      employeeVc(applicant, employer, { credentialStatus: [statusEntry('revocation', index), statusEntry('suspension', index)] });
    const ok = await submit(await vpOf(applicant, [await withStatus(1)], { nonce }), nonce);
    expect(ok[0].recheck.status).toHaveLength(2);
    expect(await presentedCredentialRecheckProblem(ok[0].recheck, deps())).toBeUndefined();
    expect(await presentedCredentialRecheckProblem({ ...ok[0].recheck, status: [statusEntry('revocation', 7)] }, deps())).toBe('revoked');
    expect((await refused(submit(await vpOf(applicant, [await withStatus(7)], { nonce }), nonce))).join(' ')).toMatch(/status: revoked/);
    expect((await refused(submit(await vpOf(applicant, [await withStatus(8)], { nonce }), nonce))).join(' ')).toMatch(/status: suspended/);
  });
});

describe('@sphereon/pex 4.1.0 on the definitions', () => {
  it('validates the definition and selects the right credential for each descriptor', async () => {
    const pd = definition() as unknown as IPresentationDefinition & {
      input_descriptors: { id: string; constraints?: { limit_disclosure?: string; fields?: { path: string[]; intent_to_retain?: boolean }[] } }[];
    };
    expect(PEX.validateDefinition(pd)).toEqual([{ message: 'ok', status: 'info', tag: 'root' }]);
    expect(pd.input_descriptors.map((d) => d.id)).toEqual(['eu-pid', 'loyalty', 'org.iso.18013.5.1.mDL', 'employee-id']);
    const pex = new PEX({ hasher: (data: string | ArrayBuffer) => sha256(typeof data === 'string' ? data : new Uint8Array(data)) });
    const employee = await employeeVc(applicant);
    const selected = pex.evaluateCredentials(pd, [pidVc, employee]);
    expect(selected.areRequiredCredentialsPresent).toBe(Status.INFO);
    expect(selected.value?.descriptor_map.map((m) => [m.id, m.format])).toEqual([
      ['eu-pid', 'vc+sd-jwt'],
      ['employee-id', 'jwt_vc'],
    ]);
    // The loyalty card's descriptor does not take the PID (another vct); the employee VC alone satisfies the pick.
    expect(
      pex.evaluateCredentials({ ...pd, input_descriptors: pd.input_descriptors.filter((d) => d.id === 'loyalty') } as IPresentationDefinition, [pidVc])
        .areRequiredCredentialsPresent,
    ).toBe(Status.ERROR);
    // Only the claims IDV reads are asked for, with limited disclosure.
    const pidFields = pd.input_descriptors[0].constraints?.fields?.flatMap((f) => f.path) ?? [];
    expect(pidFields).toEqual(['$.vct', '$.given_name', '$.family_name', '$.birthdate', '$.birth_date', '$.nationalities', '$.nationality']);
    expect(pd.input_descriptors[0].constraints?.limit_disclosure).toBe('required');
    expect(pd.input_descriptors[2].constraints?.fields?.map((f) => f.path[0])).toEqual([
      "$['org.iso.18013.5.1']['given_name']",
      "$['org.iso.18013.5.1']['family_name']",
      "$['org.iso.18013.5.1']['birth_date']",
    ]);
    expect(pd.input_descriptors[2].constraints?.fields?.every((f) => (f as { intent_to_retain?: boolean }).intent_to_retain === true)).toBe(true);
  });
});

describe('DCQL (dcql_query, OpenID4VP 1.0) with the dcql library', () => {
  it('builds a valid query and verifies a response answering it; refuses unknown ids, the wrong kind, a missing requested claim', async () => {
    const query = presentedCredentialDcqlQuery(trust, ['eu-pid', 'mdl', 'employee-id']);
    DcqlQuery.validate(DcqlQuery.parse(query));
    expect(query.credentials.map((c) => [c.id, c.format])).toEqual([
      ['eu-pid', 'dc+sd-jwt'],
      ['mdl', 'mso_mdoc'],
      ['employee-id', 'jwt_vc_json'],
    ]);
    const nonce = 'dcql-n1';
    const vpToken = {
      'eu-pid': [await presentSdJwtVc(pidVc, wallet.privateJwk, { aud: CLIENT_ID, nonce }, ['given_name', 'family_name', 'birthdate', 'nationalities'])],
      mdl: [await presentMdl(mdl, wallet.privateJwk, { clientId: CLIENT_ID, nonce, responseUri: RESPONSE_URI }, ['given_name', 'family_name', 'birth_date'])],
      'employee-id': [await vpOf(applicant, [await employeeVc(applicant)], { nonce })],
    };
    const verified = await verifyPresentedDcqlResponse({ vpToken: JSON.stringify(vpToken), query }, context(nonce), deps());
    expect(verified.map((v) => [v.descriptorId, v.claims.familyName])).toEqual([
      ['eu-pid', 'Mustermann'],
      ['mdl', 'Doe'],
      ['employee-id', 'Lovelace'],
    ]);
    const run = (token: unknown) => refused(verifyPresentedDcqlResponse({ vpToken: token, query }, context(nonce), deps()));
    expect(await run({ passport: [vpToken['eu-pid'][0]] })).toEqual(['passport: not a credential query of the request']);
    expect(await run({ mdl: vpToken['eu-pid'] })).toEqual(['mdl: not an mdoc DeviceResponse']);
    // The PID without the birth date the query asks for: verified, but it does not satisfy the query.
    const partial = await presentSdJwtVc(pidVc, wallet.privateJwk, { aud: CLIENT_ID, nonce }, ['given_name', 'family_name']);
    expect(await run({ 'eu-pid': [partial] })).toEqual(['eu-pid: the presented credential does not satisfy the credential query']);
  });
});
