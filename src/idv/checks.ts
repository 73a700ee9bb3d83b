import type { IdvOutcome } from '../store/types';
import type { IdentityFields } from './fields';

/**
 * Which checks IDV runs for an application: the selected tier's required checks,
 * minus those already covered by presented credentials (an upgrade from tier A to tier B runs
 * only B's extra checks; a renewal only the checks whose evidence aged out). The sandbox
 * provider "performs" a check by recording evidence for it; a real provider is asked for
 * exactly these checks.
 */
export function sandboxEvidenceForChecks(fields: IdentityFields, checks: readonly string[]): { kind: string; checks: string[] }[] {
  return checks.map((kind) => {
    if (kind === 'document_verification') return { kind, checks: [fields.document_type ?? 'document'] };
    if (kind === 'sanction_screening') return { kind, checks: ['sanctions', 'PEP'] };
    return { kind, checks: ['sandbox'] };
  });
}

/** Narrows an IDV outcome to the checks this application still needs, under the tier's name. */
export function outcomeForChecks(outcome: IdvOutcome, fields: IdentityFields, checks: readonly string[], tierName: string): IdvOutcome {
  if (outcome.status === 'rejected') return outcome;
  return { ...outcome, evidence: sandboxEvidenceForChecks(fields, checks), ...(outcome.status === 'approved' ? { tier: tierName } : {}) };
}

const PERSON_FIELDS = ['given_name', 'family_name', 'birthdate', 'country_of_residence'];
const DOCUMENT_FIELDS = [...PERSON_FIELDS, 'document_type', 'document_number'];

/**
 * The form fields the given checks need: a document check needs the document; screening (and
 * any other check) needs the person's name, birth date and country. Never empty.
 */
export function fieldsForChecks(checks: readonly string[]): Set<string> {
  const fields = new Set<string>(PERSON_FIELDS);
  if (checks.includes('document_verification')) for (const f of DOCUMENT_FIELDS) fields.add(f);
  return fields;
}
