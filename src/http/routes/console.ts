import { htmlSecurityHeaders } from '../htmlHeaders';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import {
  adminTokenOpensConsole,
  endOperatorSession,
  endOperatorSessionsEverywhere,
  openOperatorSession,
  resumeOperatorSession,
  type LiveOperatorSession,
} from '../../issuance/operatorSessions';
import {
  addOperatorAccount,
  assertOperatorMay,
  authenticateOperator,
  listOperatorAccounts,
  operatorMay,
  removeOperatorAccount,
  resetOperatorSecret,
} from '../../issuance/operatorAccounts';
import { changeCredentialStatus } from '../../issuance/credentialStatus';
import { beginOperatorSso, completeOperatorSso, OperatorSsoRefused, type OperatorSsoRefusalReason } from '../../issuance/operatorSso';
import { assertOperatorAuthAllowed, recordOperatorAuthFailure } from '../operatorAuth';
import { rateLimitByIp } from '../rateLimit';
import {
  type ConsoleChrome,
  consoleCss,
  formatAge,
  type QueueFilters,
  renderApplication,
  renderConfirm,
  renderLogin,
  renderOperators,
  renderQueue,
  renderSignedIn,
} from '../views/consolePages';
import { messagesFor } from '../../idv/messages';
import { HOSTED_PROVIDER } from '../../idv/hostedForm';
import { recordOperatorDecision } from '../../issuance/decisions';
import { eraseApplicantPii } from '../../issuance/personalData';
import { assignCase, reviewApplication } from '../../issuance/review';
import { AccessDenied, NotFound, ProtocolError, TooManyRequests } from '../../protocol/errors';
import { consoleErrorHandler } from '../errors';
import { timingSafeEqual } from '../../crypto/timingSafeEqual';
import { bearerMatches } from '../bearer';
import { readFormOrJson } from '../body';
import type { AppDeps, AppEnv } from '../context';
import { PATHS } from '../../paths';
import { describeRoute, doc } from '../openapi';

/**
 * The manual-review console for compliance staff (HTML, served by the issuer). Operators sign
 * in with a named account (src/issuance/operatorAccounts.ts: name and secret); only while no
 * account exists (first start) does ADMIN_TOKEN with a typed name open it. The session is a
 * server-side record (src/issuance/operatorSessions.ts) named by a random id in a cookie
 * (HttpOnly, SameSite=Strict, Secure on https, path /console). Failed sign-ins are throttled
 * (src/http/operatorAuth.ts). Every POST carries the session's CSRF token and is refused
 * cross-site, and every action checks the session's role on the server (assertOperatorMay),
 * whatever the page offered. Decisions and erasures go through src/issuance/, which writes the
 * audit trail under the account's name. With OPERATOR_SSO_ISSUER set, operators also sign in
 * through the PFI's workforce login (src/issuance/operatorSso.ts; `/sso/start`, `/sso/callback`)
 * into the same kind of session. Disabled (404) while there is neither ADMIN_TOKEN, an account nor SSO.
 */
export const consoleRoutes = new Hono<AppEnv>();

const COOKIE = 'kcc_console';
/** The sealed workforce sign-in transaction: SameSite=Lax (the provider returns the browser cross-site), callback path only. */
const SSO_COOKIE = 'kcc_console_sso';
const enc = new TextEncoder();

function base(deps: AppDeps): string {
  return `${new URL(deps.config.publicUrl).pathname.replace(/\/+$/, '')}${PATHS.console}`;
}

// Same-origin referrers let the console's CSRF check see where a POST came from.
const pageHeaders = (c: Context<AppEnv>) => htmlSecurityHeaders(c, 'same-origin', c.get('deps').config.clientMetadata.logoUri);

/** The PFI's name and logo in the console header (the colour comes with the stylesheet). */
const brandOf = (deps: AppDeps) => ({ name: deps.config.clientName, logoUri: deps.config.clientMetadata.logoUri });

