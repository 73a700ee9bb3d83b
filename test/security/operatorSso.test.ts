import { decodeJwt, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Settings } from '../../src/config';
import type { Logger } from '../../src/http/context';
import { addOperatorAccount } from '../../src/issuance/operatorAccounts';
import { purgeOperatorSessions } from '../../src/issuance/operatorSessions';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { clientKeyPair, signInAtBank, startTestBank, type BankCustomer, type TestBank } from '../helpers/bankProvider';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';
import { admin } from '../helpers/steps';

/**
 * The review console's sign-in through the PFI's workforce login (src/issuance/operatorSso.ts):
 * panva's oidc-provider on loopback is the workforce IdP, the console is driven over HTTP through
 * the app (cookies by hand, as a browser keeps them), the IdP's login pages over real HTTP.
 * Attacks use real artefacts: codes and ID tokens from other sign-ins, another client, a second
 * provider, swapped into the token response by the fetch port acting as a man in the middle.
 */

type T = Awaited<ReturnType<typeof makeTestIssuer>>;
const REDIRECT_URI = `${PUBLIC_URL}/console/sso/callback`;
const CLIENT_ID = 'kcc-console';
const CLIENT_SECRET = 'workforce-client-secret-0123456789';
const OTHER_CLIENT_ID = 'intranet';
const JWT_CLIENT_ID = 'kcc-console-jwt';
const ROLE_MAP = { 'kcc-reviewers': 'reviewer', 'kcc-admins': 'admin' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const STAFF: Record<string, BankCustomer> = {
  rita: { name: 'Rita Reviewer', email: 'rita@pfi.example', groups: ['all-staff', 'kcc-reviewers'] },
  ravi: { name: 'Ravi Reviewer', email: 'ravi@pfi.example', groups: ['kcc-reviewers'] },
  ada: { name: 'Ada Admin', email: 'ada@pfi.example', groups: ['kcc-reviewers', 'kcc-admins'] },
  mallory: { name: 'Mallory Marketing', email: 'mallory@pfi.example', groups: ['marketing'] },
  nora: { name: 'Nora No-Groups', email: 'nora@pfi.example' },
};

/** Records the console's outbound HTTP to the IdP and may alter the token response (a man in the middle). */
interface Wire {
  tokens: Record<string, unknown>[];
  tokenResponse?: (json: Record<string, unknown>) => Record<string, unknown>;
  requests: { url: string; body: string }[];
}

function wiredFetch(wire: Wire) {
  return async (url: string, init?: RequestInit) => {
    wire.requests.push({ url, body: typeof init?.body === 'string' ? init.body : init?.body instanceof URLSearchParams ? init.body.toString() : '' });
    const res = await fetch(url, init);
    if (!url.endsWith('/token') || !res.ok) return res;
    const json = (await res.json()) as Record<string, unknown>;
    wire.tokens.push(json);
    const altered = wire.tokenResponse ? wire.tokenResponse(json) : json;
    return new Response(JSON.stringify(altered), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
}

/** Every log line, to check no e-mail, name, token or code reaches them. */
function capturingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, msg, ...fields }));
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger;
}

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((l) => l.split(';')[0])
    .find((p) => p.startsWith(`${name}=`) && p.length > name.length + 1);

