import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { nowSeconds } from '../../ports/clock';
import { decodeTokenStatusList, tokenStatusAt } from '../../protocol/tokenStatusList';
import { checkCredentialStatus } from '../verifyCredential';
import type { PresentedStatusReference, PresentedVerificationDeps } from './result';

const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Why a credential presented earlier is no longer good, or undefined: it expired, or its issuer
 * revoked or suspended it since (IETF Token Status List for SD-JWT VCs, verified with the key
 * that signed the credential; Bitstring Status List for jwt_vc_json, signed by the issuer DID).
 * mdocs carry no status here (ISO 18013-5 first edition): expiry only. For the re-check when an
 * application relying on the credential is redeemed, as src/issuance/presentedCredentials.ts does
 * for KCCs.
 */
export async function presentedCredentialRecheckProblem(
  reference: PresentedStatusReference,
  deps: Pick<PresentedVerificationDeps, 'clock' | 'crypto' | 'resolver' | 'fetch'>,
  skewSeconds = 60,
): Promise<string | undefined> {
  const now = nowSeconds(deps);
  if (reference.expiresAt !== undefined && reference.expiresAt + skewSeconds <= now) return 'the presented credential has expired';
  if (reference.status === undefined) return undefined;
  if (reference.format === 'dc+sd-jwt') {
    if (!reference.issuerJwk) return 'the presented credential’s issuer key was not kept';
    return tokenStatusProblem(reference.status, reference.issuerJwk as JWK, deps, now, skewSeconds);
  }
  if (reference.format === 'jwt_vc_json' && reference.issuer) {
    const { problems } = await checkCredentialStatus(reference.status, reference.issuer, {
      fetchStatusList: (url) => deps.fetch(url, 'application/vc+jwt, application/jwt'),
      resolver: deps.resolver,
      verifier: deps.crypto,
      now,
      skewSeconds,
    });
    return problems.length ? problems.join('; ') : undefined;
  }
  return undefined;
}

/**
 * draft-ietf-oauth-status-list §8.3 for a `status.status_list` reference: the list token
 * (statuslist+jwt) fetched, signed by `issuerJwk`, its `sub` the URI, unexpired; the entry's
 * value 0 (valid), else revoked (1), suspended (2) or another status.
 */
export async function tokenStatusProblem(
  status: unknown,
  issuerJwk: JWK,
  deps: Pick<PresentedVerificationDeps, 'fetch'>,
  now: number,
  skewSeconds = 60,
): Promise<string | undefined> {
  const ref = (status as { status_list?: { idx?: unknown; uri?: unknown } } | undefined)?.status_list;
  if (!ref) return undefined;
  if (typeof ref.uri !== 'string' || !ref.uri.startsWith('https://') || !Number.isSafeInteger(ref.idx) || (ref.idx as number) < 0)
    return 'the status reference is malformed';
  let token: string;
  try {
    token = (await deps.fetch(ref.uri, 'application/statuslist+jwt')).trim();
  } catch (e) {
    return `the status list could not be fetched: ${(e as Error).message.slice(0, 120)}`;
  }
  try {
    const header = decodeProtectedHeader(token);
    if (header.typ !== 'statuslist+jwt') return 'the status list is not a statuslist+jwt';
    if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) return 'the status list alg is not accepted';
    await compactVerify(token, await importJWK(issuerJwk, header.alg), { algorithms: [header.alg] });
    const claims = decodeJwt(token);
    if (claims.sub !== ref.uri) return 'the status list sub is not the URI referenced';
    if (typeof claims.exp === 'number' && claims.exp + skewSeconds <= now) return 'the status list has expired';
    const list = claims.status_list as { bits?: unknown; lst?: unknown } | undefined;
    const bits = list?.bits;
    if (typeof list?.lst !== 'string' || (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8)) return 'the status list is malformed';
    // Our capped inflate: a list from elsewhere must not decompress without bound.
    const value = tokenStatusAt(await decodeTokenStatusList(list.lst), bits, ref.idx as number);
    return value === 0 ? undefined : value === 1 ? 'revoked' : value === 2 ? 'suspended' : `status ${value}`;
  } catch {
    return 'the status list could not be verified';
  }
}