/** The header of every signed-in page: brand, who is signed in, the sign-out form. */
function chromeOf(deps: AppDeps, session: LiveOperatorSession): ConsoleChrome {
  const b = base(deps);
  return {
    cssHref: `${b}/console.css`,
    brand: brandOf(deps),
    operator: session.operator,
    ...(session.displayName ? { displayName: session.displayName } : {}),
    role: session.role,
    logoutAction: `${b}/logout`,
    csrf: session.csrf,
  };
}

/** An audit actor as a person reads it: `console:alice` → `alice`. */
const personOf = (actor: string | null) => (actor ? actor.replace(/^console:/, '') : null);

const QUEUE_PAGE_SIZE = 25;

function sameOrigin(c: Context<AppEnv>): boolean {
  if (c.req.header('sec-fetch-site') === 'cross-site') return false;
  const origin = c.req.header('origin');
  if (origin === 'null') return c.req.header('sec-fetch-site') === 'same-origin';
  return !origin || origin === new URL(c.get('deps').config.publicUrl).origin;
}

consoleRoutes.use('*', async (c, next) => {
  const deps = c.get('deps');
  if (!deps.config.adminToken && !deps.operatorSso && !(await deps.store.operatorAccounts.any())) {
    throw new NotFound('the review console is disabled (set ADMIN_TOKEN or OPERATOR_SSO_ISSUER, or add an operator account: npm run operators -- add)');
  }
  pageHeaders(c);
  await next();
});

consoleRoutes.get(
  '/console.css',
  describeRoute({ summary: 'Console stylesheet', tags: ['console'], responses: { 200: { description: 'CSS', mediaType: 'text/css' } } }),
);
consoleRoutes.get('/console.css', (c) =>
  c.body(consoleCss(c.get('deps').config.branding.primaryColor), 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'private, max-age=300' }),
);

/** The workforce sign-in button, when OPERATOR_SSO_ISSUER is set. */
const ssoButton = (deps: AppDeps) => (deps.operatorSso ? { href: `${base(deps)}/sso/start`, name: deps.operatorSso.settings.displayName } : undefined);

function loginPage(c: Context<AppEnv>, accounts: boolean, error?: string, status: 200 | 400 | 401 | 403 | 429 | 502 = 200) {
  const deps = c.get('deps');
  const b = base(deps);
  return c.html(renderLogin({ action: `${b}/login`, cssHref: `${b}/console.css`, brand: brandOf(deps), accounts, sso: ssoButton(deps), error }), status);
}

consoleRoutes.get('/login', describeRoute({ summary: 'Console sign-in', tags: ['console'], responses: { 200: doc.html('Sign-in page') } }));
consoleRoutes.get('/login', async (c) => loginPage(c, await c.get('deps').store.operatorAccounts.any()));

// The workforce sign-in (src/issuance/operatorSso.ts): no session needed, none opened on any refusal.
consoleRoutes.get(
  '/sso/start',
  describeRoute({
    summary: "Console sign-in through the PFI's workforce login (OpenID Connect; docs/operator-sso.md)",
    tags: ['console'],
    responses: {
      303: doc.redirect("To the workforce provider's authorization endpoint (the transaction in an HttpOnly cookie)"),
      404: doc.pageOrError('Not configured'),
      502: doc.html('Provider unreachable'),
    },
  }),
);
consoleRoutes.get('/sso/start', rateLimitByIp('console-sso'), async (c) => {
  const deps = c.get('deps');
  const sso = deps.operatorSso;
  if (!sso) throw new NotFound('workforce sign-in is not configured (OPERATOR_SSO_ISSUER)');
  let begun: Awaited<ReturnType<typeof beginOperatorSso>>;
  try {
    begun = await beginOperatorSso(sso);
  } catch (e) {
    if (!(e instanceof OperatorSsoRefused)) throw e;
    deps.logger.warn('operator_sso_refused', { requestId: c.get('requestId'), reason: e.reason, detail: e.detail });
    return loginPage(c, await deps.store.operatorAccounts.any(), `${sso.settings.displayName} cannot be reached. Try again later.`, 502);
  }
  setCookie(c, SSO_COOKIE, begun.transaction, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: deps.config.publicUrl.startsWith('https:'),
    path: `${base(deps)}/sso/callback`,
    maxAge: sso.settings.loginTtlSeconds,
  });
  return c.redirect(begun.authorizationUrl, 303);
});

