import { OP, PassBy, ResponseMode, SupportedVersion, type CreateJwtCallback, type VerifyJwtCallback } from '@sphereon/did-auth-siop';
import { verifyJWT } from 'did-jwt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signJwt } from '../../src/crypto/jwt';
import { Holder } from '../../src/wallet/holder';
import { loopbackDidWebResolver, startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';

/**
 * Sphereon's @sphereon/did-auth-siop 0.19.0 as the SIOPv2 OP (the wallet side): it parses the
 * initiation response, verifies our signed request object (its JWT callback resolves our did:web
 * over loopback and checks the signature with did-jwt), builds its own ID token and posts it
 * (direct_post) to our response_uri. Only the signature of that token is ours to give.
 */
let issuer: HttpIssuer;

beforeAll(async () => {
  issuer = await startHttpIssuer();
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(async () => {
  vi.restoreAllMocks();
  await issuer?.close();
});

function opFor(holder: Holder, verified: string[]) {
  const verifyJwtCallback: VerifyJwtCallback = async (verifier, jwt) => {
    expect(verifier.method).toBe('did');
    // did-jwt resolves the kid's DID (our did:web, over loopback) and checks the signature.
    const result = await verifyJWT(jwt.raw, { resolver: loopbackDidWebResolver(), policies: { aud: false } });
    verified.push(result.issuer);
    return result.verified;
  };
  const createJwtCallback: CreateJwtCallback = async (_issuer, jwt) => {
    const payload = { ...jwt.payload } as Record<string, unknown>;
    // Client bug (0.19.0): createIDTokenPayload sets iat to Date.now()/1000 - 60 * 1000, i.e.
    // 60,000 s (almost 17 h) in the past instead of 60 s. Only that is corrected, to the 60 s meant.
    if (typeof payload.iat === 'number') {
      expect(Math.floor(Date.now() / 1000) - payload.iat).toBeGreaterThanOrEqual(59_990);
      payload.iat += 60 * 1000 - 60;
    }
    const { alg: _alg, kid: _kid, ...header } = jwt.header as Record<string, unknown>;
    return signJwt(holder.signer, payload, header);
  };
  return OP.builder()
    .withExpiresIn(300)
    .withResponseMode(ResponseMode.DIRECT_POST)
    .withSupportedVersions([SupportedVersion.SIOPv2_D12_OID4VP_D18, SupportedVersion.SIOPv2_D12_OID4VP_D20])
    .withCreateJwtCallback(createJwtCallback)
    .withVerifyJwtCallback(verifyJwtCallback)
    .withRegistration({ passBy: PassBy.VALUE, subject_syntax_types_supported: ['did:jwk'], idTokenSigningAlgValuesSupported: ['EdDSA'] } as never)
    .build();
}

describe('Sphereon did-auth-siop 0.19.0 as the SIOPv2 OP', () => {
  it('verifies the signed request object against our did:web and answers with its own ID token', async () => {
    const holder = await Holder.create();
    const verified: string[] = [];
    const op = opFor(holder, verified);
    const didDoc = (await (await fetch(`${issuer.url}/.well-known/did.json`)).json()) as { id: string; service: { type: string; serviceEndpoint: string }[] };
    const initiate = didDoc.service.find((s) => s.type === 'IDV')!.serviceEndpoint;
    const uri = `openid://?${await (await fetch(initiate)).text()}`;

    // Not vacuous: the same request object with its nonce changed fails the library's verification.
    const params = new URLSearchParams(uri.slice('openid://?'.length));
    const [h, p, sig] = params.get('request')!.split('.');
    const tampered = { ...JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')), nonce: 'forged' };
    params.set('request', `${h}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${sig}`);
    params.set('nonce', 'forged');
    await expect(op.verifyAuthorizationRequest(`openid://?${params}`)).rejects.toThrow(/signature/i);
    expect(verified).toEqual([]);

    const request = await op.verifyAuthorizationRequest(uri);
    expect(verified).toContain(didDoc.id);
    expect(request.issuer).toBe(didDoc.id);
    // Self-issued (SIOPv2 §11): iss = sub = the DID; the library needs it named for versions after ID1.
    const response = await op.createAuthorizationResponse(request, { issuer: holder.did, jwtIssuer: { method: 'did', didUrl: holder.kid, alg: 'EdDSA' } });
    const idToken = response.response.payload.id_token as string;
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      iss: holder.did,
      sub: holder.did,
      aud: didDoc.id,
      nonce: (await request.authorizationRequest.getMergedProperty<string>('nonce'))!,
    });

    const res = await op.submitAuthorizationResponse(response);
    const body = (await res.json()) as { url?: string; credential_offer?: { credential_issuer: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.url).toMatch(new RegExp(`^${issuer.url}/idv/form/`));
    expect(body.credential_offer?.credential_issuer).toBe(issuer.url);
    // What went on the wire: a form post (direct_post) with the library's id_token.
    const posted = issuer.requests.filter((r) => r.path === '/idv/siopv2/response').at(-1)!;
    expect(posted.contentType).toContain('application/x-www-form-urlencoded');
    expect(new URLSearchParams(posted.body).get('id_token')).toBe(idToken);

    // The nonce is single-use: the same response again is refused.
    await expect(op.submitAuthorizationResponse(response)).rejects.toThrow(/invalid_request.*nonce is unknown, expired or already used/);
  });
});
