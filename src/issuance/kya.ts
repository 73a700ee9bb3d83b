import { JwtError, decodeJwt } from '../crypto/jwt';
import { base64urlEncode } from '../crypto/base64url';
import { randomUuid } from '../crypto/random';
import { DidError } from '../did/resolver';
import { nowSeconds } from '../ports/clock';
import { AccessDenied, InvalidNonce, InvalidRequest } from '../protocol/errors';
import { buildKyaTokenClaims, signKyaToken, type KyaTokenRequest, type VerifiedPrincipal } from '../protocol/kya/token';
import { verifyKcc } from '../verifier';
import { PresentationError, verifyPresentationJwt } from '../verifier/verifyPresentation';
import type { PublicJwk } from '../crypto/keys';
import type { IssuanceDeps } from './deps';
import { emitEvent } from './events';
import { issuerAwareResolver, statusListFetcher } from './presentedCredentials';

/**
 * Know Your Agent (seed 002; docs/kya.md): a holder of a live KCC this issuer issued obtains a
 * KYA token for one of their software agents. The PFI is the Identity Verifier `hid.verifier`
 * names: it vouches for the human principal through the KCC, records the agent as described and
 * the address the request came from, and binds the token to the agent's key.
 *
 * Order (ARCHITECTURE.md "Verify, then consume"): the presentation and the KCC are verified
 * first; only then is the issuer nonce consumed (one conditional UPDATE), so a forged
 * presentation cannot burn someone else's nonce; then the token is signed, audited and announced.
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer' | 'resolver' | 'crypto' | 'logger' | 'statusListFetch'>;

export interface MintedKyaToken {
  token: string;
  jti: string;
  expiresAt: number;
  /** The lifetime actually granted, in seconds (shorter than configured when the KCC expires sooner). */
  expiresIn: number;
}

/** The presented KCC, verified: ours, about the presenter, unexpired, neither revoked nor suspended. */
async function verifyPresentedKcc(
  deps: Deps,
  vpToken: string,
): Promise<{ holderDid: string; nonce: string; principal: VerifiedPrincipal; applicationId: string | null; boundAgentKey?: string }> {
  const now = nowSeconds(deps);
  const resolver = issuerAwareResolver(deps);
  let holderDid: string;
  let nonce: string;
  let credentials: unknown;
  let boundAgentKey: unknown;
  try {
    // The holder is whoever signed: the kid's DID, which verifyPresentationJwt then holds iss and vp.holder to.
    const { header, payload } = decodeJwt(vpToken, { maxLength: 64 * 1024 });
    if (typeof header.kid !== 'string' || !header.kid.startsWith('did:'))
      throw new PresentationError('the presentation must be signed by a key of the holder DID (kid a DID URL)');
    if (typeof payload.nonce !== 'string' || payload.nonce.length === 0)
      throw new PresentationError('the presentation has no nonce: get one from the Nonce Endpoint');
    holderDid = header.kid.split('#')[0];
    nonce = payload.nonce;
    const { vp } = await verifyPresentationJwt(vpToken, {
      holderDid,
      nonce,
      // spec: the issuer as audience; its DID (as SIOPv2 uses it) or its URL (as OID4VCI proofs may).
      audience: [deps.issuer.did, deps.config.publicUrl],
      resolver,
      verifier: deps.crypto,
      now,
      skewSeconds: deps.config.clockSkewSeconds,
      maxAgeSeconds: deps.config.proofMaxAgeSeconds,
    });
    credentials = vp.verifiableCredential;
    boundAgentKey = (payload.cnf as { jkt?: unknown } | undefined)?.jkt;
  } catch (e) {
    if (e instanceof JwtError || e instanceof DidError || e instanceof PresentationError) throw new InvalidRequest(`vp_token: ${e.message}`);
    throw e;
  }
  const list = typeof credentials === 'string' ? [credentials] : Array.isArray(credentials) ? credentials : [];
  if (list.length !== 1 || typeof list[0] !== 'string') throw new InvalidRequest('vp_token: the presentation must carry exactly one KCC (jwt_vc_json)');

  const verdict = await verifyKcc(list[0], {
    resolver,
    verifier: deps.crypto,
    now,
    skewSeconds: deps.config.clockSkewSeconds,
    // Only KCCs this issuer issued, decided before any DID is resolved or status list fetched.
    trustedIssuers: [deps.issuer.did],
    refuseUntrustedFirst: true,
    expectedSubject: holderDid,
    fetchStatusList: statusListFetcher(deps),
  });
  if (!verdict.ok) throw new AccessDenied(`the presented KCC cannot mint a KYA token: ${verdict.reasons.join('; ').slice(0, 1000)}`);
  const vc = verdict.vc ?? {};
  const credentialId = typeof vc.id === 'string' ? vc.id : typeof verdict.payload?.jti === 'string' ? (verdict.payload.jti as string) : undefined;
  // The issuer's own record is authoritative (the served status list may lag its cache by a little).
  const record = credentialId ? await deps.store.credentialStatus.get(credentialId) : undefined;
  if (!credentialId || !record) throw new AccessDenied('the presented KCC is not one this issuer has on record');
  if (record.subjectDid !== holderDid) throw new AccessDenied('the presented KCC was issued to another holder');
  if (record.revokedAt != null) throw new AccessDenied('the presented KCC was revoked');
  if (record.suspendedAt != null) throw new AccessDenied('the presented KCC is suspended');
  const kccExp = typeof verdict.payload?.exp === 'number' ? Math.min(verdict.payload.exp, record.expiresAt) : record.expiresAt;
  if (kccExp <= now) throw new AccessDenied('the presented KCC has expired');
  const subject = (Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject) as Record<string, unknown> | undefined;
  const entries = Array.isArray(vc.credentialStatus) ? vc.credentialStatus : vc.credentialStatus !== undefined ? [vc.credentialStatus] : [];
  const issued = await deps.store.issuedCredentials.get(credentialId);
  if (boundAgentKey !== undefined && typeof boundAgentKey !== 'string') throw new InvalidRequest('vp_token: cnf.jkt must be a JWK thumbprint (RFC 7638)');
  return {
    holderDid,
    nonce,
    ...(boundAgentKey !== undefined ? { boundAgentKey: boundAgentKey as string } : {}),
    applicationId: issued?.applicationId ?? null,
    principal: {
      credentialId,
      credentialStatus: entries,
      credentialExpiresAt: kccExp,
      ...(typeof subject?.countryOfResidence === 'string' ? { countryOfResidence: subject.countryOfResidence } : {}),
      ...(typeof subject?.tier === 'string' ? { tier: subject.tier } : {}),
    },
  };
}

