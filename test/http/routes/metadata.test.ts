import { describe, expect, it } from 'vitest';
import { createIssuerIdentity } from '../../../src/issuer';
import { createNodeCryptoProvider } from '../../../src/runtime/nodeCrypto';
import { PUBLIC_URL, makeIssuerKeys, makeTestIssuer } from '../../helpers/issuer';

/**
 * The discovery documents are serialized once per issuer identity (src/http/routes/metadata.ts):
 * a key reload replaces the identity, and what is served must follow it at once.
 */
describe('discovery documents', () => {
  it('follow a key reload: the DID document and the signing algorithms of the new identity', async () => {
    const t = await makeTestIssuer({ alg: 'EdDSA' });
    const get = async (path: string) => (await t.fetch(`${PUBLIC_URL}${path}`)).json() as Promise<Record<string, any>>;
    const before = await get('/.well-known/did.json');
    expect((await get('/.well-known/did.json')).verificationMethod).toEqual(before.verificationMethod); // served twice, same bytes
    const metadataBefore = await get('/.well-known/openid-credential-issuer');
    const algs = (m: Record<string, any>) => Object.values(m.credential_configurations_supported).map((c: any) => c.credential_signing_alg_values_supported);
    expect(algs(metadataBefore)).toEqual([['EdDSA'], ['EdDSA']]); // jwt_vc_json, then its SD-JWT VC sibling

    // What reloadKeys does in src/runtime/node.ts: a new identity object for the app's deps.
    t.deps.issuer = await createIssuerIdentity(PUBLIC_URL, await makeIssuerKeys('ES256K'), createNodeCryptoProvider());
    const after = await get('/.well-known/did.json');
    expect(after.verificationMethod.map((v: any) => v.publicKeyJwk.crv)).toEqual(['secp256k1']);
    expect(after.verificationMethod).not.toEqual(before.verificationMethod);
    expect(algs(await get('/.well-known/openid-credential-issuer'))).toEqual([['ES256K'], ['ES256K']]);
  });

  it('are public documents under a PUBLIC_URL path too (CORS and caching as at the root)', async () => {
    const t = await makeTestIssuer({ config: { publicUrl: 'http://issuer.test/pfi' } });
    for (const path of ['/.well-known/openid-credential-issuer/pfi', '/.well-known/oauth-authorization-server/pfi', '/pfi/did.json']) {
      const r = await t.fetch(`http://issuer.test${path}`);
      expect({ path, status: r.status, cors: r.headers.get('access-control-allow-origin'), cache: r.headers.get('cache-control') }).toEqual({
        path,
        status: 200,
        cors: '*',
        cache: 'public, max-age=300',
      });
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});
