import { describe, expect, it } from 'vitest';
import { PRE_AUTH_GRANT } from '../helpers/application';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/** RFC 6749 §5.2 error headers on the token endpoint; RFC 8414 §2 authorization server metadata. */
describe('token endpoint errors', () => {
  it('carry Cache-Control: no-store and Pragma: no-cache, as successes do', async () => {
    const t = await makeTestIssuer();
    const token = (body: string, type = 'application/x-www-form-urlencoded') =>
      t.app.request(`${PUBLIC_URL}/oauth2/token`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const res of [
      await token(new URLSearchParams({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': 'never-issued' }).toString()), // invalid_grant
      await token(new URLSearchParams({ grant_type: 'authorization_code', code: 'x' }).toString()), // unsupported_grant_type
      await token('{not json', 'application/json'), // invalid_request
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(((await res.json()) as { error: string }).error).toEqual(expect.any(String));
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
    }
  });
});

describe('authorization server metadata', () => {
  it('response_types_supported is not empty and names only what this server processes', async () => {
    const t = await makeTestIssuer();
    const md = (await (await t.app.request(`${PUBLIC_URL}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(md.response_types_supported).toEqual(['id_token']);
    expect(md.authorization_endpoint).toBeUndefined(); // so no `code`
    expect(md.grant_types_supported).toEqual([PRE_AUTH_GRANT]);
  });
});
