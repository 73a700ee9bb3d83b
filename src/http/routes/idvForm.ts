import { Hono, type Context } from 'hono';
import { assertFormDecides, formFieldsOf, openFormLink, submitIdentityForm } from '../../issuance/formSubmission';
import { configuredVendor, startVendorSession } from '../../issuance/identityVerification';
import { PATHS, issuerUrls } from '../../paths';
import { FormSubmissionRefused } from '../../protocol/errors';
import { readFormOrJson } from '../body';
import type { AppEnv } from '../context';
import { checkFormCsrf, issueFormCsrf } from '../csrf';
import { formErrorHandler, wantsJsonResponse } from '../errors';
import { htmlSecurityHeaders } from '../htmlHeaders';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { FORM_CSS, renderIdvForm, renderMessagePage } from '../views/idvPages';

/**
 * The IDV Request's `url` (spec "PII collected by PFI" / "PII collected by IDV vendor"): the
 * hosted form, or a redirect to the configured vendor's webview. A complete submission ends on
 * `finish.html`, where DIDPay closes its webview; JSON clients get `{ status }`. The use cases
 * are src/issuance/formSubmission.ts; refusals are rendered by src/http/errors.ts.
 */
export const idvFormRoutes = new Hono<AppEnv>();

// The webview must not leak the form URL (it holds the form token) to anyone.
const htmlHeaders = (c: Context<AppEnv>) => htmlSecurityHeaders(c, 'no-referrer');

idvFormRoutes.get(PATHS.idvCss, (c) => c.body(FORM_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }));

idvFormRoutes.get(PATHS.idvFinish, (c) => {
  htmlHeaders(c);
  return c.html(renderMessagePage({ title: 'Thank you', message: 'Your details were submitted. You can return to your wallet.', cssHref: issuerUrls(c.get('deps').config.publicUrl).idvCss }));
});

idvFormRoutes.get(PATHS.idvForm, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  const urls = issuerUrls(deps.config.publicUrl);
  htmlHeaders(c);
  const form = await openFormLink(deps, token);
  const vendor = configuredVendor(deps);
  if (vendor) {
    // spec "PII collected by IDV vendor": the webview continues at the vendor's session.
    try {
      return c.redirect(await startVendorSession(deps, vendor, form.application, urls.idvForm(token), urls.idvFinish), 303);
    } catch (e) {
      deps.logger.error('idv_session_failed', { requestId: c.get('requestId'), provider: vendor.name, message: String((e as Error).message).slice(0, 200) });
      return c.html(renderMessagePage({ title: 'Try again later', message: 'Identity verification is unavailable right now. Please try again in a few minutes.', cssHref: urls.idvCss }), 503);
    }
  }
  const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
  const fields = await formFieldsOf(deps, form);
  return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, csrfToken, fields }));
});

idvFormRoutes.post(PATHS.idvForm, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  const urls = issuerUrls(deps.config.publicUrl);
  htmlHeaders(c);
  enforceRateLimit(deps, 'idv', 'client', token.slice(0, 100));
  // With a vendor configured, nothing posted here decides: refused before the body is read.
  assertFormDecides(deps);
  const form = await openFormLink(deps, token);
  const { kind, body } = await readFormOrJson(c);
  const csrf = await checkFormCsrf(c, deps.config.publicUrl, kind, body.csrf_token, { formToken: token, issuerDid: deps.issuer.did });
  if (!csrf.ok) {
    deps.logger.warn('idv_form_csrf_rejected', { requestId: c.get('requestId'), why: csrf.why });
    throw new FormSubmissionRefused('cross-site or stale form submission');
  }
  delete body.csrf_token;
  const submission = await submitIdentityForm(deps, token, form, body);
  if (!submission.ok) {
    if (wantsJsonResponse(c)) return c.json({ error: 'invalid_request', error_description: 'some fields are invalid', errors: submission.errors }, 400);
    const values = Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
    return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, values, errors: submission.errors, csrfToken, fields: submission.fields }), 400);
  }
  const { application } = submission;
  deps.logger.info('idv_submitted', { requestId: c.get('requestId'), applicationId: application.id, status: application.status });
  if (wantsJsonResponse(c)) return c.json({ status: application.status });
  return c.redirect(urls.idvFinish, 303);
});

idvFormRoutes.onError(formErrorHandler);