const SSO_REFUSALS: Partial<Record<OperatorSsoRefusalReason, [string, 400 | 401 | 403 | 502]>> = {
  cancelled: ['Sign-in cancelled.', 401],
  no_role: ['Your account there is in no group that grants a console role. Ask your administrator to add you to one.', 403],
  invalid_transaction: ['This sign-in was not started in this browser, or was already used. Start again.', 400],
  transaction_expired: ['This sign-in took too long. Start again.', 400],
  state_mismatch: ['This sign-in was not started in this browser. Start again.', 400],
  provider_error: ['The sign-in service cannot be reached. Try again later.', 502],
};

consoleRoutes.get(
  '/sso/callback',
  describeRoute({
    summary: "The workforce provider's redirect back (code, state): verified, then a console session",
    tags: ['console'],
    responses: {
      200: doc.html('Signed in: on to the queue'),
      400: doc.html('Refused: start again'),
      401: doc.html('Refused'),
      403: doc.html('No console role'),
      404: doc.pageOrError('Not configured'),
    },
  }),
);
consoleRoutes.get('/sso/callback', rateLimitByIp('console-sso'), async (c) => {
  const deps = c.get('deps');
  const sso = deps.operatorSso;
  if (!sso) throw new NotFound('workforce sign-in is not configured (OPERATOR_SSO_ISSUER)');
  const b = base(deps);
  // The transaction is single-use for this browser: gone whatever the outcome.
  const transaction = getCookie(c, SSO_COOKIE);
  deleteCookie(c, SSO_COOKIE, { path: `${b}/sso/callback` });
  const now = Math.floor(deps.clock() / 1000);
  let identity: Awaited<ReturnType<typeof completeOperatorSso>>;
  try {
    identity = await completeOperatorSso(sso, { callbackUrl: c.req.url, transaction });
  } catch (e) {
    if (!(e instanceof OperatorSsoRefused)) throw e;
    // Names the check, never a token, claim value or e-mail; the party only when the provider did authenticate someone.
    deps.logger.warn('operator_sso_refused', { requestId: c.get('requestId'), reason: e.reason, detail: e.detail, ...(e.party ? { party: e.party } : {}) });
    if (e.party) {
      await deps.store.audit.record({
        applicationId: null,
        actor: `console:${e.party}`,
        action: 'console.login_refused',
        detail: { via: 'sso', reason: e.reason },
        at: now,
      });
    }
    const [message, status] = SSO_REFUSALS[e.reason] ?? ['The sign-in could not be verified. Start again.', 401];
    return loginPage(c, await deps.store.operatorAccounts.any(), message, status);
  }
  const session = await openOperatorSession(deps, { sso: identity });
  setCookie(c, COOKIE, session.id, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: deps.config.publicUrl.startsWith('https:'),
    path: b,
    maxAge: session.maxAgeSeconds,
  });
  // The audit trail (the database, not the logs) keeps the provider's subject, so a PFI can tell who the party is.
  await deps.store.audit.record({
    applicationId: null,
    actor: `console:${identity.party}`,
    action: 'console.login',
    detail: { via: 'sso', role: identity.role, idp_subject: identity.subject, groups: identity.matched },
    at: now,
  });
  deps.logger.info('operator_sso_signed_in', { requestId: c.get('requestId'), party: identity.party, role: identity.role });
  const next = `${b}?status=review`;
  c.header('Refresh', `0;url=${next}`);
  return c.html(renderSignedIn({ cssHref: `${b}/console.css`, brand: brandOf(deps), next, name: identity.displayName }));
});

