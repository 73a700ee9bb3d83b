import type { FieldErrorCode, IdentityFields } from './fields';

/**
 * The applicant-facing texts of the hosted form, one small catalogue per language. The page's
 * language is the applicant's first supported `Accept-Language` choice (RFC 9110 §12.5.4);
 * server-side validation messages come from the same catalogue, JSON clients get the stable
 * codes of src/idv/fields.ts.
 */
export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

type FieldName = keyof IdentityFields;

export interface Messages {
  fieldLabels: Record<FieldName, string>;
  hints: Partial<Record<FieldName, string>>;
  documentTypes: Record<'passport' | 'national_id' | 'drivers_license' | 'residence_permit', string>;
  choose: string;
  fieldError(code: FieldErrorCode, label: string): string;
  errorPrefix: string;
  problems(count: number): string;
  formTitle: string;
  formIntro(pfi: string): string;
  /** Above the fields a presented credential vouched for (shown read-only), naming the credentials. */
  vouchedNote(credentials: string): string;
  submit: string;
  consentTitle: string;
  consentIntro(pfi: string): string;
  consentCollectedHeading: string;
  consentCredentialHeading: string;
  consentCredential: string;
  consentRetentionHeading: string;
  consentRetention(days: number): string;
  consentWhoHeading: string;
  consentWho(pfi: string): string;
  terms: string;
  privacy: string;
  optionalHeading: string;
  consentAccept: string;
  consentDecline: string;
  consentRequired: string;
  /** The three date-of-birth fields' own labels. */
  dateParts: { day: string; month: string; year: string };
  finishTitle: string;
  finishMessage: string;
  /** The finish page when the credential is ready at once. */
  finishApprovedTitle: string;
  finishApprovedMessage(pfi: string): string;
  /** The finish page when an operator must look at the application first. */
  finishReviewTitle: string;
  finishReviewMessage(pfi: string, hours: number): string;
  withdrawnTitle: string;
  withdrawnMessage: string;
}

const en: Messages = {
  fieldLabels: {
    given_name: 'Given name(s)',
    family_name: 'Family name',
    birthdate: 'Date of birth',
    country_of_residence: 'Country of residence',
    document_type: 'Identity document',
    document_number: 'Document number',
  },
  hints: { birthdate: 'For example, 27 3 1990' },
  dateParts: { day: 'Day', month: 'Month', year: 'Year' },
  documentTypes: { passport: 'Passport', national_id: 'National identity card', drivers_license: "Driver's licence", residence_permit: 'Residence permit' },
  choose: 'Choose…',
  fieldError(code, label) {
    switch (code) {
      case 'required':
        return `${label} is required`;
      case 'invalid_characters':
        return `${label} contains invalid characters`;
      case 'too_long':
        return `${label} is too long`;
      case 'too_short':
        return `${label} is too short`;
      case 'invalid_format':
        return `${label} has an invalid format`;
      case 'invalid_date':
        return `${label} must be a real date`;
      case 'date_in_future':
        return `${label} cannot be in the future`;
      case 'date_too_early':
        return `${label} must be after 1900-01-01`;
      case 'unknown_country':
        return `Choose your ${label.toLowerCase()} from the list`;
      case 'unknown_document_type':
        return `Choose your ${label.toLowerCase()} from the list`;
    }
  },
  errorPrefix: 'Error: ',
  problems: (n) => (n === 1 ? 'There is a problem' : `There are ${n} problems`),
  formTitle: 'Verify your identity',
  formIntro: (pfi) => `${pfi} needs these details to issue your Known Customer Credential.`,
  vouchedNote: (credentials) => `Taken from your ${credentials}. They cannot be changed here.`,
  submit: 'Submit',
  consentTitle: 'Before you start',
  consentIntro: (pfi) => `${pfi} asks for your consent before you enter your details.`,
  consentCollectedHeading: 'What we collect',
  consentCredentialHeading: 'What goes into your credential',
  consentCredential:
    'Only your country of residence, the credential tier and the kinds of checks done (for example "document verification") go into your Known Customer Credential. Your name, date of birth and document number do not.',
  consentRetentionHeading: 'How long we keep your details',
  consentRetention: (days) => `Your personal details are deleted ${days} ${days === 1 ? 'day' : 'days'} after the decision on your application.`,
  consentWhoHeading: 'Who we are',
  consentWho: (pfi) => `${pfi} verifies your identity and issues the credential.`,
  terms: 'Terms of service',
  privacy: 'Privacy policy',
  optionalHeading: 'Optional (you may leave these unticked)',
  consentAccept: 'I agree, continue',
  consentDecline: 'I do not agree',
  consentRequired: 'Please agree to continue, or decline to end your application',
  finishTitle: 'Thank you',
  finishMessage: 'Your details were submitted. You can return to your wallet.',
  finishApprovedTitle: 'You are verified',
  finishApprovedMessage: (pfi) => `${pfi} verified your identity. Return to your wallet to receive your Known Customer Credential.`,
  finishReviewTitle: 'We are checking your details',
  finishReviewMessage: (pfi, hours) =>
    `A member of the ${pfi} team needs to look at your application. You should hear back within ${hours < 48 ? `${hours} ${hours === 1 ? 'hour' : 'hours'}` : `${Math.ceil(hours / 24)} days`}. You can return to your wallet now: it will collect your credential once it is approved.`,
  withdrawnTitle: 'Application withdrawn',
  withdrawnMessage: 'You did not agree, so your application was ended and none of your personal details were collected. You can return to your wallet.',
};

