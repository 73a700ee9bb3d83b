import { htmlSecurityHeaders } from '../htmlHeaders';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { randomToken } from '../../crypto/random';
import { endOperatorSession, endOperatorSessionsEverywhere, openOperatorSession, resumeOperatorSession, type LiveOperatorSession } from '../../issuance/operatorSessions';
import { assertOperatorAuthAllowed, recordOperatorAuthFailure } from '../operatorAuth';
import { CONSOLE_CSS, renderApplication, renderLogin, renderQueue } from '../views/consolePages';
import { HOSTED_PROVIDER } from '../../idv/hostedForm';
import type { IdvResult } from '../../idv/provider';
import { configuredTierNames, recordOperatorDecision } from '../../issuance/decisions';
import { eraseApplicantPii } from '../../issuance/personalData';
import { AccessDenied, NotFound, ProtocolError, TooManyRequests } from '../../protocol/errors';
import { consoleErrorHandler } from '../errors';
import { isCountryOfResidence } from '../../issuance/kccClaims';
import { hmacSha256, timingSafeEqual } from '../../idv/webhookSignature';
import { readFormOrJson } from '../body';
import type { AppDeps, AppEnv } from '../context';
import { PATHS } from '../../paths';

/**
 * The manual-review console for compliance staff (HTML, served by the issuer). Sign-in is
 * built on ADMIN_TOKEN: the operator gives their name and the token; the session is a
 * server-side record (src/issuance/operatorSessions.ts) named by a random id in a cookie
 * (HttpOnly, SameSite=Strict, Secure on https, path /console). Failed sign-ins are throttled
 * (src/http/operatorAuth.ts). Every POST carries the session's CSRF token and is refused
 * cross-site. Decisions and erasures go through src/issuance/, which writes the audit trail
 * (who, what, when). Disabled (404) when ADMIN_TOKEN is unset.
 */
export const consoleRoutes = new Hono<AppEnv>();

const COOKIE = 'kcc_console';
const enc = new TextEncoder();

function base(deps: AppDeps): string {
  return `${new URL(deps.config.publicUrl).pathname.replace(/\/+$/, '')}${PATHS.console}`;
}

// Same-origin referrers let the console's CSRF check see where a POST came from.
const pageHeaders = (c: Context<AppEnv>) => htmlSecurityHeaders(c, 'same-origin');

function sameOrigin(c: Context<AppEnv>): boolean {
  if (c.req.header('sec-fetch-site') === 'cross-site') return false;
  const origin = c.req.header('origin');
  if (origin === 'null') return c.req.header('sec-fetch-site') === 'same-origin';
  return !origin || origin === new URL(c.get('deps').config.publicUrl).origin;
}

consoleRoutes.use('*', async (c, next) => {
  if (!c.get('deps').config.adminToken) throw new NotFound('the review console is disabled (ADMIN_TOKEN is not set)');
  pageHeaders(c);
  await next();
});

consoleRoutes.get('/console.css', (c) => c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'private, max-age=300' }));

consoleRoutes.get('/login', (c) => c.html(renderLogin({ action: `${base(c.get('deps'))}/login`, cssHref: `${base(c.get('deps'))}/console.css` })));

// Compared as MACs under a fresh key, so the comparison takes the same time whatever the lengths.
async function sameSecret(a: string, b: string): Promise<boolean> {
  const key = randomToken();
  return timingSafeEqual(await hmacSha256(key, enc.encode(a)), await hmacSha256(key, enc.encode(b)));
}