consoleRoutes.post(
  '/login',
  describeRoute({
    summary: 'Console sign-in',
    tags: ['console'],
    responses: {
      303: doc.redirect('Signed in'),
      401: doc.html('Account (or, before any account exists, ADMIN_TOKEN) not accepted'),
      429: doc.html('Too many failed sign-ins'),
    },
  }),
);
consoleRoutes.post('/login', async (c) => {
  const deps = c.get('deps');
  const b = base(deps);
  const accounts = await deps.store.operatorAccounts.any();
  const page = (error: string, status: 401 | 403 | 429) => loginPage(c, accounts, error, status);
  if (!sameOrigin(c)) return page('Cross-site sign-in refused.', 403);
  const { body } = await readFormOrJson(c);
  const name = typeof body.operator === 'string' ? body.operator.trim() : '';
  const token = typeof body.token === 'string' ? body.token.slice(0, 200) : '';
  // Throttled per address, and per account name once accounts exist (the typed name of a first-start sign-in is no account).
  const accountName = accounts ? name.toLowerCase() : undefined;
  // With workforce sign-in configured ADMIN_TOKEN never opens the console: only accounts sign in here.
  const adminTokenMode = !accounts && (await adminTokenOpensConsole(deps));
  try {
    assertOperatorAuthAllowed(c, 'console', accountName);
  } catch (e) {
    if (!(e instanceof TooManyRequests)) throw e;
    for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
    return page('Too many failed sign-ins. Try again in a minute.', 429);
  }
  let session: { id: string; maxAgeSeconds: number };
  let detail: Record<string, string>;
  if (!adminTokenMode) {
    // Once any account exists (or SSO is configured) only accounts sign in: ADMIN_TOKEN here is one more wrong secret
    // (counted like any other, so this form is no oracle for ADMIN_TOKEN either).
    const account = await authenticateOperator(deps, name.toLowerCase(), token);
    if (!account) {
      await recordOperatorAuthFailure(c, 'console', accountName);
      return page('Account name or secret not accepted.', 401);
    }
    session = await openOperatorSession(deps, account);
    detail = { account: account.name, role: account.role };
  } else {
    const tokenOk = deps.config.adminToken !== undefined && bearerMatches(deps.crypto, token, deps.config.adminToken);
    if (!tokenOk || !/^[\p{L}\p{N} .@_-]{1,64}$/u.test(name)) {
      await recordOperatorAuthFailure(c, 'console', accountName);
      return page('Name or token not accepted.', 401);
    }
    session = await openOperatorSession(deps, { typedName: name });
    detail = { via: 'admin_token' };
  }
  setCookie(c, COOKIE, session.id, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: deps.config.publicUrl.startsWith('https:'),
    path: b,
    maxAge: session.maxAgeSeconds,
  });
  await deps.store.audit.record({
    applicationId: null,
    actor: `console:${accounts ? name.toLowerCase() : name}`,
    action: 'console.login',
    detail,
    at: Math.floor(deps.clock() / 1000),
  });
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

consoleRoutes.post('/logout', describeRoute({ summary: 'Console sign-out', tags: ['console'], responses: { 303: doc.redirect('Signed out') } }));
consoleRoutes.post('/logout', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  if (body.everywhere === 'true') {
    const ended = await endOperatorSessionsEverywhere(deps, session);
    await deps.store.audit.record({
      applicationId: null,
      actor: session.actor,
      action: 'console.logout_everywhere',
      detail: { sessions: ended },
      at: Math.floor(deps.clock() / 1000),
    });
  } else {
    await endOperatorSession(deps, session);
  }
  deleteCookie(c, COOKIE, { path: base(deps) });
  return c.redirect(`${base(deps)}/login`, 303);
});

const ISO = (s: number | null) => (s ? new Date(s * 1000).toISOString().replace('.000Z', 'Z') : null);

