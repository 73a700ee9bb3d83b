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
import { buildTokenStatusList, signTokenStatusList } from '../protocol/tokenStatusList';
import type { CredentialStatusRecord } from '../store/types';
import { nowSeconds } from '../ports/clock';
import { STORAGE_CONDITION_MESSAGES, storageFailureOf } from '../ports/failures';
import type { IssuanceDeps, StatusListMemory } from './deps';
import { emitEvent } from './events';
import { issuerUrls } from '../paths';

type StatusDeps = Pick<IssuanceDeps, 'store' | 'clock' | 'logger' | 'crypto'>;

/**
 * Revocation and suspension of the KCCs we issue (W3C Bitstring Status List v1.0).
 * Every KCC gets a random index (herd privacy, §6.1) in the current list; the same index is its
 * entry in the revocation list and in the suspension list. A status follows the decision
 * behind the credential (`credentialChangesFor`, applied by `applyCredentialChanges`), an operator (`changeCredentialStatus`)
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
  // A request taking over a claim signs the same credential id: the entry an earlier attempt
  // allocated for it is this credential's, never a second one. The allocation below finds it
  // (its insert conflicts on the credential id, then the entry is read), so the usual case, a
  // credential id minted by this request, costs no read first; a takeover only reserves a slot
  // of the list's fill count that stays unused.
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
    if (won) return entriesOf(deps, list.id, index);
    // An earlier attempt or a racing request for the same credential id allocated its entry: that one is the credential's.
    const racing = await deps.store.credentialStatus.get(input.credentialId);
    if (racing) return entriesOf(deps, racing.listId, racing.listIndex);
  }
  // At maxFill ≤ 0.9 the chance of 64 collisions in a row is below 0.9^64 ≈ 0.1%.
  throw new Error('could not allocate a status list index');
}

function entriesOf(deps: Pick<IssuanceDeps, 'config'>, listId: number, index: number) {
  const urls = issuerUrls(deps.config.publicUrl);
  return { listId, index, entries: credentialStatusEntries((p) => urls.statusList(listId, p), index) };
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

/** The KCCs of an application and what a decision does to each (see `credentialChangesFor`). */
export interface CredentialChanges {
  issued: string[];
  revoked: string[];
  suspended: string[];
  reinstated: string[];
}

export const NO_CREDENTIAL_CHANGES: CredentialChanges = Object.freeze({ issued: [], revoked: [], suspended: [], reinstated: [] }) as CredentialChanges;

/**
 * What a (re-)decision means for the KCCs already issued for the application: declined →
 * every one revoked (permanent; the applicant starts a new application); back in review →
 * active ones suspended; approved → the ones suspended for the review reinstated. Pure: the
 * records are the credentials' current status (undefined when a credential has none).
 */
export function credentialChangesFor(
  status: 'pending' | 'review' | 'approved' | 'rejected',
  credentials: Array<{ id: string; record: CredentialStatusRecord | undefined }>,
): CredentialChanges {
  const changes: CredentialChanges = { issued: credentials.map((c) => c.id), revoked: [], suspended: [], reinstated: [] };
  for (const { id, record } of credentials) {
    if (!record || record.revokedAt != null) continue;
    if (status === 'rejected') changes.revoked.push(id);
    else if (status === 'review' && record.suspendedAt == null) changes.suspended.push(id);
    else if (status === 'approved' && record.suspendedAt != null && record.suspensionReason === UNDER_REVIEW_REASON) changes.reinstated.push(id);
  }
  return changes;
}

/** Reads the application's KCCs and their status, and says what the decision `status` changes (`credentialChangesFor`). */
export async function credentialChangesOfDecision(
  deps: Pick<IssuanceDeps, 'store'>,
  applicationId: string,
  status: 'pending' | 'review' | 'approved' | 'rejected',
): Promise<CredentialChanges> {
  const issued = await deps.store.issuedCredentials.listForApplication(applicationId);
  const credentials = await Promise.all(issued.map(async (c) => ({ id: c.id, record: await deps.store.credentialStatus.get(c.id) })));
  return credentialChangesFor(status, credentials);
}

