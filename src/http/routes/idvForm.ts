import { htmlSecurityHeaders } from '../htmlHeaders';
import { Hono, type Context } from 'hono';
import { ProtocolError } from '../../protocol/errors';
import { handleError } from '../errors';
import { digestSecret } from '../../crypto/hash';
import { validateIdentityFields } from '../../idv/fields';
import { FORM_CSS, renderIdvForm, renderMessagePage } from '../views/idvPages';
import { sandboxDecision, sandboxResult } from '../../idv/sandbox';
import { HOSTED_PROVIDER } from '../../idv/hostedForm';
import { applyResult, startVendorSession } from '../../issuance/identityVerification';
import { checkFormCsrf, issueFormCsrf } from '../csrf';
import { readFormOrJson } from '../body';
import { checksForForm, formFieldsFor } from '../../issuance/presentedCredentials';
import { fieldsForChecks, outcomeForChecks } from '../../idv/checks';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { PATHS, issuerUrls } from '../../paths';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import type { Application, ApplicationPrefill } from '../../store/store';

/**
 * The hosted IDV form (spec "PII collected by PFI": loop until 200; 400 with errors).
 * The application is found by the unguessable token in the URL, never by anything the
 * browser claims. A complete submission ends on `finish.html`, where DIDPay closes its
 * webview; JSON clients get `{ status }`. The wallet learns the decision from the
 * credential endpoint.
 */
export const idvFormRoutes = new Hono<AppEnv>();


// The webview must not leak the form URL (it holds the form token) to anyone.
const htmlHeaders = (c: Context<AppEnv>) => htmlSecurityHeaders(c, 'no-referrer');

function wantsJsonResponse(c: Context<AppEnv>): boolean {
  return (c.req.header('content-type') ?? '').startsWith('application/json') || (c.req.header('accept') ?? '').startsWith('application/json');
}

type FormState = { ok: true; application: Application; prefill: ApplicationPrefill | null } | { ok: false; status: 404 | 410 | 409; title: string; message: string };

async function formState(deps: AppDeps, token: string): Promise<FormState> {
  const found = token.length <= 100 ? await deps.store.applications.findByFormTokenWithPrefill(digestSecret(token)) : undefined;
  if (!found) return { ok: false, status: 404, title: 'Link not valid', message: 'This verification link is not valid. Please start again from your wallet.' };
  const { application } = found;
  if (application.formSubmittedAt != null || application.status !== 'pending') {
    return { ok: false, status: 409, title: 'Already submitted', message: 'Your details were already submitted. You can close this window.' };
  }
  if (application.formExpiresAt <= nowSeconds(deps)) return { ok: false, status: 410, title: 'Link expired', message: 'This verification link has expired. Please start again from your wallet.' };
  return { ok: true, application, prefill: found.prefill };
}

idvFormRoutes.get(PATHS.idvCss, (c) => c.body(FORM_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }));

idvFormRoutes.get(PATHS.idvFinish, (c) => {
  htmlHeaders(c);
  return c.html(renderMessagePage({ title: 'Thank you', message: 'Your details were submitted. You can return to your wallet.', cssHref: issuerUrls(c.get('deps').config.publicUrl).idvCss }));
});

idvFormRoutes.get(PATHS.idvForm, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  const state = await formState(deps, token);
  const urls = issuerUrls(deps.config.publicUrl);
  htmlHeaders(c);
  if (!state.ok) return c.html(renderMessagePage({ title: state.title, message: state.message, cssHref: urls.idvCss }), state.status);
  const vendor = deps.config.idv.provider === HOSTED_PROVIDER ? undefined : deps.idv.vendors.get(deps.config.idv.provider);
  if (vendor) {
    // spec "PII collected by IDV vendor": the webview continues at the vendor's session.
    try {
      return c.redirect(await startVendorSession(deps, vendor, state.application, urls.idvForm(token), urls.idvFinish), 303);
    } catch (e) {
      deps.logger.error('idv_session_failed', { requestId: c.get('requestId'), provider: vendor.name, message: String((e as Error).message).slice(0, 200) });
      return c.html(renderMessagePage({ title: 'Try again later', message: 'Identity verification is unavailable right now. Please try again in a few minutes.', cssHref: urls.idvCss }), 503);
    }
  }
  const csrfToken = issueFormCsrf(c, deps.config.publicUrl);
  const fields = await formFieldsFor(deps, state.application, state.prefill);
  return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, csrfToken, fields }));
});

