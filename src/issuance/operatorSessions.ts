import { digestSecret } from '../crypto/hash';
import { randomToken } from '../crypto/random';
import { toHex } from '../idv/webhookSignature';
import { nowSeconds } from '../ports/clock';
import type { OperatorAccount, OperatorRole } from '../store/types';
import type { IssuanceDeps } from './deps';
import { accountCredentialTag, OPERATOR_ROLES } from './operatorAccounts';
import type { OperatorSsoIdentity } from './operatorSso';

/**
 * Review console sessions as server-side records (OWASP Session Management Cheat Sheet): the
 * cookie carries only a random 256-bit id, stored as its SHA-256 digest; a session ends at
 * logout, at "sign out everywhere", after `consoleIdleSeconds` without a request, at
 * `consoleSessionSeconds` after sign-in (absolute), and as soon as the credential it was opened
 * with is no longer the valid one. A session is opened either with a named account
 * (src/issuance/operatorAccounts.ts: it ends when the account is removed or its secret reset)
 * or, only while no account exists (first start), with ADMIN_TOKEN and a typed name: such a
 * session ends when ADMIN_TOKEN rotates or as soon as the first account exists. A third kind is
 * opened by the PFI's workforce login (src/issuance/operatorSso.ts): its operator is the
 * identity's party (`sso:<digest>`), its role the one the provider's claim gave at sign-in; it
 * ends when the SSO settings it rests on change or are removed. With SSO configured, ADMIN_TOKEN
 * opens no console session (the provider is the identity source from the start).
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'crypto' | 'operatorSso'>;

export interface LiveOperatorSession {
  /** The account name (or, signed in with ADMIN_TOKEN before any account existed, the typed name). */
  operator: string;
  role: OperatorRole;
  /** False for an ADMIN_TOKEN session (first start, before any account exists) and a workforce (SSO) session. */
  account: boolean;
  /** A workforce (SSO) session: the name the provider gave, for the header (`operator` is the party). */
  displayName?: string;
  /** Who counts as one party for four-eyes: the account, or every ADMIN_TOKEN holder as one. */
  party: string;
  /** The audit trail's actor for this session's actions. */
  actor: string;
  idHash: string;
  /** The CSRF token of the console's forms, derived from the session id (a session has exactly one). */
  csrf: string;
}

const SESSION_ID = /^[\w-]{43}$/;

/** A digest naming the credential sessions are opened with (never the credential itself). */
export function operatorCredentialTag(deps: Pick<IssuanceDeps, 'config' | 'crypto'>): string {
  return digestSecret(deps.crypto, `kcc-issuer operator credential|${deps.config.adminToken ?? ''}`);
}

const csrfOf = async (deps: Pick<IssuanceDeps, 'crypto'>, id: string) => toHex(deps.crypto.hmacSha256(id, 'console-csrf'));

/** The four-eyes party of every ADMIN_TOKEN holder (the operator API, first-start console sessions). */
export const ADMIN_TOKEN_PARTY = 'admin-token';

/** Whether ADMIN_TOKEN may open the console: no account exists and no workforce sign-in is configured. */
export async function adminTokenOpensConsole(deps: Pick<Deps, 'store' | 'config' | 'operatorSso'>): Promise<boolean> {
  return Boolean(deps.config.adminToken) && !deps.operatorSso && !(await deps.store.operatorAccounts.any());
}

/** The tag of a workforce session with `role` under the current SSO settings (undefined: SSO is off). */
export function ssoCredentialTag(deps: Pick<Deps, 'crypto' | 'operatorSso'>, role: OperatorRole): string | undefined {
  if (!deps.operatorSso) return undefined;
  return digestSecret(deps.crypto, `kcc-issuer operator sso|${deps.operatorSso.settingsTag}|${role}`);
}

const SSO_PARTY = /^sso:[\w-]{43}$/;

/**
 * Opens a session for an account, a workforce identity (SSO), or, with ADMIN_TOKEN before any
 * account exists, a typed name; returns the id for the cookie (shown to no one else, stored only
 * as a digest).
 */
