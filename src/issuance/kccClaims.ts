import { ISO_3166_ALPHA2 } from '../idv/fields';

/**
 * What a KCC must carry to be issued (the published schema, test/fixtures/kcc.schema.json:
 * `credentialSubject.countryOfResidence` required, `^[A-Z]{2}$`; we also require a real
 * ISO 3166-1 alpha-2 code, as the form does). Checked when a decision is made (an approval
 * lacking it goes to review), when a presented credential supplies it, and before signing.
 */
export function isCountryOfResidence(value: unknown): value is string {
  return typeof value === 'string' && ISO_3166_ALPHA2.has(value);
}

/** Why an application cannot become a KCC as it stands, or undefined when it can. */
export function kccDataProblem(application: { countryOfResidence: string | null | undefined }): 'missing_country_of_residence' | undefined {
  return isCountryOfResidence(application.countryOfResidence) ? undefined : 'missing_country_of_residence';
}
