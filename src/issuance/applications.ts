import type { TierConfig } from '../config';
import { digestSecret } from '../crypto/hash';
import { randomToken, timeOrderedUuid } from '../crypto/random';
import { issuerUrls } from '../paths';
import { nowSeconds } from '../ports/clock';
import { InvalidRequest } from '../protocol/errors';
import { SIGNING_ALGS, buildCredentialOffer } from '../protocol/oid4vci/metadata';
import { buildAuthorizationRequest, signRequestObject, type AuthorizationRequest } from '../protocol/siop/authorizationRequest';
import { verifyIdToken } from '../protocol/siop/verifyIdToken';
import { acceptsPriorCredentials, missingChecksFor, priorCredentialDefinition } from '../protocol/tiers';
import type { Application } from '../store/types';
import { credentialConfigurations, sdJwtConfigurationId, sdJwtVcSettingsOf } from './credentialConfigurations';
import type { IssuanceDeps } from './deps';
import { acceptsHeldCredentials, heldCredentialQuery, prefillFromHeldCredentials, verifyHeldCredentials } from './heldCredentials';
import { prefillFromCredentials, verifyPresentedCredentials, type Prefill } from './presentedCredentials';

/**
 * Opening an application (spec "Initiate Application", "Authenticate Applicant DID", "IDV
 * Request"): the SIOPv2 Authorization Request for the chosen tier, then the applicant's
 * Authorization Response (a self-issued ID Token, optionally a vp_token of earlier KCCs)
 * verified, its nonce consumed once, and the application opened with its form link and its
 * bound pre-authorized code in one write.
 */
type Deps = IssuanceDeps;

/** spec "Initiate Application": presentation_definition_id names the KCC (tier) to issue; none → the PFI chooses (the default tier). */
export function selectTier(deps: Pick<IssuanceDeps, 'config'>, id: string | undefined): TierConfig {
  const registry = credentialConfigurations(deps.config);
  if (id === undefined || id === '') return registry.fallback.tier;
  const configuration = registry.get(id);
  if (!configuration) {
    const known = registry.all.map((c) => c.id).join(', ');
    throw new InvalidRequest(`unknown presentation_definition_id ${JSON.stringify(id.slice(0, 64))}; this PFI issues: ${known}`);
  }
  return configuration.tier;
}

/** The SIOPv2 Authorization Request (and its signed request object) for a tier; its nonce is stored for one answer. */
export async function createAuthorizationRequest(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer' | 'resolver' | 'crypto' | 'presentedTrust'>,
  tier: TierConfig,
): Promise<{ request: AuthorizationRequest; requestObject: string }> {
  const now = nowSeconds(deps);
  const nonce = randomToken(deps.crypto);
  await deps.store.siopRequests.create({ nonce, presentationDefinitionId: tier.id, createdAt: now, expiresAt: now + deps.config.ttl.siopRequest });
  const request = buildAuthorizationRequest({
    clientId: deps.issuer.did,
    responseUri: issuerUrls(deps.config.publicUrl).siopResponse,
    nonce,
    clientMetadata: {
      subject_syntax_types_supported: [...deps.resolver.methods],
      client_name: deps.config.clientName,
      client_uri: deps.config.publicUrl,
      ...(deps.config.clientMetadata.logoUri ? { logo_uri: deps.config.clientMetadata.logoUri } : {}),
      ...(deps.config.clientMetadata.tosUri ? { tos_uri: deps.config.clientMetadata.tosUri } : {}),
      ...(deps.config.clientMetadata.policyUri ? { policy_uri: deps.config.clientMetadata.policyUri } : {}),
      ...(deps.config.clientMetadata.contacts?.length ? { contacts: deps.config.clientMetadata.contacts } : {}),
      id_token_signing_alg_values_supported: [...SIGNING_ALGS],
      request_object_signing_alg: deps.issuer.signer.alg,
    },
    // A tier that accepts prior credentials asks for them (response_type becomes "id_token vp_token").
    // A tier that accepts credentials people hold from others (EU PID, mDL, …) asks for those
    // instead, by definition or DCQL query as the trust configuration says.
    ...(acceptsPriorCredentials(tier)
      ? { presentationDefinition: priorCredentialDefinition(tier, deps.issuer.did) as unknown as Record<string, unknown> }
      : acceptsHeldCredentials(deps, tier)
        ? heldCredentialQuery(deps, tier)
        : {}),
  });
  const requestObject = await signRequestObject(deps.issuer.signer, request, now, deps.config.ttl.siopRequest);
  return { request, requestObject };
}

export interface IdvRequest {
  applicationId: string;
  applicantDid: string;
  url: string;
  credentialOffer: ReturnType<typeof buildCredentialOffer>;
}