describe('review console sign-in through the workforce login (oidc-provider as the IdP)', () => {
  let idp: TestBank;
  let otherIdp: TestBank;
  let clientKeys: Awaited<ReturnType<typeof clientKeyPair>>;
  let wire: Wire;
  let logs: string[];

  const clients = (jwk: unknown) => [
    { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' as const, redirect_uris: [REDIRECT_URI] },
    {
      client_id: OTHER_CLIENT_ID,
      client_secret: `${CLIENT_SECRET}-x`,
      token_endpoint_auth_method: 'client_secret_basic' as const,
      redirect_uris: [REDIRECT_URI],
    },
    { client_id: JWT_CLIENT_ID, token_endpoint_auth_method: 'private_key_jwt' as const, jwks: { keys: [jwk as never] }, redirect_uris: [REDIRECT_URI] },
  ];

  beforeAll(async () => {
    clientKeys = await clientKeyPair();
    const scopeClaims = { groups: ['groups'], email: ['email'] };
    idp = await startTestBank({ customers: STAFF, clients: clients(clientKeys.publicJwk), scopeClaims });
    otherIdp = await startTestBank({ customers: STAFF, clients: clients(clientKeys.publicJwk), scopeClaims });
  });
  afterAll(async () => {
    await idp?.close();
    await otherIdp?.close();
  });
  beforeEach(() => {
    wire = { tokens: [], requests: [] };
    logs = [];
  });

  function ssoSettings(overrides: Partial<Settings['operatorSso']> = {}, issuer = idp.issuer): Settings['operatorSso'] {
    return {
      issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      privateKeyJwk: undefined,
      scopes: 'openid profile email groups',
      rolesClaim: 'groups',
      roleMap: ROLE_MAP,
      displayName: 'PFI staff login',
      idTokenAlg: undefined,
      maxAuthAgeSeconds: undefined,
      keySecret: new Uint8Array(32).fill(7),
      ...overrides,
    };
  }

  async function issuer(overrides: Partial<Settings['operatorSso']> = {}, config: Record<string, unknown> = {}, idpIssuer = idp.issuer): Promise<T> {
    return makeTestIssuer({ operatorSso: ssoSettings(overrides, idpIssuer), operatorSsoFetch: wiredFetch(wire), logger: capturingLogger(logs), config });
  }

  /** One trip: start at the console, sign in at the IdP as `who`, back at the callback URL (not yet loaded). */
  async function trip(t: T, who: string, opts: { cancel?: boolean } = {}) {
    const start = await t.app.request(`${PUBLIC_URL}/console/sso/start`);
    expect(start.status).toBe(303);
    const authorizationUrl = start.headers.get('location') as string;
    const tx = cookieOf(start, 'kcc_console_sso') as string;
    expect(tx).toBeTruthy();
    const callbackUrl = await signInAtBank(authorizationUrl, REDIRECT_URI, who, opts);
    return { authorizationUrl, tx, callbackUrl };
  }

  /** Loads the callback in the browser that started the sign-in (its transaction cookie), or with `tx` given. */
  async function callback(t: T, url: string, tx: string | undefined) {
    const res = await t.app.request(url, { headers: tx ? { cookie: tx } : {} });
    return { status: res.status, session: cookieOf(res, 'kcc_console'), body: await res.text(), res };
  }

  async function signIn(t: T, who: string): Promise<string> {
    const { tx, callbackUrl } = await trip(t, who);
    const r = await callback(t, callbackUrl, tx);
    expect(r.status, r.body).toBe(200);
    expect(r.session).toBeTruthy();
    return r.session as string;
  }

  async function get(t: T, cookie: string, path: string) {
    const res = await t.app.request(`${PUBLIC_URL}/console${path}`, { headers: { cookie } });
    return { status: res.status, body: await res.text(), location: res.headers.get('location') };
  }

  async function post(t: T, cookie: string, path: string, fields: Record<string, string>) {
    const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec((await get(t, cookie, '')).body)?.[1] as string;
    const res = await t.app.request(`${PUBLIC_URL}/console${path}`, {
      method: 'POST',
      headers: { ...FORM, cookie },
      body: new URLSearchParams({ ...fields, csrf_token: csrf }).toString(),
    });
    return { status: res.status, body: await res.text(), location: res.headers.get('location') };
  }

  const live = async (t: T, cookie: string) => (await get(t, cookie, '')).status === 200;
  const sessionCount = (t: T) => (t.sqlite.prepare('select count(*) as n from operator_sessions').get() as { n: number }).n;

  /** A refusal: the login page with a message, no session cookie, no session row. */
  async function expectRefused(t: T, r: Awaited<ReturnType<typeof callback>>, status: number, message: RegExp) {
    expect(r.status).toBe(status);
    expect(r.session).toBeUndefined();
    expect(r.body).toMatch(message);
    expect(r.body).toContain('Sign in with PFI staff login');
    expect(sessionCount(t)).toBe(0);
  }

  it('signs an operator in: code flow with PKCE S256, state and nonce; role from the groups claim; the same console session as local accounts', async () => {
    const t = await issuer();
    // The login page offers the workforce sign-in; ADMIN_TOKEN opens nothing beside it.
    const page = await (await t.app.request(`${PUBLIC_URL}/console/login`)).text();
    expect(page).toContain('href="/console/sso/start"');
    expect(page).not.toContain('Operator token');
    const viaToken = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ operator: 'Bob', token: ADMIN_TOKEN }).toString(),
    });
    expect(viaToken.status).toBe(401);

    const { authorizationUrl, tx, callbackUrl } = await trip(t, 'rita');
    const auth = new URL(authorizationUrl);
    expect(auth.origin).toBe(idp.issuer);
    expect(auth.searchParams.get('response_type')).toBe('code');
    expect(auth.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(auth.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('scope')).toBe('openid profile email groups');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(auth.searchParams.get(p)).toMatch(/^[\w-]{43}$/);
    // The transaction cookie: sealed (no state in clear), HttpOnly, Lax (the IdP returns cross-site), callback path only.
    expect(tx).not.toContain(auth.searchParams.get('state') as string);

    const r = await callback(t, callbackUrl, tx);
    expect(r.status).toBe(200);
    const setCookies = r.res.headers.getSetCookie().join('\n');
    expect(setCookies).toMatch(/kcc_console=[\w-]{43}; Max-Age=28800; Path=\/console; HttpOnly; SameSite=Strict/);
    // The transaction is gone with the callback, whatever the outcome.
    expect(setCookies).toMatch(/kcc_console_sso=; Max-Age=0; Path=\/console\/sso\/callback/);
    // A navigation of our own reaches the queue (the Strict cookie is withheld at the end of a cross-site chain).
    expect(r.res.headers.get('refresh')).toBe('0;url=/console?status=review');
    expect(r.body).toContain('Signed in as Rita Reviewer');

    const queue = await get(t, r.session as string, '?status=review');
    expect(queue.status).toBe(200);
    expect(queue.body).toContain('Signed in as <strong>Rita Reviewer</strong> (reviewer)');
    // A reviewer: no Operators page, and the server refuses it whatever the page showed.
    expect(queue.body).not.toContain('>Operators<');
    expect((await get(t, r.session as string, '/operators')).status).toBe(403);

    // client_secret_basic and the PKCE verifier at the token endpoint.
    const token = wire.requests.find((q) => q.url.endsWith('/token'));
    expect(new URLSearchParams(token?.body).get('code_verifier')).toMatch(/^[\w-]{43}$/);
    expect(wire.requests[0].url).toBe(`${idp.issuer}/.well-known/openid-configuration`);

    // Audited with the party (a keyed digest of iss and sub) and the IdP subject in the audit table; no e-mail.
    const audit = t.sqlite.prepare("select actor, detail from audit_log where action = 'console.login'").all() as { actor: string; detail: string }[];
    expect(audit).toHaveLength(1);
    expect(audit[0].actor).toMatch(/^console:sso:[\w-]{43}$/);
    expect(JSON.parse(audit[0].detail)).toEqual({ via: 'sso', role: 'reviewer', idp_subject: 'rita', groups: ['kcc-reviewers'] });
    expect(audit[0].detail).not.toContain('rita@');

    // Sign out ends the session like any other.
    const out = await post(t, r.session as string, '/logout', {});
    expect(out.status).toBe(303);
    expect(await live(t, r.session as string)).toBe(false);
  });

  it('authenticates to the IdP with private_key_jwt', async () => {
    const t = await issuer({ clientId: JWT_CLIENT_ID, clientSecret: undefined, privateKeyJwk: clientKeys.privateJwk });
    const cookie = await signIn(t, 'ada');
    expect((await get(t, cookie, '')).body).toContain('(admin)');
    const body = new URLSearchParams(wire.requests.find((q) => q.url.endsWith('/token'))?.body);
    expect(body.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(decodeJwt(body.get('client_assertion') as string)).toMatchObject({ iss: JWT_CLIENT_ID, sub: JWT_CLIENT_ID });
  });

  it('roles come from the claim at every sign-in: an admin group gives admin, a user removed from it loses the role at the next sign-in', async () => {
    const t = await issuer();
    const first = await signIn(t, 'ada');
    const page = await get(t, first, '');
    expect(page.body).toContain('(admin)');
    expect((await get(t, first, '/operators')).status).toBe(200);

    STAFF.ada.groups = ['kcc-reviewers'];
    try {
      const second = await signIn(t, 'ada');
      expect((await get(t, second, '')).body).toContain('(reviewer)');
      expect((await get(t, second, '/operators')).status).toBe(403);
      // Removed from every mapped group: refused, nothing opened.
      STAFF.ada.groups = ['all-staff'];
      const before = sessionCount(t);
      const { tx, callbackUrl } = await trip(t, 'ada');
      const refused = await callback(t, callbackUrl, tx);
      expect(refused.status).toBe(403);
      expect(refused.session).toBeUndefined();
      expect(sessionCount(t)).toBe(before);
    } finally {
      STAFF.ada.groups = ['kcc-reviewers', 'kcc-admins'];
    }
  });

  it('refuses a user without a mapped group, or without the claim, with a clear page; nothing is created but the audit of the refusal', async () => {
    const t = await issuer();
    for (const who of ['mallory', 'nora']) {
      const { tx, callbackUrl } = await trip(t, who);
      await expectRefused(t, await callback(t, callbackUrl, tx), 403, /in no group that grants a console role/);
    }
    const refusals = t.sqlite.prepare("select actor, detail from audit_log where action = 'console.login_refused'").all() as {
      actor: string;
      detail: string;
    }[];
    expect(refusals).toHaveLength(2);
    for (const r of refusals) {
      expect(r.actor).toMatch(/^console:sso:[\w-]{43}$/);
      expect(JSON.parse(r.detail)).toEqual({ via: 'sso', reason: 'no_role' });
    }
    expect(t.sqlite.prepare("select count(*) as n from audit_log where action = 'console.login'").get()).toEqual({ n: 0 });
    expect(t.sqlite.prepare('select count(*) as n from operator_accounts').get()).toEqual({ n: 0 });
  });

  it('refuses a tampered state, a missing or tampered transaction, and a callback in another browser', async () => {
    const t = await issuer();
    const { tx, callbackUrl } = await trip(t, 'rita');
    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    await expectRefused(t, await callback(t, tampered.href, tx), 400, /not started in this browser/);
    // Another browser (no transaction cookie): e.g. an operator lured to an attacker's authorization URL.
    await expectRefused(t, await callback(t, callbackUrl, undefined), 400, /not started in this browser/);
    const value = tx.slice('kcc_console_sso='.length);
    const flipped = `kcc_console_sso=${value.slice(0, 30)}${value[30] === 'A' ? 'B' : 'A'}${value.slice(31)}`;
    await expectRefused(t, await callback(t, callbackUrl, flipped), 400, /not started in this browser/);
    // None reached the token endpoint.
    expect(wire.requests.filter((q) => q.url.endsWith('/token'))).toHaveLength(0);
  });

  it('refuses a replayed code (the same callback and transaction cookie again)', async () => {
    const t = await issuer();
    const { tx, callbackUrl } = await trip(t, 'rita');
    expect((await callback(t, callbackUrl, tx)).status).toBe(200);
    expect(sessionCount(t)).toBe(1);
    const replay = await callback(t, callbackUrl, tx);
    expect(replay.status).toBe(401);
    expect(replay.session).toBeUndefined();
    expect(sessionCount(t)).toBe(1);
    expect(logs.some((l) => l.includes('"operator_sso_refused"') && l.includes('"invalid_grant"'))).toBe(true);
  });

  it('refuses an ID token for another client, from another issuer, with a wrong nonce, or expired', async () => {
    // Genuine ID tokens from other sign-ins, swapped into our token response in transit.
    const intranet = await issuer({ clientId: OTHER_CLIENT_ID, clientSecret: `${CLIENT_SECRET}-x` });
    await signIn(intranet, 'rita');
    const forOtherClient = wire.tokens.at(-1)?.id_token as string;
    expect(decodeJwt(forOtherClient).aud).toBe(OTHER_CLIENT_ID);
    const elsewhere = await issuer({}, {}, otherIdp.issuer);
    await signIn(elsewhere, 'rita');
    const fromOtherIssuer = wire.tokens.at(-1)?.id_token as string;
    expect(decodeJwt(fromOtherIssuer).iss).toBe(otherIdp.issuer);

    let offsetMs = 0;
    const t = await makeTestIssuer({
      operatorSso: ssoSettings(),
      operatorSsoFetch: wiredFetch(wire),
      logger: capturingLogger(logs),
      clock: () => Date.now() + offsetMs,
    });
    await signIn(t, 'rita');
    const fromAnotherSignIn = wire.tokens.at(-1)?.id_token as string;
    const before = sessionCount(t);
    for (const [idToken, detail] of [
      [forOtherClient, 'aud: '],
      [fromOtherIssuer, 'iss: '],
      [fromAnotherSignIn, 'nonce: '],
    ] as const) {
      const { tx, callbackUrl } = await trip(t, 'rita');
      wire.tokenResponse = (json) => ({ ...json, id_token: idToken });
      logs.length = 0;
      const r = await callback(t, callbackUrl, tx);
      wire.tokenResponse = undefined;
      expect(r.status).toBe(401);
      expect(r.session).toBeUndefined();
      expect(r.body).toContain('could not be verified');
      const line = logs.find((l) => l.includes('"operator_sso_refused"')) as string;
      expect(line).toContain('"invalid_id_token"');
      expect(line).toContain(detail);
    }
    // Expired by our clock: the IdP's ID tokens live 60 s, the sign-in transaction 10 minutes.
    const { tx, callbackUrl } = await trip(t, 'rita');
    offsetMs = 120_000;
    logs.length = 0;
    const expired = await callback(t, callbackUrl, tx);
    expect(expired.status).toBe(401);
    expect(expired.session).toBeUndefined();
    expect(logs.find((l) => l.includes('"operator_sso_refused"'))).toMatch(/invalid_id_token.*exp/);
    expect(sessionCount(t)).toBe(before);
  });

  it('reads roles from the ID token when it carries them (Entra ID, Okta), a dot path into nested claims (Keycloak realm roles), userinfo not called', async () => {
    const idpKey = await importJWK(idp.signingKey.privateJwk, 'RS256');
    const forged = async (authorizationUrl: string, claims: Record<string, unknown>) => {
      const nonce = new URL(authorizationUrl).searchParams.get('nonce') as string;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ nonce, aud: CLIENT_ID, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: idp.signingKey.kid })
        .setIssuer(idp.issuer)
        .setSubject('rita')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(idpKey);
    };
    // The IdP itself puts groups only in userinfo; here its signed ID token carries them, as Entra's does.
    const t = await issuer({ rolesClaim: 'realm_access.roles' });
    const { authorizationUrl, tx, callbackUrl } = await trip(t, 'rita');
    const idToken = await forged(authorizationUrl, { realm_access: { roles: ['offline_access', 'kcc-admins'] }, name: 'Rita R.' });
    wire.tokenResponse = (json) => ({ ...json, id_token: idToken });
    const r = await callback(t, callbackUrl, tx);
    wire.tokenResponse = undefined;
    expect(r.status, r.body).toBe(200);
    expect((await get(t, r.session as string, '')).body).toContain('Signed in as <strong>Rita R.</strong> (admin)');
    expect(wire.requests.some((q) => q.url.endsWith('/me'))).toBe(false);

    // The same claim in the ID token, with only unmapped values: refused, and userinfo is not asked to override it.
    const next = await trip(t, 'rita');
    const unmapped = await forged(next.authorizationUrl, { realm_access: { roles: ['offline_access'] } });
    wire.tokenResponse = (json) => ({ ...json, id_token: unmapped });
    const refused = await callback(t, next.callbackUrl, next.tx);
    wire.tokenResponse = undefined;
    expect(refused.status).toBe(403);
    expect(refused.session).toBeUndefined();
  });

  it('four-eyes: each IdP subject is one party; the proposer cannot confirm, another subject can; a local account is another party', async () => {
    const t = await issuer({}, { reviewFourEyes: true });
    const client = new WalletClient(await Holder.create(), t.fetch);
    const result = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: 'Review' }, pollAttempts: 0 });
    const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    const metadata = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as { deferred_credential_endpoint: string };
    const collect = () => client.deferred(metadata.deferred_credential_endpoint, result.accessToken as string, result.transactionId as string);

    const rita = await signIn(t, 'rita');
    const proposed = await post(t, rita, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard', reason: 'checked by hand' });
    expect(proposed.status).toBe(303);
    expect(proposed.location).toContain('proposed=1');

    // Rita again, in another session (another browser, a new sign-in): the same party.
    const ritaAgain = await signIn(t, 'rita');
    const self = await post(t, ritaAgain, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(self.status).toBe(403);
    expect(self.body).toContain('must be confirmed by a different operator');
    expect(await collect()).toEqual({ pending: true });

    // Ravi, another subject in the same group: confirms, and the wallet collects.
    const ravi = await signIn(t, 'ravi');
    const confirmed = await post(t, ravi, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(confirmed.status).toBe(303);
    expect(confirmed.location).toContain('decided=1');
    expect((await collect()).credential).toMatch(/^ey/);
    const audit = (await admin(t, 'GET', `/applications/${id}/audit`)).body.audit as { actor: string; action: string; detail: { proposed_by?: string } }[];
    const proposer = audit.find((a) => a.action === 'decision.approval_proposed')?.actor as string;
    const confirmer = audit.find((a) => a.action === 'decision.approval_confirmed');
    expect(proposer).toMatch(/^console:sso:[\w-]{43}$/);
    expect(confirmer?.actor).toMatch(/^console:sso:[\w-]{43}$/);
    expect(confirmer?.actor).not.toBe(proposer);
    expect(confirmer?.detail.proposed_by).toBe(proposer);

    // A local account and an SSO identity are two parties (SECURITY.md): an account the host set up confirms Rita's next proposal.
    const second = await applyForKcc(new WalletClient(await Holder.create(), t.fetch), {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollAttempts: 0,
    });
    expect(second.transactionId).toBeTruthy();
    const next = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    expect((await post(t, rita, `/applications/${next}/decision`, { decision: 'approve', tier: 'Standard' })).location).toContain('proposed=1');
    const { secret } = await addOperatorAccount(t.deps, { name: 'eva', role: 'reviewer', actor: 'test' });
    const login = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ operator: 'eva', token: secret }).toString(),
    });
    expect(login.status).toBe(303);
    const eva = cookieOf(login, 'kcc_console') as string;
    expect((await post(t, eva, `/applications/${next}/decision`, { decision: 'approve', tier: 'Standard' })).location).toContain('decided=1');
  });

  it('sessions end when the SSO settings they rest on change (another role map), as the periodic job and the next request both see', async () => {
    const t = await issuer();
    const cookie = await signIn(t, 'rita');
    expect(await live(t, cookie)).toBe(true);
    expect((await purgeOperatorSessions(t.deps)).ended).toBe(0);
    // The same database, the issuer restarted with another role map.
    const { createOperatorSso } = await import('../../src/issuance/operatorSso');
    const sso = t.deps.operatorSso;
    if (!sso) throw new Error('unreachable');
    t.deps.operatorSso = createOperatorSso({ ...sso.settings, roleMap: { 'kcc-admins': 'admin' } }, sso.deps, { redirectUri: sso.redirectUri });
    expect((await purgeOperatorSessions(t.deps)).ended).toBe(1);
    expect(await live(t, cookie)).toBe(false);
  });

  it('no e-mail, name, code, token or IdP subject in the logs of sign-ins and refusals', async () => {
    const t = await issuer();
    await signIn(t, 'rita');
    const { tx, callbackUrl } = await trip(t, 'mallory');
    await callback(t, callbackUrl, tx);
    const code = new URL(callbackUrl).searchParams.get('code') as string;
    const all = logs.join('\n');
    expect(all).toContain('operator_sso_signed_in');
    expect(all).toContain('operator_sso_refused');
    for (const secret of [
      'rita@pfi.example',
      'Rita',
      'rita',
      'mallory',
      'Mallory',
      code,
      ...wire.tokens.map((x) => x.id_token as string),
      ...wire.tokens.map((x) => x.access_token as string),
    ]) {
      expect(all).not.toContain(secret);
    }
  });

  it('an unreachable IdP: the start answers the login page with 502 and sets no transaction', async () => {
    const t = await issuer({}, {}, 'http://127.0.0.1:1');
    const res = await t.app.request(`${PUBLIC_URL}/console/sso/start`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('cannot be reached');
    expect(cookieOf(res, 'kcc_console_sso')).toBeUndefined();
    expect(logs.find((l) => l.includes('"operator_sso_refused"'))).toContain('"provider_error"');
  });

  it('refuses to start with settings that cannot work', async () => {
    await expect(issuer({ roleMap: undefined })).rejects.toThrow(/OPERATOR_SSO_ROLE_MAP/);
    await expect(issuer({ roleMap: { 'kcc-admins': 'root' } })).rejects.toThrow(/roleMap/);
    await expect(issuer({ keySecret: undefined })).rejects.toThrow(/OPERATOR_SSO_KEY_SECRET/);
    await expect(issuer({ issuer: 'http://idp.example' })).rejects.toThrow(/https/);
    await expect(issuer({ privateKeyJwk: clientKeys.privateJwk })).rejects.toThrow(/not both/);
  });
});
