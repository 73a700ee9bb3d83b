import { utf8 } from '../crypto/base64url';
import { digestSecret } from '../crypto/hash';
import { randomToken, timeOrderedUuid } from '../crypto/random';
import { timingSafeEqual } from '../crypto/timingSafeEqual';
import { nowSeconds } from '../ports/clock';
import { InvalidGrant, InvalidToken, ProtocolError } from '../protocol/errors';
import { bearerToken, issueAccessToken, verifyAccessToken } from '../protocol/oid4vci/accessToken';
import type { AccessTokenRecord, PreAuthorizedCode, RedeemedCode } from '../store/types';
import type { IssuanceDeps } from './deps';
import { assertPresentedCredentialsStillValid } from './presentedCredentials';

/**
 * The OAuth grant between an approved offer and a credential (spec "Token Endpoint"; OID4VCI
 * draft 13 §6, 1.0 §6): the pre-authorized code redeemed once by the DID it was bound to, the
 * at+jwt access token with its first c_nonce, and the nonces proofs must carry.
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer' | 'logger' | 'crypto'>;

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  c_nonce: string;
  c_nonce_expires_in: number;
}

/**
 * The Token Endpoint's use case, top to bottom: redeem the code once for the DID it was issued
 * to (`clientId`, or the bound DID when the wallet sent none: OID4VCI 1.0 §6.1) → decide (an
 * application that relied on presented credentials is refused once one of them was revoked,
 * suspended or expired since; the code is spent all the same) → grant the access token with its
 * first c_nonce (one commit) → the token response.
 */
export async function redeemPreAuthorizedCode(
  deps: Deps & Pick<IssuanceDeps, 'resolver' | 'crypto' | 'statusListFetch' | 'presentedFetch'>,
  input: { preAuthorizedCode: string; clientId: string | undefined },
): Promise<{ applicationId: string; token: TokenResponse }> {
  const code = await redeemCodeOnce(deps, input);
  try {
    // The redemption read the application's presented credentials with the code (null: no prefill).
    const problem = await assertPresentedCredentialsStillValid(
      deps,
      code.applicationId,
      code.presentedCredentials && { presentedCredentials: code.presentedCredentials },
    );
    if (problem) throw new InvalidGrant(`a credential presented for this application is no longer valid: ${problem}`);
    return { applicationId: code.applicationId, token: await grantAccessToken(deps, code) };
  } catch (e) {
    // A refusal spends the code; a failure (the database, the signer) before the token was
    // recorded gives it back, so the wallet's retry works instead of answering invalid_grant.
    if (!(e instanceof ProtocolError) && code.consumedAt != null) {
      const givenBack = await deps.store.preAuthorizedCodes.giveBack(code.codeHash, code.consumedAt).catch(() => false);
      deps.logger.warn('token_request_failed', { applicationId: code.applicationId, codeGivenBack: givenBack });
    }
    throw e;
  }
}

/**
 * Consumes the code by one conditional UPDATE, bound to its DID. A replayed code may mean it
 * leaked: the tokens issued from it are revoked (RFC 6749 §4.1.2).
 */
async function redeemCodeOnce(deps: Deps, input: { preAuthorizedCode: string; clientId: string | undefined }): Promise<RedeemedCode> {
  const now = nowSeconds(deps);
  const codeHash = digestSecret(deps.crypto, input.preAuthorizedCode);
  const code =
    input.clientId === undefined
      ? await deps.store.preAuthorizedCodes.redeemBound(codeHash, now)
      : await deps.store.preAuthorizedCodes.redeem(codeHash, input.clientId, now);
  if (code) return code;
  const existing = await deps.store.preAuthorizedCodes.get(codeHash);
  if (existing?.consumedAt != null) {
    const revoked = await deps.store.accessTokens.revokeByCode(codeHash, now);
    deps.logger.warn('pre_authorized_code_replayed', { applicationId: existing.applicationId, revokedTokens: revoked });
  }
  throw new InvalidGrant('pre-authorized_code is invalid, expired, already used, or was issued to another client');
}

