import { decodeJwt, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPortableDigests } from '../../src/crypto/portableDigests';
import { deriveExistingCustomerKeys, openLoginTransaction } from '../../src/idv/existingCustomer/loginTransaction';
import { beginBankLogin, BankLoginRejected, completeBankLogin, createBankLogin, type BankLogin } from '../../src/idv/existingCustomer/relyingParty';
import { parseExistingCustomerSettings, type ExistingCustomerSettingsInput } from '../../src/idv/existingCustomer/settings';
import { clientKeyPair, signInAtBank, startTestBank, type TestBank } from '../helpers/bankProvider';
import { TIERS } from '../helpers/tiers';

/**
 * The existing-customer sign-in against a real OpenID provider (panva's oidc-provider) running
 * on loopback as the bank. The applicant's trip through the bank's login and consent is driven
 * over HTTP with cookies (test/helpers/bankProvider.ts). Attacks on the callback are made with
 * real artefacts: codes and ID tokens from other logins, another client, a second provider,
 * and responses altered in transit by the fetch port acting as a man in the middle.
 */

const REDIRECT_URI = 'https://issuer.example/idv/existing-customer/callback';
const CLIENT_ID = 'kcc-issuer';
const CLIENT_SECRET = 'bank-client-secret-0123456789abcdef';
const JWT_CLIENT_ID = 'kcc-issuer-jwt';
const OTHER_CLIENT_ID = 'another-app-of-the-bank';

