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

/**
 * The four-eyes party of whoever runs `npm run operators` on the server. Host access (the shell,
 * the database, the environment holding ADMIN_TOKEN) is the root of trust and outside what
 * four-eyes can enforce (SECURITY.md): accounts it sets up are not counted as controlled by one
 * person, so the first reviewers can confirm each other.
 */
export const HOST_PARTY = 'host';

/** The four-eyes party of a named account (src/issuance/operatorSessions.ts uses the same). */
export function accountParty(name: string): string {
  return `account:${name}`;
}

/**
 * Who alone could know a secret that `party` sets (creating an account or resetting its secret):
 * that party, and whoever controls that party's own account (transitively, as recorded then).
 * The host is not counted (HOST_PARTY).
 */
async function controllersAfterSetBy(deps: Pick<Deps, 'store'>, party: string): Promise<string[]> {
  if (party === HOST_PARTY) return [];
  const own = party.startsWith('account:') ? await deps.store.operatorAccounts.get(party.slice('account:'.length)) : undefined;
  return [...new Set([party, ...(own?.controlledBy ?? [])])];
}

/**
 * Four-eyes: whether `proposer` and `confirmer` are two independent people as far as the issuer
 * can tell. Not when they are the same party, when either could hold the other's secret (one
 * created or reset the other's account, directly or through an account it controls), or when
 * one party outside both holds both secrets (it set up both accounts). Accounts set up by the
 * host, by an IdP (SSO subjects) or that each enrolled independently are independent.
 */
export async function independentParties(deps: Pick<Deps, 'store'>, proposer: string, confirmer: string): Promise<boolean> {
  if (proposer === confirmer) return false;
  const controllers = async (party: string) =>
    party.startsWith('account:') ? ((await deps.store.operatorAccounts.get(party.slice('account:'.length)))?.controlledBy ?? []) : [];
  const p = new Set([proposer, ...(await controllers(proposer))]);
  const c = new Set([confirmer, ...(await controllers(confirmer))]);
  for (const party of p) if (c.has(party)) return false;
  return true;
}

/**
 * Creates an account; returns the secret, which exists nowhere else afterwards. `party` (the
 * four-eyes party of who creates it; default the host, `npm run operators`) is recorded as
 * controlling the account: it cannot confirm that party's proposals, nor they its.
 */
export async function addOperatorAccount(
  deps: Deps,
  input: { name: string; role: string; actor: string; party?: string },
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
    controlledBy: await controllersAfterSetBy(deps, input.party ?? HOST_PARTY),
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

/**
 * Gives a live account a new secret (shown once) and ends its sessions. Whoever resets it
 * (`party`, default the host) now controls the account for four-eyes, as its creator did.
 */
export async function resetOperatorSecret(
  deps: Deps,
  input: { name: string; actor: string; party?: string },
): Promise<{ secret: string; sessionsEnded: number }> {
  const secret = randomToken(deps.crypto);
  const now = nowSeconds(deps);
  const controlledBy = await controllersAfterSetBy(deps, input.party ?? HOST_PARTY);
  if (!(await deps.store.operatorAccounts.setSecret(input.name, await hashSecret(secret), now, controlledBy))) {
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
