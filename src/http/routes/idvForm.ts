import { Hono, type Context } from 'hono';
import { negotiateLanguage, messagesFor, type Language } from '../../idv/messages';
import {
  assertFormDecides,
  consentChoices,
  formFieldsOf,
  formVouchedFields,
  openFormLink,
  submitIdentityForm,
  withdrawApplication,
  type OpenForm,
} from '../../issuance/formSubmission';
import { configuredVendor, startVendorSession } from '../../issuance/identityVerification';
import { existingCustomerFormTargets, existingCustomerLogin, finishExistingCustomerLogin, startExistingCustomerLogin } from '../../issuance/existingCustomer';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { PATHS, issuerUrls } from '../../paths';
import { FormSubmissionRefused, InvalidRequest } from '../../protocol/errors';
import { readFormOrJson } from '../body';
import type { AppEnv } from '../context';
import { checkFormCsrf, issueFormCsrf } from '../csrf';
import { formErrorHandler, wantsJsonResponse } from '../errors';
import { htmlSecurityHeaders } from '../htmlHeaders';
import { enforceRateLimit, rateLimitByIp } from '../rateLimit';
import { formCss, renderConsentPage, renderIdvForm, renderMessagePage, renderVerificationChoicePage, type Brand } from '../views/idvPages';
import { requestHeader } from '../headers';
import { describeRoute, doc } from '../openapi';
import { IdvFormBody, IdvFormErrors, IdvFormStatus } from '../apiBodies';

/**
 * The IDV Request's `url` (spec "PII collected by PFI" / "PII collected by IDV vendor"): the
 * hosted form (a consent step, then the identity fields; declining withdraws the application),
 * or a redirect to the configured vendor's webview. Pages are in the applicant's
 * `Accept-Language` (src/idv/messages.ts). A complete submission ends on
 * `finish.html`, where DIDPay closes its webview; JSON clients get `{ status }`. The use cases
 * are src/issuance/formSubmission.ts; refusals are rendered by src/http/errors.ts.
 */
export const idvFormRoutes = new Hono<AppEnv>();

// The webview must not leak the form URL (it holds the form token) to anyone.
const htmlHeaders = (c: Context<AppEnv>) => htmlSecurityHeaders(c, 'no-referrer', c.get('deps').config.clientMetadata.logoUri);

/** The PFI's name and logo shown on every applicant page. */
const brandOf = (c: Context<AppEnv>): Brand => {
  const { clientName, clientMetadata } = c.get('deps').config;
  return { name: clientName, logoUri: clientMetadata.logoUri };
};

idvFormRoutes.get(
  PATHS.idvCss,
  describeRoute({ summary: 'Stylesheet of the form', tags: ['applicant'], responses: { 200: { description: 'CSS', mediaType: 'text/css' } } }),
);
idvFormRoutes.get(PATHS.idvCss, (c) =>
  c.body(formCss(c.get('deps').config.branding.primaryColor), 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }),
);

const languageOf = (c: Context<AppEnv>): Language => negotiateLanguage(requestHeader(c, 'accept-language'));

/**
 * Where the webview ends. DIDPay closes it on any path containing `finish.html`
 * (docs/wallet-behaviour.md), other wallets on one ending in it, so the outcome is a path
 * segment before it: what happens next differs (collect now, or wait for a reviewer).
 */
function finishPage(c: Context<AppEnv>, outcome: 'approved' | 'review' | undefined) {
  htmlHeaders(c);
  c.header('Vary', 'Accept-Language');
  const deps = c.get('deps');
  const lang = languageOf(c);
  const m = messagesFor(lang);
  const [title, message] =
    outcome === 'approved'
      ? [m.finishApprovedTitle, m.finishApprovedMessage(deps.config.clientName)]
      : outcome === 'review'
        ? [m.finishReviewTitle, m.finishReviewMessage(deps.config.clientName, deps.config.reviewExpectedHours)]
        : [m.finishTitle, m.finishMessage];
  return c.html(renderMessagePage({ title, message, cssHref: issuerUrls(deps.config.publicUrl).idvCss, lang, brand: brandOf(c) }));
}

