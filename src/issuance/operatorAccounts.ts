import { digestSecret } from '../crypto/hash';
import { randomToken } from '../crypto/random';
import { DECOY_SECRET_HASH, hashSecret, verifySecret } from '../crypto/secretHash';
import { nowSeconds } from '../ports/clock';
import { AccessDenied, Conflict, InvalidRequest, NotFound } from '../protocol/errors';
import type { OperatorAccount, OperatorRole } from '../store/types';
import type { IssuanceDeps } from './deps';

/**
 * Named operator accounts of the review console (created with `npm run operators -- add`, or
 * by an admin in the console) and what each role may do. A secret is 32 random bytes
 * (base64url), shown once and stored only as a PBKDF2 hash (src/crypto/secretHash.ts).
 * Removing an account or resetting its secret ends its sessions at once; sessions also check
 * the account on every request (src/issuance/operatorSessions.ts).
 */
type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'crypto'>;

export const OPERATOR_ROLES: readonly OperatorRole[] = ['reviewer', 'admin'];

/** Account names: 2–32 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit. */
export const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{1,31}$/;

/** What a console operator does; each route checks one (server-side, whatever the page showed). */
export type OperatorPermission = 'view' | 'decide' | 'credential.status' | 'pii.erase' | 'operators.manage';

const GRANTS: Record<OperatorRole, readonly OperatorPermission[]> = {
  reviewer: ['view', 'decide'],
  admin: ['view', 'decide', 'credential.status', 'pii.erase', 'operators.manage'],
};

export function operatorMay(role: OperatorRole, permission: OperatorPermission): boolean {
  return GRANTS[role].includes(permission);
}

const DOING: Record<OperatorPermission, string> = {
  view: 'view applications',
  decide: 'decide applications',
  'credential.status': 'revoke, suspend or reinstate credentials',
  'pii.erase': 'erase personal data',
  'operators.manage': 'manage operator accounts',
};

/** Throws AccessDenied (403) naming the role and the refused action. */
export function assertOperatorMay(role: OperatorRole, permission: OperatorPermission): void {
  if (!operatorMay(role, permission)) throw new AccessDenied(`the ${role} role may not ${DOING[permission]}; an admin account can`);
}

/** The tag a session of this account records: it changes with the secret, so a reset ends the account's sessions. */
export function accountCredentialTag(deps: Pick<IssuanceDeps, 'crypto'>, account: Pick<OperatorAccount, 'name' | 'secretHash'>): string {
  return digestSecret(deps.crypto, `kcc-issuer operator account|${account.name}|${account.secretHash}`);
}

function checkName(name: string): void {
  if (!OPERATOR_NAME.test(name))
    throw new InvalidRequest('an operator name is 2 to 32 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
}

function checkRole(role: string): asserts role is OperatorRole {
  if (!(OPERATOR_ROLES as readonly string[]).includes(role)) throw new InvalidRequest(`role must be one of ${OPERATOR_ROLES.join(', ')}`);
}

/** Creates an account; returns the secret, which exists nowhere else afterwards. */
export async function addOperatorAccount(
  deps: Deps,
  input: { name: string; role: string; actor: string },
): Promise<{ account: OperatorAccount; secret: string }> {
  checkName(input.name);
  checkRole(input.role);
  const secret = randomToken(deps.crypto);
  const now = nowSeconds(deps);
  const account: OperatorAccount = {
    name: input.name,
    role: input.role,
    secretHash: await hashSecret(secret),
    createdAt: now,
    updatedAt: now,
    disabledAt: null,
  };
  if (!(await deps.store.operatorAccounts.create(account))) throw new Conflict(`an operator named ${input.name} exists (or existed: names are not reused)`);
  await deps.store.audit.record({ applicationId: null, actor: input.actor, action: 'operator.added', detail: { name: input.name, role: input.role }, at: now });
  return { account, secret };
}

export async function listOperatorAccounts(deps: Pick<Deps, 'store'>): Promise<OperatorAccount[]> {
  return deps.store.operatorAccounts.list();
}

/** Removes (disables) an account and ends its sessions; returns how many sessions ended. */
export async function removeOperatorAccount(deps: Deps, input: { name: string; actor: string }): Promise<number> {
  const now = nowSeconds(deps);
  if (!(await deps.store.operatorAccounts.disable(input.name, now))) {
    throw (await deps.store.operatorAccounts.get(input.name))
      ? new Conflict(`${input.name} is already removed`)
      : new NotFound(`no operator named ${input.name}`);
  }
  const ended = await deps.store.operatorSessions.endAllFor(input.name, now);
  await deps.store.audit.record({
    applicationId: null,
    actor: input.actor,
    action: 'operator.removed',
    detail: { name: input.name, sessions_ended: ended },
    at: now,
  });
  return ended;
}

/** Gives a live account a new secret (shown once) and ends its sessions. */
export async function resetOperatorSecret(deps: Deps, input: { name: string; actor: string }): Promise<{ secret: string; sessionsEnded: number }> {
  const secret = randomToken(deps.crypto);
  const now = nowSeconds(deps);
  if (!(await deps.store.operatorAccounts.setSecret(input.name, await hashSecret(secret), now))) {
    throw (await deps.store.operatorAccounts.get(input.name))
      ? new Conflict(`${input.name} is removed; add a new account instead`)
      : new NotFound(`no operator named ${input.name}`);
  }
  const sessionsEnded = await deps.store.operatorSessions.endAllFor(input.name, now);
  await deps.store.audit.record({
    applicationId: null,
    actor: input.actor,
    action: 'operator.secret_reset',
    detail: { name: input.name, sessions_ended: sessionsEnded },
    at: now,
  });
  return { secret, sessionsEnded };
}

/**
 * The live account a sign-in names, if the secret is its own. An unknown or removed name is
 * verified against a decoy hash, so the answer takes the same time whichever it was.
 */
export async function authenticateOperator(deps: Pick<Deps, 'store'>, name: string, secret: string): Promise<OperatorAccount | undefined> {
  const account = OPERATOR_NAME.test(name) ? await deps.store.operatorAccounts.get(name) : undefined;
  const live = account && account.disabledAt === null ? account : undefined;
  const ok = await verifySecret(secret, live?.secretHash ?? DECOY_SECRET_HASH);
  return ok && live ? live : undefined;
}
