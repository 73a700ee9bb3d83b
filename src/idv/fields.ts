/**
 * The identity fields the hosted form collects, with ONE set of rules used twice: rendered
 * as HTML constraint attributes (client-side validation in the webview) and checked on the
 * server by `validateIdentityFields`.
 */
export const ISO_3166_ALPHA2 = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT ' +
    'MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG ' +
    'UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

export const DOCUMENT_TYPES = {
  passport: 'Passport',
  national_id: 'National identity card',
  drivers_license: "Driver's licence",
  residence_permit: 'Residence permit',
} as const;
export type DocumentType = keyof typeof DOCUMENT_TYPES;

export interface IdentityFields {
  given_name: string;
  family_name: string;
  birthdate: string;
  country_of_residence: string;
  document_type: DocumentType;
  document_number: string;
}

export interface FieldRule {
  name: keyof IdentityFields;
  /** English label; pages show the label of the page's language (src/idv/messages.ts). */
  label: string;
  type: 'text' | 'date' | 'select';
  autocomplete?: string;
  maxLength?: number;
  minLength?: number;
  /** HTML `pattern` (whole-value match, compiled with the `v` flag as browsers do) and the same regex on the server. */
  pattern?: string;
  hint?: string;
}

export const FIELD_RULES: readonly FieldRule[] = [
  {
    name: 'given_name',
    label: 'Given name(s)',
    type: 'text',
    autocomplete: 'given-name',
    minLength: 1,
    maxLength: 100,
    pattern: "[\\p{L}\\p{M}'\u2019 .\\-]+",
  },
  {
    name: 'family_name',
    label: 'Family name',
    type: 'text',
    autocomplete: 'family-name',
    minLength: 1,
    maxLength: 100,
    pattern: "[\\p{L}\\p{M}'\u2019 .\\-]+",
  },
  // Entered as three numeric fields (day, month, year; `BIRTHDATE_PARTS`), so what the applicant
  // types matches the hint whatever the webview's locale; JSON clients send YYYY-MM-DD.
  { name: 'birthdate', label: 'Date of birth', type: 'date', autocomplete: 'bday', pattern: '\\d{4}-\\d{2}-\\d{2}' },
  // A <select> of ISO_3166_ALPHA2 codes shown as country names (src/http/views/idvPages.ts).
  { name: 'country_of_residence', label: 'Country of residence', type: 'select', autocomplete: 'country', minLength: 2, maxLength: 2, pattern: '[A-Za-z]{2}' },
  { name: 'document_type', label: 'Identity document', type: 'select' },
  { name: 'document_number', label: 'Document number', type: 'text', autocomplete: 'off', minLength: 3, maxLength: 40, pattern: '[A-Za-z0-9 \\-]+' },
];

/**
 * Stable per-field error codes: JSON clients get these, pages show the message of the page's
 * language for each (src/idv/messages.ts).
 */
export type FieldErrorCode =
  | 'required'
  | 'invalid_characters'
  | 'too_long'
  | 'too_short'
  | 'invalid_format'
  | 'invalid_date'
  | 'date_in_future'
  | 'date_too_early'
  | 'unknown_country'
  | 'unknown_document_type';
export type FieldErrors = Partial<Record<keyof IdentityFields, FieldErrorCode>>;

const CONTROL = /\p{Cc}/u;

/** The hosted form's three date-of-birth fields, in the order shown, with their HTML constraints. */
export const BIRTHDATE_PARTS = [
  { name: 'birthdate_day', part: 'day', autocomplete: 'bday-day', maxLength: 2, pattern: '[0-9]{1,2}' },
  { name: 'birthdate_month', part: 'month', autocomplete: 'bday-month', maxLength: 2, pattern: '[0-9]{1,2}' },
  { name: 'birthdate_year', part: 'year', autocomplete: 'bday-year', maxLength: 4, pattern: '[0-9]{4}' },
] as const;

/**
 * `birthdate` as YYYY-MM-DD from the form's day, month and year fields when the input has no
 * `birthdate` of its own: '' when all three are empty (required), a value that fails the
 * format check when a part is malformed (invalid_format / invalid_date).
 */
export function birthdateOf(input: Record<string, unknown>): unknown {
  if (typeof input.birthdate === 'string' || !BIRTHDATE_PARTS.some((p) => p.name in input)) return input.birthdate;
  const [day, month, year] = BIRTHDATE_PARTS.map((p) => (typeof input[p.name] === 'string' ? (input[p.name] as string).trim() : ''));
  if (!day && !month && !year) return '';
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) return `${year}-${month}-${day}`;
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}

/** Validates untrusted input; returns the cleaned fields or per-field errors. `today` is YYYY-MM-DD. */
export function validateIdentityFields(
  input: Record<string, unknown>,
  today: string,
  only?: ReadonlySet<string>,
): { ok: true; fields: IdentityFields } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const out: Record<string, string> = {};
  for (const rule of FIELD_RULES) {
    // `only`: the fields the application's remaining checks need (presented credentials).
    if (only && !only.has(rule.name)) continue;
    const raw = rule.name === 'birthdate' ? birthdateOf(input) : input[rule.name];
    const value = typeof raw === 'string' ? raw.trim() : '';
    if (!value) {
      errors[rule.name] = 'required';
      continue;
    }
    if (CONTROL.test(value)) errors[rule.name] = 'invalid_characters';
    else if (rule.maxLength && value.length > rule.maxLength) errors[rule.name] = 'too_long';
    else if (rule.minLength && value.length < rule.minLength) errors[rule.name] = 'too_short';
    else if (rule.pattern && !new RegExp(`^(?:${rule.pattern})$`, 'v').test(value)) errors[rule.name] = 'invalid_format';
    out[rule.name] = value;
  }
  if (!errors.birthdate && out.birthdate) {
    const d = new Date(`${out.birthdate}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== out.birthdate) errors.birthdate = 'invalid_date';
    else if (out.birthdate > today) errors.birthdate = 'date_in_future';
    else if (out.birthdate < '1900-01-01') errors.birthdate = 'date_too_early';
  }
  if (!errors.country_of_residence && out.country_of_residence) {
    out.country_of_residence = out.country_of_residence.toUpperCase();
    if (!ISO_3166_ALPHA2.has(out.country_of_residence)) errors.country_of_residence = 'unknown_country';
  }
  if (!errors.document_type && out.document_type && !(out.document_type in DOCUMENT_TYPES)) {
    errors.document_type = 'unknown_document_type';
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, fields: out as unknown as IdentityFields };
}
