import type { ConsentItem } from '../../config';
import { BIRTHDATE_PARTS, DOCUMENT_TYPES, FIELD_RULES, ISO_3166_ALPHA2, type FieldErrorCode, type FieldErrors } from '../../idv/fields';
import { messagesFor, type Language } from '../../idv/messages';

/**
 * Server-rendered pages of the hosted IDV form (spec, "PII collected by PFI"): plain HTML
 * that works in a mobile webview, accessible labels and error messages, no scripts, no
 * third-party assets (the CSP in src/http/routes/idvForm.ts allows only our stylesheet).
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

/** The PFI's name and logo at the top of every applicant page (ISSUER_NAME, ISSUER_LOGO_URI). */
export interface Brand {
  name: string;
  logoUri?: string;
}

function brandHeader(brand: Brand | undefined): string {
  if (!brand) return '';
  const logo = brand.logoUri ? `<img src="${escapeHtml(brand.logoUri)}" alt="" height="32">` : '';
  return `<header class="brand">${logo}<span>${escapeHtml(brand.name)}</span></header>\n`;
}

function layout(title: string, body: string, cssHref: string, lang: Language = 'en', brand?: Brand): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(cssHref)}">
</head>
<body>
${brandHeader(brand)}<main>
${body}
</main>
</body>
</html>`;
}

/** ISO 3166-1 alpha-2 codes with their names in `lang`, sorted by name as that language sorts. */
export function countryOptions(lang: Language): Array<{ code: string; name: string }> {
  const names = new Intl.DisplayNames([lang], { type: 'region', fallback: 'code' });
  const collator = new Intl.Collator(lang);
  return [...ISO_3166_ALPHA2].map((code) => ({ code, name: names.of(code) ?? code })).sort((a, b) => collator.compare(a.name, b.name));
}

function options(choices: Array<{ value: string; label: string }>, selected: string | undefined, choose: string): string {
  return `<option value="">${escapeHtml(choose)}</option>${choices
    .map(({ value, label }) => `<option value="${escapeHtml(value)}"${selected === value ? ' selected' : ''}>${escapeHtml(label)}</option>`)
    .join('')}`;
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

export function renderIdvForm(input: {
  action: string;
  cssHref: string;
  issuerName: string;
  lang?: Language;
  values?: Record<string, string>;
  errors?: FieldErrors;
  /** Double-submit CSRF token (also in the idv_csrf cookie). */
  csrfToken?: string;
  /** Only these fields (the checks still to do); default: every field. */
  fields?: ReadonlySet<string>;
  /** The optional consent items ticked on the consent step (carried to the submission). */
  consentOptional?: readonly string[];
  /**
   * Values presented credentials vouched for, by field, and the credentials' names: shown
   * read-only (labelled, not posted; the server uses the sealed values).
   */
  vouched?: { fields: Partial<Record<string, string>>; credentials: readonly string[] };
  brand?: Brand;
}): string {
  const lang = input.lang ?? 'en';
  const vouched = input.vouched?.fields ?? {};
  const m = messagesFor(lang);
  const values = input.values ?? {};
  const errors = input.errors ?? {};
  const errorCount = Object.keys(errors).length;
  const message = (name: keyof typeof m.fieldLabels, code: FieldErrorCode) => m.fieldError(code, m.fieldLabels[name]);
  // In the order of the form, and focused on load (autofocus: the pages run no script), so a
  // screen reader announces it and the keyboard starts from it.
  const summary = errorCount
    ? `<div class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus><h2>${escapeHtml(m.problems(errorCount))}</h2><ul>${FIELD_RULES.filter(
        (rule) => errors[rule.name],
      )
        .map((rule) => `<li><a href="#${rule.name}">${escapeHtml(message(rule.name, errors[rule.name] as FieldErrorCode))}</a></li>`)
        .join('')}</ul></div>`
    : '';
  const fields = FIELD_RULES.filter((rule) => !input.fields || input.fields.has(rule.name))
    .map((rule) => {
      const id = rule.name;
      const code = errors[rule.name];
      const hint = m.hints[rule.name];
      const describedBy = [hint ? `${id}-hint` : '', code ? `${id}-error` : ''].filter(Boolean).join(' ');
      const common = `id="${id}" name="${id}" required${rule.autocomplete ? ` autocomplete="${rule.autocomplete}"` : ''}${describedBy ? ` aria-describedby="${describedBy}"` : ''}${code ? ' aria-invalid="true"' : ''}`;
      const value = escapeHtml(values[rule.name] ?? '');
      let control: string;
      const vouchedValue = vouched[rule.name];
      if (vouchedValue !== undefined) return vouchedField(rule.name, vouchedValue, m, lang);
      if (rule.name === 'birthdate') return birthdateFieldset({ m, code, hint, values, message: code ? message(rule.name, code) : undefined });
      if (rule.name === 'country_of_residence') {
        const chosen = values[rule.name]?.trim().toUpperCase();
        control = `<select ${common}>${options(
          countryOptions(lang).map((c) => ({ value: c.code, label: c.name })),
          chosen,
          m.choose,
        )}</select>`;
      } else if (rule.name === 'document_type') {
        const choices = (Object.keys(DOCUMENT_TYPES) as Array<keyof typeof DOCUMENT_TYPES>).map((v) => ({ value: v, label: m.documentTypes[v] }));
        control = `<select ${common}>${options(choices, values[rule.name], m.choose)}</select>`;
      } else {
        const attrs = [
          `type="${rule.type}"`,
          rule.maxLength ? `maxlength="${rule.maxLength}"` : '',
          rule.minLength ? `minlength="${rule.minLength}"` : '',
          rule.pattern ? `pattern="${escapeHtml(rule.pattern)}"` : '',
          rule.type === 'date' ? 'min="1900-01-01"' : '',
        ]
          .filter(Boolean)
          .join(' ');
        control = `<input ${attrs} ${common} value="${value}">`;
      }
      return `<div class="field${code ? ' has-error' : ''}">
