import { digestSecret } from '../crypto/hash';
import { randomToken } from '../crypto/random';
import { hmacSha256, toHex } from '../idv/webhookSignature';
import { nowSeconds } from '../ports/clock';
import type { IssuanceDeps } from './deps';

/**
 * Review console sessions as server-side records (OWASP Session Management Cheat Sheet): the
 * cookie carries only a random 256-bit id, stored as its SHA-256 digest; a session ends at
 * logout, at "sign out everywhere", after `consoleIdleSeconds` without a request, at
 * `consoleSessionSeconds` after sign-in (absolute), and as soon as the credential it was opened
 * with is no longer the configured one (rotating ADMIN_TOKEN ends them all).
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config'>;

export interface LiveOperatorSession {
  operator: string;
  idHash: string;
  /** The CSRF token of the console's forms, derived from the session id (a session has exactly one). */
  csrf: string;
}

const SESSION_ID = /^[\w-]{43}$/;

/** A digest naming the credential sessions are opened with (never the credential itself). */
export function operatorCredentialTag(deps: Pick<IssuanceDeps, 'config'>): string {
  return digestSecret(`kcc-issuer operator credential|${deps.config.adminToken ?? ''}`);
}

const csrfOf = async (id: string) => toHex(await hmacSha256(id, new TextEncoder().encode('console-csrf')));

/** Opens a session for `operator`; returns the id for the cookie (shown to no one else, stored only as a digest). */
export async function openOperatorSession(deps: Deps, operator: string): Promise<{ id: string; maxAgeSeconds: number }> {
  const id = randomToken();
  const now = nowSeconds(deps);
  await deps.store.operatorSessions.create({
    idHash: digestSecret(id),
    operator,
    credentialTag: operatorCredentialTag(deps),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + deps.config.idv.consoleSessionSeconds,
  });
  return { id, maxAgeSeconds: deps.config.idv.consoleSessionSeconds };
}

/** The live session a cookie names, its idle timer restarted; undefined when there is none. */
export async function resumeOperatorSession(deps: Deps, id: string | undefined): Promise<LiveOperatorSession | undefined> {
  if (!id || !SESSION_ID.test(id)) return undefined;
  const now = nowSeconds(deps);
  const idHash = digestSecret(id);
  const session = await deps.store.operatorSessions.touch(idHash, now, now - deps.config.idv.consoleIdleSeconds);
  if (!session) return undefined;
  if (session.credentialTag !== operatorCredentialTag(deps)) {
    await deps.store.operatorSessions.end(idHash, now);
    return undefined;
  }
  return { operator: session.operator, idHash, csrf: await csrfOf(id) };
}

export async function endOperatorSession(deps: Deps, session: LiveOperatorSession): Promise<void> {
  await deps.store.operatorSessions.end(session.idHash, nowSeconds(deps));
}

/** "Sign out everywhere": every live session of this operator, this one included. */
export async function endOperatorSessionsEverywhere(deps: Deps, session: LiveOperatorSession): Promise<number> {
  return deps.store.operatorSessions.endAllFor(session.operator, nowSeconds(deps));
}

/** Periodic job: ends sessions of a rotated credential and deletes those over for a day. */
export async function purgeOperatorSessions(deps: Deps): Promise<{ ended: number; deleted: number }> {
  const now = nowSeconds(deps);
  const ended = await deps.store.operatorSessions.endAllExcept(operatorCredentialTag(deps), now);
  const deleted = await deps.store.operatorSessions.purge(now - 24 * 60 * 60);
  return { ended, deleted };
}
