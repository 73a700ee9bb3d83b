import { signJwt } from '../crypto/jwt';
import type { Signer } from '../crypto/keys';
import { KYC_AUTHORIZATION_MAX_LIFETIME, KYC_AUTHORIZATION_TYP } from '../protocol/kycAuthorization';

/**
 * The wallet side of src/protocol/kycAuthorization.ts: the holder authorises one relying party
 * (by its tenant name at this PFI) to read its KYC status for a few minutes. The wallet hands the
 * result to the relying party, which sends it as `KYC-Subject-Authorization` with its read.
 */
export async function signKycStatusAuthorization(
  signer: Signer,
  input: { subject: string; tenant: string; audience: string; now: number; lifetimeSeconds?: number },
): Promise<string> {
  const lifetime = Math.min(input.lifetimeSeconds ?? 300, KYC_AUTHORIZATION_MAX_LIFETIME);
  return signJwt(
    signer,
    { iss: input.subject, sub: input.subject, aud: input.audience, tenant: input.tenant, iat: input.now, exp: input.now + lifetime },
    { typ: KYC_AUTHORIZATION_TYP },
  );
}
