import { Openid4vciClient, Openid4vciVersion } from '@openid4vc/openid4vci';
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { credentialConfigurations, sdJwtCredentialConfigurations } from '../../src/issuance/credentialConfigurations';
import { resolveConfig } from '../../src/config';
import {
  InvalidCredentialRequest,
  InvalidEncryptionParameters,
  InvalidProof,
  ProtocolError,
  UnknownCredentialConfiguration,
  UnsupportedCredentialFormat,
} from '../../src/protocol/errors';
import { parseCredentialRequest, parseDeferredCredentialRequest, type CredentialRequestOptions } from '../../src/protocol/oid4vci/credentialRequest';
import { buildAuthorizationServerMetadata, buildCredentialIssuerMetadata } from '../../src/protocol/oid4vci/metadata';
import { checkResponseEncryptionKey, encryptCredentialResponse, parseCredentialResponseEncryption } from '../../src/protocol/oid4vci/responseEncryption';
import { defaultVct, resolveSdJwtVcSettings } from '../../src/protocol/sdJwtVc/settings';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';

/**
 * OID4VCI 1.0 pieces of the SD-JWT VC work, pure: credential requests with several proofs
 * (batch), with `credential_response_encryption`, for the dc+sd-jwt configurations; the
 * encrypted response (a JWE the wallet decrypts with jose); the metadata that offers them.
 * Without the options, requests parse exactly as before.
 */
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln';
const VCT = defaultVct(PUBLIC_URL);
const SD = [{ id: 'kcc_sd_jwt', vct: VCT }];
const OFFERED: CredentialRequestOptions = { configurationIds: ['kcc'], sdJwtConfigurations: SD, batchSize: 5 };

function refusal(f: () => unknown): { error: string; description: string; type: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return { error: e.error, description: e.description, type: e.constructor.name };
    throw e;
  }
  throw new Error('no refusal');
}

async function walletKey(crv: 'P-256' | 'X25519' = 'P-256') {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv, extractable: true });
  return { jwk: { ...(await exportJWK(publicKey)), alg: 'ECDH-ES', use: 'enc', kid: `wallet-${crv}` }, privateKey };
}

describe('credential requests for SD-JWT VC configurations, batches', () => {
  it('proofs.jwt with up to batch_size proofs gives one proof per credential; more is refused', () => {
    const five = parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', proofs: { jwt: Array(5).fill(JWT) } }, OFFERED);
    expect(five).toMatchObject({ profile: 'v1', configurationId: 'kcc_sd_jwt', format: 'dc+sd-jwt', proofJwt: JWT });
    expect(five.proofJwts).toHaveLength(5);
    expect(refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', proofs: { jwt: Array(6).fill(JWT) } }, OFFERED))).toMatchObject({
      type: InvalidCredentialRequest.name,
      description: 'proofs.jwt holds 6 proofs; batch_size is 5',
    });
    expect(refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', proofs: { jwt: [JWT, 7] } }, OFFERED)).type).toBe(
      InvalidProof.name,
    );
    // format and vct beside the configuration id must agree with it.
    expect(
      parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', format: 'vc+sd-jwt', vct: VCT, proof: { proof_type: 'jwt', jwt: JWT } }, OFFERED)
        .format,
    ).toBe('dc+sd-jwt');
    expect(
      refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', format: 'jwt_vc_json', proofs: { jwt: [JWT] } }, OFFERED)).type,
    ).toBe(InvalidCredentialRequest.name);
    expect(refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', vct: 'urn:other', proofs: { jwt: [JWT] } }, OFFERED)).type).toBe(
      InvalidCredentialRequest.name,
    );
  });

  it('jwt_vc_json stays one proof, one KCC; without the SD-JWT options nothing changes', () => {
    expect(refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc', proofs: { jwt: [JWT, JWT] } }, OFFERED)).description).toBe(
      'batch issuance is not supported: send exactly one proof',
    );
    expect(parseCredentialRequest({ credential_configuration_id: 'kcc', proofs: { jwt: [JWT] } }, OFFERED)).toMatchObject({
      format: 'jwt_vc_json',
      proofJwts: [JWT],
    });
    // As before this work: an SD-JWT VC id is unknown, a batch refused, a vc+sd-jwt format unsupported.
    expect(
      refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', proofs: { jwt: [JWT] } }, { configurationIds: ['kcc'] })).type,
    ).toBe(UnknownCredentialConfiguration.name);
    expect(
      refusal(() => parseCredentialRequest({ credential_configuration_id: 'kcc', proofs: { jwt: [JWT, JWT] } }, { configurationIds: ['kcc'], batchSize: 5 }))
        .description,
    ).toBe('batch issuance is not supported: send exactly one proof');
    expect(
      refusal(() => parseCredentialRequest({ format: 'vc+sd-jwt', vct: VCT, proof: { proof_type: 'jwt', jwt: JWT } }, { configurationIds: ['kcc'] })).type,
    ).toBe(UnsupportedCredentialFormat.name);
    // credential_response_encryption is ignored unless the caller parses it.
    const ignored = parseCredentialRequest({
      format: 'jwt_vc_json',
      proof: { proof_type: 'jwt', jwt: JWT },
      credential_response_encryption: { jwk: {}, enc: 'nope' },
    });
    expect(ignored).toEqual({ proofJwt: JWT, proofJwts: [JWT], profile: 'draft13', format: 'jwt_vc_json' });
  });

  it('a draft-13 wallet asks for vc+sd-jwt by vct', () => {
    // The application's tier picks the configuration, as for jwt_vc_json: the request names no id.
    expect(parseCredentialRequest({ format: 'vc+sd-jwt', vct: VCT, proof: { proof_type: 'jwt', jwt: JWT } }, OFFERED)).toEqual({
      proofJwt: JWT,
      proofJwts: [JWT],
      profile: 'draft13',
      format: 'vc+sd-jwt',
    });
    expect(refusal(() => parseCredentialRequest({ format: 'vc+sd-jwt', vct: 'urn:other', proof: { proof_type: 'jwt', jwt: JWT } }, OFFERED)).error).toBe(
      'unsupported_credential_type',
    );
    expect(refusal(() => parseCredentialRequest({ format: 'vc+sd-jwt', proof: { proof_type: 'jwt', jwt: JWT } }, OFFERED)).error).toBe(
      'invalid_credential_request',
    );
  });
});

