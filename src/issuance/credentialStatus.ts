import { signJwt } from '../crypto/jwt';
import { Conflict, NotFound } from '../protocol/errors';
import {
  buildStatusListCredentialPayload,
  credentialStatusEntries,
  encodeStatusList,
  randomIndex,
  setBit,
  type StatusListEntry,
  type StatusPurpose,
} from '../protocol/statusList';
import type { CredentialStatusRecord } from '../store/store';
import { nowSeconds } from '../ports/clock';
import type { IssuanceDeps } from './deps';
import { emitEvent } from './events';
import { issuerUrls } from '../paths';

type StatusDeps = Pick<IssuanceDeps, 'store' | 'clock' | 'logger' | 'crypto'>;

/**
 * Revocation and suspension of the KCCs we issue (W3C Bitstring Status List v1.0).
 * Every KCC gets a random index (herd privacy, §6.1) in the current list; the same index is its
 * entry in the revocation list and in the suspension list. A status follows the decision
 * behind the credential (`applyDecisionToCredentials`), an operator (`changeCredentialStatus`)
 * and a newer KCC that supersedes it (src/issuance/issueCredential.ts).
 */
export interface EvidenceRecord {
  kind: string;
  checks: string[];
  /** Seconds since the epoch: when the check was done (carried over on renewal). */
  verifiedAt: number;
}

const MAX_DRAWS = 64;

/** Allocates a status list index for a credential about to be signed; returns its credentialStatus entries. */
export async function allocateCredentialStatus(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto'>,
  input: { credentialId: string; subjectDid: string; tierId: string; evidence: EvidenceRecord[]; issuedAt: number; expiresAt: number },
): Promise<{ listId: number; index: number; entries: StatusListEntry[] }> {
  const { size, maxFill } = deps.config.statusList;
  const now = nowSeconds(deps);
  // Usually one statement: a slot in the newest list. Otherwise (no list yet, or full) the lists
  // are walked. Herd privacy needs room: past maxFill, random draws collide often, so a full
  // list makes way for the next.
  let list = await deps.store.statusLists.reserveInNewest(maxFill);
  if (!list) {
    list = await deps.store.statusLists.current(size, now);
    while (!(await deps.store.statusLists.reserve(list.id, Math.floor(list.size * maxFill)))) {
      list = await deps.store.statusLists.open(list.id + 1, size, now);
    }
  }
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const index = randomIndex(list.size, deps.crypto.randomBytes);
    const won = await deps.store.credentialStatus.tryAllocate({
      credentialId: input.credentialId,
      listId: list.id,
      listIndex: index,
      subjectDid: input.subjectDid,
      tierId: input.tierId,
      evidence: input.evidence,
      issuedAt: input.issuedAt,
      expiresAt: input.expiresAt,
      updatedAt: now,
    });
    if (won) {
      const urls = issuerUrls(deps.config.publicUrl);
      return { listId: list.id, index, entries: credentialStatusEntries((p) => urls.statusList(list.id, p), index) };
    }
  }
  // At maxFill ≤ 0.9 the chance of 64 collisions in a row is below 0.9^64 ≈ 0.1%.
  throw new Error('could not allocate a status list index');
}

export type StatusAction = 'revoke' | 'suspend' | 'reinstate';

/** Changes a credential's status and records who did it and why. Throws NotFound / Conflict. */
export async function changeCredentialStatus(
  deps: StatusDeps,
  credentialId: string,
  action: StatusAction,
  options: { reason?: string; actor: string },
): Promise<CredentialStatusRecord> {
  const now = nowSeconds(deps);
  const reason = options.reason ?? null;
  const updated =
    action === 'revoke'
      ? await deps.store.credentialStatus.revoke(credentialId, reason, now)
      : action === 'suspend'
        ? await deps.store.credentialStatus.suspend(credentialId, reason, now)
        : await deps.store.credentialStatus.reinstate(credentialId, now);
  if (!updated) {
    const existing = await deps.store.credentialStatus.get(credentialId);
    if (!existing) throw new NotFound('no such credential');
    throw new Conflict(`credential is ${statusOf(existing)}; cannot ${action}`);
  }
  await deps.store.statusLists.bumpVersion(updated.listId);
  await deps.store.credentialStatus.recordEvent({ credentialId, action, reason, actor: options.actor, at: now });
  const type = action === 'revoke' ? 'credential.revoked' : action === 'suspend' ? 'credential.suspended' : 'credential.reinstated';
  // One event per status change: the seed includes the change time, so a later suspension is a new event.
  await emitEvent(deps, type, `${credentialId}|${action}|${now}|${updated.updatedAt}`, {
    credential_id: credentialId,
    subject_did: updated.subjectDid,
    status: statusOf(updated),
    reason,
    actor: options.actor,
    at: new Date(now * 1000).toISOString(),
  });
  deps.logger.info('credential_status_changed', { credentialId, action, actor: options.actor });
  return updated;
}