<label for="${id}">${escapeHtml(m.fieldLabels[rule.name])}</label>
${hint ? `<p class="hint" id="${id}-hint">${escapeHtml(hint)}</p>` : ''}
${code ? `<p class="error" id="${id}-error">${escapeHtml(message(rule.name, code))}</p>` : ''}
${control}
</div>`;
    })
    .join('\n');
  const shown = FIELD_RULES.some((rule) => (!input.fields || input.fields.has(rule.name)) && vouched[rule.name] !== undefined);
  const vouchedNote =
    shown && input.vouched ? `<p class="hint" id="${VOUCHED_NOTE_ID}">${escapeHtml(m.vouchedNote(input.vouched.credentials.join(', ')))}</p>` : '';
  return layout(
    `${errorCount ? m.errorPrefix : ''}${m.formTitle} – ${input.issuerName}`,
    `<h1>${escapeHtml(m.formTitle)}</h1>
<p>${escapeHtml(m.formIntro(input.issuerName))}</p>
${summary}
${vouchedNote}
<form method="post" action="${escapeHtml(input.action)}">
${input.csrfToken ? hidden('csrf_token', input.csrfToken) : ''}
${hidden('consent', 'accept')}
${(input.consentOptional ?? []).map((id) => hidden(`consent_${id}`, 'on')).join('')}
${fields}
<button type="submit">${escapeHtml(m.submit)}</button>
</form>`,
    input.cssHref,
    lang,
    input.brand,
  );
}

const VOUCHED_NOTE_ID = 'vouched-note';

/**
 * A field a presented credential vouched for: a labelled read-only input (the date of birth as
 * its three read-only parts, the country by name) described by the note naming the credential.
 * No `name`: nothing of it is posted, the server takes the sealed value.
 */
function vouchedField(name: string, value: string, m: ReturnType<typeof messagesFor>, lang: Language): string {
  const label = m.fieldLabels[name as keyof typeof m.fieldLabels];
  const readonly = (id: string, shown: string, extra = '') =>
    `<input type="text" id="${id}" readonly aria-describedby="${VOUCHED_NOTE_ID}"${extra} value="${escapeHtml(shown)}">`;
  if (name === 'birthdate') {
    const [year, month, day] = value.split('-');
    const parts = { day: String(Number(day)), month: String(Number(month)), year };
    const inputs = BIRTHDATE_PARTS.map((p) => {
      const id = p.part === 'day' ? 'birthdate' : p.name;
      return `<div class="date-part date-${p.part}"><label for="${id}">${escapeHtml(m.dateParts[p.part])}</label>${readonly(id, parts[p.part], ' inputmode="numeric"')}</div>`;
    }).join('');
    return `<div class="field vouched">