consoleRoutes.post('/login', async (c) => {
  const deps = c.get('deps');
  const b = base(deps);
  const page = (error: string, status: 401 | 403 | 429) => c.html(renderLogin({ action: `${b}/login`, cssHref: `${b}/console.css`, error }), status);
  if (!sameOrigin(c)) return page('Cross-site sign-in refused.', 403);
  try {
    assertOperatorAuthAllowed(c, 'console');
  } catch (e) {
    if (!(e instanceof TooManyRequests)) throw e;
    for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
    return page('Too many failed sign-ins. Try again in a minute.', 429);
  }
  const { body } = await readFormOrJson(c);
  const name = typeof body.operator === 'string' ? body.operator.trim() : '';
  const token = typeof body.token === 'string' ? body.token : '';
  const tokenOk = await sameSecret(token, deps.config.adminToken as string);
  if (!tokenOk || !/^[\p{L}\p{N} .@_-]{1,64}$/u.test(name)) {
    recordOperatorAuthFailure(c, 'console');
    return page('Name or token not accepted.', 401);
  }
  const session = await openOperatorSession(deps, name);
  setCookie(c, COOKIE, session.id, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: deps.config.publicUrl.startsWith('https:'),
    path: b,
    maxAge: session.maxAgeSeconds,
  });
  await deps.store.audit.record({ applicationId: null, actor: `console:${name}`, action: 'console.login', at: Math.floor(deps.clock() / 1000) });
  return c.redirect(`${b}?status=review`, 303);
});

// Everything below needs a live session.
consoleRoutes.use('*', async (c, next) => {
  const session = await resumeOperatorSession(c.get('deps'), getCookie(c, COOKIE));
  if (!session) {
    deleteCookie(c, COOKIE, { path: base(c.get('deps')) });
    return c.redirect(`${base(c.get('deps'))}/login`, 303);
  }
  if (c.req.method === 'POST') {
    if (!sameOrigin(c)) throw new AccessDenied('cross-site request refused');
  }
  c.set('operatorSession', session);
  await next();
});

function requireCsrf(session: LiveOperatorSession, field: unknown): boolean {
  return typeof field === 'string' && timingSafeEqual(enc.encode(field), enc.encode(session.csrf));
}

consoleRoutes.post('/logout', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  if (body.everywhere === 'true') {
    const ended = await endOperatorSessionsEverywhere(deps, session);
    await deps.store.audit.record({ applicationId: null, actor: `console:${session.operator}`, action: 'console.logout_everywhere', detail: { sessions: ended }, at: Math.floor(deps.clock() / 1000) });
  } else {
    await endOperatorSession(deps, session);
  }
  deleteCookie(c, COOKIE, { path: base(deps) });
  return c.redirect(`${base(deps)}/login`, 303);
});

const ISO = (s: number | null) => (s ? new Date(s * 1000).toISOString().replace('.000Z', 'Z') : null);

consoleRoutes.get('/', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const q = (k: string, max: number) => (c.req.query(k) ?? '').trim().slice(0, max);
  const filters = { status: q('status', 10), provider: q('provider', 40), country: q('country', 2).toUpperCase(), q: q('q', 300) };
  if (filters.status && !['review', 'pending', 'approved', 'rejected', 'withdrawn'].includes(filters.status)) filters.status = '';
  const rows = await deps.store.applicationStatus.search({ status: filters.status || undefined, provider: filters.provider || undefined, country: filters.country || undefined, q: filters.q || undefined });
  const b = base(deps);
  return c.html(
    renderQueue({
      cssHref: `${b}/console.css`,
      operator: session.operator,
      logoutAction: `${b}/logout`,
      csrf: session.csrf,
      baseHref: b,
      filters,
      providers: [HOSTED_PROVIDER, ...deps.idv.vendors.keys()],
      rows: rows.map((r) => ({ id: r.id, applicantDid: r.applicantDid, status: r.status, provider: r.idvProvider, country: r.countryOfResidence, tier: r.tier, updatedAt: ISO(r.updatedAt) ?? '' })),
    }),
  );
});

