import { Hono, type Context } from 'hono';
import { digestSecret } from '../../crypto/hash';
import { validateIdentityFields } from '../../idv/fields';
import { FORM_CSS, renderIdvForm, renderMessagePage } from '../../idv/pages';
import { sandboxDecision } from '../../idv/sandbox';
import { readFormOrJson } from '../body';
import { formFieldsFor, idvOutcomeForApplication } from '../presentedCredentials';
import { nowSeconds, type AppDeps, type AppEnv } from '../context';
import { PATHS, issuerUrls } from '../paths';

/**
 * The hosted IDV form (spec "PII collected by PFI": loop until 200; 400 with errors).
 * The application is found by the unguessable token in the URL, never by anything the
 * browser claims. A complete submission ends on `finish.html`, where DIDPay closes its
 * webview; JSON clients get `{ status }`. The wallet learns the decision from the
 * credential endpoint.
 */
export const idvFormRoutes = new Hono<AppEnv>();

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function htmlHeaders(c: Context<AppEnv>) {
  c.header('Content-Security-Policy', CSP);
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Frame-Options', 'DENY');
}

function wantsJsonResponse(c: Context<AppEnv>): boolean {
  return (c.req.header('content-type') ?? '').startsWith('application/json') || (c.req.header('accept') ?? '').startsWith('application/json');
}

type FormState = { ok: true } | { ok: false; status: 404 | 410 | 409; title: string; message: string };

async function formState(deps: AppDeps, token: string): Promise<FormState> {
  const application = token.length <= 100 ? await deps.store.applications.findByFormToken(digestSecret(token)) : undefined;
  if (!application) return { ok: false, status: 404, title: 'Link not valid', message: 'This verification link is not valid. Please start again from your wallet.' };
  if (application.formSubmittedAt != null || application.status !== 'pending') {
    return { ok: false, status: 409, title: 'Already submitted', message: 'Your details were already submitted. You can close this window.' };
  }
  if (application.formExpiresAt <= nowSeconds(deps)) return { ok: false, status: 410, title: 'Link expired', message: 'This verification link has expired. Please start again from your wallet.' };
  return { ok: true };
}

idvFormRoutes.get(PATHS.idvCss, (c) => c.body(FORM_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }));

idvFormRoutes.get(PATHS.idvFinish, (c) => {
  htmlHeaders(c);
  return c.html(renderMessagePage({ title: 'Thank you', message: 'Your details were submitted. You can return to your wallet.', cssHref: issuerUrls(c.var.deps.config.publicUrl).idvCss }));
});

idvFormRoutes.get(PATHS.idvForm, async (c) => {
  const deps = c.var.deps;
  const token = c.req.param('token');
  const state = await formState(deps, token);
  const urls = issuerUrls(deps.config.publicUrl);
  htmlHeaders(c);
  if (!state.ok) return c.html(renderMessagePage({ title: state.title, message: state.message, cssHref: urls.idvCss }), state.status);
  const fields = await formFieldsFor(deps, digestSecret(token));
  return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, fields }));
});

idvFormRoutes.post(PATHS.idvForm, async (c) => {
  const deps = c.var.deps;
  const token = c.req.param('token');
  const urls = issuerUrls(deps.config.publicUrl);
  const json = wantsJsonResponse(c);
  htmlHeaders(c);
  const state = await formState(deps, token);
  if (!state.ok) {
    if (json) return c.json({ error: state.status === 404 ? 'not_found' : 'invalid_request', error_description: state.message }, state.status);
    return c.html(renderMessagePage({ title: state.title, message: state.message, cssHref: urls.idvCss }), state.status);
  }
  const { body } = await readFormOrJson(c);
  const today = new Date(deps.clock()).toISOString().slice(0, 10);
  // Only the fields the remaining checks need (issue 8: an upgrade asks only for the extra checks).
  const fields = await formFieldsFor(deps, digestSecret(token));
  const result = validateIdentityFields(body, today, fields);
  if (!result.ok) {
    if (json) return c.json({ error: 'invalid_request', error_description: 'some fields are invalid', errors: result.errors }, 400);
    const values = Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    return c.html(renderIdvForm({ action: urls.idvForm(token), cssHref: urls.idvCss, issuerName: deps.config.clientName, values, errors: result.errors, fields }), 400);
  }
  // Only the checks the selected tier still needs (issue 8: tiers, presented credentials).
  const outcome = await idvOutcomeForApplication(deps, digestSecret(token), sandboxDecision(result.fields, deps.config.credential.defaultTier), result.fields);
  const application = await deps.store.applications.submitIdv(digestSecret(token), outcome, nowSeconds(deps));
  if (!application) {
    const message = 'Your details were already submitted. You can close this window.';
    if (json) return c.json({ error: 'invalid_request', error_description: message }, 409);
    return c.html(renderMessagePage({ title: 'Already submitted', message, cssHref: urls.idvCss }), 409);
  }
  deps.logger.info('idv_submitted', { requestId: c.var.requestId, applicationId: application.id, status: application.status });
  if (json) return c.json({ status: application.status });
  return c.redirect(urls.idvFinish, 303);
});