idvFormRoutes.get(
  PATHS.idvFinish,
  describeRoute({ summary: 'Where the wallet closes its webview', tags: ['applicant'], responses: { 200: doc.html('Thank you page') } }),
);
idvFormRoutes.get(PATHS.idvFinish, (c) => finishPage(c, undefined));
idvFormRoutes.get(
  PATHS.idvFinishApproved,
  describeRoute({
    summary: 'Where the wallet closes its webview: verified, the credential is ready',
    tags: ['applicant'],
    responses: { 200: doc.html('Verified page') },
  }),
);
idvFormRoutes.get(PATHS.idvFinishApproved, (c) => finishPage(c, 'approved'));
idvFormRoutes.get(
  PATHS.idvFinishReview,
  describeRoute({
    summary: 'Where the wallet closes its webview: in manual review, with when to expect an answer',
    tags: ['applicant'],
    responses: { 200: doc.html('In review page') },
  }),
);
idvFormRoutes.get(PATHS.idvFinishReview, (c) => finishPage(c, 'review'));

async function consentPage(c: Context<AppEnv>, token: string, form: OpenForm, error = false, notice?: string) {
  const deps = c.get('deps');
  const urls = issuerUrls(deps.config.publicUrl);
  const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
  const bank = existingCustomerLogin(deps);
  // The sign-in's POST redirects to the bank: its origins must be form-action targets of this page.
  if (bank && !notice) htmlSecurityHeaders(c, 'no-referrer', deps.config.clientMetadata.logoUri, await existingCustomerFormTargets(bank));
  return renderConsentPage({
    existingCustomer: bank && !notice ? { bankName: bank.settings.displayName, action: urls.existingCustomerStart(token), csrfToken } : undefined,
    notice,
    action: urls.idvForm(token),
    cssHref: urls.idvCss,
    issuerName: deps.config.clientName,
    lang: languageOf(c),
    csrfToken,
    fields: await formFieldsOf(deps, form),
    retentionDays: deps.config.idv.retentionDays,
    tosUri: deps.config.tosUri,
    policyUri: deps.config.policyUri,
    optionalItems: deps.config.idv.optionalConsents,
    error,
    brand: brandOf(c),
  });
}

idvFormRoutes.get(
  PATHS.idvForm,
  describeRoute({
    summary: 'Hosted IDV form: the consent step (or a redirect to the vendor)',
    tags: ['applicant'],
    responses: {
      200: doc.html('Consent step, or with a vendor and the bank sign-in both on: the choice between them'),
      303: doc.redirect('To the IDV vendor'),
      404: doc.pageOrError('Unknown form link'),
      409: doc.pageOrError('Already submitted'),
      410: doc.pageOrError('Link expired'),
    },
  }),
);
idvFormRoutes.get(PATHS.idvForm, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  const urls = issuerUrls(deps.config.publicUrl);
  htmlHeaders(c);
  const form = await openFormLink(deps, token);
  const vendor = configuredVendor(deps);
  const bank = existingCustomerLogin(deps);
  // The bank's sign-in is offered beside the vendor too: a choice first, unless the applicant chose
  // the vendor or came back from the bank without a KCC-worthy answer (then the vendor, as the regular way).
  if (vendor && bank && c.req.query('via') !== 'vendor' && c.req.query('bank') !== 'fallback') {
    const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
    htmlSecurityHeaders(c, 'no-referrer', deps.config.clientMetadata.logoUri, await existingCustomerFormTargets(bank));
    return c.html(
      renderVerificationChoicePage({
        issuerName: deps.config.clientName,
        bankName: bank.settings.displayName,
        action: urls.existingCustomerStart(token),
        csrfToken,
        vendorHref: `${urls.idvForm(token)}?via=vendor`,
        cssHref: urls.idvCss,
        lang: languageOf(c),
        brand: brandOf(c),
      }),
    );
  }
  if (vendor) {
    // spec "PII collected by IDV vendor": the webview continues at the vendor's session.
    try {
      return c.redirect(await startVendorSession(deps, vendor, form.application, urls.idvForm(token), urls.idvFinish, urls.idvCallback(vendor.name)), 303);
    } catch (e) {
      deps.logger.error('idv_session_failed', { requestId: c.get('requestId'), provider: vendor.name, message: String((e as Error).message).slice(0, 200) });
      return c.html(
        renderMessagePage({
          title: 'Try again later',
          message: 'Identity verification is unavailable right now. Please try again in a few minutes.',
          cssHref: urls.idvCss,
          brand: brandOf(c),
        }),
        503,
      );
    }
  }
  c.header('Vary', 'Accept-Language');
  // The consent step comes first; its "accept" answer (a POST) shows the identity fields.
  // Back from the bank without a KCC-worthy answer: the regular verification, saying why.
  const notice = c.req.query('bank') === 'fallback' ? FALLBACK_NOTICE : undefined;
  return c.html(await consentPage(c, token, form, false, notice));
});