/**
 * The Authorization Response (direct_post): the ID Token verified first, then the nonce read
 * (for its tier) and, with a vp_token, the presented credentials verified against it; the nonce
 * is consumed only after everything verified, so a forged answer never burns it.
 * `onApplicant` runs once the applicant DID is known (per-client rate limits).
 */
export async function openApplication(deps: Deps, body: Record<string, unknown>, onApplicant?: (applicantDid: string) => void): Promise<IdvRequest> {
  const verified = await authenticateApplicant(deps, body);
  onApplicant?.(verified.applicantDid);
  const pending = await deps.store.siopRequests.get(verified.nonce);
  const registry = credentialConfigurations(deps.config);
  const tier = (registry.get(pending?.presentationDefinitionId) ?? registry.fallback).tier;
  let prefill: Prefill | undefined;
  if (body.vp_token !== undefined && body.vp_token !== '') {
    // spec "Authenticate Applicant DID": vp_token answers the request's presentation_definition.
    if (!pending) throw new InvalidRequest('nonce is unknown, expired or already used');
    if (acceptsPriorCredentials(tier)) {
      const credentials = await verifyPresentedCredentials(deps, { body, applicantDid: verified.applicantDid, nonce: verified.nonce, tier });
      prefill = await prefillFromCredentials(deps, tier, credentials);
    } else if (acceptsHeldCredentials(deps, tier)) {
      // Credentials held from other issuers: verified (bound to this nonce) before the nonce is consumed.
      const credentials = await verifyHeldCredentials(deps, { body, applicantDid: verified.applicantDid, nonce: verified.nonce, tier });
      prefill = prefillFromHeldCredentials(deps, tier, credentials);
    } else throw new InvalidRequest('this request asked for no presentation (vp_token)');
  }
  // Verified first, consumed second: a forged token cannot burn someone else's nonce.
  if (!(await deps.store.siopRequests.consume(verified.nonce, nowSeconds(deps)))) throw new InvalidRequest('nonce is unknown, expired or already used');
  return (await resumeApplication(deps, verified.applicantDid, tier)) ?? recordApplication(deps, verified.applicantDid, tier, prefill);
}

/**
 * A wallet that lost its token answer (the code spent, the access token never seen) starts
 * again here, with the same DID: the ID Token just verified proves control of that DID, the
 * subject of any KCC the application can yield. Its newest application for the same tier whose
 * identity verification is done and whose credential is not collected (approved with no live
 * recorded KCC, or awaiting review) is resumed instead of opening a new one: a fresh
 * pre-authorized code, while the application's earlier access tokens are revoked and its unused
 * codes spent in the same write, so one grant stays live and the one decision still yields one
 * KCC (issuance claims, ./issueCredential.ts, hold that whatever grant asks). The IDV Request
 * sends the webview to the finish page (nothing to fill in) with the new offer. Only applications
 * decided or submitted within ttl.accessToken are resumed: the window a deferred wallet has to
 * collect with its access token.
 */
async function resumeApplication(deps: Deps, applicantDid: string, tier: TierConfig): Promise<IdvRequest | undefined> {
  const now = nowSeconds(deps);
  const since = now - deps.config.ttl.accessToken;
  for (const application of await deps.store.applications.listForApplicant(applicantDid, 20)) {
    if (application.credentialConfigurationId !== tier.id) continue;
    const doneAt = application.decidedAt ?? application.formSubmittedAt ?? 0;
    if (doneAt < since) continue;
    if (application.status === 'approved' ? await collected(deps, application) : application.status !== 'review') continue;
    const urls = issuerUrls(deps.config.publicUrl);
    const preAuthorizedCode = randomToken(deps.crypto);
    const revokedTokens = await deps.store.preAuthorizedCodes.reissue(
      {
        codeHash: digestSecret(deps.crypto, preAuthorizedCode),
        applicationId: application.id,
        applicantDid,
        expiresAt: now + deps.config.ttl.preAuthorizedCode,
      },
      now,
    );
    deps.logger.info('application_resumed', { applicationId: application.id, status: application.status, revokedTokens });
    return {
      applicationId: application.id,
      applicantDid,
      url: application.status === 'approved' ? urls.idvFinishApproved : urls.idvFinishReview,
      credentialOffer: buildCredentialOffer({
        credentialIssuer: urls.credentialIssuer,
        configurationIds: [tier.id, ...(sdJwtVcSettingsOf(deps.config).offered ? [sdJwtConfigurationId(tier.id)] : [])],
        preAuthorizedCode,
      }),
    };
  }
  return undefined;
}

/**
 * Whether an approved application's credential is out: recorded, and not revoked before the
 * approval (an overrule revokes it; a later re-approval is a new decision with a KCC to collect).
 * A claim alone (its request died before the record) is not collected. A KCC revoked while the
 * approval stood (an operator's revocation) is collected: resuming never undoes a revocation.
 */
