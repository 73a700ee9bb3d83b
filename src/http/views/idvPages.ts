import { DOCUMENT_TYPES, FIELD_RULES, type FieldErrors } from '../../idv/fields';

/**
 * Server-rendered pages of the hosted IDV form (spec, "PII collected by PFI"): plain HTML
 * that works in a mobile webview, accessible labels and error messages, no scripts, no
 * third-party assets (the CSP in src/http/routes/idvForm.ts allows only our stylesheet).
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

function layout(title: string, body: string, cssHref: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(cssHref)}">
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export function renderIdvForm(input: {
  action: string;
  cssHref: string;
  issuerName: string;
  values?: Record<string, string>;
  errors?: FieldErrors;
  /** Double-submit CSRF token (also in the idv_csrf cookie). */
  csrfToken?: string;
  /** Only these fields (the checks still to do); default: every field. */
  fields?: ReadonlySet<string>;
}): string {
  const values = input.values ?? {};
  const errors = input.errors ?? {};
  const errorCount = Object.keys(errors).length;
  const summary = errorCount
    ? `<div class="error-summary" role="alert" tabindex="-1" id="error-summary"><h2>There ${errorCount === 1 ? 'is a problem' : `are ${errorCount} problems`}</h2><ul>${Object.entries(errors)
        .map(([name, msg]) => `<li><a href="#${name}">${escapeHtml(String(msg))}</a></li>`)
        .join('')}</ul></div>`
    : '';
  const fields = FIELD_RULES.filter((rule) => !input.fields || input.fields.has(rule.name)).map((rule) => {
    const id = rule.name;
    const err = errors[rule.name];
    const describedBy = [rule.hint ? `${id}-hint` : '', err ? `${id}-error` : ''].filter(Boolean).join(' ');
    const common = `id="${id}" name="${id}" required${describedBy ? ` aria-describedby="${describedBy}"` : ''}${err ? ' aria-invalid="true"' : ''}`;
    const value = escapeHtml(values[rule.name] ?? '');
    let control: string;
    if (rule.type === 'select') {
      const options = Object.entries(DOCUMENT_TYPES)
        .map(([v, label]) => `<option value="${v}"${values[rule.name] === v ? ' selected' : ''}>${escapeHtml(label)}</option>`)
        .join('');
      control = `<select ${common}><option value="">Choose…</option>${options}</select>`;
    } else {
      const attrs = [
        `type="${rule.type}"`,
        rule.autocomplete ? `autocomplete="${rule.autocomplete}"` : '',
        rule.maxLength ? `maxlength="${rule.maxLength}"` : '',
        rule.minLength ? `minlength="${rule.minLength}"` : '',
        rule.pattern ? `pattern="${escapeHtml(rule.pattern)}"` : '',
        rule.type === 'date' ? 'min="1900-01-01"' : '',
        rule.name === 'country_of_residence' ? 'autocapitalize="characters" spellcheck="false"' : '',
      ]
        .filter(Boolean)
        .join(' ');
      control = `<input ${attrs} ${common} value="${value}">`;
    }
    return `<div class="field${err ? ' has-error' : ''}">
<label for="${id}">${escapeHtml(rule.label)}</label>
${rule.hint ? `<p class="hint" id="${id}-hint">${escapeHtml(rule.hint)}</p>` : ''}
${err ? `<p class="error" id="${id}-error">${escapeHtml(String(err))}</p>` : ''}
${control}
</div>`;
  }).join('\n');
  return layout(
    `${errorCount ? 'Error: ' : ''}Verify your identity – ${input.issuerName}`,
    `<h1>Verify your identity</h1>
<p>${escapeHtml(input.issuerName)} needs these details to issue your Known Customer Credential.</p>
${summary}
<form method="post" action="${escapeHtml(input.action)}">
${input.csrfToken ? `<input type="hidden" name="csrf_token" value="${escapeHtml(input.csrfToken)}">` : ''}
${fields}
<button type="submit">Submit</button>
</form>`,
    input.cssHref,
  );
}

export function renderMessagePage(input: { title: string; message: string; cssHref: string }): string {
  return layout(input.title, `<h1>${escapeHtml(input.title)}</h1><p>${escapeHtml(input.message)}</p>`, input.cssHref);
}

export const FORM_CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}h1{font-size:1.5rem;margin:0 0 .5rem}
.field{margin:1rem 0}label{display:block;font-weight:600;margin-bottom:.25rem}
input,select{width:100%;padding:.75rem;font-size:1rem;border:2px solid #6b7280;border-radius:.375rem;background:#fff}
input:focus,select:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}
.has-error input,.has-error select{border-color:#b91c1c}.error{color:#b91c1c;font-weight:600;margin:.25rem 0}
.hint{color:#4b5563;margin:0 0 .25rem}.error-summary{border:3px solid #b91c1c;padding:1rem;background:#fff;margin:1rem 0}
.error-summary h2{margin:0 0 .5rem;font-size:1.125rem}.error-summary a{color:#b91c1c}
button{width:100%;padding:.875rem;font-size:1.0625rem;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:.375rem;margin-top:1rem}`;
