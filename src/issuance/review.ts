import type { IdvResult } from '../idv/provider';
import { nowSeconds } from '../ports/clock';
import { NotFound } from '../protocol/errors';
import type { Application, AuditEntry, PendingApproval } from '../store/types';
import { statusOf } from './credentialStatus';
import { sealedVouchedFields } from './heldCredentials';
import type { IssuanceDeps } from './deps';
import { isCountryOfResidence } from './kccClaims';
import { assertOperatorMay } from './operatorAccounts';
import { evidenceForDecision, tierChoices } from './tierRule';
import type { LiveOperatorSession } from './operatorSessions';

/**
 * What a reviewer sees of one application (the console's application page): the application,
 * a pending four-eyes proposal, its KCCs and their status, the IDV session, the applicant's PII
 * (opened from the vault only here, and every opening audited as `pii.viewed` under the
 * operator's name before it is shown), and the audit trail. The route only renders it
 * (src/http/routes/console.ts). Times are seconds since the epoch.
 */
export interface ApplicationReview {
  application: Application;
  /** A proposal waiting for confirmation, for the status the application still has. */
  pendingApproval?: PendingApproval & { own: boolean };
  credentials: Array<{ id: string; status: 'revoked' | 'suspended' | 'active'; issuedAt: number; expiresAt: number }>;
  idv: { state: string; vendorReference: string | null; reasonCodes: string[]; checks: string[] } | null;
  /** The opened PII, `erased`, or null when there is none (or no key to open it). */
  pii: Record<string, string> | null | 'erased';
  audit: AuditEntry[];
  /** The tiers a decision may name, those the evidence covers: the application's own first (the preselected option), then the others. */
  tiers: string[];
  /** Configured tiers the evidence does not cover, with the checks each still misses (an approval naming one is refused). */
  tiersNotCovered: { name: string; missing: string[] }[];
  /** An approval must carry a country of residence the application lacks. */
  needsCountry: boolean;
  /** Who took the case in the console (an audit actor), if anyone. */
  assignee: string | null;
}

/** Reads an application for review by `session` (role `view`); throws NotFound for an unknown id. */
export async function reviewApplication(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'config' | 'idv'>,
  session: Pick<LiveOperatorSession, 'role' | 'party' | 'actor'>,
  id: string,
): Promise<ApplicationReview> {
  assertOperatorMay(session.role, 'view');
  const application = await deps.store.applications.get(id);
  if (!application) throw new NotFound('no such application');
  const pending = await deps.store.pendingApprovals.get(id);
  const credentials: ApplicationReview['credentials'] = [];
  for (const issued of await deps.store.issuedCredentials.listForApplication(id)) {
    const record = await deps.store.credentialStatus.get(issued.id);
    if (record) credentials.push({ id: issued.id, status: statusOf(record), issuedAt: issued.issuedAt, expiresAt: issued.expiresAt });
  }
  const idvSession = await deps.store.idvSessions.get(id);
  const outcome = idvSession?.outcome ? (idvSession.outcome as unknown as IdvResult & { evidence?: { kind: string; checks: string[] }[] }) : undefined;
  const pii = await openPiiForReview(deps, session, id);
  // Read after the opening was recorded: the trail shown includes this very viewing.
  const audit = await deps.store.audit.listForApplication(id);
  const { held } = await evidenceForDecision(deps, application, nowSeconds(deps));
  const choices = tierChoices(deps, held, nowSeconds(deps));
  const configured = [...new Set(choices.filter((t) => t.missing.length === 0).map((t) => t.name))];
  const assignment = await deps.store.applicationAssignments.get(id);
  return {
    application,
    pendingApproval: pending && pending.fromStatus === application.status ? { ...pending, own: pending.party === session.party } : undefined,
    credentials,
    idv: idvSession
      ? {
          state: idvSession.state,
          vendorReference: idvSession.vendorReference,
          reasonCodes: outcome?.reasonCodes ?? [],
          checks: (outcome?.evidence ?? []).map((ev) => `${ev.kind} (${ev.checks.join(', ')})`),
        }
      : null,
    pii,
    audit,
    tiers: [...new Set([application.tier, ...configured].filter((t): t is string => !!t && configured.includes(t)))],
    tiersNotCovered: choices.filter((t) => t.missing.length > 0 && !configured.includes(t.name)).map(({ name, missing }) => ({ name, missing })),
    needsCountry: !isCountryOfResidence(application.countryOfResidence),
    assignee: assignment?.assignee ?? null,
  };
}

/**
 * "Assign to me" in the console: `session` takes the case (replacing whoever had it), or releases
 * it. A hint between reviewers about who works on what, not a lock: any reviewer may still decide.
 */
export async function assignCase(
  deps: Pick<IssuanceDeps, 'store' | 'clock'>,
  session: Pick<LiveOperatorSession, 'role' | 'actor'>,
  id: string,
  op: 'assign' | 'release',
): Promise<void> {
  assertOperatorMay(session.role, 'decide');
  if (!(await deps.store.applications.get(id))) throw new NotFound('no such application');
  if (op === 'assign') await deps.store.applicationAssignments.assign(id, session.actor, nowSeconds(deps));
  else await deps.store.applicationAssignments.release(id);
}

/**
 * The applicant's PII from the vault, each opening audited as `pii.viewed` (who, when; never what):
 * what the form collected, else what presented credentials vouched for (an application decided
 * by a credential alone has no form PII), with the nationality and the credentials' names.
 */
async function openPiiForReview(
  deps: Pick<IssuanceDeps, 'store' | 'clock' | 'idv'>,
  session: Pick<LiveOperatorSession, 'actor'>,
  id: string,
): Promise<ApplicationReview['pii']> {
  const record = await deps.store.pii.get(id);
  if (record?.erasedAt) return 'erased';
  const vault = deps.idv.vault;
  let pii: Record<string, string> | undefined;
  if (record?.ciphertext && vault?.has(record.keyId)) pii = (await vault.open(id, record.ciphertext, record.keyId)) as Record<string, string>;
  else if (!record) {
    const claims = await deps.store.presentedClaims.get(id);
    if (claims?.erasedAt) return 'erased';
    const vouched = await sealedVouchedFields(deps, id);
    if (vouched)
      pii = {
        ...(vouched.fields as Record<string, string>),
        ...(vouched.nationality ? { nationality: vouched.nationality } : {}),
        presented_credentials: vouched.credentials.join(', '),
      };
  }
  if (!pii) return null;
  await deps.store.audit.record({ applicationId: id, actor: session.actor, action: 'pii.viewed', at: nowSeconds(deps) });
  return pii;
}