async function collected(deps: Pick<IssuanceDeps, 'store'>, application: Application): Promise<boolean> {
  const claim = await deps.store.issuedCredentials.claimOf(application.id);
  if (!claim) return false;
  const record = await deps.store.issuedCredentials.get(claim.credentialId);
  if (!record) return false;
  // Issued under the standing decision: out, whatever became of it since. Issued before it and
  // revoked (by the overrule the decision reversed): a KCC still to collect. Times are seconds, so
  // the issuance is what tells the two apart, not a revocation in the decision's second.
  if (record.issuedAt >= (application.decidedAt ?? 0)) return true;
  const revokedAt = (await deps.store.credentialStatus.get(record.id))?.revokedAt;
  return revokedAt == null;
}

async function authenticateApplicant(deps: Pick<IssuanceDeps, 'clock' | 'config' | 'issuer' | 'resolver' | 'crypto'>, body: Record<string, unknown>) {
  if (typeof body.id_token !== 'string') throw new InvalidRequest('id_token is required');
  return verifyIdToken({
    idToken: body.id_token,
    clientId: deps.issuer.did,
    resolver: deps.resolver,
    verifier: deps.crypto,
    now: nowSeconds(deps),
    skewSeconds: deps.config.clockSkewSeconds,
    maxAgeSeconds: deps.config.idTokenMaxAgeSeconds,
    acceptedMethods: deps.resolver.methods,
  });
}

/** IDV Request (spec "IDV Request"): the form URL, bound by an unguessable token, and a bound offer. */
async function recordApplication(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto' | 'idv'>,
  applicantDid: string,
  tier: TierConfig,
  prefill?: Prefill,
): Promise<IdvRequest> {
  const now = nowSeconds(deps);
  const urls = issuerUrls(deps.config.publicUrl);
  const applicationId = timeOrderedUuid(deps.clock());
  const formToken = randomToken(deps.crypto);
  const preAuthorizedCode = randomToken(deps.crypto);
  // Every check already covered by presented credentials (renewal with fresh evidence) and a
  // valid country carried over: no IDV to do, the application is approved now and the webview
  // goes straight to finish.html.
  // The tier rule (src/protocol/tiers.ts missingChecksFor), as on every decision path.
  const nothingMissing =
    prefill !== undefined && missingChecksFor(tier, prefill.verifiedEvidence, now).length === 0 && prefill.countryOfResidence !== undefined;
  // The fields held credentials vouched for, sealed like form PII (bound to this application id)
  // and on its schedule: an application decided now starts the retention clock now. Without a
  // vault they are not kept (the form then asks for them).
  const vault = deps.idv.vault;
  const claims =
    prefill?.vouched && vault
      ? {
          applicationId,
          keyId: vault.keyId,
          ciphertext: await vault.seal(applicationId, prefill.vouched),
          createdAt: now,
          ...(nothingMissing ? { purgeAfter: now + deps.config.idv.retentionDays * 86400 } : {}),
        }
      : undefined;
  // One atomic write (store.applications.createWithCode): never an application without its code,
  // nor a renewal without the record of the credentials it rests on, nor sealed claims without their application.
  await deps.store.applications.createWithCode(
    {
      id: applicationId,
      applicantDid,
      credentialConfigurationId: tier.id,
      status: nothingMissing ? 'approved' : 'pending',
      formTokenHash: digestSecret(deps.crypto, formToken),
      formExpiresAt: now + deps.config.ttl.idvForm,
      createdAt: now,
      updatedAt: now,
      ...(nothingMissing
        ? {
            formSubmittedAt: now,
            idvProvider: 'presented-credentials',
            countryOfResidence: prefill.countryOfResidence,
            tier: tier.name,
            evidence: [],
            decidedBy: 'presented-credentials',
            decidedAt: now,
          }
        : {}),
    },
    {
      codeHash: digestSecret(deps.crypto, preAuthorizedCode),
      applicationId,
      applicantDid,
      expiresAt: now + deps.config.ttl.preAuthorizedCode,
    },
    prefill
      ? {
          applicationId,
          tierId: tier.id,
          verifiedEvidence: prefill.verifiedEvidence,
          missingChecks: prefill.missingChecks,
          supersedes: prefill.supersedes,
          presentedCredentials: prefill.presented,
          countryOfResidence: prefill.countryOfResidence ?? null,
          createdAt: now,
        }
      : undefined,
    claims,
  );
  return {
    applicationId,
    applicantDid,
    url: nothingMissing ? urls.idvFinish : urls.idvForm(formToken),
    credentialOffer: buildCredentialOffer({
      credentialIssuer: urls.credentialIssuer,
      configurationIds: [tier.id, ...(sdJwtVcSettingsOf(deps.config).offered ? [sdJwtConfigurationId(tier.id)] : [])],
      preAuthorizedCode,
    }),
  };
}