idvFormRoutes.post(PATHS.idvForm, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  const urls = issuerUrls(deps.config.publicUrl);
  const json = wantsJsonResponse(c);
  htmlHeaders(c);
  enforceRateLimit(deps, 'idv', 'client', token.slice(0, 100));
  const state = await formState(deps, token);
  if (!state.ok) {
    if (json) return c.json({ error: state.status === 404 ? 'not_found' : 'invalid_request', error_description: state.message }, state.status);
    return c.html(renderMessagePage({ title: state.title, message: state.message, cssHref: urls.idvCss }), state.status);
  }
  const { kind, body } = await readFormOrJson(c);
  const csrf = checkFormCsrf(c, deps.config.publicUrl, kind, body.csrf_token);
  if (!csrf.ok) {
    deps.logger.warn('idv_form_csrf_rejected', { requestId: c.get('requestId'), why: csrf.why });
    if (json) return c.json({ error: 'invalid_request', error_description: 'cross-site or stale form submission' }, 403);
    return c.html(renderMessagePage({ title: 'Please try again', message: 'This form could not be accepted. Reload the page and submit it again.', cssHref: urls.idvCss }), 403);
  }
  delete body.csrf_token;
  const today = new Date(deps.clock()).toISOString().slice(0, 10);
  // Only the fields the remaining checks need (issue 8: an upgrade asks only for the extra checks).
  // The checks this application still needs (issue 8), looked up once for both uses below.
  const needed = await checksForForm(deps, state.application, state.prefill);
  const fields = needed ? fieldsForChecks(needed.checks) : undefined;
  const result = validateIdentityFields(body, today, fields);
  if (!result.ok) {
    if (json) return c.json({ error: 'invalid_request', error_description: 'some fields are invalid', errors: result.errors }, 400);
    const values = Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const csrfToken = issueFormCsrf(c, deps.config.publicUrl);
    return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, values, errors: result.errors, csrfToken, fields }), 400);
  }
  // Only the checks the selected tier still needs (issue 8: tiers, presented credentials).
  const decision = sandboxDecision(result.fields);
  const outcome = needed ? outcomeForChecks(decision, result.fields, needed.checks, needed.tier.name) : decision;
  // The sandbox decides; the evidence is what the applied-for tier required (issue 8).
  const idvResult = { ...sandboxResult(result.fields, '', deps.clock()), tier: outcome.tier, evidence: outcome.evidence as { kind: string; checks: string[] }[] };
  // Recorded as applyResult below records it (provider, reason codes), so that it need not write the application again.
  const submitted = { ...outcome, provider: HOSTED_PROVIDER, reason: idvResult.reasonCodes.join(' ') || undefined };
  const application = await deps.store.applications.submitIdv(digestSecret(token), submitted, nowSeconds(deps));
  if (!application) {
    const message = 'Your details were already submitted. You can close this window.';
    if (json) return c.json({ error: 'invalid_request', error_description: message }, 409);
    return c.html(renderMessagePage({ title: 'Already submitted', message, cssHref: urls.idvCss }), 409);
  }
  // PII stays inside the IDV module, sealed (AES-256-GCM); only KCC fields went to `applications`.
  const vault = deps.idv.vault;
  if (vault) {
    await deps.store.pii.store({ applicationId: application.id, keyId: vault.keyId, ciphertext: await vault.seal(application.id, result.fields), createdAt: nowSeconds(deps) });
  }
  await applyResult(deps, {
    applicationId: application.id,
    provider: HOSTED_PROVIDER,
    result: { ...idvResult, vendorReference: application.id },
    eventAt: deps.clock(),
    actor: 'applicant',
    current: application,
  });
  deps.logger.info('idv_submitted', { requestId: c.get('requestId'), applicationId: application.id, status: application.status });
  if (json) return c.json({ status: application.status });
  return c.redirect(urls.idvFinish, 303);
});

/**
 * A refusal on the form pages (unreadable body, wrong content type, rate limit) reaches a
 * browser as an HTML page with the same status and headers: a webview shows no JSON.
 * JSON clients get the usual JSON error.
 */
idvFormRoutes.onError((err, c) => {
  if (!(err instanceof ProtocolError) || wantsJsonResponse(c)) return handleError(err, c);
  htmlHeaders(c);
  const cssHref = issuerUrls(c.get('deps').config.publicUrl).idvCss;
  const res = c.html(renderMessagePage({ title: 'Request not accepted', message: `${err.description}. Please go back and try again.`, cssHref }), err.status as 400);
  for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
  return res;
});
