import { describe, expect, it } from 'vitest';
import { makeTestIssuer } from '../helpers/issuer';
import { PRE_AUTH, openApplication } from '../helpers/steps';

describe('HTTP security headers', () => {
  it('nosniff and a request id everywhere; HSTS only when served over https', async () => {
    const http = await makeTestIssuer();
    const a = await http.fetch('http://issuer.test/.well-known/openid-credential-issuer');
    expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    expect(a.headers.get('x-request-id')).toMatch(/^[\w.-]+$/);
    expect(a.headers.get('strict-transport-security')).toBeNull();
    const https = await makeTestIssuer({ config: { publicUrl: 'https://pfi.example' } });
    const b = await https.fetch('https://pfi.example/.well-known/openid-credential-issuer');
    expect(b.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    // A caller's request id is echoed only in a safe form.
    const c = await http.fetch('http://issuer.test/healthz', { headers: { 'x-request-id': 'abc<script> X: y' } });
    expect(c.headers.get('x-request-id')).toBe('abcscriptXy');
  });

  it('CSP, no-store and frame denial on HTML pages', async () => {
    const t = await makeTestIssuer();
    const { idvRequest } = await openApplication(t);
    for (const url of [idvRequest.url, 'http://issuer.test/idv/finish.html']) {
      const r = await t.fetch(url);
      expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('no-store on every token, credential and error response; CORS only on public documents', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const token = await t.fetch('http://issuer.test/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did }),
    });
    expect(token.headers.get('cache-control')).toBe('no-store');
    expect(token.headers.get('access-control-allow-origin')).toBeNull();
    const err = await t.fetch('http://issuer.test/oid4vci/credential', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(err.headers.get('cache-control')).toBe('no-store');
    for (const path of [
      '/.well-known/openid-credential-issuer',
      '/.well-known/oauth-authorization-server',
      '/.well-known/did.json',
      '/schemas/kcc.schema.json',
    ]) {
      const r = await t.fetch(`http://issuer.test${path}`);
      expect({ path, cors: r.headers.get('access-control-allow-origin') }).toEqual({ path, cors: '*' });
    }
  });
});