<fieldset class="date" role="group" aria-describedby="${VOUCHED_NOTE_ID}"><legend>${escapeHtml(label)}</legend>
<div class="date-parts">${inputs}</div>
</fieldset>
</div>`;
  }
  const shown = name === 'country_of_residence' ? (countryOptions(lang).find((c) => c.code === value)?.name ?? value) : value;
  return `<div class="field vouched">
<label for="${name}">${escapeHtml(label)}</label>
${readonly(name, shown)}
</div>`;
}

/**
 * Date of birth as day, month and year (GOV.UK's memorable-date pattern): the hint's example is
 * what the applicant types, whatever the locale, unlike a native date picker. The day field
 * carries the id `birthdate`, so the error summary's link lands in the group.
 */
function birthdateFieldset(input: {
  m: ReturnType<typeof messagesFor>;
  code?: FieldErrorCode;
  hint?: string;
  values: Record<string, string>;
  message?: string;
}): string {
  const { m, code, hint, values } = input;
  const describedBy = [hint ? 'birthdate-hint' : '', code ? 'birthdate-error' : ''].filter(Boolean).join(' ');
  // Values as typed, or split back from a YYYY-MM-DD the page was given.
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(values.birthdate ?? '');
  const partValue = (name: string, part: 'day' | 'month' | 'year') =>
    values[name] ?? (iso ? String(Number(iso[part === 'year' ? 1 : part === 'month' ? 2 : 3])).padStart(part === 'year' ? 4 : 1, '0') : '');
  const inputs = BIRTHDATE_PARTS.map((p) => {
    const id = p.part === 'day' ? 'birthdate' : p.name;
    return `<div class="date-part date-${p.part}"><label for="${id}">${escapeHtml(m.dateParts[p.part])}</label><input type="text" inputmode="numeric" id="${id}" name="${p.name}" required autocomplete="${p.autocomplete}" maxlength="${p.maxLength}" pattern="${escapeHtml(p.pattern)}"${code ? ' aria-invalid="true"' : ''} value="${escapeHtml(partValue(p.name, p.part))}"></div>`;
  }).join('');
  return `<div class="field${code ? ' has-error' : ''}">
<fieldset class="date" role="group"${describedBy ? ` aria-describedby="${describedBy}"` : ''}><legend>${escapeHtml(m.fieldLabels.birthdate)}</legend>
${hint ? `<p class="hint" id="birthdate-hint">${escapeHtml(hint)}</p>` : ''}
${input.message ? `<p class="error" id="birthdate-error">${escapeHtml(input.message)}</p>` : ''}
<div class="date-parts">${inputs}</div>
</fieldset>
</div>`;
}

/**
 * The consent step, before any personal data is entered: what is collected (the fields this
 * application still needs), what goes into the credential, how long the data is kept, who the
 * PFI is with its terms and privacy policy, and one checkbox per optional item the PFI asks for.
 * Accepting leads to the form; declining withdraws the application.
 */
export function renderConsentPage(input: {
  action: string;
  cssHref: string;
  issuerName: string;
  lang?: Language;
  csrfToken?: string;
  fields?: ReadonlySet<string>;
  retentionDays: number;
  tosUri?: string;
  policyUri?: string;
  optionalItems?: readonly ConsentItem[];
  /** Set when a submission arrived without consent. */
  error?: boolean;
  brand?: Brand;
  /** "I already bank with <bankName> — sign in", beside the regular verification (docs/existing-customers.md). */
  existingCustomer?: { bankName: string; action: string; csrfToken: string };
  /** A status line above the page (the bank sign-in could not finish, and why in the applicant's terms). */
  notice?: string;
}): string {
  const lang = input.lang ?? 'en';
  const m = messagesFor(lang);
  const bank = input.existingCustomer
    ? `<section class="existing-customer" aria-labelledby="existing-customer-heading">