consoleRoutes.get(
  '/',
  describeRoute({
    summary: 'Review console (HTML, session cookie)',
    tags: ['console'],
    responses: { 200: doc.html('Queue'), 303: doc.redirect('To the sign-in page'), 404: doc.error('Console disabled') },
  }),
);
consoleRoutes.get('/', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const q = (k: string, max: number) => (c.req.query(k) ?? '').trim().slice(0, max);
  const filters: QueueFilters = {
    status: q('status', 10),
    provider: q('provider', 40),
    country: q('country', 2).toUpperCase(),
    q: q('q', 300),
    assigned: q('assigned', 4),
    sort: q('sort', 6),
  };
  if (filters.status && !['review', 'pending', 'approved', 'rejected', 'withdrawn'].includes(filters.status)) filters.status = '';
  if (!['me', 'none'].includes(filters.assigned)) filters.assigned = '';
  if (filters.sort !== 'newest') filters.sort = 'oldest';
  const page = Math.min(Math.max(Number.parseInt(q('page', 6), 10) || 1, 1), 10_000);
  const rows = await deps.store.applicationStatus.search({
    status: filters.status || undefined,
    provider: filters.provider || undefined,
    country: filters.country || undefined,
    q: filters.q || undefined,
    assignee: filters.assigned === 'me' ? session.actor : filters.assigned === 'none' ? null : undefined,
    order: filters.sort === 'newest' ? 'newest' : 'oldest',
    // One more than a page: whether a next page exists.
    limit: QUEUE_PAGE_SIZE + 1,
    offset: (page - 1) * QUEUE_PAGE_SIZE,
  });
  const b = base(deps);
  const now = Math.floor(deps.clock() / 1000);
  const expectedHours = deps.config.reviewExpectedHours;
  return c.html(
    renderQueue(chromeOf(deps, session), {
      operatorsHref: operatorMay(session.role, 'operators.manage') ? `${b}/operators` : undefined,
      baseHref: b,
      filters,
      providers: [HOSTED_PROVIDER, ...deps.idv.vendors.keys()],
      page,
      hasNext: rows.length > QUEUE_PAGE_SIZE,
      expectedHours,
      rows: rows.slice(0, QUEUE_PAGE_SIZE).map((r) => ({
        id: r.id,
        applicantDid: r.applicantDid,
        status: r.status,
        provider: r.idvProvider,
        country: r.countryOfResidence,
        tier: r.tier,
        age: formatAge(now - r.createdAt),
        overdue: (r.status === 'review' || r.status === 'pending') && now - r.createdAt > expectedHours * 3600,
        assignee: personOf(r.assignee),
      })),
    }),
  );
});

async function applicationPage(c: Context<AppEnv>, session: LiveOperatorSession, id: string, notice?: string, status: 200 | 400 | 409 = 200) {
  const deps = c.get('deps');
  const review = await reviewApplication(deps, session, id);
  const { application, pendingApproval: pending } = review;
  const b = base(deps);
  const now = Math.floor(deps.clock() / 1000);
  return c.html(
    renderApplication(chromeOf(deps, session), {
      backHref: `${b}?status=review`,
      decisionAction: `${b}/applications/${encodeURIComponent(id)}/decision`,
      assignAction: `${b}/applications/${encodeURIComponent(id)}/assign`,
      assignment: { assignee: personOf(review.assignee), mine: review.assignee === session.actor },
      // Only the controls the role may use are rendered; the routes check the role again.
      mayDecide: operatorMay(session.role, 'decide'),
      eraseAction: operatorMay(session.role, 'pii.erase') ? `${b}/applications/${encodeURIComponent(id)}/erase-pii` : undefined,
      credentialAction: operatorMay(session.role, 'credential.status')
        ? (credentialId: string) => `${b}/applications/${encodeURIComponent(id)}/credentials/${encodeURIComponent(credentialId)}/status`
        : undefined,
      credentials: review.credentials.map((cr) => ({ id: cr.id, status: cr.status, issuedAt: ISO(cr.issuedAt) ?? '', expiresAt: ISO(cr.expiresAt) ?? '' })),
      pendingApproval: pending
        ? {
            by: personOf(pending.actor) ?? pending.actor,
            at: ISO(pending.createdAt) ?? '',
            tier: pending.tier,
            country: pending.countryOfResidence,
            reason: pending.reason,
            own: pending.own,
          }
        : undefined,
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
        decided_by: personOf(application.decidedBy),
        decided_at: ISO(application.decidedAt),
        created_at: ISO(application.createdAt),
        age: formatAge(now - application.createdAt),
      },
      idv: review.idv,
      pii: review.pii,
      piiLabels: { ...(messagesFor('en').fieldLabels as Record<string, string>), nationality: 'Nationality', presented_credentials: 'Vouched for by' },
      tiers: review.tiers,
      tiersNotCovered: review.tiersNotCovered,
      needsCountry: review.needsCountry,
      audit: review.audit.map((a) => ({ at: ISO(a.at) ?? '', actor: a.actor, action: a.action, detail: a.detail })),
    }),
    status,
  );
}

