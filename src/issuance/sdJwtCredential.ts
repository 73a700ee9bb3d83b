import { randomUuid } from '../crypto/random';
import type { HolderJwk } from '../crypto/holderKeys';
import { issuerUrls } from '../paths';
import { nowSeconds } from '../ports/clock';
import { ServerError } from '../protocol/errors';
import { signSdJwtKcc, type SdJwtVcFormat } from '../protocol/sdJwtVc/kcc';
import type { Application } from '../store/types';
import { grantedTierOf } from './tierRule';
import { allocateCredentialStatus, tokenStatusReference, type EvidenceRecord } from './credentialStatus';
import type { IssuanceDeps } from './deps';
import { kccDataProblem } from './kccClaims';

/**
 * The KCC as SD-JWT VCs for an approved application: one copy per holder key (a batch, OID4VCI
 * 1.0 §8.2 `proofs.jwt`), each bound to its own key (`cnf.jwk`) and with its own status index,
 * all under the one decision. Each copy's status row carries the application's subject DID, so
 * what a decision does to the application's credentials (applyDecisionToCredentials, operator
 * status changes) reaches every copy once each is recorded as an issued credential of the
 * application. The caller claims the application's issuance first and records the copies
 * (one decision, one issuance; src/issuance/issueCredential.ts).
 */
export interface SdJwtHolder {
  /** The proof's public key: `cnf.jwk`. */
  jwk: HolderJwk;
  /** The applicant DID, when the proof's key is a key of that DID (it becomes the disclosable `sub`). */
  did?: string;
}

export interface SignedSdJwtCredential {
  id: string;
  /** The SD-JWT VC as issued (`<jwt>~<disclosures>~`). */
  sdJwt: string;
  issuedAt: number;
  expiresAt: number;
  listId: number;
  index: number;
}

export async function signSdJwtKnownCustomerCredentials(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto' | 'issuer'>,
  application: Application,
  input: {
    holders: readonly SdJwtHolder[];
    evidence: readonly EvidenceRecord[];
    vct: string;
    typ?: SdJwtVcFormat /** The first copy's id (the one the issuance claim names). */;
    firstId?: string;
  },
): Promise<SignedSdJwtCredential[]> {
  if (kccDataProblem(application)) throw new ServerError('the application lacks the data a KCC needs');
  if (input.holders.length === 0) throw new ServerError('no holder key to bind the credential to');
  const now = nowSeconds(deps);
  // The tier its decision granted (src/issuance/tierRule.ts): the KCC, its status entry and the KYC status API name the same.
  const tier = grantedTierOf(deps, application);
  const expiresAt = now + tier.validityDays * 86400;
  const evidence = input.evidence.map((e) => ({ ...e, checks: [...e.checks] }));
  const issued: SignedSdJwtCredential[] = [];
  for (const holder of input.holders) {
    const id = issued.length === 0 && input.firstId ? input.firstId : `urn:uuid:${randomUuid()}`;
    const status = await allocateCredentialStatus(deps, {
      credentialId: id,
      subjectDid: application.applicantDid,
      tierId: tier.id,
      evidence,
      issuedAt: now,
      expiresAt,
    });
    const sdJwt = await signSdJwtKcc(
      { signer: deps.issuer.sdJwtSigner, crypto: deps.crypto },
      {
        issuer: issuerUrls(deps.config.publicUrl).credentialIssuer,
        vct: input.vct,
        holderJwk: holder.jwk,
        subjectDid: holder.did,
        countryOfResidence: application.countryOfResidence as string,
        tier: tier.name,
        jurisdictionCountry: deps.config.credential.jurisdictionCountry,
        evidence: evidence.map(({ kind, checks }) => ({ kind, checks })),
        issuedAt: now,
        expiresAt,
        status: tokenStatusReference(deps.config, status.listId, status.index),
        typ: input.typ,
      },
    );
    issued.push({ id, sdJwt, issuedAt: now, expiresAt, listId: status.listId, index: status.index });
  }
  return issued;
}