async function applicationPage(c: Context<AppEnv>, session: LiveOperatorSession, id: string, notice?: string, status: 200 | 400 | 409 = 200) {
  const deps = c.get('deps');
  const application = await deps.store.applications.get(id);
  if (!application) throw new NotFound('no such application');
  const idvSession = await deps.store.idvSessions.get(id);
  const outcome = idvSession?.outcome ? (idvSession.outcome as unknown as IdvResult & { evidence?: { kind: string; checks: string[] }[] }) : undefined;
  const piiRecord = await deps.store.pii.get(id);
  let pii: Record<string, string> | null | 'erased' = null;
  if (piiRecord?.erasedAt) pii = 'erased';
  else if (piiRecord?.ciphertext && deps.idv.vault?.has(piiRecord.keyId)) {
    pii = (await deps.idv.vault.open(id, piiRecord.ciphertext, piiRecord.keyId)) as Record<string, string>;
    await deps.store.audit.record({ applicationId: id, actor: `console:${session.operator}`, action: 'pii.viewed', at: Math.floor(deps.clock() / 1000) });
  }
  const audit = await deps.store.audit.listForApplication(id);
  const b = base(deps);
  // The application's own tier first (the preselected option), then every other configured one.
  const tiers = [...new Set([application.tier, ...configuredTierNames(deps.config)].filter((t): t is string => !!t && configuredTierNames(deps.config).includes(t)))];
  return c.html(
    renderApplication({
      cssHref: `${b}/console.css`,
      operator: session.operator,
      logoutAction: `${b}/logout`,
      csrf: session.csrf,
      backHref: `${b}?status=review`,
      decisionAction: `${b}/applications/${encodeURIComponent(id)}/decision`,
      eraseAction: `${b}/applications/${encodeURIComponent(id)}/erase-pii`,
      notice,
      application: {
        id: application.id,
        applicant_did: application.applicantDid,
        status: application.status,
        credential_configuration_id: application.credentialConfigurationId,
        idv_provider: application.idvProvider,
        country_of_residence: application.countryOfResidence,
        tier: application.tier,
        decision_reason: application.decisionReason,
        decided_by: application.decidedBy,
        decided_at: ISO(application.decidedAt),
        created_at: ISO(application.createdAt),
      },
      idv: idvSession
        ? {
            state: idvSession.state,
            vendorReference: idvSession.vendorReference,
            reasonCodes: outcome?.reasonCodes ?? [],
            checks: (outcome?.evidence ?? []).map((ev) => `${ev.kind} (${ev.checks.join(', ')})`),
          }
        : null,
      pii,
      tiers,
      needsCountry: !isCountryOfResidence(application.countryOfResidence),
      audit: audit.map((a) => ({ at: ISO(a.at) ?? '', actor: a.actor, action: a.action, detail: a.detail ? JSON.stringify(a.detail) : '' })),
    }),
    status,
  );
}

consoleRoutes.get('/applications/:id', async (c) =>
  applicationPage(c, c.get('operatorSession'), c.req.param('id'), c.req.query('decided') === '1' ? 'Decision recorded.' : undefined),
);

consoleRoutes.post('/applications/:id/decision', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  const decision = body.decision === 'approve' || body.decision === 'reject' ? body.decision : undefined;
  const tier = typeof body.tier === 'string' && body.tier ? body.tier : undefined;
  const reason = typeof body.reason === 'string' ? body.reason.trim().slice(0, 500) : '';
  const overrule = body.overrule === 'true';
  if (!decision) return applicationPage(c, session, id, 'Choose approve or reject.', 400);
  if (overrule && !reason) return applicationPage(c, session, id, 'A reason is required to overrule a decision.', 400);
  const country = typeof body.country_of_residence === 'string' && body.country_of_residence.trim() ? body.country_of_residence.trim().toUpperCase() : undefined;
  let decided;
  try {
    decided = await recordOperatorDecision(deps, {
      applicationId: id,
      decision,
      tier: decision === 'approve' ? tier : undefined,
      countryOfResidence: decision === 'approve' ? country : undefined,
      reason: reason || undefined,
      actor: `console:${session.operator}`,
      overrule,
    });
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    if (e.status === 404) throw e;
    if (e.status === 409) return applicationPage(c, session, id, 'This application is no longer awaiting review (someone else decided it).', 409);
    return applicationPage(c, session, id, `Not recorded: ${e.description}.`, 400);
  }
  deps.logger.info('application_decided', { requestId: c.get('requestId'), applicationId: id, status: decided.status, via: 'console' });
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}?decided=1`, 303);
});

consoleRoutes.post('/applications/:id/erase-pii', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (!reason) return applicationPage(c, session, id, 'A reason is required.', 400);
  if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
  await eraseApplicantPii(deps, id, `console:${session.operator}`, reason);
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}`, 303);
});

consoleRoutes.onError(consoleErrorHandler);