/** The second step of a destructive action: the same form again, with `confirmed=yes`, or Cancel. */
function confirmPage(
  c: Context<AppEnv>,
  session: LiveOperatorSession,
  input: { title: string; message: string; action: string; fields: Record<string, string>; confirmLabel: string; cancelHref: string },
) {
  return c.html(renderConfirm(chromeOf(c.get('deps'), session), input));
}

const confirmed = (body: Record<string, unknown>) => body.confirmed === 'yes';

consoleRoutes.get(
  '/applications/:id',
  describeRoute({
    summary: 'Console: one application',
    tags: ['console'],
    responses: { 200: doc.html('Application'), 303: doc.redirect('To the sign-in page'), 404: doc.html('No such application') },
  }),
);
consoleRoutes.get('/applications/:id', async (c) =>
  applicationPage(
    c,
    c.get('operatorSession'),
    c.req.param('id'),
    c.req.query('decided') === '1'
      ? 'Decision recorded.'
      : c.req.query('proposed') === '1'
        ? 'Approval proposed: a second, different operator must confirm it before it takes effect (four-eyes review).'
        : c.req.query('changed') === '1'
          ? 'Credential status changed.'
          : undefined,
  ),
);

consoleRoutes.post(
  '/applications/:id/decision',
  describeRoute({
    summary: 'Console: decide',
    tags: ['console'],
    responses: {
      303: doc.redirect('Decided or, with four-eyes, proposed'),
      400: doc.html('Invalid decision'),
      403: doc.html('CSRF, or four-eyes: the proposer cannot confirm'),
    },
  }),
);
consoleRoutes.post('/applications/:id/decision', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  assertOperatorMay(session.role, 'decide');
  const decision = body.decision === 'approve' || body.decision === 'reject' ? body.decision : undefined;
  const tier = typeof body.tier === 'string' && body.tier ? body.tier : undefined;
  const reason = typeof body.reason === 'string' ? body.reason.trim().slice(0, 500) : '';
  const overrule = body.overrule === 'true';
  if (!decision) return applicationPage(c, session, id, 'Choose approve or reject.', 400);
  if (overrule && !reason) return applicationPage(c, session, id, 'A reason is required to overrule a decision.', 400);
  if (decision === 'reject' && !confirmed(body)) {
    if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
    return confirmPage(c, session, {
      title: 'Reject this application?',
      message: `Application ${id} will be rejected${reason ? ` (reason: ${reason})` : ''}. The applicant is told, and any credential issued for it is revoked.`,
      action: `${base(deps)}/applications/${encodeURIComponent(id)}/decision`,
      fields: { decision: 'reject', reason, ...(overrule ? { overrule: 'true' } : {}) },
      confirmLabel: 'Yes, reject',
      cancelHref: `${base(deps)}/applications/${encodeURIComponent(id)}`,
    });
  }
  const country =
    typeof body.country_of_residence === 'string' && body.country_of_residence.trim() ? body.country_of_residence.trim().toUpperCase() : undefined;
  let decided: Awaited<ReturnType<typeof recordOperatorDecision>>;
  try {
    decided = await recordOperatorDecision(deps, {
      applicationId: id,
      decision,
      tier: decision === 'approve' ? tier : undefined,
      countryOfResidence: decision === 'approve' ? country : undefined,
      reason: reason || undefined,
      actor: session.actor,
      party: session.party,
      overrule,
    });
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    // Not found, and refusals (four-eyes: the proposer confirming), are the console's error page.
    if (e.status === 404 || e.status === 403) throw e;
    if (e.status === 409) return applicationPage(c, session, id, 'This application is no longer awaiting review (someone else decided it).', 409);
    return applicationPage(c, session, id, `Not recorded: ${e.description}.`, 400);
  }
  if (decided.pendingApproval) {
    deps.logger.info('application_approval_proposed', { requestId: c.get('requestId'), applicationId: id, via: 'console' });
    return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}?proposed=1`, 303);
  }
  deps.logger.info('application_decided', { requestId: c.get('requestId'), applicationId: id, status: decided.status, via: 'console' });
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}?decided=1`, 303);
});

