import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TierConfig } from '../../src/config';
import { acmeVendor } from '../helpers/acmeVendor';
import { signBodyHmac } from '../../src/idv/webhookSignature';
import { addOperatorAccount } from '../../src/issuance/operatorAccounts';
import { highestTierSatisfied, missingChecksFor, tiersSatisfiedBy } from '../../src/protocol/tiers';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { signKycStatusAuthorization } from '../../src/wallet/kycAuthorization';
import { requestCredential } from '../helpers/idvFlow';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';
import { admin } from '../helpers/steps';
import { TIERS } from '../helpers/tiers';

/**
 * A tier only as far as its evidence goes, on every decision path (docs/tiers-and-status.md):
 * an operator (API, console, four-eyes proposer and confirmer) asking for more is refused with
 * the missing checks and changes nothing; a vendor's approval grants the highest tier its checks
 * cover, or goes to review; and the KCC's `tier`, the application record and the KYC status API
 * always name the same tier.
 */

const DAY = 86_400;
const KYC_KEY = 'tenant-key-0123456789abcdef0123456789';
type T = Awaited<ReturnType<typeof makeTestIssuer>>;

describe('the rule itself (src/protocol/tiers.ts)', () => {
  const now = 1_800_000_000;
  const [basic, enhanced] = TIERS;
  const fresh = (kind: string, ageDays = 0) => ({ kind, verifiedAt: now - ageDays * DAY });

  it('names the missing checks, ages evidence by the tier, and picks the highest covered tier under the ceiling', () => {
    expect(missingChecksFor(enhanced, [fresh('document_verification')], now)).toEqual(['sanction_screening']);
    expect(missingChecksFor(enhanced, [fresh('document_verification'), fresh('sanction_screening')], now)).toEqual([]);
    // Enhanced keeps sanction screening 90 days: older does not count for it.
    expect(missingChecksFor(enhanced, [fresh('document_verification'), fresh('sanction_screening', 91)], now)).toEqual(['sanction_screening']);
    expect(tiersSatisfiedBy(TIERS, [fresh('sanction_screening')], now)).toEqual([]);
    const both = [fresh('document_verification'), fresh('sanction_screening')];
    expect(highestTierSatisfied(TIERS, both, now)?.id).toBe('kcc-enhanced');
    // Never above the ceiling (the applied-for tier): a Basic application stays Basic.
    expect(highestTierSatisfied(TIERS, both, now, basic)?.id).toBe('kcc-basic');
    expect(highestTierSatisfied(TIERS, [fresh('document_verification')], now, enhanced)?.id).toBe('kcc-basic');
    expect(highestTierSatisfied(TIERS, [fresh('liveness_check')], now, enhanced)).toBeUndefined();
    // A tier requiring nothing is satisfied by nothing.
    const open: TierConfig = { id: 'open', name: 'Open', requiredChecks: [], validityDays: 30 };
    expect(highestTierSatisfied([open, ...TIERS], [], now)?.id).toBe('open');
  });
});

/** What the three sources say about the tier of `holder`'s application `id`. */
async function threeViews(t: T, holder: Holder, id: string, clock: () => number, credential?: string) {
  const record = (await admin(t, 'GET', `/applications/${id}`)).body as { status: string; tier: string | null };
  const authorisation = await signKycStatusAuthorization(holder.signer, {
    subject: holder.did,
    tenant: 'rp-one',
    audience: PUBLIC_URL,
    now: Math.floor(clock() / 1000),
  });
  const status = (await (
    await t.app.request(`${PUBLIC_URL}/api/v1/kyc/${encodeURIComponent(holder.did)}/status`, {
      headers: { authorization: `Bearer ${KYC_KEY}`, 'kyc-subject-authorization': authorisation },
    })
  ).json()) as { kyc_status: string; kyc_tier: string | null };
  const kcc = credential ? (decodeJwt(credential).vc as { credentialSubject: { tier: string }; evidence: { kind: string }[] }) : undefined;
  return { record, status, kcc };
}

const tierIdOf = (name: string) => TIERS.find((t) => t.name === name)?.id;