/** Revokes a credential unless it is unknown or already revoked; true if this call revoked it. */
export async function revokeCredential(deps: StatusDeps, credentialId: string, reason: string, actor = 'system'): Promise<boolean> {
  return tryChange(deps, credentialId, 'revoke', reason, actor);
}

/**
 * Revokes every unrevoked KCC issued to a subject DID (e.g. IDV re-decided approved → declined).
 * Returns the ids revoked.
 */
export async function revokeCredentialsOfSubject(deps: StatusDeps, subjectDid: string, reason: string, actor = 'system'): Promise<string[]> {
  const revoked: string[] = [];
  for (const record of await deps.store.credentialStatus.listForSubject(subjectDid)) {
    if (record.revokedAt == null && (await revokeCredential(deps, record.credentialId, reason, actor))) revoked.push(record.credentialId);
  }
  return revoked;
}

/** The suspension reason set while an approved application is back in review; lifted when it is approved again. */
export const UNDER_REVIEW_REASON = 'identity verification is under review';

/**
 * What a (re-)decision means for the KCCs already issued for the application: declined →
 * every one revoked (permanent; the applicant starts a new application); back in review →
 * active ones suspended; approved → the ones suspended for the review reinstated. Status
 * lists change at once (their version is bumped, so the served list is rebuilt).
 */
export async function applyDecisionToCredentials(
  deps: StatusDeps,
  applicationId: string,
  status: 'pending' | 'review' | 'approved' | 'rejected',
  actor: string,
): Promise<{ issued: string[]; revoked: string[]; suspended: string[]; reinstated: string[] }> {
  const issued = (await deps.store.issuedCredentials.listForApplication(applicationId)).map((c) => c.id);
  const affected = { issued, revoked: [] as string[], suspended: [] as string[], reinstated: [] as string[] };
  for (const id of issued) {
    const record = await deps.store.credentialStatus.get(id);
    if (!record || record.revokedAt != null) continue;
    if (status === 'rejected') {
      if (await tryChange(deps, id, 'revoke', 'identity verification re-decided: declined', actor)) affected.revoked.push(id);
    } else if (status === 'review' && record.suspendedAt == null) {
      if (await tryChange(deps, id, 'suspend', UNDER_REVIEW_REASON, actor)) affected.suspended.push(id);
    } else if (status === 'approved' && record.suspendedAt != null && record.suspensionReason === UNDER_REVIEW_REASON) {
      if (await tryChange(deps, id, 'reinstate', undefined, actor)) affected.reinstated.push(id);
    }
  }
  return affected;
}

/** A status change that another actor may have made first (then false). */
async function tryChange(deps: StatusDeps, credentialId: string, action: StatusAction, reason: string | undefined, actor: string): Promise<boolean> {
  try {
    await changeCredentialStatus(deps, credentialId, action, { reason, actor });
    return true;
  } catch (e) {
    if (e instanceof NotFound || e instanceof Conflict) return false;
    throw e;
  }
}

export function statusOf(record: CredentialStatusRecord): 'revoked' | 'suspended' | 'active' {
  if (record.revokedAt != null) return 'revoked';
  if (record.suspendedAt != null) return 'suspended';
  return 'active';
}

/**
 * The signed status list credential for one list and purpose (jwt_vc_json), or undefined if no
 * such list. Reused from status_list_cache while the list is unchanged (same version) and the JWT
 * has more than a quarter of its validity left; rebuilt otherwise (the version is read first, so a
 * change racing a rebuild only causes one more rebuild).
 */
export async function statusListCredential(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer'>,
  listId: number,
  purpose: StatusPurpose,
): Promise<string | undefined> {
  const list = await deps.store.statusLists.get(listId);
  if (!list) return undefined;
  const now = nowSeconds(deps);
  const cached = await deps.store.statusLists.cached(listId, purpose);
  if (cached && cached.version === list.version && cached.expiresAt - now > deps.config.statusList.validitySeconds / 4) return cached.jwt;
  const jwt = await buildStatusListCredential(deps, list, purpose, now);
  await deps.store.statusLists.cache({ listId, purpose, version: list.version, jwt, expiresAt: now + deps.config.statusList.validitySeconds });
  return jwt;
}

async function buildStatusListCredential(
  deps: Pick<IssuanceDeps, 'config' | 'issuer' | 'store'>,
  list: { id: number; size: number },
  purpose: StatusPurpose,
  now: number,
): Promise<string> {
  const listId = list.id;
  const bits = new Uint8Array(list.size / 8);
  for (const index of await deps.store.statusLists.setIndices(listId, purpose)) setBit(bits, index);
  const payload = buildStatusListCredentialPayload({
    url: issuerUrls(deps.config.publicUrl).statusList(listId, purpose),
    issuerDid: deps.issuer.did,
    purpose,
    encodedList: await encodeStatusList(bits),
    issuedAt: now,
    expiresAt: now + deps.config.statusList.validitySeconds,
  });
  return signJwt(deps.issuer.signer, payload, { typ: 'JWT' });
}