async function grantAccessToken(deps: Deps, code: Pick<PreAuthorizedCode, 'codeHash' | 'applicationId' | 'applicantDid'>): Promise<TokenResponse> {
  const now = nowSeconds(deps);
  const { ttl } = deps.config;
  const jti = timeOrderedUuid(deps.clock());
  const cNonce = randomToken(deps.crypto);
  const accessToken = await issueAccessToken(deps.issuer.signer, {
    iss: deps.issuer.did,
    aud: deps.issuer.did,
    sub: code.applicantDid,
    client_id: code.applicantDid,
    iat: now,
    exp: now + ttl.accessToken,
    jti,
    c_nonce: cNonce,
    c_nonce_expiry: now + ttl.cNonce,
  });
  await deps.store.accessTokens.createWithCNonce(
    {
      jti,
      applicationId: code.applicationId,
      applicantDid: code.applicantDid,
      codeHash: code.codeHash,
      expiresAt: now + ttl.accessToken,
      tokenSha256: digestSecret(deps.crypto, accessToken),
    },
    { nonce: cNonce, accessTokenJti: jti, expiresAt: now + ttl.cNonce },
  );
  return { access_token: accessToken, token_type: 'bearer', expires_in: ttl.accessToken, c_nonce: cNonce, c_nonce_expires_in: ttl.cNonce };
}

/** Verifies the bearer access token and returns its grant record (not revoked, not expired). */
export async function authenticateAccessToken(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'issuer' | 'crypto'>,
  authorization: string | undefined,
): Promise<AccessTokenRecord> {
  // The record is read once: it says whether these exact bytes were issued (their digest was kept
  // at issuance), which stands for a second Ed25519 verification of our own signature
  // (docs/performance.md), and it is the grant checked below.
  let recorded: AccessTokenRecord | undefined;
  const claims = await verifyAccessToken({
    token: bearerToken(authorization),
    issuerDid: deps.issuer.did,
    issuerKeys: deps.issuer.keysByKid,
    verifier: deps.crypto,
    now: nowSeconds(deps),
    recordedAsIssued: async (jti, token) => {
      recorded = await deps.store.accessTokens.get(jti);
      const digest = recorded?.tokenSha256;
      return typeof digest === 'string' && timingSafeEqual(utf8.encode(digestSecret(deps.crypto, token)), utf8.encode(digest));
    },
  });
  const record = recorded?.jti === claims.jti ? recorded : await deps.store.accessTokens.get(claims.jti);
  if (!record || record.revokedAt != null || record.applicantDid !== claims.sub) throw new InvalidToken('access token is revoked or unknown');
  return record;
}

/** A fresh c_nonce bound to the access token (returned with invalid_proof, OID4VCI draft 13 §7.3.2). */
export async function freshCNonce(deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto'>, accessTokenJti: string) {
  const now = nowSeconds(deps);
  const nonce = randomToken(deps.crypto);
  await deps.store.cNonces.create({ nonce, accessTokenJti, expiresAt: now + deps.config.ttl.cNonce });
  return { c_nonce: nonce, c_nonce_expires_in: deps.config.ttl.cNonce };
}

/** A c_nonce from the Nonce Endpoint (OID4VCI 1.0 §7): unbound, single use, short-lived. */
export async function freshUnboundNonce(deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto'>): Promise<string> {
  const now = nowSeconds(deps);
  const nonce = randomToken(deps.crypto);
  await deps.store.nonces.create({ nonce, expiresAt: now + deps.config.ttl.cNonce });
  return nonce;
}

/**
 * Consumes the nonce of a verified proof, once: a c_nonce bound to this access token (token
 * response or draft-13 error response), else a Nonce Endpoint nonce. False if it is neither.
 */
export async function consumeProofNonce(deps: Pick<IssuanceDeps, 'store' | 'clock'>, nonce: string, accessTokenJti: string): Promise<boolean> {
  const now = nowSeconds(deps);
  if (await deps.store.cNonces.consume(nonce, accessTokenJti, now)) return true;
  return (await deps.store.nonces.consume(nonce, now)) !== undefined;
}