/** RFC 7638 thumbprint of the agent key: names it in the audit and the event without the key itself. */
function jwkThumbprint(deps: Pick<Deps, 'crypto'>, jwk: PublicJwk): string {
  const canonical =
    jwk.kty === 'OKP' ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }) : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64urlEncode(deps.crypto.sha256(canonical));
}

/**
 * Mints a KYA token for the agent the request describes, if the presentation proves control of a
 * live KCC this issuer issued. `creationIp` is the address of this very request, as the runtime
 * sees it (the socket, or the trusted proxy's hop: AppDeps.clientAddress), never a value the
 * holder sent.
 */
export async function mintKyaToken(deps: Deps, input: { request: KyaTokenRequest; creationIp: string }): Promise<MintedKyaToken> {
  const { holderDid, nonce, principal, applicationId, boundAgentKey } = await verifyPresentedKcc(deps, input.request.vpToken);
  const thumbprint = jwkThumbprint(deps, input.request.agentJwk);
  // A presentation that names the agent key (cnf.jkt) cannot be used for another agent by whoever relays it.
  if (boundAgentKey !== undefined && boundAgentKey !== thumbprint)
    throw new InvalidRequest('vp_token: the presentation is bound to another agent key (cnf.jkt is not the thumbprint of cnf.jwk)');
  const now = nowSeconds(deps);
  // Verified; now the nonce, once: a replayed or stale presentation stops here.
  if (!(await deps.store.nonces.consume(nonce, now)))
    throw new InvalidNonce('the presentation nonce is unknown, expired or already used: get a fresh one from the Nonce Endpoint');
  const jti = randomUuid();
  const claims = buildKyaTokenClaims({
    issuerDid: deps.issuer.did,
    verifierUrl: deps.config.publicUrl,
    request: input.request,
    principal,
    creationIp: input.creationIp,
    now,
    lifetimeSeconds: deps.config.kya.tokenLifetimeMinutes * 60,
    jti,
  });
  const token = await signKyaToken(deps.issuer.signer, claims);
  // Who, which KCC, which agent key (by thumbprint): never the key, the token or the address.
  const record = {
    jti,
    credential_id: principal.credentialId,
    agent_name: claims.aid.name,
    agent_key_thumbprint: thumbprint,
    ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
    disclosed: input.request.hidClaims,
    expires_at: claims.exp,
  };
  await deps.store.audit.record({ applicationId, actor: 'holder', action: 'kya.token_minted', detail: record, at: now });
  await emitEvent(deps, 'kya.token_minted', jti, { ...record, application_id: applicationId, holder_did: holderDid });
  deps.logger.info('kya_token_minted', { jti, credentialId: principal.credentialId });
  return { token, jti, expiresAt: claims.exp, expiresIn: claims.exp - now };
}
