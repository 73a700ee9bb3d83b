import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromSettings } from '../../src/config';
import { verifySecret } from '../../src/crypto/secretHash';
import { addOperatorAccount, removeOperatorAccount, resetOperatorSecret } from '../../src/issuance/operatorAccounts';
import { purgeOperatorSessions } from '../../src/issuance/operatorSessions';
import { runOperatorsCli } from '../../src/runtime/operatorsCli';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { startTestPostgres } from '../helpers/postgres';
import { openPostgres } from '../../src/runtime/postgres';
import { admin } from '../helpers/steps';

/**
 * Named operator accounts (src/issuance/operatorAccounts.ts): each operator signs in with their
 * own secret, the server enforces what their role may do whatever the page showed, the audit
 * trail names the account, ADMIN_TOKEN opens the console only before the first account exists,
 * and with four-eyes review one party alone never approves.
 */
type T = Awaited<ReturnType<typeof makeTestIssuer>>;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function login(t: T, operator: string, token: string): Promise<{ status: number; cookie: string; body: string }> {
  const res = await t.app.request(`${PUBLIC_URL}/console/login`, { method: 'POST', headers: FORM, body: new URLSearchParams({ operator, token }).toString() });
  return { status: res.status, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0], body: await res.text() };
}

async function signIn(t: T, operator: string, token: string): Promise<string> {
  const r = await login(t, operator, token);
  expect(r.status).toBe(303);
  return r.cookie;
}