const de: Messages = {
  fieldLabels: {
    given_name: 'Vorname(n)',
    family_name: 'Familienname',
    birthdate: 'Geburtsdatum',
    country_of_residence: 'Wohnsitzland',
    document_type: 'Ausweisdokument',
    document_number: 'Dokumentnummer',
  },
  hints: { birthdate: 'Zum Beispiel 27 3 1990' },
  dateParts: { day: 'Tag', month: 'Monat', year: 'Jahr' },
  documentTypes: { passport: 'Reisepass', national_id: 'Personalausweis', drivers_license: 'Führerschein', residence_permit: 'Aufenthaltstitel' },
  choose: 'Bitte wählen…',
  fieldError(code, label) {
    switch (code) {
      case 'required':
        return `${label} ist erforderlich`;
      case 'invalid_characters':
        return `${label} enthält ungültige Zeichen`;
      case 'too_long':
        return `${label} ist zu lang`;
      case 'too_short':
        return `${label} ist zu kurz`;
      case 'invalid_format':
        return `${label} hat ein ungültiges Format`;
      case 'invalid_date':
        return `${label} muss ein echtes Datum sein`;
      case 'date_in_future':
        return `${label} darf nicht in der Zukunft liegen`;
      case 'date_too_early':
        return `${label} muss nach dem 01.01.1900 liegen`;
      case 'unknown_country':
      case 'unknown_document_type':
        return `Bitte wählen Sie ${label} aus der Liste`;
    }
  },
  errorPrefix: 'Fehler: ',
  problems: (n) => (n === 1 ? 'Es gibt ein Problem' : `Es gibt ${n} Probleme`),
  formTitle: 'Identität bestätigen',
  formIntro: (pfi) => `${pfi} benötigt diese Angaben, um Ihren Known Customer Credential auszustellen.`,
  vouchedNote: (credentials) => `Aus Ihrem Nachweis (${credentials}) übernommen. Diese Angaben können hier nicht geändert werden.`,
  submit: 'Absenden',
  consentTitle: 'Bevor Sie beginnen',
  consentIntro: (pfi) => `${pfi} bittet um Ihre Einwilligung, bevor Sie Ihre Angaben machen.`,
  consentCollectedHeading: 'Was wir erheben',
  consentCredentialHeading: 'Was in Ihren Nachweis aufgenommen wird',
  consentCredential:
    'Nur Ihr Wohnsitzland, die Stufe des Nachweises und die Arten der durchgeführten Prüfungen (zum Beispiel „Dokumentenprüfung“) kommen in Ihren Known Customer Credential. Ihr Name, Geburtsdatum und Ihre Dokumentnummer nicht.',
  consentRetentionHeading: 'Wie lange wir Ihre Angaben speichern',
  consentRetention: (days) => `Ihre persönlichen Angaben werden ${days} ${days === 1 ? 'Tag' : 'Tage'} nach der Entscheidung über Ihren Antrag gelöscht.`,
  consentWhoHeading: 'Wer wir sind',
  consentWho: (pfi) => `${pfi} prüft Ihre Identität und stellt den Nachweis aus.`,
  terms: 'Nutzungsbedingungen',
  privacy: 'Datenschutzerklärung',
  optionalHeading: 'Optional (Sie können diese Felder leer lassen)',
  consentAccept: 'Ich stimme zu, weiter',
  consentDecline: 'Ich stimme nicht zu',
  consentRequired: 'Bitte stimmen Sie zu, um fortzufahren, oder lehnen Sie ab, um Ihren Antrag zu beenden',
  finishTitle: 'Vielen Dank',
  finishMessage: 'Ihre Angaben wurden übermittelt. Sie können zu Ihrer Wallet zurückkehren.',
  finishApprovedTitle: 'Sie sind verifiziert',
  finishApprovedMessage: (pfi) => `${pfi} hat Ihre Identität geprüft. Kehren Sie zu Ihrer Wallet zurück, um Ihren Known Customer Credential zu erhalten.`,
  finishReviewTitle: 'Wir prüfen Ihre Angaben',
  finishReviewMessage: (pfi, hours) =>
    `Ein Mitarbeiter von ${pfi} muss Ihren Antrag ansehen. Sie erhalten eine Antwort innerhalb von ${hours < 48 ? `${hours} ${hours === 1 ? 'Stunde' : 'Stunden'}` : `${Math.ceil(hours / 24)} Tagen`}. Sie können jetzt zu Ihrer Wallet zurückkehren: Sie holt Ihren Nachweis ab, sobald er genehmigt ist.`,
  withdrawnTitle: 'Antrag zurückgezogen',
  withdrawnMessage:
    'Sie haben nicht zugestimmt, daher wurde Ihr Antrag beendet; es wurden keine persönlichen Angaben erhoben. Sie können zu Ihrer Wallet zurückkehren.',
};

const CATALOGUE: Record<Language, Messages> = { en, de };

export function messagesFor(lang: Language): Messages {
  return CATALOGUE[lang];
}

/** The first supported language of an `Accept-Language` header by q-value; English otherwise. */
export function negotiateLanguage(header: string | undefined | null): Language {
  if (!header) return 'en';
  const ranges = header
    .slice(0, 500)
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag: tag.trim().toLowerCase(), q: Number.isFinite(weight) ? weight : 0, i };
    })
    .filter((r) => r.tag && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranges) {
    const primary = tag.split('-')[0];
    const match = LANGUAGES.find((l) => l === primary);
    if (match) return match;
  }
  return 'en';
}