<h2 id="existing-customer-heading">Already a customer?</h2>
<form method="post" action="${escapeHtml(input.existingCustomer.action)}">
${hidden('csrf_token', input.existingCustomer.csrfToken)}
<button type="submit" id="existing-customer-sign-in">I already bank with ${escapeHtml(input.existingCustomer.bankName)} — sign in</button>
</form>
<p class="hint">Or verify your identity here:</p>
</section>`
    : '';
  const notice = input.notice ? `<div class="error-summary" role="status" id="existing-customer-notice"><p>${escapeHtml(input.notice)}</p></div>` : '';
  const collected = FIELD_RULES.filter((rule) => !input.fields || input.fields.has(rule.name))
    .map((rule) => `<li>${escapeHtml(m.fieldLabels[rule.name])}</li>`)
    .join('');
  const links = [
    input.tosUri ? `<li><a href="${escapeHtml(input.tosUri)}">${escapeHtml(m.terms)}</a></li>` : '',
    input.policyUri ? `<li><a href="${escapeHtml(input.policyUri)}">${escapeHtml(m.privacy)}</a></li>` : '',
  ]
    .filter(Boolean)
    .join('');
  const optional = input.optionalItems?.length
    ? `<fieldset><legend>${escapeHtml(m.optionalHeading)}</legend>${input.optionalItems
        .map(
          (item) =>
            `<div class="check"><input type="checkbox" id="consent_${escapeHtml(item.id)}" name="consent_${escapeHtml(item.id)}" value="on"><label for="consent_${escapeHtml(item.id)}">${escapeHtml(item.text)}</label></div>`,
        )
        .join('')}</fieldset>`
    : '';
  const error = input.error
    ? `<div class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus><p>${escapeHtml(m.consentRequired)}</p></div>`
    : '';
  return layout(
    `${input.error ? m.errorPrefix : ''}${m.consentTitle} – ${input.issuerName}`,
    `<h1>${escapeHtml(m.consentTitle)}</h1>
<p>${escapeHtml(m.consentIntro(input.issuerName))}</p>
${notice}
${error}
${bank}
<h2>${escapeHtml(m.consentCollectedHeading)}</h2>
<ul>${collected}</ul>
<h2>${escapeHtml(m.consentCredentialHeading)}</h2>
<p>${escapeHtml(m.consentCredential)}</p>
<h2>${escapeHtml(m.consentRetentionHeading)}</h2>
<p>${escapeHtml(m.consentRetention(input.retentionDays))}</p>
<h2>${escapeHtml(m.consentWhoHeading)}</h2>
<p>${escapeHtml(m.consentWho(input.issuerName))}</p>
${links ? `<ul>${links}</ul>` : ''}
<form method="post" action="${escapeHtml(input.action)}">
${input.csrfToken ? hidden('csrf_token', input.csrfToken) : ''}
${hidden('step', 'consent')}
${optional}
<button type="submit" name="consent" value="accept">${escapeHtml(m.consentAccept)}</button>
<button type="submit" name="consent" value="decline" class="secondary">${escapeHtml(m.consentDecline)}</button>
</form>`,
    input.cssHref,
    lang,
    input.brand,
  );
}

/**
 * With an IDV vendor configured, the webview's first page when the PFI's own customer login is on too:
 * "I already bank with <bank> — sign in" or the vendor's verification (docs/existing-customers.md).
 */
export function renderVerificationChoicePage(input: {
  issuerName: string;
  bankName: string;
  /** The sign-in's POST target and its CSRF token. */
  action: string;
  csrfToken: string;
  /** The vendor's verification: the same form link, told to go on to the vendor. */
  vendorHref: string;
  cssHref: string;
  lang?: Language;
  brand?: Brand;
}): string {
  return layout(
    `Verify your identity – ${input.issuerName}`,
    `<h1>Verify your identity</h1>