async function get(t: T, cookie: string, path: string): Promise<{ status: number; body: string; location: string | null }> {
  const res = await t.app.request(`${PUBLIC_URL}/console${path}`, { headers: { cookie } });
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

const csrfIn = (html: string) => /name="csrf_token" value="([0-9a-f]+)"/.exec(html)?.[1] as string;

async function post(t: T, cookie: string, path: string, fields: Record<string, string>): Promise<{ status: number; body: string; location: string | null }> {
  const csrf = csrfIn((await get(t, cookie, '')).body);
  const res = await t.app.request(`${PUBLIC_URL}/console${path}`, {
    method: 'POST',
    headers: { ...FORM, cookie },
    body: new URLSearchParams({ ...fields, csrf_token: csrf }).toString(),
  });
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

/** 'live' for a session that still opens the queue, else where the console sent the browser. */
async function sessionState(t: T, cookie: string): Promise<string> {
  const r = await get(t, cookie, '');
  return r.status === 200 ? 'live' : new URL(r.location as string, PUBLIC_URL).pathname;
}

const statusOf = async (t: T, id: string) => ((await admin(t, 'GET', `/applications/${id}`)).body as { status: string }).status;

/** An application approved and issued immediately (the sandbox approves), with its KCC's id. */
async function issued(t: T) {
  const result = await applyForKcc(new WalletClient(await Holder.create(), t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
  const id = ((await admin(t, 'GET', '/applications?status=approved')).body as { applications: { id: string }[] }).applications[0].id;
  const [credential] = await t.deps.store.issuedCredentials.listForApplication(id);
  expect(result.credential).toBeTruthy();
  return { id, credentialId: credential.id };
}

/** An application waiting in manual review, its wallet polling the deferred endpoint. */
async function inReview(t: T) {
  const client = new WalletClient(await Holder.create(), t.fetch);
  const result = await applyForKcc(client, { issuer: PUBLIC_URL, identity: { ...SAMPLE_IDENTITY, family_name: 'Review' }, pollAttempts: 0 });
  const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
  const metadata = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as { deferred_credential_endpoint: string };
  const collect = () => client.deferred(metadata.deferred_credential_endpoint, result.accessToken as string, result.transactionId as string);
  return { id, collect };
}

async function account(t: T, name: string, role: 'reviewer' | 'admin') {
  return (await addOperatorAccount(t.deps, { name, role, actor: 'test' })).secret;
}

describe('ADMIN_TOKEN opens the console only until the first account exists', () => {
  it('first start: ADMIN_TOKEN and a typed name sign in; once an account exists that session ends and ADMIN_TOKEN is refused', async () => {
    const t = await makeTestIssuer();
    expect((await t.app.request(`${PUBLIC_URL}/console/login`)).status).toBe(200);
    const bootstrap = await signIn(t, 'Bob', ADMIN_TOKEN);
    expect(await sessionState(t, bootstrap)).toBe('live');
    // The first-start session is an admin: it adds the first account in the console.
    const added = await post(t, bootstrap, '/operators', { op: 'add', name: 'ana', role: 'admin' });
    expect(added.status).toBe(200);
    const secret = /<code class="mono">([\w-]{43})<\/code>/.exec(added.body)?.[1] as string;
    expect(secret).toBeTruthy();
    expect(await sessionState(t, bootstrap)).toBe('/console/login');
    const refused = await login(t, 'Bob', ADMIN_TOKEN);
    expect(refused.status).toBe(401);
    expect(refused.cookie).toBe('');
    expect(await (await t.app.request(`${PUBLIC_URL}/console/login`)).text()).toContain('Account name');
    const ana = await signIn(t, 'ana', secret);
    expect(await sessionState(t, ana)).toBe('live');
    // The periodic job agrees: it keeps the account's session and would end any ADMIN_TOKEN one.
    expect((await purgeOperatorSessions(t.deps)).ended).toBe(0);
    expect(await sessionState(t, ana)).toBe('live');
    // The operator API (machine access) is not affected.
    expect((await admin(t, 'GET', '/applications?status=review')).status).toBe(200);
  });

  it('a wrong secret, an unknown name and a removed account are the same 401', async () => {
    const t = await makeTestIssuer();
    const secret = await account(t, 'ana', 'admin');
    await account(t, 'old', 'reviewer');
    await removeOperatorAccount(t.deps, { name: 'old', actor: 'test' });
    for (const [name, token] of [
      ['ana', 'wrong'],
      ['nobody', secret],
      ['old', secret],
      ['ANA ', `${secret}x`],
    ]) {
      const r = await login(t, name, token);
      expect(r.status).toBe(401);
      expect(r.body).toContain('Account name or secret not accepted');
    }
    // Names are case-insensitive at sign-in (they are stored in lower case).
    expect((await login(t, ' ANA ', secret)).status).toBe(303);
  });

  it('failed account sign-ins are throttled like ADMIN_TOKEN ones', async () => {
    const t = await makeTestIssuer({
      config: { operatorAuthLimits: { enabled: true, failuresPerIp: 3, failuresGlobal: 100, windowSeconds: 60 } },
      clientAddress: () => '198.51.100.7',
    });
    const secret = await account(t, 'ana', 'admin');
    for (let i = 0; i < 3; i++) expect((await login(t, 'ana', `guess-${i}`)).status).toBe(401);
    expect((await login(t, 'ana', secret)).status).toBe(429);
  });
});

describe('roles are enforced by the server, not only by the page', () => {
  it("a reviewer's case page has no revoke or erase controls, and the reviewer's POSTs are 403 and change nothing; an admin's succeed", async () => {
    const t = await makeTestIssuer();
    const { id, credentialId } = await issued(t);
    const reviewer = await signIn(t, 'rui', await account(t, 'rui', 'reviewer'));
    const adminCookie = await signIn(t, 'ana', await account(t, 'ana', 'admin'));
    const statusPath = `/applications/${encodeURIComponent(id)}/credentials/${encodeURIComponent(credentialId)}/status`;

    const reviewerPage = (await get(t, reviewer, `/applications/${id}`)).body;
    expect(reviewerPage).toContain(credentialId); // the credential is listed…
    expect(reviewerPage).not.toContain('/erase-pii'); // …but there is no control to erase,
    expect(reviewerPage).not.toContain('/status"'); // to revoke or suspend,
    expect((await get(t, reviewer, '')).body).not.toContain('/console/operators'); // or to manage operators.
    const adminPage = (await get(t, adminCookie, `/applications/${id}`)).body;
    expect(adminPage).toContain(`action="/console/applications/${id}/erase-pii"`);
    expect(adminPage).toContain(`action="/console${statusPath}"`);
    expect(adminPage).toContain('value="revoke"');

    const revoke = await post(t, reviewer, statusPath, { action: 'revoke', reason: 'reviewer tries' });
    expect(revoke.status).toBe(403);
    expect(revoke.body).toContain('the reviewer role may not revoke, suspend or reinstate credentials');
    const erase = await post(t, reviewer, `/applications/${id}/erase-pii`, { reason: 'reviewer tries' });
    expect(erase.status).toBe(403);
    expect(erase.body).toContain('the reviewer role may not erase personal data');
    expect((await get(t, reviewer, '/operators')).status).toBe(403);
    expect((await post(t, reviewer, '/operators', { op: 'add', name: 'mallory', role: 'admin' })).status).toBe(403);
    expect(await t.deps.store.operatorAccounts.get('mallory')).toBeUndefined();
    expect((await t.deps.store.credentialStatus.get(credentialId))?.revokedAt).toBeNull();
    expect((await t.deps.store.pii.get(id))?.erasedAt).toBeNull();
    expect((await t.deps.store.pii.get(id))?.ciphertext).toBeTruthy();

    // Revoking and erasing take a second step: the first POST only asks, and changes nothing.
    const asked = await post(t, adminCookie, statusPath, { action: 'revoke', reason: 'document forged' });
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('Revoke this credential?');
    expect(asked.body).toContain('name="confirmed" value="yes"');
    expect((await t.deps.store.credentialStatus.get(credentialId))?.revokedAt).toBeNull();
    expect((await post(t, adminCookie, statusPath, { action: 'revoke', reason: 'document forged', confirmed: 'yes' })).status).toBe(303);
    expect((await t.deps.store.credentialStatus.get(credentialId))?.revokedAt).not.toBeNull();
    expect((await t.deps.store.credentialStatus.events(credentialId)).map((e) => e.actor)).toEqual(['console:ana']);
    expect((await post(t, adminCookie, `/applications/${id}/erase-pii`, { reason: 'DSR-42' })).body).toContain('Erase personal data?');
    expect((await t.deps.store.pii.get(id))?.erasedAt).toBeNull();
    expect((await post(t, adminCookie, `/applications/${id}/erase-pii`, { reason: 'DSR-42', confirmed: 'yes' })).status).toBe(303);
    expect((await t.deps.store.pii.get(id))?.erasedAt).not.toBeNull();
    expect((await get(t, adminCookie, '/operators')).body).toContain('rui');
  });

  it('the audit trail names the account that acted, not a typed name', async () => {
    const t = await makeTestIssuer();
    const { id } = await inReview(t);
    const rui = await signIn(t, 'rui', await account(t, 'rui', 'reviewer'));
    expect((await post(t, rui, `/applications/${id}/decision`, { decision: 'reject', reason: 'blurred document', confirmed: 'yes' })).status).toBe(303);
    const audit = (await admin(t, 'GET', `/applications/${id}/audit`)).body.audit as { actor: string; action: string }[];
    const byConsole = audit.filter((a) => a.actor.startsWith('console:'));
    expect(byConsole.length).toBeGreaterThan(0);
    expect(new Set(byConsole.map((a) => a.actor))).toEqual(new Set(['console:rui']));
    expect(byConsole.map((a) => a.action)).toContain('idv.state_changed');
    expect(((await admin(t, 'GET', `/applications/${id}`)).body as { decided_by: string }).decided_by).toBe('console:rui');
  });
});

describe('removing an account or resetting its secret ends its sessions', () => {
  it('a removed account is signed out at once and cannot sign in again', async () => {
    const t = await makeTestIssuer();
    const secret = await account(t, 'rui', 'reviewer');
    await account(t, 'ana', 'admin');
    const rui = await signIn(t, 'rui', secret);
    const other = await signIn(t, 'rui', secret);
    expect(await removeOperatorAccount(t.deps, { name: 'rui', actor: 'test' })).toBe(2);
    expect(await sessionState(t, rui)).toBe('/console/login');
    expect(await sessionState(t, other)).toBe('/console/login');
    expect((await login(t, 'rui', secret)).status).toBe(401);
    // The name is not given out again.
    await expect(addOperatorAccount(t.deps, { name: 'rui', role: 'admin', actor: 'test' })).rejects.toThrow(/names are not reused/);
  });

  it("the console's Remove and Reset secret ask first: the first POST changes nothing, the confirmed one acts", async () => {
    const t = await makeTestIssuer();
    const secret = await account(t, 'rui', 'reviewer');
    const ana = await signIn(t, 'ana', await account(t, 'ana', 'admin'));
    const rui = await signIn(t, 'rui', secret);
    const askedReset = await post(t, ana, '/operators', { op: 'reset', name: 'rui' });
    expect(askedReset.status).toBe(200);
    expect(askedReset.body).toContain('Reset the secret of rui?');
    expect(askedReset.body).toContain('Yes, reset the secret');
    const askedRemove = await post(t, ana, '/operators', { op: 'remove', name: 'rui' });
    expect(askedRemove.body).toContain('Remove rui?');
    expect(askedRemove.body).toContain('<input type="hidden" name="confirmed" value="yes">');
    expect(await sessionState(t, rui)).toBe('live');
    expect((await t.deps.store.operatorAccounts.get('rui'))?.disabledAt).toBeNull();
    const reset = await post(t, ana, '/operators', { op: 'reset', name: 'rui', confirmed: 'yes' });
    expect(reset.body).toMatch(/<code class="mono">[\w-]{43}<\/code>/);
    expect(await sessionState(t, rui)).toBe('/console/login');
    expect((await post(t, ana, '/operators', { op: 'remove', name: 'rui', confirmed: 'yes' })).status).toBe(303);
    expect((await t.deps.store.operatorAccounts.get('rui'))?.disabledAt).not.toBeNull();
  });

  it('a reset secret ends the old sessions; only the new secret signs in', async () => {
    const t = await makeTestIssuer();
    const old = await account(t, 'rui', 'reviewer');
    const cookie = await signIn(t, 'rui', old);
    const { secret } = await resetOperatorSecret(t.deps, { name: 'rui', actor: 'test' });
    expect(await sessionState(t, cookie)).toBe('/console/login');
    expect((await login(t, 'rui', old)).status).toBe(401);
    expect(await sessionState(t, await signIn(t, 'rui', secret))).toBe('live');
  });

  it('a session whose account row changed behind its back (another instance, the CLI) ends at its next request', async () => {
    const t = await makeTestIssuer();
    const cookie = await signIn(t, 'rui', await account(t, 'rui', 'reviewer'));
    // Only the account row changes (no session is ended explicitly): the request itself checks.
    await t.deps.store.operatorAccounts.disable('rui', Math.floor(Date.now() / 1000));
    expect(await sessionState(t, cookie)).toBe('/console/login');
  });
});

describe('the stored secret', () => {
  it('is a PBKDF2 hash, not the secret, and verifies only the secret', async () => {
    const t = await makeTestIssuer();
    const secret = await account(t, 'ana', 'admin');
    expect(secret).toMatch(/^[\w-]{43}$/); // 32 random bytes, base64url
    const stored = (await t.deps.store.operatorAccounts.get('ana'))!.secretHash;
    expect(stored).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
    expect(stored).not.toContain(secret);
    const dump = JSON.stringify(t.sqlite.prepare('SELECT * FROM operator_accounts').all());
    expect(dump).not.toContain(secret);
    expect(await verifySecret(secret, stored)).toBe(true);
    expect(await verifySecret(`${secret.slice(0, -1)}A`, stored)).toBe(secret.endsWith('A'));
    expect(await verifySecret(secret, stored.replace('100000', '99999'))).toBe(false);
    expect(await verifySecret(secret, 'plain')).toBe(false);
    // Two accounts with the same secret would still differ (a salt per hash).
    expect((await account(t, 'bea', 'reviewer')) === secret).toBe(false);
  });
});

describe('four-eyes review (REVIEW_FOUR_EYES)', () => {
  it('one operator alone never approves: the proposer cannot confirm, nothing is issued, a second operator confirms and the KCC is issued', async () => {
    const t = await makeTestIssuer({ config: { reviewFourEyes: true } });
    const { id, collect } = await inReview(t);
    const rui = await signIn(t, 'rui', await account(t, 'rui', 'reviewer'));
    const eva = await signIn(t, 'eva', await account(t, 'eva', 'reviewer'));

    const proposed = await post(t, rui, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard', reason: 'checked by hand' });
    expect(proposed.status).toBe(303);
    expect(proposed.location).toContain('proposed=1');
    expect(await statusOf(t, id)).toBe('review');
    expect(await collect()).toEqual({ pending: true });
    const ruiPage = (await get(t, rui, `/applications/${id}`)).body;
    expect(ruiPage).toContain('a second, different operator must confirm it');
    expect(ruiPage).not.toContain('value="approve"');

    const again = await post(t, rui, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(again.status).toBe(403);
    expect(again.body).toContain('must be confirmed by a different operator');
    expect(await statusOf(t, id)).toBe('review');
    expect(await collect()).toEqual({ pending: true });
    expect(await t.deps.store.issuedCredentials.listForApplication(id)).toEqual([]);

    // The confirming operator sees who proposed, the tier and their reason.
    const evaPage = (await get(t, eva, `/applications/${id}`)).body;
    expect(evaPage).toContain('Confirm approval');
    expect(evaPage).toContain('Approval proposed by <strong>rui</strong>');
    expect(evaPage).toContain('<dt>Their reason</dt><dd>checked by hand</dd>');
    expect(evaPage).toContain('<dt>Tier</dt><dd>Standard</dd>');
    const confirmed = await post(t, eva, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(confirmed.status).toBe(303);
    expect(confirmed.location).toContain('decided=1');
    expect(await statusOf(t, id)).toBe('approved');
    const { credential } = await collect();
    expect(credential).toMatch(/^ey/);
    const audit = (await admin(t, 'GET', `/applications/${id}/audit`)).body.audit as { actor: string; action: string; detail: { proposed_by?: string } }[];
    expect(audit.find((a) => a.action === 'decision.approval_proposed')?.actor).toBe('console:rui');
    expect(audit.find((a) => a.action === 'decision.approval_confirmed')).toMatchObject({ actor: 'console:eva', detail: { proposed_by: 'console:rui' } });
  });

  it('the operator API is one party: two API calls never approve; an account confirms', async () => {
    const t = await makeTestIssuer({ config: { reviewFourEyes: true } });
    const { id, collect } = await inReview(t);
    const first = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'review', pending_approval: { proposed_by: 'operator', tier: 'Standard' } });
    const second = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' });
    expect(second.status).toBe(403);
    expect(second.body.error).toBe('access_denied');
    expect(await statusOf(t, id)).toBe('review');
    expect(await collect()).toEqual({ pending: true });
    expect((await admin(t, 'GET', `/applications/${id}`)).body.pending_approval).toMatchObject({ proposed_by: 'operator', tier: 'Standard' });
    const ana = await signIn(t, 'ana', await account(t, 'ana', 'admin'));
    // The confirmation is of what was proposed: another tier is refused.
    expect((await post(t, ana, `/applications/${id}/decision`, { decision: 'approve', tier: 'Enhanced' })).status).toBe(400);
    expect((await post(t, ana, `/applications/${id}/decision`, { decision: 'approve' })).status).toBe(303);
    expect(await statusOf(t, id)).toBe('approved');
    expect((await admin(t, 'GET', `/applications/${id}`)).body.pending_approval).toBeUndefined();
    expect((await collect()).credential).toMatch(/^ey/);
  });

  it('ADMIN_TOKEN console sessions (first start) and the API are the same party, whatever name was typed', async () => {
    const t = await makeTestIssuer({ config: { reviewFourEyes: true } });
    const { id } = await inReview(t);
    const bob = await signIn(t, 'Bob', ADMIN_TOKEN);
    const alice = await signIn(t, 'Alice', ADMIN_TOKEN);
    expect((await post(t, bob, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' })).status).toBe(303);
    expect((await post(t, alice, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' })).status).toBe(403);
    expect((await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve' })).status).toBe(403);
    expect(await statusOf(t, id)).toBe('review');
  });

  it('rejection is not gated and drops a pending approval', async () => {
    const t = await makeTestIssuer({ config: { reviewFourEyes: true } });
    const { id } = await inReview(t);
    const rui = await signIn(t, 'rui', await account(t, 'rui', 'reviewer'));
    expect((await post(t, rui, `/applications/${id}/decision`, { decision: 'approve', tier: 'Standard' })).status).toBe(303);
    expect((await post(t, rui, `/applications/${id}/decision`, { decision: 'reject', reason: 'second thoughts', confirmed: 'yes' })).status).toBe(303);
    expect(await statusOf(t, id)).toBe('rejected');
    expect(await t.deps.store.pendingApprovals.get(id)).toBeUndefined();
  });

  it('REVIEW_FOUR_EYES is validated: true, false or unset', () => {
    expect(configFromSettings({ REVIEW_FOUR_EYES: 'true' }).reviewFourEyes).toBe(true);
    expect(configFromSettings({ REVIEW_FOUR_EYES: 'false' }).reviewFourEyes).toBe(false);
    expect(configFromSettings({}).reviewFourEyes).toBeUndefined();
    expect(() => configFromSettings({ REVIEW_FOUR_EYES: 'yes' })).toThrow(/REVIEW_FOUR_EYES must be true or false/);
  });
});

describe('npm run operators', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function cliWith(env: Record<string, string>, ...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runOperatorsCli(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const cli = (dataDir: string, ...args: string[]) => cliWith({ DATA_DIR: dataDir }, ...args);

  it('works on PostgreSQL when DATABASE_URL is set', async () => {
    const server = await startTestPostgres();
    try {
      const url = await server.createDatabase();
      const added = await cliWith({ DATABASE_URL: url }, 'add', 'ana', '--role', 'reviewer');
      expect(added.code).toBe(0);
      const { secret } = JSON.parse(added.out) as { secret: string };
      expect((await cliWith({ DATABASE_URL: url }, 'add', 'ana', '--role', 'admin')).code).toBe(1);
      expect(JSON.parse((await cliWith({ DATABASE_URL: url }, 'list')).out).operators).toMatchObject([{ name: 'ana', role: 'reviewer', removed_at: null }]);
      const pg = await openPostgres(url, { poolSize: 1 });
      try {
        expect(await verifySecret(secret, (await pg.store.operatorAccounts.get('ana'))!.secretHash)).toBe(true);
      } finally {
        await pg.close();
      }
      expect((await cliWith({ DATABASE_URL: url }, 'remove', 'ana')).code).toBe(0);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('add prints the secret once, refuses duplicates and bad names; list; remove ends the sessions of the server on the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-operators-'));
    dirs.push(dir);
    const added = await cli(dir, 'add', 'ana', '--role', 'admin');
    expect(added.code).toBe(0);
    const { secret, role } = JSON.parse(added.out) as { secret: string; role: string };
    expect(role).toBe('admin');
    expect(secret).toMatch(/^[\w-]{43}$/);
    expect((await cli(dir, 'add', 'rui', '--role', 'reviewer')).code).toBe(0);
    const dup = await cli(dir, 'add', 'ana', '--role', 'reviewer');
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/exists/);
    for (const bad of [
      ['add', 'Ana', '--role', 'admin'],
      ['add', 'a b', '--role', 'admin'],
      ['add', 'x', '--role', 'admin'],
      ['add', 'eve', '--role', 'root'],
      ['add', 'eve'],
      ['remove'],
      ['frobnicate'],
    ]) {
      expect((await cli(dir, ...bad)).code).toBe(2);
    }
    const listed = JSON.parse((await cli(dir, 'list')).out) as { operators: { name: string; role: string; removed_at: string | null }[] };
    expect(listed.operators.map((o) => [o.name, o.role, o.removed_at])).toEqual([
      ['ana', 'admin', null],
      ['rui', 'reviewer', null],
    ]);
    expect((await cli(dir, 'list')).out).not.toContain(secret);

    // The server on the same database file takes the account, and loses the session when the CLI removes it.
    const t = await makeTestIssuer({ file: join(dir, 'kcc-issuer.db') });
    const cookie = await signIn(t, 'ana', secret);
    expect(await sessionState(t, cookie)).toBe('live');
    const removed = await cli(dir, 'remove', 'ana');
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.out)).toEqual({ removed: 'ana', sessions_ended: 1 });
    expect(await sessionState(t, cookie)).toBe('/console/login');
    expect((await cli(dir, 'disable', 'ana')).code).toBe(1);
    const reset = await cli(dir, 'reset', 'rui');
    expect(reset.code).toBe(0);
    expect(await signIn(t, 'rui', (JSON.parse(reset.out) as { secret: string }).secret)).toBeTruthy();
    t.sqlite.close();
  });

  it('--print-sql writes nothing and prints SQL for D1, with the secret on stderr only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-operators-'));
    dirs.push(dir);
    const r = await cli(dir, 'add', 'ana', '--role', 'admin', '--print-sql');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^INSERT INTO operator_accounts \(name, role, secret_hash, created_at, updated_at, disabled_at\) VALUES \('ana', 'admin', 'pbkdf2-sha256\$100000\$/,
    );
    const secret = /shown once, not in the SQL\): ([\w-]{43})/.exec(r.err)?.[1] as string;
    expect(r.out).not.toContain(secret);
    // The SQL runs as printed on the schema's SQLite, and the account it creates signs in.
    const t = await makeTestIssuer();
    t.sqlite.exec(r.out);
    expect((await login(t, 'ana', secret)).status).toBe(303);
  });
});