const CUSTOMERS = {
  alice: { address: { country: 'de' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions', 'pep'], name: 'Alice Example' },
  bob: { address: { locality: 'Springfield' }, kyc_tier: 'full', kyc_checks: ['id_document', 'sanctions'] },
  carol: { address: { country: 'FR' }, kyc_tier: 'full', kyc_checks: ['id_document'] },
  dave: { address: { country: 'NL' }, kyc_checks: ['id_document'] },
};

const MAPPING = {
  country: { claim: 'address.country' },
  tier: { claim: 'kyc_tier', values: { basic: 'kcc-basic', full: 'kcc-enhanced' }, whenAbsent: 'lowest' as const },
  checks: { claim: 'kyc_checks', values: { id_document: 'document_verification', sanctions: 'sanction_screening', pep: 'sanction_screening' } },
};

/** Intercepts the relying party's outbound HTTP: records requests and may alter responses (a man in the middle, or a misbehaving bank). */
interface Wire {
  requests: { url: string; headers: Record<string, string>; body: string }[];
  tokenResponse?: (json: Record<string, unknown>) => Record<string, unknown>;
  userinfo?: (json: Record<string, unknown>) => Record<string, unknown>;
  captured: { tokens: Record<string, unknown>[] };
}

function wiredFetch(wire: Wire) {
  return async (url: string, init?: RequestInit) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    wire.requests.push({ url, headers, body: typeof init?.body === 'string' ? init.body : init?.body instanceof URLSearchParams ? init.body.toString() : '' });
    const res = await fetch(url, init);
    const isToken = url.endsWith('/token');
    const isUserinfo = url.endsWith('/me');
    if (!(isToken || isUserinfo) || !res.ok) return res;
    const json = (await res.json()) as Record<string, unknown>;
    if (isToken) wire.captured.tokens.push(json);
    const altered = isToken && wire.tokenResponse ? wire.tokenResponse(json) : isUserinfo && wire.userinfo ? wire.userinfo(json) : json;
    return new Response(JSON.stringify(altered), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
}

describe('existing customers sign in at their bank (oidc-provider on loopback)', () => {
  let bank: TestBank;
  let otherBank: TestBank;
  let clientKeys: Awaited<ReturnType<typeof clientKeyPair>>;
  let keys: Awaited<ReturnType<typeof deriveExistingCustomerKeys>>;
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const random = createPortableDigests();
  let wire: Wire;

  const clients = (jwk: unknown) => [
    { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' as const, redirect_uris: [REDIRECT_URI] },
    { client_id: JWT_CLIENT_ID, token_endpoint_auth_method: 'private_key_jwt' as const, jwks: { keys: [jwk as never] }, redirect_uris: [REDIRECT_URI] },
    {
      client_id: OTHER_CLIENT_ID,
      client_secret: `${CLIENT_SECRET}-other`,
      token_endpoint_auth_method: 'client_secret_basic' as const,
      redirect_uris: [REDIRECT_URI],
    },
  ];

  beforeAll(async () => {
    clientKeys = await clientKeyPair();
    bank = await startTestBank({ customers: CUSTOMERS, clients: clients(clientKeys.publicJwk) });
    otherBank = await startTestBank({ customers: CUSTOMERS, clients: clients(clientKeys.publicJwk) });
    keys = await deriveExistingCustomerKeys(new Uint8Array(32).fill(9));
  });
  afterAll(async () => {
    await bank?.close();
    await otherBank?.close();
  });
  beforeEach(() => {
    offsetMs = 0;
    wire = { requests: [], captured: { tokens: [] } };
  });

  function rp(overrides: Partial<ExistingCustomerSettingsInput> = {}, issuer = bank.issuer): BankLogin {
    const settings = parseExistingCustomerSettings(
      {
        displayName: 'Example Bank',
        issuer,
        clientId: CLIENT_ID,
        clientAuth: { method: 'client_secret_basic', clientSecret: CLIENT_SECRET },
        scopes: ['openid', 'address', 'kyc'],
        claimMapping: MAPPING,
        ...overrides,
      },
      TIERS,
    );
    return createBankLogin(settings, { clock, fetch: wiredFetch(wire), random, keys }, { redirectUri: REDIRECT_URI, tiers: TIERS });
  }

  /** One applicant's round trip: begin, sign in at the bank, the callback URL the browser brings back. */
  let trips = 0;
  async function roundTrip(login: BankLogin, account: string, opts: { cancel?: boolean } = {}) {
    const begun = await beginBankLogin(login, { formTokenDigest: `form-token-digest-${++trips}` });
    const callbackUrl = await signInAtBank(begun.authorizationUrl, REDIRECT_URI, account, opts);
    return { ...begun, callbackUrl };
  }

  async function rejection(p: Promise<unknown>): Promise<BankLoginRejected> {
    const e = await p.then(
      (v) => {
        throw new Error(`expected a refusal, got ${JSON.stringify(v)}`);
      },
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(BankLoginRejected);
    return e as BankLoginRejected;
  }

  it('signs in an existing customer: authorization code with PKCE S256, state and nonce; KCC data from the verified claims', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'alice');
    const auth = new URL(trip.authorizationUrl);
    expect(auth.origin).toBe(bank.issuer);
    expect(auth.searchParams.get('response_type')).toBe('code');
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.get('scope')).toBe('openid address kyc');
    expect(auth.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    const state = auth.searchParams.get('state') as string;
    const nonce = auth.searchParams.get('nonce') as string;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state).not.toBe(nonce);
    // Neither the verifier nor the nonce is readable from the transaction without the key.
    const tx = await openLoginTransaction({ keys }, trip.transaction, Math.floor(clock() / 1000));
    const formTokenDigest = `form-token-digest-${trips}`;
    expect(tx).toMatchObject({ state, nonce, formTokenDigest, issuer: bank.issuer });
    expect(trip.transaction).not.toContain(state);
    expect(new URL(trip.callbackUrl).searchParams.get('iss')).toBe(bank.issuer);

    const outcome = await completeBankLogin(login, { callbackUrl: trip.callbackUrl, transaction: trip.transaction });
    expect(outcome).toMatchObject({
      status: 'verified',
      formTokenDigest,
      countryOfResidence: 'DE',
      tierId: 'kcc-enhanced',
      evidence: [
        { type: ['ExistingCustomer'], kind: 'existing_customer', checks: ['document_verification', 'sanction_screening'] },
        { type: ['ExistingCustomer'], kind: 'document_verification', checks: ['id_document'] },
        { type: ['ExistingCustomer'], kind: 'sanction_screening', checks: ['sanctions', 'pep'] },
      ],
    });
    // The bank customer is only a keyed digest: stable, and the sub is nowhere in the outcome.
    if (outcome.status !== 'verified') throw new Error('unreachable');
    expect(outcome.subjectDigest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(outcome)).not.toContain('alice');
    expect(JSON.stringify(outcome)).not.toContain('Alice');
    const again = await completeBankLogin(login, await roundTrip(login, 'alice').then((t) => ({ callbackUrl: t.callbackUrl, transaction: t.transaction })));
    expect(again.status === 'verified' && again.subjectDigest).toBe(outcome.subjectDigest);

    // client_secret_basic at the token endpoint, the PKCE verifier sent, userinfo fetched with the access token.
    const token = wire.requests.find((r) => r.url.endsWith('/token'));
    expect(token?.headers.authorization).toMatch(/^Basic /);
    expect(new URLSearchParams(token?.body).get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new URLSearchParams(token?.body).get('client_secret')).toBeNull();
    expect(wire.requests.some((r) => r.url.endsWith('/me') && /^Bearer /.test(r.headers.authorization ?? ''))).toBe(true);
    expect(wire.requests[0].url).toBe(`${bank.issuer}/.well-known/openid-configuration`);
  });

  it('authenticates with private_key_jwt', async () => {
    const login = rp({ clientId: JWT_CLIENT_ID, clientAuth: { method: 'private_key_jwt', privateJwk: clientKeys.privateJwk as never } });
    const trip = await roundTrip(login, 'carol');
    const outcome = await completeBankLogin(login, trip);
    // carol's bank reports a full KYC but only a document check: the tier goes only as far as the evidence.
    expect(outcome).toMatchObject({
      status: 'verified',
      countryOfResidence: 'FR',
      tierId: 'kcc-basic',
      notes: expect.arrayContaining(['tier_limited_by_evidence']),
    });
    const body = new URLSearchParams(wire.requests.find((r) => r.url.endsWith('/token'))?.body);
    expect(body.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(decodeJwt(body.get('client_assertion') as string)).toMatchObject({ iss: JWT_CLIENT_ID, sub: JWT_CLIENT_ID });
  });

  it('no tier claim: the lowest tier the mapping allows, or review when the mapping says so', async () => {
    expect(await completeBankLogin(rp(), await roundTrip(rp(), 'dave'))).toMatchObject({ status: 'verified', tierId: 'kcc-basic', countryOfResidence: 'NL' });
    const strict = rp({ claimMapping: { ...MAPPING, tier: { ...MAPPING.tier, whenAbsent: 'review' } } });
    const outcome = await completeBankLogin(strict, await roundTrip(strict, 'dave'));
    expect(outcome).toMatchObject({ status: 'fallback', next: 'review', reasons: ['tier_claim_missing'], countryOfResidence: 'NL' });
  });

  it('a customer without the country claim falls back to regular verification (or review, as configured), with the reason', async () => {
    const outcome = await completeBankLogin(rp(), await roundTrip(rp(), 'bob'));
    expect(outcome).toMatchObject({ status: 'fallback', next: 'regular_verification', reasons: ['country_missing'], tierId: 'kcc-enhanced' });
    expect(outcome).not.toHaveProperty('countryOfResidence');
    const toReview = rp({ fallback: 'review' });
    expect(await completeBankLogin(toReview, await roundTrip(toReview, 'bob'))).toMatchObject({
      status: 'fallback',
      next: 'review',
      reasons: ['country_missing'],
    });
  });

  it('a customer who cancels at the bank gets a distinct "cancelled" result', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'alice', { cancel: true });
    expect(new URL(trip.callbackUrl).searchParams.get('error')).toBe('access_denied');
    expect(await completeBankLogin(login, trip)).toEqual({ status: 'cancelled', formTokenDigest: `form-token-digest-${trips}` });
    // Only for this browser's own login: a cancellation with another state is refused.
    const forged = new URL(trip.callbackUrl);
    forged.searchParams.set('state', 'x'.repeat(43));
    expect((await rejection(completeBankLogin(login, { callbackUrl: forged, transaction: trip.transaction }))).reason).toBe('state_mismatch');
    // Any other error from the bank is a refusal, not a cancellation.
    const failed = new URL(trip.callbackUrl);
    failed.searchParams.set('error', 'temporarily_unavailable');
    const refused = await rejection(completeBankLogin(login, { callbackUrl: failed, transaction: trip.transaction }));
    expect(refused).toMatchObject({ reason: 'authorization_error', detail: 'temporarily_unavailable' });
  });

  it('refuses a tampered state, a tampered, missing or expired transaction', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'alice');
    const tampered = new URL(trip.callbackUrl);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    expect((await rejection(completeBankLogin(login, { callbackUrl: tampered, transaction: trip.transaction }))).reason).toBe('state_mismatch');

    const flipped = trip.transaction.slice(0, 30) + (trip.transaction[30] === 'A' ? 'B' : 'A') + trip.transaction.slice(31);
    expect((await rejection(completeBankLogin(login, { callbackUrl: trip.callbackUrl, transaction: flipped }))).reason).toBe('invalid_transaction');
    // The callback reached another browser (no transaction cookie): e.g. a victim lured to an attacker's authorization URL.
    expect((await rejection(completeBankLogin(login, { callbackUrl: trip.callbackUrl, transaction: undefined }))).reason).toBe('invalid_transaction');

    offsetMs = 601_000;
    expect((await rejection(completeBankLogin(login, trip))).reason).toBe('transaction_expired');
    // None of these reached the bank's token endpoint.
    expect(wire.requests.filter((r) => r.url.endsWith('/token'))).toHaveLength(0);
  });

  it('refuses a replayed code', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'alice');
    expect((await completeBankLogin(login, trip)).status).toBe('verified');
    const replay = await rejection(completeBankLogin(login, trip));
    expect(replay.reason).toBe('invalid_grant');
  });

  it('refuses a code from another login (the PKCE verifier and state of this one do not fit it)', async () => {
    const login = rp();
    const mine = await roundTrip(login, 'alice');
    const theirs = await roundTrip(login, 'carol');
    // Their code injected into my callback, with my state: the bank refuses it for my PKCE verifier.
    const injected = new URL(mine.callbackUrl);
    injected.searchParams.set('code', new URL(theirs.callbackUrl).searchParams.get('code') as string);
    expect((await rejection(completeBankLogin(login, { callbackUrl: injected, transaction: mine.transaction }))).reason).toBe('invalid_grant');
    // Their whole callback with my transaction: the state does not match.
    expect((await rejection(completeBankLogin(login, { callbackUrl: theirs.callbackUrl, transaction: mine.transaction }))).reason).toBe('state_mismatch');
  });

  it('refuses a code issued to another client of the same bank', async () => {
    const other = rp({ clientId: OTHER_CLIENT_ID, clientAuth: { method: 'client_secret_basic', clientSecret: `${CLIENT_SECRET}-other` } });
    const trip = await roundTrip(other, 'alice');
    const tx = await openLoginTransaction({ keys }, trip.transaction, Math.floor(clock() / 1000));
    expect(tx).toBeTruthy();
    // Our client redeeming the other client's code (same transaction values): the bank refuses it.
    expect((await rejection(completeBankLogin(rp(), trip))).reason).toBe('invalid_grant');
  });

  it('refuses an ID token for another client, from another issuer, with a wrong nonce, or expired', async () => {
    // Genuine ID tokens from other logins, swapped into our token response in transit.
    const otherClient = rp({ clientId: OTHER_CLIENT_ID, clientAuth: { method: 'client_secret_basic', clientSecret: `${CLIENT_SECRET}-other` } });
    await completeBankLogin(otherClient, await roundTrip(otherClient, 'alice'));
    const forOtherClient = wire.captured.tokens.at(-1)?.id_token as string;
    expect(decodeJwt(forOtherClient).aud).toBe(OTHER_CLIENT_ID);

    const secondBank = rp({}, otherBank.issuer);
    await completeBankLogin(secondBank, await roundTrip(secondBank, 'alice'));
    const fromOtherIssuer = wire.captured.tokens.at(-1)?.id_token as string;
    expect(decodeJwt(fromOtherIssuer).iss).toBe(otherBank.issuer);

    const login = rp();
    await completeBankLogin(login, await roundTrip(login, 'alice'));
    const fromAnotherLogin = wire.captured.tokens.at(-1)?.id_token as string;

    for (const [idToken, detail] of [
      [forOtherClient, /aud/],
      [fromOtherIssuer, /iss/],
      [fromAnotherLogin, /nonce/],
    ] as const) {
      const trip = await roundTrip(login, 'alice');
      wire.tokenResponse = (json) => ({ ...json, id_token: idToken });
      const refused = await rejection(completeBankLogin(login, trip));
      wire.tokenResponse = undefined;
      expect(refused.reason).toBe('invalid_id_token');
      expect(refused.detail).toMatch(detail);
    }

    // Expired by our clock: the bank's ID tokens live 60 s, the login transaction 10 minutes.
    const trip = await roundTrip(login, 'alice');
    offsetMs = 120_000;
    const expired = await rejection(completeBankLogin(login, trip));
    expect(expired.reason).toBe('invalid_id_token');
    expect(expired.detail).toMatch(/exp/);
  });

  it('refuses an ID token naming another authorized party, or signed with HS256 or by another key', async () => {
    const login = rp();
    const bankKey = await importJWK(bank.signingKey.privateJwk, 'RS256');
    const forge = async (
      trip: { authorizationUrl: string },
      claims: Record<string, unknown>,
      header: { alg: string; kid?: string } = { alg: 'RS256', kid: bank.signingKey.kid },
      key: Parameters<SignJWT['sign']>[0] = bankKey,
    ) => {
      const nonce = new URL(trip.authorizationUrl).searchParams.get('nonce') as string;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ nonce, ...claims })
        .setProtectedHeader(header)
        .setIssuer(bank.issuer)
        .setSubject('alice')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
    };
    const otherKey = await importJWK(otherBank.signingKey.privateJwk, 'RS256');
    const cases: [RegExp, Record<string, unknown>, { alg: string; kid?: string }?, Parameters<SignJWT['sign']>[0]?][] = [
      [/azp/, { aud: [CLIENT_ID, OTHER_CLIENT_ID], azp: OTHER_CLIENT_ID }],
      [/azp/, { aud: CLIENT_ID, azp: OTHER_CLIENT_ID }],
      [/alg/, { aud: CLIENT_ID }, { alg: 'HS256' }, new TextEncoder().encode(CLIENT_SECRET)],
      [/key/, { aud: CLIENT_ID }, { alg: 'RS256', kid: otherBank.signingKey.kid }, otherKey],
      // The bank's kid on a signature by another key.
      [/signature/i, { aud: CLIENT_ID }, { alg: 'RS256', kid: bank.signingKey.kid }, otherKey],
    ];
    // Control: the same forgery with nothing wrong is accepted, so each refusal below is for its one defect.
    {
      const trip = await roundTrip(login, 'alice');
      const good = await forge(trip, { aud: CLIENT_ID });
      wire.tokenResponse = (json) => ({ ...json, id_token: good });
      expect((await completeBankLogin(login, trip)).status).toBe('verified');
    }
    for (const [detail, claims, header, key] of cases) {
      const trip = await roundTrip(login, 'alice');
      const idToken = await forge(trip, claims, header, key);
      wire.tokenResponse = (json) => ({ ...json, id_token: idToken });
      const refused = await rejection(completeBankLogin(login, trip));
      expect(refused.reason).toBe('invalid_id_token');
      expect(refused.detail).toMatch(detail);
    }
  });

  it('with max_age set, requires a recent sign-in at the bank (auth_time)', async () => {
    const login = rp({ maxAuthAgeSeconds: 300 });
    const trip = await roundTrip(login, 'alice');
    expect(new URL(trip.authorizationUrl).searchParams.get('max_age')).toBe('300');
    expect((await completeBankLogin(login, trip)).status).toBe('verified');
    expect(decodeJwt(wire.captured.tokens.at(-1)?.id_token as string).auth_time).toEqual(expect.any(Number));

    const bankKey = await importJWK(bank.signingKey.privateJwk, 'RS256');
    for (const authTime of [Math.floor(Date.now() / 1000) - 1000, undefined]) {
      const next = await roundTrip(login, 'alice');
      const now = Math.floor(Date.now() / 1000);
      const nonce = new URL(next.authorizationUrl).searchParams.get('nonce') as string;
      const idToken = await new SignJWT({ nonce, aud: CLIENT_ID, ...(authTime ? { auth_time: authTime } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: bank.signingKey.kid })
        .setIssuer(bank.issuer)
        .setSubject('alice')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(bankKey);
      wire.tokenResponse = (json) => ({ ...json, id_token: idToken });
      const refused = await rejection(completeBankLogin(login, next));
      expect(refused.reason).toBe('invalid_id_token');
      expect(refused.detail).toMatch(/auth_time/);
    }
  });

  it('refuses userinfo about another subject than the ID token', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'bob');
    wire.userinfo = (json) => ({ ...json, sub: 'alice', address: { country: 'DE' } });
    const refused = await rejection(completeBankLogin(login, trip));
    expect(refused.reason).toBe('userinfo_mismatch');
  });

  it('refuses a callback whose iss names another provider (mix-up, RFC 9207)', async () => {
    const login = rp();
    const trip = await roundTrip(login, 'alice');
    const mixed = new URL(trip.callbackUrl);
    mixed.searchParams.set('iss', otherBank.issuer);
    expect((await rejection(completeBankLogin(login, { callbackUrl: mixed, transaction: trip.transaction }))).reason).toBe('issuer_mismatch');
  });
});
