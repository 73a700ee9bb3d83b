import type { PresentationDefinition } from '../protocol/pe/evaluate';
import { verifyCredentialJwt, type CredentialVerdict, type VerifyCredentialOptions } from './verifyCredential';

/**
 * The relying party's KCC verifier: `verifyKcc(jwt, options)` runs every check of
 * `verifyCredentialJwt` and requires the KnownCustomerCredential type. Pass `schema`
 * (createKccSchemaValidator from ./kccSchema, Node) to validate against the KCC schema,
 * `trustedIssuers` (an empty list trusts nobody), `fetchStatusList`, and optionally a
 * `presentationDefinition` (e.g. a tbDEX offering's requiredClaims) the KCC must satisfy.
 */
export { verifyCredentialJwt, type CredentialVerdict, type VerifyCredentialOptions } from './verifyCredential';
export { verifyPresentation, type PresentationVerdict } from './verifyPresentation';
export type { PresentationDefinition };

export async function verifyKcc(jwt: string, options: VerifyCredentialOptions): Promise<CredentialVerdict> {
  const verdict = await verifyCredentialJwt(jwt, options);
  const types = Array.isArray(verdict.vc?.type) ? (verdict.vc?.type as unknown[]) : [];
  const schemas = Array.isArray(verdict.vc?.credentialSchema) ? (verdict.vc?.credentialSchema as { id?: unknown }[]) : [];
  // Verifiers recognise a KCC by its type or by its schema (docs/wallet-behaviour.md).
  const byType = types.includes('KnownCustomerCredential');
  const bySchema = schemas.some((s) => typeof s?.id === 'string' && s.id.endsWith('/kcc.schema.json'));
  if (verdict.vc && !byType && !bySchema) {
    verdict.checks.push({ check: 'kcc_type', ok: false, detail: 'not a KCC: neither type KnownCustomerCredential nor the KCC credentialSchema' });
    verdict.reasons.push('kcc_type: not a KCC (neither type KnownCustomerCredential nor the KCC credentialSchema)');
    verdict.ok = false;
  } else if (verdict.vc) {
    verdict.checks.push({
      check: 'kcc_type',
      ok: true,
      detail: byType ? 'KnownCustomerCredential' : 'KCC by credentialSchema (type lacks KnownCustomerCredential)',
    });
  }
  return verdict;
}

/** A verdict as text: one line per check, then VALID / INVALID. */
export function formatVerdict(verdict: CredentialVerdict): string {
  const lines = verdict.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check.padEnd(23)} ${c.detail}`);
  if (verdict.issuer) lines.unshift(`issuer  ${verdict.issuer}`, `subject ${verdict.subject ?? '(none)'}`);
  lines.push(verdict.ok ? 'VALID' : `INVALID: ${verdict.reasons.join('; ')}`);
  return lines.join('\n');
}

/** KYA tokens (docs/kya.md): a merchant's verification of the token an agent presents. */
export { verifyKyaToken, formatKyaVerdict, type KyaVerdict, type VerifyKyaOptions, type AgentProofInput } from './kya';
