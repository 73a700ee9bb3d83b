import { describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { openApplication } from '../helpers/idvFlow';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';

/**
 * Cookie planting (a sibling subdomain or a plain-http response sets `idv_csrf` in the victim's
 * browser): the form must never adopt a value the server did not make, so the attacker, who
 * knows the planted value, still cannot build a matching hidden field.
 */
describe('hosted form: a planted CSRF cookie', () => {
  it('is not adopted on the form GET, and a POST carrying it with the same field is refused', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(new WalletClient(await Holder.create(), t.fetch), PUBLIC_URL);
    const planted = 'A'.repeat(43);
    const page = await t.app.request(idvRequest.url, { headers: { cookie: `idv_csrf=${planted}` } });
    const html = await page.text();
    const field = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] as string;
    expect(field).not.toBe(planted);
    expect(html).not.toContain(planted);
    const issued = /idv_csrf=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1];
    expect(issued).toBe(field);
    const post = (cookie: string, csrf: string) =>
      t.app.request(idvRequest.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `idv_csrf=${cookie}` },
        body: new URLSearchParams({ ...SAMPLE_IDENTITY, consent: 'accept', csrf_token: csrf }).toString(),
      });
    // The attacker's cross-site form: the planted cookie and the value it knows.
    expect((await post(planted, planted)).status).toBe(403);
    // Another form's genuine value does not carry over either.
    const other = await openApplication(new WalletClient(await Holder.create(), t.fetch), PUBLIC_URL);
    const otherField = /name="csrf_token" value="([^"]+)"/.exec(await (await t.app.request(other.idvRequest.url)).text())?.[1] as string;
    expect((await post(otherField, otherField)).status).toBe(403);
    // The value the server made works.
    expect((await post(field, field)).status).toBe(303);
  });
});