describe('encrypted credential responses', () => {
  it('parses credential_response_encryption (alg in the JWK as in 1.0, or beside it as oid4vc-ts sends it) and the JWE decrypts with the wallet key', async () => {
    for (const crv of ['P-256', 'X25519'] as const) {
      for (const enc of ['A128GCM', 'A256GCM'] as const) {
        const { jwk, privateKey } = await walletKey(crv);
        const request = parseCredentialRequest(
          {
            credential_configuration_id: 'kcc_sd_jwt',
            proofs: { jwt: [JWT] },
            credential_response_encryption: crv === 'P-256' ? { jwk, enc } : { jwk: { ...jwk, alg: undefined }, alg: 'ECDH-ES', enc },
          },
          { ...OFFERED, responseEncryption: { required: false } },
        );
        expect(request.responseEncryption).toMatchObject({ alg: 'ECDH-ES', enc });
        expect(request.responseEncryption?.jwk).not.toHaveProperty('d');
        await checkResponseEncryptionKey(request.responseEncryption!);
        const body = { credentials: [{ credential: 'eyJ...~' }], notification_id: 'n1' };
        const jwe = await encryptCredentialResponse(request.responseEncryption!, body);
        expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'ECDH-ES', enc, kid: `wallet-${crv}` });
        const { plaintext } = await compactDecrypt(jwe, privateKey);
        expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual(body);
      }
    }
  });

  it('the deferred request carries it too', async () => {
    const { jwk, privateKey } = await walletKey();
    const request = parseDeferredCredentialRequest(
      { transaction_id: 'tx-1', credential_response_encryption: { jwk, enc: 'A256GCM' } },
      { responseEncryption: { required: true } },
    );
    expect(request.transactionId).toBe('tx-1');
    const jwe = await encryptCredentialResponse(request.responseEncryption!, { credentials: [{ credential: 'x' }] });
    expect(JSON.parse(new TextDecoder().decode((await compactDecrypt(jwe, privateKey)).plaintext))).toEqual({ credentials: [{ credential: 'x' }] });
    expect(refusal(() => parseDeferredCredentialRequest({ transaction_id: 'tx-1' }, { responseEncryption: { required: true } })).error).toBe(
      'invalid_encryption_parameters',
    );
    expect(parseDeferredCredentialRequest({ transaction_id: 'tx-1', credential_response_encryption: 'junk' })).toEqual({ transactionId: 'tx-1' });
    expect(refusal(() => parseDeferredCredentialRequest({})).error).toBe('invalid_transaction_id');
  });

  it('refuses unsupported or invalid parameters with invalid_encryption_parameters, and a missing one when encryption is required', async () => {
    const { jwk } = await walletKey();
    const bad: [string, unknown][] = [
      ['not an object', 'x'],
      ['no jwk', { enc: 'A128GCM' }],
      ['a private key', { jwk: { ...jwk, d: 'AAAA' }, enc: 'A128GCM' }],
      ['an RSA key', { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB', alg: 'RSA-OAEP-256' }, enc: 'A128GCM' }],
      ['a signing key', { jwk: { ...jwk, use: 'sig' }, enc: 'A128GCM' }],
      ['key wrapping', { jwk: { ...jwk, alg: 'ECDH-ES+A128KW' }, enc: 'A128GCM' }],
      ['alg disagreeing with jwk.alg', { jwk, alg: 'ECDH-ES+A256KW', enc: 'A128GCM' }],
      ['no alg', { jwk: { ...jwk, alg: undefined }, enc: 'A128GCM' }],
      ['CBC', { jwk, enc: 'A128CBC-HS256' }],
      ['no enc', { jwk }],
      ['compression', { jwk, enc: 'A128GCM', zip: 'DEF' }],
    ];
    for (const [why, value] of bad) {
      expect(
        refusal(() => parseCredentialResponseEncryption(value)),
        why,
      ).toMatchObject({ error: 'invalid_encryption_parameters', type: InvalidEncryptionParameters.name });
    }
    // Well-formed, but not a point on P-256: refused before anything would be issued.
    const offCurve = parseCredentialResponseEncryption({ jwk: { ...jwk, y: jwk.x }, enc: 'A128GCM' });
    await expect(checkResponseEncryptionKey(offCurve)).rejects.toBeInstanceOf(InvalidEncryptionParameters);
    expect(
      refusal(() =>
        parseCredentialRequest({ credential_configuration_id: 'kcc_sd_jwt', proofs: { jwt: [JWT] } }, { ...OFFERED, responseEncryption: { required: true } }),
      ),
    ).toMatchObject({
      error: 'invalid_encryption_parameters',
      description: 'this issuer requires credential_response_encryption',
    });
  });
});