consoleRoutes.post(
  '/applications/:id/assign',
  describeRoute({
    summary: 'Console: assign the case to me, or release it',
    tags: ['console'],
    responses: {
      303: doc.redirect('Assigned or released (or to the sign-in page)'),
      403: doc.html('CSRF, or the role may not'),
      404: doc.html('No such application'),
    },
  }),
);
consoleRoutes.post('/applications/:id/assign', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  await assignCase(deps, session, id, body.op === 'release' ? 'release' : 'assign');
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}`, 303);
});

consoleRoutes.post(
  '/applications/:id/erase-pii',
  describeRoute({
    summary: 'Console: erase PII (admin role)',
    tags: ['console'],
    responses: { 303: doc.redirect('Erased'), 403: doc.html('CSRF, or the role may not'), 404: doc.html('No such application') },
  }),
);
consoleRoutes.post('/applications/:id/erase-pii', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  assertOperatorMay(session.role, 'pii.erase');
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (!reason) return applicationPage(c, session, id, 'A reason is required.', 400);
  if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
  if (!confirmed(body))
    return confirmPage(c, session, {
      title: 'Erase personal data?',
      message: `The personal data of application ${id} will be erased for good (reason: ${reason}). This cannot be undone.`,
      action: `${base(deps)}/applications/${encodeURIComponent(id)}/erase-pii`,
      fields: { reason },
      confirmLabel: 'Yes, erase',
      cancelHref: `${base(deps)}/applications/${encodeURIComponent(id)}`,
    });
  await eraseApplicantPii(deps, id, session.actor, reason);
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}`, 303);
});

consoleRoutes.post(
  '/applications/:id/credentials/:credentialId/status',
  describeRoute({
    summary: 'Console: revoke, suspend or reinstate a credential of the application (admin role)',
    tags: ['console'],
    responses: {
      303: doc.redirect('Changed'),
      400: doc.html('Invalid change'),
      403: doc.html('CSRF, or the role may not'),
      404: doc.html('No such credential'),
      409: doc.html('Not allowed in this state'),
    },
  }),
);
consoleRoutes.post('/applications/:id/credentials/:credentialId/status', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const id = c.req.param('id');
  const credentialId = c.req.param('credentialId');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  assertOperatorMay(session.role, 'credential.status');
  const action = body.action === 'revoke' || body.action === 'suspend' || body.action === 'reinstate' ? body.action : undefined;
  const reason = typeof body.reason === 'string' ? body.reason.trim().slice(0, 500) : '';
  if (!action) return applicationPage(c, session, id, 'Choose revoke, suspend or reinstate.', 400);
  if (action !== 'reinstate' && !reason) return applicationPage(c, session, id, `A reason is required to ${action}.`, 400);
  // Only a credential issued for this application is changed from its page.
  if (!(await deps.store.issuedCredentials.listForApplication(id)).some((ic) => ic.id === credentialId))
    throw new NotFound('no such credential for this application');
  if (action === 'revoke' && !confirmed(body))
    return confirmPage(c, session, {
      title: 'Revoke this credential?',
      message: `Credential ${credentialId} will be revoked for good (reason: ${reason}). A revoked credential cannot be reinstated.`,
      action: `${base(deps)}/applications/${encodeURIComponent(id)}/credentials/${encodeURIComponent(credentialId)}/status`,
      fields: { action, reason },
      confirmLabel: 'Yes, revoke',
      cancelHref: `${base(deps)}/applications/${encodeURIComponent(id)}`,
    });
  try {
    await changeCredentialStatus(deps, credentialId, action, { reason: reason || undefined, actor: session.actor });
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.status !== 409) throw e;
    return applicationPage(c, session, id, `Not changed: ${e.description}.`, 409);
  }
  await deps.store.audit.record({
    applicationId: id,
    actor: session.actor,
    action: `credential.${action}`,
    detail: { credential_id: credentialId, ...(reason ? { reason } : {}) },
    at: Math.floor(deps.clock() / 1000),
  });
  return c.redirect(`${base(deps)}/applications/${encodeURIComponent(id)}?changed=1`, 303);
});

