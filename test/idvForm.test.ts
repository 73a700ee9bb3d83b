import { describe, expect, it } from 'vitest';
import { SAMPLE_IDENTITY } from '../src/wallet/flow';
import { makeTestIssuer, testClock } from './helpers/issuer';
import { openApplication } from './helpers/steps';

/** Posts like the webview (form: load the page first for its CSRF cookie and hidden token) or a JSON client. */
async function post(t: Awaited<ReturnType<typeof makeTestIssuer>>, url: string, fields: Record<string, string>, json = false) {
  if (json) {
    return t.fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(fields) });
  }
  const page = await t.fetch(url);
  const html = await page.text();
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
  return t.fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams({ ...(csrf ? { csrf_token: csrf } : {}), ...fields }).toString(),
  });
}

describe('hosted IDV form', () => {
  it('is an accessible HTML page with a label for every field, a CSP and no third-party assets', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const res = await t.fetch(idvRequest.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toMatch(/<html lang="en">/);
    for (const name of ['given_name', 'family_name', 'birthdate', 'country_of_residence', 'document_type', 'document_number']) {
      expect(html).toContain(`<label for="${name}">`);
      expect(html).toMatch(new RegExp(`id="${name}" name="${name}" required`));
    }
    expect(html).toContain(`action="${idvRequest.url}"`);
    expect(html).not.toMatch(/<script/);
    expect(html.match(/(?:src|href)="([^"]+)"/g)!.every((m) => m.includes('http://issuer.test/') || m.includes('#'))).toBe(true);
  });

  it('400 with per-field errors (the form again), then the applicant retries and finishes on finish.html', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    const bad = await post(t, idvRequest.url, { ...SAMPLE_IDENTITY, birthdate: '1990-02-30', country_of_residence: 'XX', document_type: 'library_card', given_name: '<script>' });
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
    const finish = await t.fetch(location);
    expect(finish.status).toBe(200);
    expect(await finish.text()).toContain('You can return to your wallet');
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
    for (const [family, status] of [['Declined', 'rejected'], ['Review', 'review'], ['Doe', 'approved']] as const) {
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
});
