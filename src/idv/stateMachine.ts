import type { IdvState } from './provider';

/**
 * The normalised IDV state machine:
 *
 *   created → in_progress → processing → approved | declined | needs_review |
 *                                        resubmission_requested | expired | abandoned
 *
 * - Forward moves are allowed; a move back (e.g. processing → in_progress) only after
 *   `resubmission_requested` (the applicant is asked to try again).
 * - `needs_review` is a decision pending a human: it may become approved or declined.
 * - A new decision after a terminal one (a vendor flipping approved → declined, a reviewer
 *   overruling) is a re-decision: applied, recorded and announced, never silently dropped.
 * - Events are applied by their own time: an older event than the newest applied is stale
 *   (the caller's conditional UPDATE enforces that in the database).
 */
export const TERMINAL_STATES: ReadonlySet<IdvState> = new Set(['approved', 'declined', 'expired', 'abandoned']);
const DECISIONS: ReadonlySet<IdvState> = new Set(['approved', 'declined', 'needs_review']);

const RANK: Record<IdvState, number> = {
  created: 0,
  in_progress: 1,
  processing: 2,
  resubmission_requested: 3,
  needs_review: 3,
  approved: 4,
  declined: 4,
  expired: 4,
  abandoned: 4,
};

export type Transition = { kind: 'apply'; redecision: boolean } | { kind: 'ignore'; why: 'same_state' | 'backward' | 'after_terminal' };

export function transition(from: IdvState, to: IdvState): Transition {
  if (from === to) return { kind: 'ignore', why: 'same_state' };
  if (TERMINAL_STATES.has(from)) {
    // Only a new decision can follow a terminal state (approved ↔ declined, or back to review).
    if (DECISIONS.has(to) && from !== 'expired' && from !== 'abandoned') return { kind: 'apply', redecision: true };
    return { kind: 'ignore', why: 'after_terminal' };
  }
  if (from === 'resubmission_requested') return { kind: 'apply', redecision: false };
  if (from === 'needs_review' && !DECISIONS.has(to) && !TERMINAL_STATES.has(to)) return { kind: 'ignore', why: 'backward' };
  if (RANK[to] < RANK[from]) return { kind: 'ignore', why: 'backward' };
  return { kind: 'apply', redecision: false };
}

/** The application status the credential and deferred endpoints read. */
export function applicationStatusFor(state: IdvState): 'pending' | 'review' | 'approved' | 'rejected' {
  switch (state) {
    case 'approved':
      return 'approved';
    case 'declined':
    case 'expired':
    case 'abandoned':
      return 'rejected';
    case 'needs_review':
      return 'review';
    default:
      return 'pending';
  }
}

/** Outbound event type for a state reached (enqueued by src/issuance/identityVerification.ts, delivered by src/issuance/webhookDelivery.ts). */
export function outboundEventFor(state: IdvState): 'application.approved' | 'application.rejected' | 'application.needs_review' | undefined {
  const status = applicationStatusFor(state);
  if (status === 'approved') return 'application.approved';
  if (status === 'rejected') return 'application.rejected';
  if (status === 'review') return 'application.needs_review';
  return undefined;
}