const FALLBACK_NOTICE = 'Your bank could not confirm everything a credential needs. Please verify your identity here instead.';
const TX_COOKIE = 'kcc_bank_login';

/** The login transaction cookie: HttpOnly, SameSite=Lax (the bank returns with a cross-site top-level GET), scoped to the callback. */
function transactionCookieOptions(publicUrl: string, maxAge?: number) {
  const url = new URL(publicUrl);
  return {
    httpOnly: true,
    sameSite: 'Lax' as const,
    secure: url.protocol === 'https:',
    path: `${url.pathname.replace(/\/+$/, '')}${PATHS.existingCustomerCallback}`,
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}

// "I already bank with <PFI> — sign in": CSRF-checked like the form, then off to the bank's login.
idvFormRoutes.post(
  PATHS.existingCustomerStart,
  describeRoute({
    summary: "Existing customers: sign in at the PFI's own login instead of IDV (docs/existing-customers.md); CSRF-checked form post",
    tags: ['applicant'],
    responses: {
      303: doc.redirect("To the bank's authorization endpoint (the login transaction in an HttpOnly cookie)"),
      403: doc.html('Cross-site or stale form submission'),
      404: doc.error('Sign-in with the bank is not configured (EXISTING_CUSTOMER_ISSUER unset)'),
      503: doc.html('The bank cannot be reached'),
    },
  }),
);
idvFormRoutes.post(PATHS.existingCustomerStart, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  const token = c.req.param('token');
  htmlHeaders(c);
  const login = existingCustomerLogin(deps);
  if (!login) return c.notFound();
  enforceRateLimit(deps, 'idv', 'client', token.slice(0, 100));
  const { kind, body } = await readFormOrJson(c);
  const csrf = await checkFormCsrf(c, deps.config.publicUrl, kind, body.csrf_token, { formToken: token, issuerDid: deps.issuer.did });
  if (!csrf.ok || kind !== 'form') {
    deps.logger.warn('existing_customer_csrf_rejected', { requestId: c.get('requestId'), why: csrf.ok ? 'not_a_form' : csrf.why });
    throw new FormSubmissionRefused('cross-site or stale form submission');
  }
  let started: Awaited<ReturnType<typeof startExistingCustomerLogin>>;
  try {
    started = await startExistingCustomerLogin(deps, login, token);
  } catch (e) {
    if (e instanceof Error && e.name === 'BankLoginRejected') {
      deps.logger.error('existing_customer_unavailable', { requestId: c.get('requestId'), message: e.message.slice(0, 200) });
      const urls = issuerUrls(deps.config.publicUrl);
      return c.html(
        renderMessagePage({
          title: 'Try again later',
          message: 'Signing in with your bank is unavailable right now. Go back to verify your identity another way, or try again in a few minutes.',
          cssHref: urls.idvCss,
          brand: brandOf(c),
        }),
        503,
      );
    }
    throw e;
  }
  const seconds = Math.max(1, started.expiresAt - Math.floor(deps.clock() / 1000));
  setCookie(c, TX_COOKIE, started.transaction, transactionCookieOptions(deps.config.publicUrl, seconds));
  return c.redirect(started.authorizationUrl, 303);
});

// The bank sends the browser back here: verified first, then applied through the IDV state machine.
idvFormRoutes.get(
  PATHS.existingCustomerCallback,
  describeRoute({
    summary: "Existing customers: the bank's redirect back (code, state); verified, then applied as the IDV result",
    tags: ['applicant'],
    responses: {
      303: doc.redirect('To the finish page, the regular verification, or the choice page (cancelled)'),
      400: doc.html('Refused: nothing was issued'),
      404: doc.error('Sign-in with the bank is not configured'),
    },
  }),
);
idvFormRoutes.get(PATHS.existingCustomerCallback, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  htmlHeaders(c);
  const login = existingCustomerLogin(deps);
  if (!login) return c.notFound();
  const urls = issuerUrls(deps.config.publicUrl);
  const transaction = getCookie(c, TX_COOKIE);
  // One round trip per transaction: the cookie goes whatever the outcome.
  deleteCookie(c, TX_COOKIE, transactionCookieOptions(deps.config.publicUrl));
  const query = new URL(c.req.url).search;
  const finished = await finishExistingCustomerLogin(deps, login, { callbackUrl: `${urls.existingCustomerCallback}${query}`, transaction });
  deps.logger.info('existing_customer_finished', {
    requestId: c.get('requestId'),
    outcome: finished.kind,
    ...(finished.kind === 'decided' ? { applicationId: finished.application.id, status: finished.status } : {}),
    ...(finished.kind === 'refused' ? { reason: finished.reason } : {}),
  });
  switch (finished.kind) {
    case 'decided':
      return c.redirect(finished.status === 'approved' ? urls.idvFinishApproved : finished.status === 'review' ? urls.idvFinishReview : urls.idvFinish, 303);
    case 'cancelled':
      return finished.formToken ? c.redirect(urls.idvForm(finished.formToken), 303) : c.redirect(urls.idvFinish, 303);
    case 'regular_verification':
      return c.redirect(finished.formToken ? `${urls.idvForm(finished.formToken)}?bank=fallback` : urls.idvFinish, 303);
    case 'refused':
      return c.html(
        renderMessagePage({
          title: 'Sign-in with your bank did not complete',
          message:
            'We could not confirm this sign-in with your bank, so nothing was issued. Go back to the verification page from your wallet to sign in again or to verify your identity another way.',
          cssHref: urls.idvCss,
          brand: brandOf(c),
        }),
        400,
      );
  }
});

