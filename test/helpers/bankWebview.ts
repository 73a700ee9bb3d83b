import { expect } from 'vitest';
import { signInAtBank } from './bankProvider';

/**
 * The applicant's webview on the issuer's IDV page driven over HTTP (for runs without a
 * browser: PostgreSQL, workerd): the cookies it keeps, choosing "I already bank with … — sign
 * in" (with the page's CSRF token and our Origin), the round trip through the bank
 * (bankProvider.ts signInAtBank), and the callback with the login transaction cookie.
 */
export class Jar {
  readonly cookies = new Map<string, string>();
  keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(only?: string[]) {
    return [...this.cookies]
      .filter(([k]) => !only || only.includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Opens the IDV page, chooses the bank, signs in at the bank as `account` (or cancels) and
 * brings the bank's answer back to the callback; returns the callback's response.
 */
export async function signInThroughIssuer(
  fetchIssuer: Fetch,
  input: { formUrl: string; publicUrl: string; account: string; cancel?: boolean; jar?: Jar },
): Promise<{ page: string; callback: Response; authorizationUrl: string; jar: Jar; back: string; transaction: string | undefined }> {
  const jar = input.jar ?? new Jar();
  const pageRes = await fetchIssuer(input.formUrl, { headers: { cookie: jar.header() } });
  jar.keep(pageRes);
  const page = await pageRes.text();
  expect(pageRes.status).toBe(200);
  const action = /<form method="post" action="([^"]+existing-customer)">/.exec(page)?.[1];
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(page)?.[1];
  expect(action).toBe(`${input.formUrl}/existing-customer`);
  const start = await fetchIssuer(action as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(['idv_csrf']), origin: input.publicUrl },
    body: new URLSearchParams({ csrf_token: csrf as string }).toString(),
    redirect: 'manual',
  });
  jar.keep(start);
  expect(start.status).toBe(303);
  const authorizationUrl = start.headers.get('location') as string;
  const callbackUrl = `${input.publicUrl}/idv/existing-customer/callback`;
  const back = await signInAtBank(authorizationUrl, callbackUrl, input.account, { cancel: input.cancel });
  const transaction = jar.cookies.get('kcc_bank_login');
  const callback = await fetchIssuer(back, { headers: { cookie: jar.header(['kcc_bank_login']) }, redirect: 'manual' });
  jar.keep(callback);
  return { page, callback, authorizationUrl, jar, back, transaction };
}