<section class="existing-customer" aria-labelledby="existing-customer-heading">
<h2 id="existing-customer-heading">Already a customer?</h2>
<form method="post" action="${escapeHtml(input.action)}">
${hidden('csrf_token', input.csrfToken)}
<button type="submit" id="existing-customer-sign-in">I already bank with ${escapeHtml(input.bankName)} — sign in</button>
</form>
</section>
<h2>New to ${escapeHtml(input.bankName)}?</h2>
<p><a id="vendor-verification" href="${escapeHtml(input.vendorHref)}">Verify your identity with a document instead</a></p>`,
    input.cssHref,
    input.lang,
    input.brand,
  );
}

export function renderMessagePage(input: { title: string; message: string; cssHref: string; lang?: Language; brand?: Brand }): string {
  return layout(input.title, `<h1>${escapeHtml(input.title)}</h1><p>${escapeHtml(input.message)}</p>`, input.cssHref, input.lang, input.brand);
}

/** The applicant pages' stylesheet in the PFI's primary colour (validated #rrggbb, src/config.ts). */
export function formCss(primaryColor: string): string {
  return FORM_CSS.replaceAll('#1d4ed8', primaryColor);
}

const FORM_CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}h1{font-size:1.5rem;margin:0 0 .5rem}
.field{margin:1rem 0}label{display:block;font-weight:600;margin-bottom:.25rem}
input,select{width:100%;padding:.75rem;font-size:1rem;border:2px solid #6b7280;border-radius:.375rem;background:#fff}
input:focus,select:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}
.has-error input,.has-error select{border-color:#b91c1c}.error{color:#b91c1c;font-weight:600;margin:.25rem 0}
.hint{color:#4b5563;margin:0 0 .25rem}.error-summary{border:3px solid #b91c1c;padding:1rem;background:#fff;margin:1rem 0}
.error-summary h2{margin:0 0 .5rem;font-size:1.125rem}.error-summary a{color:#b91c1c}
button{width:100%;padding:.875rem;font-size:1.0625rem;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:.375rem;margin-top:1rem}
button.secondary{color:#1d4ed8;background:#fff;border:2px solid #1d4ed8}h2{font-size:1.125rem;margin:1.25rem 0 .25rem}
fieldset{border:2px solid #6b7280;border-radius:.375rem;margin:1rem 0;padding:.5rem 1rem}legend{font-weight:600}
.check{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}.check input{width:auto;margin-top:.3rem}.check label{font-weight:400}
a{color:#1d4ed8}
.brand{display:flex;align-items:center;gap:.5rem;max-width:32rem;margin:0 auto;padding:1rem 1rem 0;font-weight:600;color:#1d4ed8}
.brand img{height:2rem;width:auto}
fieldset.date{border:0;padding:0;margin:0}fieldset.date legend{font-weight:600;padding:0;margin-bottom:.25rem}
.date-parts{display:flex;gap:.75rem}.date-part label{font-weight:400}.date-day,.date-month{width:4.5rem}.date-year{width:6.5rem}
.error-summary:focus{outline:3px solid #2563eb;outline-offset:2px}
input[readonly]{background:#eef0f3;border-style:dashed;color:#1b1b1b}`;