// Operator accounts (admins): the same use cases as `npm run operators`; a new secret is shown once.
async function operatorsPage(
  c: Context<AppEnv>,
  session: LiveOperatorSession,
  extra: { notice?: string; secret?: { name: string; value: string } } = {},
  status: 200 | 400 | 409 = 200,
) {
  const deps = c.get('deps');
  const b = base(deps);
  if (extra.secret) c.header('Cache-Control', 'no-store');
  return c.html(
    renderOperators(chromeOf(deps, session), {
      backHref: `${b}?status=review`,
      action: `${b}/operators`,
      accounts: (await listOperatorAccounts(deps)).map((a) => ({
        name: a.name,
        role: a.role,
        createdAt: ISO(a.createdAt) ?? '',
        removedAt: ISO(a.disabledAt),
      })),
      firstStart: !session.account,
      ...extra,
    }),
    status,
  );
}

consoleRoutes.get(
  '/operators',
  describeRoute({
    summary: 'Console: operator accounts (admin role)',
    tags: ['console'],
    responses: { 200: doc.html('Accounts'), 303: doc.redirect('To the sign-in page'), 403: doc.html('The role may not') },
  }),
);
consoleRoutes.get('/operators', async (c) => {
  const session = c.get('operatorSession');
  assertOperatorMay(session.role, 'operators.manage');
  return operatorsPage(c, session);
});

consoleRoutes.post(
  '/operators',
  describeRoute({
    summary: 'Console: add, reset or remove an operator account (admin role)',
    tags: ['console'],
    responses: {
      200: doc.html('Done (a new secret is shown once)'),
      303: doc.redirect('Removed'),
      400: doc.html('Invalid'),
      403: doc.html('CSRF, or the role may not'),
      409: doc.html('Name taken'),
    },
  }),
);
consoleRoutes.post('/operators', async (c) => {
  const deps = c.get('deps');
  const session = c.get('operatorSession');
  const { body } = await readFormOrJson(c);
  if (!requireCsrf(session, body.csrf_token)) throw new AccessDenied('invalid CSRF token');
  assertOperatorMay(session.role, 'operators.manage');
  const name = typeof body.name === 'string' ? body.name.trim().toLowerCase() : '';
  if ((body.op === 'reset' || body.op === 'remove') && !confirmed(body))
    return confirmPage(c, session, {
      title: body.op === 'reset' ? `Reset the secret of ${name}?` : `Remove ${name}?`,
      message:
        body.op === 'reset'
          ? `${name}'s secret stops working now and their sessions end; you hand them the new one.`
          : `${name} can no longer sign in and their sessions end. The account's name stays in the audit trail.`,
      action: `${base(deps)}/operators`,
      fields: { op: body.op, name },
      confirmLabel: body.op === 'reset' ? 'Yes, reset the secret' : 'Yes, remove',
      cancelHref: `${base(deps)}/operators`,
    });
  try {
    if (body.op === 'add') {
      const { secret } = await addOperatorAccount(deps, {
        name,
        role: typeof body.role === 'string' ? body.role : '',
        actor: session.actor,
        party: session.party,
      });
      return operatorsPage(c, session, { notice: `Account ${name} added. Hand the secret over now: it is not shown again.`, secret: { name, value: secret } });
    }
    if (body.op === 'reset') {
      const { secret } = await resetOperatorSecret(deps, { name, actor: session.actor, party: session.party });
      return operatorsPage(c, session, { notice: `New secret for ${name}; its sessions ended. It is not shown again.`, secret: { name, value: secret } });
    }
    if (body.op === 'remove') {
      await removeOperatorAccount(deps, { name, actor: session.actor });
      return c.redirect(`${base(deps)}/operators`, 303);
    }
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.status === 403) throw e;
    return operatorsPage(c, session, { notice: `Not done: ${e.description}.` }, e.status === 409 ? 409 : 400);
  }
  return operatorsPage(c, session, { notice: 'Choose add, reset or remove.' }, 400);
});

consoleRoutes.onError(consoleErrorHandler);