idvFormRoutes.post(
  PATHS.idvForm,
  describeRoute({
    summary: 'Hosted IDV form: consent, then the identity fields',
    tags: ['applicant'],
    body: IdvFormBody,
    form: true,
    responses: {
      200: { description: 'JSON: the application status; HTML: the next step or the withdrawn page', json: IdvFormStatus, other: ['text/html'] },
      303: doc.redirect('To finish.html'),
      400: { description: 'Per-field errors (JSON: stable codes), or the form again', json: IdvFormErrors, other: ['text/html'] },
      403: doc.pageOrError('Cross-site or stale submission'),
      404: doc.pageOrError('Unknown form link'),
      409: doc.pageOrError('Already submitted'),
      410: doc.pageOrError('Link expired'),
    },
  }),
);
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
  c.header('Vary', 'Accept-Language');
  const lang = languageOf(c);
  const json = wantsJsonResponse(c);
  if (body.consent === 'decline') {
    const application = await withdrawApplication(deps, form, token);
    deps.logger.info('idv_withdrawn', { requestId: c.get('requestId'), applicationId: application.id });
    if (json) return c.json({ status: application.status });
    const m = messagesFor(lang);
    return c.html(renderMessagePage({ title: m.withdrawnTitle, message: m.withdrawnMessage, cssHref: urls.idvCss, lang, brand: brandOf(c) }));
  }
  if (body.consent !== 'accept') {
    if (json) throw new InvalidRequest('consent is required (consent: accept or decline)', { errors: { consent: 'consent_required' } });
    return c.html(await consentPage(c, token, form, true), 400);
  }
  const consent = consentChoices(deps, body);
  if (body.step === 'consent') {
    // Consent given on the consent step: now the identity fields, carrying the choices along.
    const fields = await formFieldsOf(deps, form);
    const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
    return c.html(
      renderIdvForm({
        action: urls.idvForm(token),
        cssHref: urls.idvCss,
        issuerName: deps.config.clientName,
        lang,
        csrfToken,
        fields,
        vouched: await formVouchedFields(deps, form),
        consentOptional: consent.optional,
        brand: brandOf(c),
      }),
    );
  }
  const submission = await submitIdentityForm(deps, token, form, body, consent);
  if (!submission.ok) {
    if (json) {
      // Stable codes per field for programs, and the messages in the page's language.
      const m = messagesFor(lang);
      const messages = Object.fromEntries(
        Object.entries(submission.errors).map(([name, code]) => [name, m.fieldError(code, m.fieldLabels[name as keyof typeof m.fieldLabels])]),
      );
      throw new InvalidRequest('some fields are invalid', { errors: submission.errors, messages });
    }
    const values = Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const csrfToken = await issueFormCsrf(c, deps.config.publicUrl, token, deps.issuer.did);
    return c.html(
      renderIdvForm({
        action: urls.idvForm(token),
        cssHref: urls.idvCss,
        issuerName: deps.config.clientName,
        lang,
        values,
        errors: submission.errors,
        csrfToken,
        fields: submission.fields,
        vouched: submission.vouched,
        consentOptional: consent.optional,
        brand: brandOf(c),
      }),
      400,
    );
  }
  const { application } = submission;
  deps.logger.info('idv_submitted', { requestId: c.get('requestId'), applicationId: application.id, status: application.status });
  if (json) return c.json({ status: application.status });
  return c.redirect(application.status === 'approved' ? urls.idvFinishApproved : application.status === 'review' ? urls.idvFinishReview : urls.idvFinish, 303);
});

idvFormRoutes.onError(formErrorHandler);
