import { describe, expect, it } from 'vitest';
import { SAMPLE_IDENTITY } from '../../../src/wallet/flow';
import { makeTestIssuer, testClock } from '../../helpers/issuer';
import { credentialRequest, deferredRequest, openApplication, proofBody, redeem } from '../../helpers/steps';

/** Posts like the webview (form: load the page first for its CSRF cookie and hidden token) or a JSON client; consent given unless `fields` says otherwise. */
async function post(
  t: Awaited<ReturnType<typeof makeTestIssuer>>,
  url: string,
  given: Record<string, string>,
  json = false,
  headers: Record<string, string> = {},
) {
  const fields = { consent: 'accept', ...given };
  if (json) {
    return t.fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(fields),
    });
  }
  const page = await t.fetch(url);
  const html = await page.text();
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
  return t.fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}), ...headers },
    body: new URLSearchParams({ ...(csrf ? { csrf_token: csrf } : {}), ...fields }).toString(),
  });
}

describe('hosted IDV form', () => {
  it('is an accessible HTML page with a label for every field, a CSP and no third-party assets', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const consent = await t.fetch(idvRequest.url);
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('name="consent" value="accept"');
    // Accepting on the consent step shows the identity fields.
    const res = await post(t, idvRequest.url, { step: 'consent' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toMatch(/<html lang="en">/);
    for (const name of ['given_name', 'family_name', 'country_of_residence', 'document_type', 'document_number']) {
      expect(html).toContain(`<label for="${name}">`);
      expect(html).toMatch(new RegExp(`id="${name}" name="${name}" required`));
    }
    // Date of birth: a labelled group of day, month and year, the hint an example of what to type.
    expect(html).toContain('<legend>Date of birth</legend>');
    expect(html).toContain('For example, 27 3 1990');
    for (const [id, name, label] of [
      ['birthdate', 'birthdate_day', 'Day'],
      ['birthdate_month', 'birthdate_month', 'Month'],
      ['birthdate_year', 'birthdate_year', 'Year'],
    ]) {
      expect(html).toContain(`<label for="${id}">${label}</label>`);
      expect(html).toMatch(new RegExp(`inputmode="numeric" id="${id}" name="${name}" required`));
    }
    expect(html).not.toContain('type="date"');
    // Country of residence is a list of country names, not a code to type.
    expect(html).toContain('<select id="country_of_residence"');
    expect(html).toContain('<option value="GB">United Kingdom</option>');
    expect(html).toContain('name="consent" value="accept"');
    expect(html).toContain(`action="${idvRequest.url}"`);
    expect(html).not.toMatch(/<script/);
    expect(html.match(/(?:src|href)="([^"]+)"/g)!.every((m) => m.includes('http://issuer.test/') || m.includes('#'))).toBe(true);
  });

  it('400 with per-field errors (the form again), then the applicant retries and finishes on finish.html', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const bad = await post(t, idvRequest.url, {
      ...SAMPLE_IDENTITY,
      birthdate: '1990-02-30',
      country_of_residence: 'XX',
      document_type: 'library_card',
      given_name: '<script>',
    });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('id="birthdate-error"');
    expect(html).toContain('id="country_of_residence-error"');
    expect(html).toContain('id="document_type-error"');
    expect(html).toContain('id="given_name-error"');
    expect(html).not.toContain('<script>'); // values are escaped when echoed back
    expect(html).toContain('aria-invalid="true"');
    expect(html).toContain('value="Doe"'); // valid values are kept
    const ok = await post(t, idvRequest.url, SAMPLE_IDENTITY);
    expect(ok.status).toBe(303);
    const location = ok.headers.get('location')!;
    expect(new URL(location).pathname).toMatch(/finish\.html$/);
    expect(new URL(location).pathname).toBe('/idv/approved/finish.html');
    const finish = await t.fetch(location);
    expect(finish.status).toBe(200);
    expect(await finish.text()).toContain('Return to your wallet to receive your Known Customer Credential');
  });

  it('takes the date of birth as day, month and year; the summary lists errors in form order', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const { birthdate: _, ...rest } = SAMPLE_IDENTITY;
    // Errors in reverse form order in the body: the summary still follows the form.
    const bad = await post(t, idvRequest.url, {
      ...rest,
      document_number: '',
      birthdate_day: '31',
      birthdate_month: '2',
      birthdate_year: '1990',
      given_name: '',
    });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    const summary = html.slice(html.indexOf('id="error-summary"'), html.indexOf('</ul>'));
    expect(summary).toContain('autofocus');
    expect([...summary.matchAll(/href="#(\w+)"/g)].map((m) => m[1])).toEqual(['given_name', 'birthdate', 'document_number']);
    expect(html).toContain('Date of birth must be a real date');
    // What was typed is kept.
    expect(html).toMatch(/id="birthdate" name="birthdate_day"[^>]* value="31"/);
    expect(html).toMatch(/id="birthdate_year" name="birthdate_year"[^>]* value="1990"/);
    const ok = await post(t, idvRequest.url, { ...rest, birthdate_day: '7', birthdate_month: '03', birthdate_year: '1990' });
    expect(ok.status).toBe(303);
  });

  it('tells an applicant sent to manual review when to expect an answer', async () => {
    const t = await makeTestIssuer({ config: { reviewExpectedHours: 72 } });
    const { idvRequest } = await openApplication(t);
    const ok = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, family_name: 'Review' });
    expect(ok.status).toBe(303);
    const location = ok.headers.get('location')!;
    expect(new URL(location).pathname).toBe('/idv/review/finish.html');
    const page = await (await t.fetch(location)).text();
    expect(page).toContain('We are checking your details');
    expect(page).toContain('within 3 days');
    const declined = await openApplication(t);
    const no = await post(t, declined.idvRequest.url, { ...SAMPLE_IDENTITY, family_name: 'Declined' });
    expect(new URL(no.headers.get('location')!).pathname).toBe('/idv/finish.html');
  });

  it("shows the PFI's name, logo and colour (CSP allows the logo's origin)", async () => {
    const t = await makeTestIssuer({
      config: { clientName: 'Acme Bank', clientMetadata: { logoUri: 'https://cdn.acme.example/logo.svg' }, branding: { primaryColor: '#7A1F5C' } },
    });
    const { idvRequest } = await openApplication(t);
    const res = await post(t, idvRequest.url, { step: 'consent' });
    const html = await res.text();
    expect(html).toContain('<header class="brand"><img src="https://cdn.acme.example/logo.svg" alt="" height="32"><span>Acme Bank</span></header>');
    expect(res.headers.get('content-security-policy')).toContain("img-src 'self' https://cdn.acme.example;");
    const css = await (await t.fetch(`${new URL(idvRequest.url).origin}/idv/form.css`)).text();
    expect(css).toContain('background:#7a1f5c');
    expect(css).not.toContain('#1d4ed8');
    await expect(makeTestIssuer({ config: { branding: { primaryColor: '#ffcc00' } } })).rejects.toThrow(
      /BRAND_PRIMARY_COLOR #ffcc00: white text on it has contrast 1\.\d:1/,
    );
  });

  it('JSON clients get per-field errors and then { status }', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const bad = await post(t, idvRequest.url, { given_name: 'A' }, true);
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as any;
    expect(body.error).toBe('invalid_request');
    expect(Object.keys(body.errors).sort()).toEqual(['birthdate', 'country_of_residence', 'document_number', 'document_type', 'family_name']);
    const ok = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, family_name: 'Review' }, true);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'review' });
  });

  it('refuses a second submission, unknown tokens and expired links', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const { idvRequest } = await openApplication(t);
    expect((await post(t, idvRequest.url, SAMPLE_IDENTITY)).status).toBe(303);
    const again = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, family_name: 'Someone' });
    expect(again.status).toBe(409);
    expect((await t.fetch(idvRequest.url)).status).toBe(409);
    expect((await t.fetch('http://issuer.test/idv/form/not-a-token')).status).toBe(404);
    const second = await openApplication(t);
    clock.advance(61 * 60);
    expect((await t.fetch(second.idvRequest.url)).status).toBe(410);
    expect((await post(t, second.idvRequest.url, SAMPLE_IDENTITY)).status).toBe(410);
  });

  it('sandbox decisions follow the documented test values', async () => {
    const t = await makeTestIssuer();
    for (const [family, status] of [
      ['Declined', 'rejected'],
      ['Review', 'review'],
      ['Doe', 'approved'],
    ] as const) {
      const { idvRequest } = await openApplication(t);
      const r = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, family_name: family }, true);
      expect(await r.json()).toEqual({ status });
    }
  });

  it('keeps no PII in clear anywhere in the database: applications hold only what the KCC needs', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    expect((await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, given_name: 'Quintessa', document_number: 'ZZ7766554' })).status).toBe(303);
    const applications = JSON.stringify(t.sqlite.prepare('SELECT * FROM applications').all());
    expect(applications).toContain('"country_of_residence":"US"');
    const tables = (t.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    const everything = tables.map((name) => JSON.stringify(t.sqlite.prepare(`SELECT * FROM "${name}"`).all())).join('\n');
    for (const secret of ['Quintessa', SAMPLE_IDENTITY.birthdate, 'ZZ7766554']) {
      expect(applications).not.toContain(secret);
      expect(everything).not.toContain(secret); // sealed with AES-256-GCM where it is kept at all
    }
  });

  it('the consent step says what is collected, what the credential holds, how long data is kept, who the PFI is, with its links and optional items', async () => {
    const t = await makeTestIssuer({
      config: {
        clientName: 'Example Bank',
        tosUri: 'https://bank.example/terms',
        policyUri: 'https://bank.example/privacy',
        idv: {
          retentionDays: 14,
          optionalConsents: [
            { id: 'marketing', text: 'Send me product news' },
            { id: 'research', text: 'Use my application for research' },
          ],
        },
      },
    });
    const { idvRequest } = await openApplication(t);
    const html = await (await t.fetch(idvRequest.url)).text();
    expect(html).toContain('Example Bank');
    expect(html).toContain('deleted 14 days after the decision');
    expect(html).toContain('Only your country of residence, the credential tier and the kinds of checks');
    expect(html).toContain('<li>Document number</li>');
    expect(html).toContain('href="https://bank.example/terms"');
    expect(html).toContain('href="https://bank.example/privacy"');
    expect(html).toContain('<input type="checkbox" id="consent_marketing" name="consent_marketing" value="on">');
    expect(html).toContain('<label for="consent_research">Use my application for research</label>');
    expect(html).not.toContain('name="given_name"'); // no personal data before consent
    // The ticked item travels with the form to the submission and is recorded (ids and time, no PII).
    const form = await post(t, idvRequest.url, { step: 'consent', consent_marketing: 'on' });
    expect(await form.text()).toContain('<input type="hidden" name="consent_marketing" value="on">');
    expect((await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, consent_marketing: 'on' })).status).toBe(303);
    const audit = t.sqlite.prepare("SELECT actor, action, detail, at FROM audit_log WHERE action LIKE 'consent.%'").all() as {
      actor: string;
      action: string;
      detail: string;
      at: number;
    }[];
    expect(audit).toEqual([{ actor: 'applicant', action: 'consent.given', detail: JSON.stringify({ optional: ['marketing'] }), at: expect.any(Number) }]);
  });

  it('a submission without consent is refused: the consent step again, or consent_required for JSON', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const html = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, consent: '' });
    expect(html.status).toBe(400);
    expect(await html.text()).toContain('Please agree to continue');
    const json = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, consent: 'maybe' }, true);
    expect(json.status).toBe(400);
    expect(((await json.json()) as any).errors).toEqual({ consent: 'consent_required' });
    expect(t.sqlite.prepare('SELECT COUNT(*) AS n FROM idv_pii').get()).toEqual({ n: 0 });
  });

  it('declining consent withdraws the application: no credential, credential_request_denied for the credential and deferred requests, application.withdrawn for the PFI', async () => {
    const t = await makeTestIssuer();
    const { holder, idvRequest, code } = await openApplication(t);
    const token = await redeem(t, holder, code);
    const pending = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce!));
    expect(pending.status).toBe(202);
    const declined = await post(t, idvRequest.url, { consent: 'decline' });
    expect(declined.status).toBe(200);
    expect(await declined.text()).toContain('Application withdrawn');
    // The link is used up: neither a submission nor another answer is taken.
    expect((await post(t, idvRequest.url, SAMPLE_IDENTITY)).status).toBe(409);
    const application = t.sqlite.prepare('SELECT id, status, decided_by, decision_reason FROM applications').get() as Record<string, string>;
    expect(application).toMatchObject({ status: 'withdrawn', decided_by: 'applicant', decision_reason: 'consent_declined' });
    const deferred = await deferredRequest(t, token.access_token, pending.body.transaction_id);
    expect(deferred.status).toBe(400);
    expect(deferred.body.error).toBe('credential_request_denied');
    const nonce = (await t.fetch('http://issuer.test/oid4vci/nonce', { method: 'POST' }).then((r) => r.json())) as { c_nonce: string };
    const again = await credentialRequest(t, token.access_token, await proofBody(holder, nonce.c_nonce));
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('credential_request_denied');
    const events = (t.sqlite.prepare('SELECT type, body FROM outbox_events').all() as { type: string; body: string }[]).filter(
      (e) => e.type === 'application.withdrawn',
    );
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0].body).data).toMatchObject({ application_id: application.id, status: 'withdrawn', reason: 'consent_declined' });
    const audit = t.sqlite.prepare("SELECT actor, action FROM audit_log WHERE action = 'consent.declined'").all();
    expect(audit).toEqual([{ actor: 'applicant', action: 'consent.declined' }]);
    expect(t.sqlite.prepare('SELECT COUNT(*) AS n FROM idv_pii').get()).toEqual({ n: 0 });
    expect(t.sqlite.prepare('SELECT COUNT(*) AS n FROM issued_credentials').get()).toEqual({ n: 0 });
  });

  it("speaks the applicant's language (Accept-Language): labels, country names and server-side errors; JSON keeps stable codes", async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const de = { 'accept-language': 'fr-CH, de;q=0.9, en;q=0.8' };
    const consent = await t.fetch(idvRequest.url, { headers: de });
    expect(consent.headers.get('vary')).toContain('Accept-Language');
    const consentHtml = await consent.text();
    expect(consentHtml).toContain('<html lang="de">');
    expect(consentHtml).toContain('Ich stimme zu, weiter');
    const form = await (await post(t, idvRequest.url, { step: 'consent' }, false, de)).text();
    expect(form).toContain('<label for="country_of_residence">Wohnsitzland</label>');
    expect(form).toContain('<option value="GB">Vereinigtes Königreich</option>');
    expect(form).toContain('<option value="DE">Deutschland</option>');
    const bad = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, birthdate: '2999-01-01', country_of_residence: 'XX' }, false, de);
    const badHtml = await bad.text();
    expect(badHtml).toContain('Es gibt 2 Probleme');
    expect(badHtml).toContain('Geburtsdatum darf nicht in der Zukunft liegen');
    const json = await t.fetch(idvRequest.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'accept-language': 'de' },
      body: JSON.stringify({ ...SAMPLE_IDENTITY, consent: 'accept', birthdate: '2999-01-01', country_of_residence: 'XX' }),
    });
    const body = (await json.json()) as any;
    expect(body.errors).toEqual({ birthdate: 'date_in_future', country_of_residence: 'unknown_country' });
    expect(body.messages.birthdate).toBe('Geburtsdatum darf nicht in der Zukunft liegen');
    // English by default and for unsupported languages.
    const en = await (await t.fetch(idvRequest.url, { headers: { 'accept-language': 'ja' } })).text();
    expect(en).toContain('<html lang="en">');
  });
});