describe('metadata for SD-JWT VC', () => {
  it('offers a dc+sd-jwt configuration beside each tier, credential_response_encryption and batch_credential_issuance', () => {
    const config = resolveConfig({ publicUrl: 'https://pfi.example' });
    const registry = credentialConfigurations(config);
    const settings = resolveSdJwtVcSettings(config.publicUrl, { offered: true });
    const sdJwt = sdJwtCredentialConfigurations(registry, settings.vct);
    expect(sdJwt.map((c) => [c.id, c.jwtVcJsonId])).toEqual(registry.all.map((c) => [`${c.id}_sd_jwt`, c.id]));
    const endpoints = { credentialIssuer: 'https://pfi.example', tokenEndpoint: 't', credentialEndpoint: 'c', deferredCredentialEndpoint: 'd' };
    const base = { endpoints, displayName: 'PFI', credentialSigningAlgs: ['EdDSA'], configurations: registry.all };
    const metadata = buildCredentialIssuerMetadata({
      ...base,
      sdJwt: { configurations: sdJwt, signingAlgs: ['ES256'], batchSize: settings.batchSize, encryptionRequired: settings.encryptionRequired },
    }) as Record<string, any>;
    expect(metadata.credential_response_encryption).toEqual({
      alg_values_supported: ['ECDH-ES'],
      enc_values_supported: ['A128GCM', 'A256GCM'],
      encryption_required: false,
    });
    expect(metadata.batch_credential_issuance).toEqual({ batch_size: 5 });
    const ids = Object.keys(metadata.credential_configurations_supported);
    expect(ids).toEqual([...registry.all.map((c) => c.id), ...sdJwt.map((c) => c.id)]);
    const sd = metadata.credential_configurations_supported[sdJwt[0].id];
    expect(sd).toMatchObject({ format: 'dc+sd-jwt', vct: 'https://pfi.example/vct/known-customer-credential', scope: sdJwt[0].id });
    expect(sd.cryptographic_binding_methods_supported).toEqual(['jwk', 'did:web', 'did:jwk', 'did:dht']);
    expect(sd.proof_types_supported.jwt.proof_signing_alg_values_supported).toEqual(['EdDSA', 'ES256K', 'ES256']);
    // The SD-JWT VC's own signing algorithm (SDJWT_VC_SIGNING_ALG); jwt_vc_json keeps the KCC's.
    expect(sd.credential_signing_alg_values_supported).toEqual(['ES256']);
    expect(metadata.credential_configurations_supported[registry.all[0].id].credential_signing_alg_values_supported).toEqual(['EdDSA']);
    expect(sd.credential_metadata.claims.map((c: { path: string[] }) => c.path[0])).toEqual(['countryOfResidence', 'tier', 'jurisdiction', 'evidence', 'sub']);
    // Without the option the document is what it always was.
    const plain = buildCredentialIssuerMetadata(base) as Record<string, any>;
    expect(plain).not.toHaveProperty('credential_response_encryption');
    expect(plain).not.toHaveProperty('batch_credential_issuance');
    expect(Object.keys(plain.credential_configurations_supported)).toEqual(registry.all.map((c) => c.id));
    expect(() => resolveSdJwtVcSettings(config.publicUrl, { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('oid4vc-ts (OWF @openid4vc/openid4vci) reads the SD-JWT VC metadata as OID4VCI 1.0', async () => {
    const issuer = 'https://pfi.example';
    const config = resolveConfig({ publicUrl: issuer });
    const registry = credentialConfigurations(config);
    const sdJwt = sdJwtCredentialConfigurations(registry, defaultVct(issuer));
    const endpoints = {
      credentialIssuer: issuer,
      tokenEndpoint: `${issuer}/oauth2/token`,
      credentialEndpoint: `${issuer}/oid4vci/credential`,
      deferredCredentialEndpoint: `${issuer}/oid4vci/deferred-credential`,
      nonceEndpoint: `${issuer}/oid4vci/nonce`,
    };
    const documents: Record<string, unknown> = {
      [`${issuer}/.well-known/openid-credential-issuer`]: buildCredentialIssuerMetadata({
        endpoints,
        displayName: 'PFI',
        credentialSigningAlgs: ['EdDSA'],
        configurations: registry.all,
        sdJwt: { configurations: sdJwt, signingAlgs: ['EdDSA'], batchSize: 5, encryptionRequired: true },
      }),
      [`${issuer}/.well-known/oauth-authorization-server`]: buildAuthorizationServerMetadata({ issuer, tokenEndpoint: endpoints.tokenEndpoint }),
    };
    const fetch = (async (input: string | URL | Request) => {
      const url = String(input instanceof Request ? input.url : input);
      return url in documents ? Response.json(documents[url]) : new Response('{}', { status: 404, headers: { 'content-type': 'application/json' } });
    }) as typeof globalThis.fetch;
    const client = new Openid4vciClient({
      callbacks: {
        fetch,
        hash: () => new Uint8Array(),
        generateRandom: () => new Uint8Array(),
        signJwt: async () => {
          throw new Error('unused');
        },
        clientAuthentication: () => undefined,
      } as never,
    });
    const metadata = await client.resolveIssuerMetadata(issuer);
    expect(metadata.originalDraftVersion).toBe(Openid4vciVersion.V1);
    expect(metadata.credentialIssuer.batch_credential_issuance).toEqual({ batch_size: 5 });
    expect(metadata.credentialIssuer.credential_response_encryption).toMatchObject({ encryption_required: true, enc_values_supported: ['A128GCM', 'A256GCM'] });
    expect(metadata.credentialIssuer.credential_configurations_supported[sdJwt[0].id]).toMatchObject({ format: 'dc+sd-jwt', vct: defaultVct(issuer) });
  });

  it('the served metadata offers SD-JWT VC beside each tier only when SDJWT_VC_OFFERED is true (the default); Type Metadata and JWT VC Issuer Metadata are served', async () => {
    const off = await makeTestIssuer({ config: { sdJwtVc: { offered: false } } });
    const plain = (await (await off.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as Record<string, any>;
    expect(plain).not.toHaveProperty('credential_response_encryption');
    expect(plain).not.toHaveProperty('batch_credential_issuance');
    expect(plain).not.toHaveProperty('credentials_supported');
    expect(Object.values(plain.credential_configurations_supported).map((c: any) => c.format)).toEqual(off.deps.config.tiers.map(() => 'jwt_vc_json'));
    const t = await makeTestIssuer();
    const metadata = (await (await t.fetch(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as Record<string, any>;
    expect(metadata.credential_response_encryption).toMatchObject({ encryption_required: false });
    expect(metadata.batch_credential_issuance).toEqual({ batch_size: 5 });
    expect(Object.keys(metadata.credential_configurations_supported)).toEqual(t.deps.config.tiers.flatMap((tier) => [tier.id, `${tier.id}_sd_jwt`]));
    const typeMetadata = (await (await t.fetch(VCT)).json()) as Record<string, any>;
    expect(typeMetadata).toMatchObject({ vct: VCT, name: 'Known Customer Credential' });
    expect(typeMetadata.claims.every((c: { sd: string }) => c.sd === 'always')).toBe(true);
    const issuer = (await (await t.fetch(`${PUBLIC_URL}/.well-known/jwt-vc-issuer`)).json()) as Record<string, any>;
    expect(issuer).toEqual({
      issuer: PUBLIC_URL,
      jwks: { keys: t.deps.issuer.publishedKeys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: 'EdDSA', use: 'sig' })) },
    });
  });

  it('with a path in PUBLIC_URL the JWT VC Issuer Metadata is at the host well-known, path appended', async () => {
    const t = await makeTestIssuer({ config: { publicUrl: 'http://issuer.test/tenant' } });
    const res = await t.fetch('http://issuer.test/.well-known/jwt-vc-issuer/tenant');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { issuer: string }).issuer).toBe('http://issuer.test/tenant');
    expect((await t.fetch('http://issuer.test/tenant/token-status/1')).status).toBe(404);
  });
});