/**
 * Makes the credentials follow a decision that was committed: each change with its status list
 * bump, status event and announcement (`changeCredentialStatus`). A change another actor made
 * first is skipped. Status lists change at once (their version is bumped, so the served list is rebuilt).
 */
export async function applyCredentialChanges(deps: StatusDeps, changes: CredentialChanges, actor: string): Promise<void> {
  for (const id of changes.revoked) await tryChange(deps, id, 'revoke', 'identity verification re-decided: declined', actor);
  for (const id of changes.suspended) await tryChange(deps, id, 'suspend', UNDER_REVIEW_REASON, actor);
  for (const id of changes.reinstated) await tryChange(deps, id, 'reinstate', undefined, actor);
}

/** Reads, decides and applies in one call what a decision means for an application's KCCs; returns the changes. */
export async function applyDecisionToCredentials(
  deps: StatusDeps,
  applicationId: string,
  status: 'pending' | 'review' | 'approved' | 'rejected',
  actor: string,
): Promise<CredentialChanges> {
  const changes = await credentialChangesOfDecision(deps, applicationId, status);
  await applyCredentialChanges(deps, changes, actor);
  return changes;
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

const STATUS_LIST_MEMORY_ENTRIES = 1024;

/** An empty StatusListMemory (src/issuance/deps.ts), one per issuer. */
export function createStatusListMemory(): StatusListMemory {
  return { entries: new Map(), cacheWriteFailing: false };
}

function remember(memory: StatusListMemory | undefined, key: string, entry: { version: number; jwt: string; expiresAt: number }): void {
  if (!memory) return;
  const kept = memory.entries.get(key);
  if (kept && kept.version === entry.version && kept.expiresAt === entry.expiresAt) return; // the same signed copy
  memory.entries.delete(key);
  if (memory.entries.size >= STATUS_LIST_MEMORY_ENTRIES) memory.entries.delete(memory.entries.keys().next().value as string);
  memory.entries.set(key, entry);
}

/**
 * The signed status list credential for one list and purpose (jwt_vc_json), or undefined if no
 * such list. Reused from status_list_cache while the list is unchanged (same version) and the JWT
 * has more than a quarter of its validity left; rebuilt otherwise (the version is read first, so a
 * change racing a rebuild only causes one more rebuild).
 *
 * Reads survive a storage failure (src/ports/failures.ts): a rebuilt JWT whose cache write fails is
 * served all the same and kept in `statusListMemory` (served from there while valid; the failure
 * logged once), and a read the store cannot answer (a read held with a batch that a full disk
 * rolled back: src/runtime/groupCommit.ts) is tried once more, then answered from memory.
 */
export async function statusListCredential(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer'> & Partial<Pick<IssuanceDeps, 'logger' | 'statusListMemory'>>,
  listId: number,
  purpose: StatusPurpose,
): Promise<string | undefined> {
  const memory = deps.statusListMemory;
  const key = `${listId}/${purpose}`;
  const now = nowSeconds(deps);
  const fresh = (entry: { expiresAt: number }) => entry.expiresAt - now > deps.config.statusList.validitySeconds / 4;
  let read:
    | { list: Awaited<ReturnType<IssuanceDeps['store']['statusLists']['get']>>; cached: Awaited<ReturnType<IssuanceDeps['store']['statusLists']['cached']>> }
    | undefined;
  for (let attempt = 0; !read; attempt++) {
    try {
      const list = await deps.store.statusLists.get(listId);
      read = { list, cached: list ? await deps.store.statusLists.cached(listId, purpose) : undefined };
    } catch (e) {
      if (!storageFailureOf(e)) throw e;
      if (attempt === 0) continue;
      const kept = memory?.entries.get(key);
      if (kept && kept.expiresAt > now) return kept.jwt;
      throw e;
    }
  }
  const { list, cached } = read;
  if (!list) return undefined;
  if (cached && cached.version === list.version && fresh(cached)) {
    remember(memory, key, cached);
    return cached.jwt;
  }
  const kept = memory?.entries.get(key);
  if (kept && kept.version === list.version && fresh(kept)) return kept.jwt;
  const jwt = await buildStatusListCredential(deps, list, purpose, now);
  const entry = { version: list.version, jwt, expiresAt: now + deps.config.statusList.validitySeconds };
  remember(memory, key, entry);
  try {
    await deps.store.statusLists.cache({ listId, purpose, ...entry });
    if (memory?.cacheWriteFailing) {
      memory.cacheWriteFailing = false;
      deps.logger?.info('status_list_cache_writable');
    }
  } catch (e) {
    const failure = storageFailureOf(e);
    if (!failure) throw e;
    if (!memory?.cacheWriteFailing) {
      if (memory) memory.cacheWriteFailing = true;
      deps.logger?.error('status_list_cache_unwritable', {
        condition: failure.condition,
        code: failure.code,
        message: `${STORAGE_CONDITION_MESSAGES[failure.condition]}; status lists are served from memory meanwhile`,
      });
    }
  }
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

/**
 * The `status.status_list` of an SD-JWT VC KCC whose status is at `index` of list `listId`
 * (allocateCredentialStatus): the same slot the Bitstring entries name, in the Token Status List.
 */
export function tokenStatusReference(config: Pick<IssuanceDeps['config'], 'publicUrl'>, listId: number, index: number): { idx: number; uri: string } {
  return { idx: index, uri: issuerUrls(config.publicUrl).tokenStatusList(listId) };
}

/** Signed Token Status Lists kept by one app (per process or isolate), by list id. */
export type TokenStatusListCache = Map<number, { version: number; jwt: string; expiresAt: number; signer: unknown }>;

/**
 * The signed IETF Token Status List (`statuslist+jwt`) of one list, or undefined if no such list:
 * built from the same revoked and suspended indices as the two Bitstring lists, so every change
 * (revoke, suspend, reinstate, a decision's consequences) shows in both formats at once.
 * Building one costs ~17 ms of CPU for 131,072 entries (zlib at level 9 in
 * @sd-jwt/jwt-status-list), so `cache` keeps it while the list's version (bumped by every status
 * change, in the database, so every instance sees it) and the signing key are unchanged and more
 * than a quarter of its validity is left, as status_list_cache does for the Bitstring lists.
 */
export async function tokenStatusListJwt(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'issuer'>,
  listId: number,
  cache?: TokenStatusListCache,
): Promise<string | undefined> {
  const list = await deps.store.statusLists.get(listId);
  if (!list) return undefined;
  const now = nowSeconds(deps);
  const cached = cache?.get(listId);
  if (
    cached &&
    cached.version === list.version &&
    cached.signer === deps.issuer.sdJwtSigner &&
    cached.expiresAt - now > deps.config.statusList.validitySeconds / 4
  )
    return cached.jwt;
  const jwt = await buildTokenStatusListJwt(deps, list, now);
  if (cache) {
    // Lists are few (one per ~118,000 credentials at the default fill); the bound is a backstop.
    if (cache.size >= 64 && !cache.has(listId)) cache.delete(cache.keys().next().value as number);
    cache.set(listId, { version: list.version, jwt, expiresAt: now + deps.config.statusList.validitySeconds, signer: deps.issuer.sdJwtSigner });
  }
  return jwt;
}

async function buildTokenStatusListJwt(
  deps: Pick<IssuanceDeps, 'store' | 'config' | 'issuer'>,
  list: { id: number; size: number },
  now: number,
): Promise<string> {
  const listId = list.id;
  const [revoked, suspended] = await Promise.all([
    deps.store.statusLists.setIndices(listId, 'revocation'),
    deps.store.statusLists.setIndices(listId, 'suspension'),
  ]);
  const urls = issuerUrls(deps.config.publicUrl);
  // Signed like the SD-JWT VCs that reference it (SDJWT_VC_SIGNING_ALG): a HAIP wallet checks both with ES256.
  return signTokenStatusList(deps.issuer.sdJwtSigner, {
    uri: urls.tokenStatusList(listId),
    issuer: urls.credentialIssuer,
    list: buildTokenStatusList(list.size, revoked, suspended),
    issuedAt: now,
    expiresAt: now + deps.config.statusList.validitySeconds,
    ttlSeconds: deps.config.statusList.cacheSeconds,
  });
}