describe('operators: API and console', () => {
  async function inReview(tier = 'kcc-basic') {
    const clock = testClock();
    const t = await makeTestIssuer({ clock, config: { tiers: TIERS, kycApiKeys: [`rp-one:${KYC_KEY}`] } });
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const result = await applyForKcc(client, {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      presentationDefinitionId: tier,
      pollAttempts: 0,
    });
    const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    const metadata = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as { deferred_credential_endpoint: string };
    const collect = () => client.deferred(metadata.deferred_credential_endpoint, result.accessToken as string, result.transactionId as string);
    return { t, clock, holder, id, collect };
  }

  it('API: Enhanced on document_verification alone is 400 naming sanction_screening and changes nothing; Basic is granted; KCC, record and KYC status agree', async () => {
    const { t, clock, holder, id, collect } = await inReview();
    const before = (await admin(t, 'GET', `/applications/${id}`)).body;
    const auditBefore = (await admin(t, 'GET', `/applications/${id}/audit`)).body.audit.length;
    const refused = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Enhanced' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
    expect(refused.body.error_description).toContain('missing sanction_screening');
    expect(refused.body.error_description).toContain('it covers Basic');
    expect((await admin(t, 'GET', `/applications/${id}`)).body).toEqual(before);
    expect((await admin(t, 'GET', `/applications/${id}/audit`)).body.audit.length).toBe(auditBefore);
    expect(await collect()).toEqual({ pending: true });
    expect(await t.deps.store.issuedCredentials.count()).toBe(0);

    const granted = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Basic' });
    expect(granted.status).toBe(200);
    const { credential } = await collect();
    const views = await threeViews(t, holder, id, clock, credential as string);
    expect(views.kcc?.credentialSubject.tier).toBe('Basic');
    expect(views.record).toMatchObject({ status: 'approved', tier: 'Basic' });
    expect(views.status).toMatchObject({ kyc_status: 'verified', kyc_tier: 'kcc-basic' });
  });

  it('API: an approval naming no tier asks for the applied-for one; the hosted form did its checks, so an Enhanced application is granted Enhanced', async () => {
    const { t, id } = await inReview('kcc-enhanced');
    // The hosted form did both checks the applied-for tier needs: Enhanced is covered.
    const ok = await admin(t, 'GET', `/applications/${id}`);
    expect(ok.body.credential_configuration_id).toBe('kcc-enhanced');
    const granted = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve' });
    expect(granted.status).toBe(200);
    expect(granted.body.tier).toBe('Enhanced');
  });

  it('console: tiers beyond the evidence are not offered (their missing checks are named) and posting one is 400; the application stays in review', async () => {
    const { t, id } = await inReview();
    const login = await t.app.request(`${PUBLIC_URL}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ operator: 'Bob', token: ADMIN_TOKEN }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await (await t.app.request(`${PUBLIC_URL}/console/applications/${id}`, { headers: { cookie } })).text();
    expect([...page.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1])).toEqual(['Basic']);
    expect(page).toContain('Enhanced (missing sanction_screening)');
    const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(page)?.[1] as string;
    const res = await t.app.request(`${PUBLIC_URL}/console/applications/${id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ decision: 'approve', tier: 'Enhanced', csrf_token: csrf }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('missing sanction_screening');
    expect(((await admin(t, 'GET', `/applications/${id}`)).body as { status: string; tier: string | null }).status).toBe('review');
  });
});

describe('sandbox form and presented credentials', () => {
  it('the sandbox grants the applied-for tier its checks cover; a renewal on a presented KCC (nothing missing) too; KCC, record and KYC status agree each time', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock, config: { tiers: TIERS, kycApiKeys: [`rp-one:${KYC_KEY}`] } });
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch, { now: () => Math.floor(clock() / 1000) });
    const idOf = async (status: string) =>
      ((await admin(t, 'GET', `/applications?status=${status}`)).body as { applications: { id: string; created_at: string }[] }).applications
        .sort((a, b) => a.created_at.localeCompare(b.created_at))
        .at(-1)?.id as string;

    const enhanced = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, presentationDefinitionId: 'kcc-enhanced' });
    let views = await threeViews(t, holder, await idOf('approved'), clock, enhanced.credential as string);
    expect(views.kcc?.credentialSubject.tier).toBe('Enhanced');
    expect(views.record).toMatchObject({ status: 'approved', tier: 'Enhanced' });
    expect(views.status).toMatchObject({ kyc_status: 'verified', kyc_tier: 'kcc-enhanced' });

    // A renewal of Basic on the Enhanced KCC: its checks are fresh, so no IDV at all.
    clock.advance(DAY);
    const renewal = await applyForKcc(client, {
      issuer: PUBLIC_URL,
      identity: SAMPLE_IDENTITY,
      presentationDefinitionId: 'kcc-basic',
      credentials: [enhanced.credential as string],
    });
    expect(renewal.deferred).toBe(false);
    const renewedId = (
      (await admin(t, 'GET', '/applications?status=approved')).body as { applications: { id: string; idv_provider: string }[] }
    ).applications.find((a) => a.idv_provider === 'presented-credentials')?.id as string;
    views = await threeViews(t, holder, renewedId, clock, renewal.credential as string);
    expect(views.kcc?.credentialSubject.tier).toBe('Basic');
    expect(views.record).toMatchObject({ status: 'approved', tier: 'Basic' });
    // The status is about the newest live KCC: the Basic one (a lower tier supersedes nothing).
    expect(views.status).toMatchObject({ kyc_status: 'verified', kyc_tier: 'kcc-basic' });
  });
});