export async function openOperatorSession(
  deps: Deps,
  who: OperatorAccount | { typedName: string } | { sso: OperatorSsoIdentity },
): Promise<{ id: string; maxAgeSeconds: number }> {
  const id = randomToken(deps.crypto);
  const now = nowSeconds(deps);
  let row: { operator: string; credentialTag: string; role?: OperatorRole; displayName?: string | null };
  if ('sso' in who) {
    const credentialTag = ssoCredentialTag(deps, who.sso.role);
    if (!credentialTag || !SSO_PARTY.test(who.sso.party)) throw new TypeError('a workforce session needs the SSO settings and a party');
    row = { operator: who.sso.party, credentialTag, role: who.sso.role, displayName: who.sso.displayName ?? null };
  } else if ('typedName' in who) {
    row = { operator: who.typedName, credentialTag: operatorCredentialTag(deps) };
  } else {
    row = { operator: who.name, credentialTag: accountCredentialTag(deps, who) };
  }
  await deps.store.operatorSessions.create({
    idHash: digestSecret(deps.crypto, id),
    ...row,
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
  const idHash = digestSecret(deps.crypto, id);
  const session = await deps.store.operatorSessions.touch(idHash, now, now - deps.config.idv.consoleIdleSeconds);
  if (!session) return undefined;
  const end = async () => {
    await deps.store.operatorSessions.end(idHash, now);
    return undefined;
  };
  const csrf = await csrfOf(deps, id);
  if (SSO_PARTY.test(session.operator)) {
    // The role the provider gave at sign-in, under the SSO settings still in force.
    if (!session.role || session.credentialTag !== ssoCredentialTag(deps, session.role)) return end();
    return {
      operator: session.operator,
      role: session.role,
      account: false,
      ...(session.displayName ? { displayName: session.displayName } : {}),
      party: session.operator,
      actor: `console:${session.operator}`,
      idHash,
      csrf,
    };
  }
  if (session.credentialTag === operatorCredentialTag(deps)) {
    // ADMIN_TOKEN opens the console only until the first account exists (and never beside SSO).
    if (!(await adminTokenOpensConsole(deps))) return end();
    return { operator: session.operator, role: 'admin', account: false, party: ADMIN_TOKEN_PARTY, actor: `console:${session.operator}`, idHash, csrf };
  }
  const account = await deps.store.operatorAccounts.get(session.operator);
  if (!account || account.disabledAt !== null || accountCredentialTag(deps, account) !== session.credentialTag) return end();
  return { operator: account.name, role: account.role, account: true, party: `account:${account.name}`, actor: `console:${account.name}`, idHash, csrf };
}

export async function endOperatorSession(deps: Deps, session: LiveOperatorSession): Promise<void> {
  await deps.store.operatorSessions.end(session.idHash, nowSeconds(deps));
}

/** "Sign out everywhere": every live session of this operator, this one included. */
export async function endOperatorSessionsEverywhere(deps: Deps, session: LiveOperatorSession): Promise<number> {
  return deps.store.operatorSessions.endAllFor(session.operator, nowSeconds(deps));
}

/** Periodic job: ends sessions of a rotated, reset or removed credential (or changed SSO settings) and deletes those over for a day. */
export async function purgeOperatorSessions(deps: Deps): Promise<{ ended: number; deleted: number }> {
  const now = nowSeconds(deps);
  const accounts = await deps.store.operatorAccounts.list();
  const valid = accounts.filter((a) => a.disabledAt === null).map((a) => accountCredentialTag(deps, a));
  if (accounts.length === 0 && deps.config.adminToken && !deps.operatorSso) valid.push(operatorCredentialTag(deps));
  for (const role of OPERATOR_ROLES) {
    const tag = ssoCredentialTag(deps, role);
    if (tag) valid.push(tag);
  }
  const ended = await deps.store.operatorSessions.endAllExcept(valid, now);
  const deleted = await deps.store.operatorSessions.purge(now - 24 * 60 * 60);
  return { ended, deleted };
}