describe('four-eyes: neither the proposal nor the confirmation exceeds the evidence', () => {
  /** Basic, then an upgrade to Enhanced whose document check is carried from the Basic KCC (kept 40 days here) and whose screening sends it to review. */
  const SHORT: TierConfig[] = [
    { ...TIERS[0], evidenceMaxAgeDays: { document_verification: 40 } },
    { ...TIERS[1], evidenceMaxAgeDays: { document_verification: 40, sanction_screening: 90 } },
  ];

  it('a proposal beyond the evidence is refused and not recorded; a confirmation after the evidence aged out is refused too, and nothing is issued', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock, config: { tiers: SHORT, reviewFourEyes: true } });
    const holder = await Holder.create();
    const nowSeconds = () => Math.floor(clock() / 1000);
    const client = new WalletClient(holder, t.fetch, { now: nowSeconds });
    const basic = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, presentationDefinitionId: 'kcc-basic' });
    expect(typeof basic.credential).toBe('string');
    clock.advance(30 * DAY);
    const upgrade = await applyForKcc(client, {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      presentationDefinitionId: 'kcc-enhanced',
      credentials: [basic.credential as string],
      pollAttempts: 0,
    });
    const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    const rui = (await addOperatorAccount(t.deps, { name: 'rui', role: 'reviewer', actor: 'test' })).secret;
    const eva = (await addOperatorAccount(t.deps, { name: 'eva', role: 'reviewer', actor: 'test' })).secret;
    const signIn = async (operator: string, token: string) => {
      const res = await t.app.request(`${PUBLIC_URL}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ operator, token }).toString(),
      });
      return (res.headers.get('set-cookie') ?? '').split(';')[0];
    };
    const decide = async (cookie: string, fields: Record<string, string>) => {
      const page = await (await t.app.request(`${PUBLIC_URL}/console/applications/${id}`, { headers: { cookie } })).text();
      const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(page)?.[1] as string;
      const res = await t.app.request(`${PUBLIC_URL}/console/applications/${id}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ ...fields, csrf_token: csrf }).toString(),
      });
      return { status: res.status, body: await res.text(), location: res.headers.get('location') };
    };
    const ruiCookie = await signIn('rui', rui);

    // Day 30: the carried document check (30 days old) and the fresh screening cover Enhanced.
    const proposed = await decide(ruiCookie, { decision: 'approve', tier: 'Enhanced', reason: 'screening hit cleared' });
    expect(proposed.status).toBe(303);
    expect(proposed.location).toContain('proposed=1');

    // Day 45: the document check is 45 days old, beyond the 40 days Enhanced keeps it. The
    // confirmer takes the proposal's tier, which the evidence no longer covers: refused.
    clock.advance(15 * DAY);
    const evaCookie = await signIn('eva', eva);
    const confirmed = await decide(evaCookie, { decision: 'approve', tier: 'Enhanced' });
    expect(confirmed.status).toBe(400);
    expect(confirmed.body).toContain('missing document_verification');
    expect(((await admin(t, 'GET', `/applications/${id}`)).body as { status: string }).status).toBe('review');
    expect(await t.deps.store.issuedCredentials.listForApplication(id)).toEqual([]);
    expect(upgrade.credential).toBeUndefined();
  });

  it('the API proposer asking beyond the evidence is refused before any proposal is stored', async () => {
    const t = await makeTestIssuer({ config: { tiers: TIERS, reviewFourEyes: true } });
    await applyForKcc(new WalletClient(await Holder.create(), t.fetch), {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      pollAttempts: 0,
    });
    const id = ((await admin(t, 'GET', '/applications?status=review')).body as { applications: { id: string }[] }).applications[0].id;
    const refused = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Enhanced' });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toContain('missing sanction_screening');
    expect(await t.deps.store.pendingApprovals.get(id)).toBeUndefined();
    const proposed = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Basic' });
    expect(proposed.status).toBe(202);
    expect(proposed.body.pending_approval.tier).toBe('Basic');
  });
});

describe('a vendor decides: the highest tier its checks cover, or review', () => {
  const sessions = new Map<string, { status: string; checks: { kind: string; result: string }[] }>();
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const send = (s: number, b: unknown) => res.writeHead(s, { 'content-type': 'application/json' }).end(JSON.stringify(b));
      if (req.method === 'POST' && req.url === '/v1/sessions') {
        const id = `ses_${sessions.size + 1}`;
        sessions.set(id, { status: 'started', checks: [] });
        return send(201, { verification: { id, url: `https://vendor.example/v/${id}` } });
      }
      const m = /^\/v1\/sessions\/(ses_\d+)\/decision$/.exec(req.url ?? '');
      const s = m ? sessions.get(m[1]) : undefined;
      if (req.method === 'GET' && s) return send(200, { verification: { status: s.status, document: { country: 'FR' }, checks: s.checks } });
      send(404, {});
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  async function vendorApplication(tier: string, outcome: { status: string; checks: string[] }) {
    const clock = testClock();
    const vendor = acmeVendor(base);
    const t = await makeTestIssuer({
      clock,
      config: { tiers: TIERS, kycApiKeys: [`rp-one:${KYC_KEY}`], idv: { provider: 'acme' } },
      idv: { vendors: new Map([['acme', vendor]]), outboundSecrets: [] },
    });
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const pfi = await client.discover(PUBLIC_URL);
    const idvRequest = await client.respond(await client.initiate(`${pfi.idvEndpoint}?presentation_definition_id=${tier}`, pfi));
    const go = await t.app.request(idvRequest.url, { redirect: 'manual' });
    const ref = /ses_\d+/.exec(go.headers.get('location') ?? '')?.[0] as string;
    const { first, deferred } = await requestCredential(client, pfi.did, idvRequest);
    expect(first.status).toBe(202);
    Object.assign(sessions.get(ref) as object, { status: outcome.status, checks: outcome.checks.map((kind) => ({ kind, result: 'passed' })) });
    const raw = JSON.stringify({ id: `evt_${ref}`, action: 'decided', timestamp: new Date(clock()).toISOString(), verification: { id: ref } });
    const signature = await signBodyHmac('acme-secret', new TextEncoder().encode(raw), 'hex');
    const hook = await t.app.request(`${PUBLIC_URL}/idv/webhooks/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hmac-signature': signature },
      body: raw,
    });
    expect(hook.status).toBe(200);
    const listed = (await admin(t, 'GET', '/applications?status=approved')).body.applications.concat(
      (await admin(t, 'GET', '/applications?status=review')).body.applications,
    ) as { id: string; applicant_did: string }[];
    const id = listed.find((a) => a.applicant_did === holder.did)?.id as string;
    return { t, clock, holder, id, deferred };
  }

  it('an Enhanced application approved on the document check alone is granted Basic (noted); KCC, record and KYC status agree', async () => {
    const { t, clock, holder, id, deferred } = await vendorApplication('kcc-enhanced', { status: 'approved', checks: ['document'] });
    const { credential } = await deferred();
    const views = await threeViews(t, holder, id, clock, credential as string);
    expect(views.kcc?.credentialSubject.tier).toBe('Basic');
    expect(views.kcc?.evidence.map((e) => e.kind)).toEqual(['document_verification']);
    expect(views.record).toMatchObject({ status: 'approved', tier: 'Basic' });
    expect(views.status).toMatchObject({ kyc_status: 'verified', kyc_tier: 'kcc-basic' });
    expect((await admin(t, 'GET', `/applications/${id}`)).body.decision_reason).toContain('tier:limited_by_evidence');
  });

  it('an approval whose checks cover no tier goes to review with the missing checks; nothing is issued', async () => {
    const { t, holder, id, deferred, clock } = await vendorApplication('kcc-basic', { status: 'approved', checks: ['liveness'] });
    expect(await deferred()).toEqual({ pending: true });
    const views = await threeViews(t, holder, id, clock);
    expect(views.record).toMatchObject({ status: 'review', tier: null });
    expect(views.status).toMatchObject({ kyc_status: 'pending', kyc_tier: 'kcc-basic' });
    const reason = (await admin(t, 'GET', `/applications/${id}`)).body.decision_reason as string;
    expect(reason).toContain('tier:evidence_insufficient');
    expect(reason).toContain('tier:missing:document_verification');
    expect(await t.deps.store.issuedCredentials.count()).toBe(0);
  });

  it('review with both checks passed: an operator may grant Enhanced on a Basic application (the evidence covers it); all three say Enhanced', async () => {
    const { t, clock, holder, id, deferred } = await vendorApplication('kcc-basic', { status: 'review', checks: ['document', 'sanctions'] });
    const granted = await admin(t, 'POST', `/applications/${id}/decision`, { decision: 'approve', tier: 'Enhanced' });
    expect(granted.status).toBe(200);
    const { credential } = await deferred();
    const views = await threeViews(t, holder, id, clock, credential as string);
    expect(views.kcc?.credentialSubject.tier).toBe('Enhanced');
    expect(views.kcc?.evidence.map((e) => e.kind).sort()).toEqual(['document_verification', 'sanction_screening']);
    expect(views.record).toMatchObject({ status: 'approved', tier: 'Enhanced' });
    expect(views.status).toMatchObject({ kyc_status: 'verified', kyc_tier: tierIdOf('Enhanced') });
    // The status entry of the KCC is the granted tier's, and so is its validity (180 days for Enhanced).
    const payload = decodeJwt(credential as string);
    expect(((payload.exp as number) - (payload.nbf as number)) / DAY).toBe(180);
  });
});
