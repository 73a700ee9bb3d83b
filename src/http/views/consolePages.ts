import { escapeHtml as e } from './idvPages';

/**
 * HTML of the manual-review console (src/http/routes/console.ts): server-rendered, no
 * scripts, our own stylesheet only (CSP `default-src 'none'; style-src 'self'`).
 */
export interface ConsoleRow {
  id: string;
  applicantDid: string;
  status: string;
  provider: string | null;
  country: string | null;
  tier: string | null;
  /** How long ago the application was opened, as `formatAge` writes it. */
  age: string;
  /** Older than the review time the applicant was promised (REVIEW_EXPECTED_HOURS) and still open. */
  overdue: boolean;
  /** Who took the case (the name, not the `console:` prefix), if anyone. */
  assignee: string | null;
}

/** The PFI's name and logo in the console header (ISSUER_NAME, ISSUER_LOGO_URI); colour via the stylesheet. */
export interface ConsoleBrand {
  name: string;
  logoUri?: string;
}

/** Who is signed in, for the header's sign-out form. */
export interface ConsoleChrome {
  cssHref: string;
  brand?: ConsoleBrand;
  operator?: string;
  /** A workforce (SSO) operator's name from the provider, shown instead of `operator` (its party). */
  displayName?: string;
  role?: string;
  logoutAction?: string;
  csrf?: string;
}

function layout(title: string, chrome: ConsoleChrome, body: string): string {
  const who = chrome.operator
    ? `<form class="logout" method="post" action="${e(chrome.logoutAction ?? '')}"><input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}"><span>Signed in as <strong>${e(chrome.displayName ?? chrome.operator)}</strong>${chrome.role ? ` (${e(chrome.role)})` : ''}</span> <span class="logout-buttons"><button type="submit">Sign out</button> <button type="submit" name="everywhere" value="true">Sign out everywhere</button></span></form>`
    : '';
  const logo = chrome.brand?.logoUri ? `<img src="${e(chrome.brand.logoUri)}" alt="" height="28">` : '';
  const name = chrome.brand?.name ? `${e(chrome.brand.name)} · ` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${e(title)} – KCC review console</title>
<link rel="stylesheet" href="${e(chrome.cssHref)}">
</head>
<body>
<header><span class="brand">${logo}<span>${name}KCC review console</span></span>${who}</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** An age in words: minutes below an hour, hours below two days, then days. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** A DID shortened for a table cell (method, start … end); the full value in the title and on the application page. */
export function shortDid(did: string): string {
  if (did.length <= 32) return did;
  const method = /^did:[a-z0-9]+:/.exec(did)?.[0] ?? '';
  return `${did.slice(0, method.length + 10)}…${did.slice(-6)}`;
}

/** The application's fields as the console names them. */
export const APPLICATION_LABELS: Record<string, string> = {
  id: 'Application',
  applicant_did: 'Applicant DID',
  status: 'Status',
  credential_configuration_id: 'Credential type',
  idv_provider: 'Verified by',
  country_of_residence: 'Country of residence',
  tier: 'Tier',
  decision_reason: 'Decision reason',
  decided_by: 'Decided by',
  decided_at: 'Decided at',
  created_at: 'Opened at',
  age: 'Age',
  assignee: 'Assigned to',
};

/** Audit actions in words; an unknown action is shown as it is stored. */
const AUDIT_ACTIONS: Record<string, string> = {
  'consent.given': 'Applicant gave consent',
  'consent.declined': 'Applicant declined consent',
  'idv.session_created': 'Verification started',
  'idv.state_changed': 'Verification result',
  'idv.redecision': 'Decision changed',
  'idv.event_ignored': 'Verification event ignored',
  'idv.event_stale': 'Out-of-date verification event ignored',
  'decision.approval_proposed': 'Approval proposed (four-eyes)',
  'decision.approval_confirmed': 'Approval confirmed (four-eyes)',
  'pii.viewed': 'Personal data viewed',
  'pii.erased': 'Personal data erased',
  'pii.erase_noop': 'Erasure requested (nothing held)',
  'pii.purged': 'Personal data purged after retention',
  'credential.revoke': 'Credential revoked',
  'credential.suspend': 'Credential suspended',
  'credential.reinstate': 'Credential reinstated',
  'kya.token_minted': 'Agent token issued',
};

const DETAIL_LABELS: Record<string, string> = {
  from: 'from',
  to: 'to',
  reason: 'reason',
  reason_codes: 'reason codes',
  final: 'final',
  vendor_reference: 'vendor reference',
  event_at: 'event time',
  credentials_issued: 'credentials issued',
  credentials_revoked: 'credentials revoked',
  credentials_suspended: 'credentials suspended',
  credential_id: 'credential',
  tier: 'tier',
  country_of_residence: 'country',
};

function detailValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (Array.isArray(v)) return v.length ? v.map(detailValue).join(', ') : '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${DETAIL_LABELS[k] ?? k.replaceAll('_', ' ')} ${detailValue(x)}`)
      .join('; ');
  return String(v);
}

/** One audit entry in words: what happened, and its details as "label: value" pairs (never raw JSON). */
export function describeAuditEntry(action: string, detail: unknown): { what: string; details: Array<[string, string]> } {
  const what = AUDIT_ACTIONS[action] ?? action;
  if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return { what, details: detail ? [['detail', detailValue(detail)]] : [] };
  const entries = Object.entries(detail as Record<string, unknown>);
  return { what, details: entries.map(([k, v]) => [DETAIL_LABELS[k] ?? k.replaceAll('_', ' '), detailValue(v)]) };
}

/** A second step before a destructive action (no script needed): the same POST again with `confirmed=yes`, or back. */
export function renderConfirm(
  chrome: ConsoleChrome,
  input: { title: string; message: string; action: string; fields: Record<string, string>; confirmLabel: string; cancelHref: string },
): string {
  const hidden = Object.entries({ ...input.fields, confirmed: 'yes' })
    .map(([k, v]) => `<input type="hidden" name="${e(k)}" value="${e(v)}">`)
    .join('');
  return layout(
    input.title,
    chrome,
    `<h1>${e(input.title)}</h1>
<p class="warning" role="alert">${e(input.message)}</p>
<form method="post" action="${e(input.action)}" class="confirm">
<input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}">${hidden}
<div class="buttons"><button type="submit" class="reject">${e(input.confirmLabel)}</button><a class="button-link" href="${e(input.cancelHref)}">Cancel</a></div>
</form>`,
  );
}

/**
 * `accounts`: operator accounts exist, so only they sign in (ADMIN_TOKEN only before the first
 * one). `sso`: the PFI's workforce login is configured: its button comes first, and ADMIN_TOKEN
 * opens nothing (the account form shows only when accounts exist).
 */
export function renderLogin(input: {
  action: string;
  cssHref: string;
  brand?: ConsoleBrand;
  accounts: boolean;
  sso?: { href: string; name: string };
  error?: string;
}): string {
  const fields = input.accounts
    ? `<label for="operator">Account name</label>
<input id="operator" name="operator" required maxlength="32" autocomplete="username">
<label for="token">Secret</label>
<input id="token" name="token" type="password" required autocomplete="current-password">`
    : `<p>No operator account exists yet: sign in with ADMIN_TOKEN, then add accounts (Operators, or <code>npm run operators -- add</code>). Once one exists, ADMIN_TOKEN no longer opens the console.</p>
<label for="operator">Your name</label>
<input id="operator" name="operator" required maxlength="64" autocomplete="username">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" required autocomplete="current-password">`;
  const sso = input.sso ? `<p><a class="button-link" id="sso" href="${e(input.sso.href)}">Sign in with ${e(input.sso.name)}</a></p>` : '';
  const form =
    input.sso && !input.accounts
      ? ''
      : `${input.sso ? '<h2>Or with a local account</h2>\n' : ''}<form method="post" action="${e(input.action)}">
${fields}
<button type="submit">Sign in</button>
</form>`;
  return layout(
    'Sign in',
    { cssHref: input.cssHref, brand: input.brand },
    `<h1>Sign in</h1>
${input.error ? `<p class="error" role="alert">${e(input.error)}</p>` : ''}
${sso}${form}`,
  );
}

/**
 * After a workforce sign-in: the callback is the end of a cross-site redirect chain, where the
 * browser withholds our SameSite=Strict session cookie, so the queue is reached by a navigation
 * of our own (the route's `Refresh` header, and a link for browsers that ignore it).
 */
export function renderSignedIn(input: { cssHref: string; brand?: ConsoleBrand; next: string; name?: string }): string {
  return layout(
    'Signed in',
    { cssHref: input.cssHref, brand: input.brand },
    `<h1>Signed in${input.name ? ` as ${e(input.name)}` : ''}</h1>
<p><a id="continue" href="${e(input.next)}">Continue to the review queue</a></p>`,
  );
}

export interface QueueFilters {
  status: string;
  provider: string;
  country: string;
  q: string;
  /** `''` anyone, `me` the signed-in operator's cases, `none` the unassigned ones. */
  assigned: string;
  /** `oldest` (default) or `newest`, by the time the application was opened. */
  sort: string;
}

/** The query string of the queue with `filters`, on `page`. */
export function queueQuery(filters: QueueFilters, page: number): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v && !(k === 'sort' && v === 'oldest')) params.set(k, v);
  if (page > 1) params.set('page', String(page));
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}

export function renderQueue(
  chrome: ConsoleChrome,
  input: {
    /** Set for admins: the operator accounts page. */
    operatorsHref?: string;
    baseHref: string;
    filters: QueueFilters;
    providers: string[];
    rows: ConsoleRow[];
    page: number;
    hasNext: boolean;
    expectedHours: number;
  },
): string {
  const f = input.filters;
  const select = (choices: Array<[string, string]>, selected: string) =>
    choices.map(([v, label]) => `<option value="${e(v)}"${selected === v ? ' selected' : ''}>${e(label)}</option>`).join('');
  const statusOptions = select(
    [
      ['', 'any'],
      ['review', 'in review'],
      ['pending', 'pending'],
      ['approved', 'approved'],
      ['rejected', 'rejected'],
      ['withdrawn', 'withdrawn'],
    ],
    f.status,
  );
  const providerOptions = select([['', 'any'], ...input.providers.map((p): [string, string] => [p, p])], f.provider);
  const assignedOptions = select(
    [
      ['', 'anyone'],
      ['me', 'me'],
      ['none', 'nobody'],
    ],
    f.assigned,
  );
  const sortOptions = select(
    [
      ['oldest', 'oldest first'],
      ['newest', 'newest first'],
    ],
    f.sort || 'oldest',
  );
  const cell = (label: string, content: string, cls = '') => `<td data-label="${e(label)}"${cls ? ` class="${cls}"` : ''}>${content}</td>`;
  const rows = input.rows.length
    ? input.rows
        .map(
          (r) => `<tr>
${cell('Application', `<a href="${e(`${input.baseHref}/applications/${encodeURIComponent(r.id)}`)}">${e(r.id)}</a>`, 'mono')}
${cell('Applicant', `<span class="did" title="${e(r.applicantDid)}">${e(shortDid(r.applicantDid))}</span>`)}
${cell('Status', `<span class="status status-${e(r.status)}">${e(r.status)}</span>`)}
${cell('Verified by', e(r.provider ?? '—'))}${cell('Country', e(r.country ?? '—'))}${cell('Tier', e(r.tier ?? '—'))}
${cell('Age', r.overdue ? `<span class="overdue">${e(r.age)} (over ${input.expectedHours} h)</span>` : e(r.age))}
${cell('Assigned to', e(r.assignee ?? '—'))}</tr>`,
        )
        .join('\n')
    : '<tr><td colspan="8">No applications match.</td></tr>';
  const pageLink = (page: number, label: string, rel: string) => `<a href="${e(`${input.baseHref}${queueQuery(f, page)}`)}" rel="${rel}">${label}</a>`;
  const pager =
    input.page > 1 || input.hasNext
      ? `<nav class="pager" aria-label="Pages">${input.page > 1 ? pageLink(input.page - 1, '← Previous page', 'prev') : ''}<span>Page ${input.page}</span>${
          input.hasNext ? pageLink(input.page + 1, 'Next page →', 'next') : ''
        }</nav>`
      : '';
  return layout(
    'Applications',
    chrome,
    `<h1>Applications</h1>
${input.operatorsHref ? `<p><a href="${e(input.operatorsHref)}">Operators</a></p>` : ''}
<form class="filters" method="get" action="${e(input.baseHref)}">
<div><label for="f-status">Status</label><select id="f-status" name="status">${statusOptions}</select></div>
<div><label for="f-provider">Verified by</label><select id="f-provider" name="provider">${providerOptions}</select></div>
<div><label for="f-country">Country</label><input id="f-country" name="country" maxlength="2" size="3" value="${e(f.country)}"></div>
<div><label for="f-assigned">Assigned to</label><select id="f-assigned" name="assigned">${assignedOptions}</select></div>
<div><label for="f-sort">Order</label><select id="f-sort" name="sort">${sortOptions}</select></div>
<div class="wide"><label for="f-q">Application id or DID</label><input id="f-q" name="q" maxlength="300" value="${e(f.q)}"></div>
<button type="submit">Filter</button>
</form>
<table class="queue">
<caption>${input.rows.length} application(s) on page ${input.page}, ${f.sort === 'newest' ? 'newest' : 'oldest'} first</caption>
<thead><tr><th scope="col">Application</th><th scope="col">Applicant</th><th scope="col">Status</th><th scope="col">Verified by</th><th scope="col">Country</th><th scope="col">Tier</th><th scope="col">Age</th><th scope="col">Assigned to</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${pager}`,
  );
}

export function renderApplication(
  chrome: ConsoleChrome,
  input: {
    backHref: string;
    decisionAction: string;
    /** The assign-to-me form; `assignee` is who has the case now, `mine` when it is this operator. */
    assignAction: string;
    assignment: { assignee: string | null; mine: boolean };
    /** Unset when the role may not decide: no decision controls. */
    mayDecide: boolean;
    /** Unset when the role may not erase personal data: no control is rendered. */
    eraseAction?: string;
    /** Unset when the role may not change credential status: the credentials are listed without controls. */
    credentialAction?: (credentialId: string) => string;
    credentials: { id: string; status: string; issuedAt: string; expiresAt: string }[];
    /** Four-eyes: an approval proposed and waiting; `own` when this operator proposed it. */
    pendingApproval?: { by: string; at: string; tier: string | null; country: string | null; reason: string | null; own: boolean };
    notice?: string;
    /** The application's facts, keyed as APPLICATION_LABELS names them. */
    application: Record<string, string | null>;
    idv: { state: string; reasonCodes: string[]; checks: string[]; vendorReference: string | null } | null;
    pii: Record<string, string> | null | 'erased';
    piiLabels: Record<string, string>;
    tiers: string[];
    /** Tiers the application's evidence does not cover, with what each misses (shown, not offered). */
    tiersNotCovered?: { name: string; missing: string[] }[];
    /** The verification reported no valid country: approving needs one (a KCC carries it). */
    needsCountry?: boolean;
    audit: { at: string; actor: string; action: string; detail: unknown }[];
  },
): string {
  const a = input.application;
  const facts = Object.entries(a)
    .map(([k, v]) => {
      const value = k === 'applicant_did' || k === 'id' ? `<code class="full">${e(v ?? '—')}</code>` : e(v ?? '—');
      return `<dt>${e(APPLICATION_LABELS[k] ?? k)}</dt><dd>${value}</dd>`;
    })
    .join('');
  const idv = input.idv
    ? `<dl><dt>State</dt><dd>${e(input.idv.state)}</dd><dt>Vendor reference</dt><dd>${e(input.idv.vendorReference ?? '—')}</dd><dt>Reason codes</dt><dd>${e(input.idv.reasonCodes.join(', ') || '—')}</dd><dt>Checks passed</dt><dd>${e(input.idv.checks.join(', ') || '—')}</dd></dl>`
    : '<p>No identity verification session.</p>';
  const pii =
    input.pii === 'erased'
      ? '<p>Personal data was erased.</p>'
      : input.pii
        ? `<dl>${Object.entries(input.pii)
            .map(([k, v]) => `<dt>${e(input.piiLabels[k] ?? k)}</dt><dd>${e(v)}</dd>`)
            .join('')}</dl>`
        : '<p>No personal data held by the issuer (collected by the IDV vendor).</p>';
  const status = a.status ?? '';
  const decided = status === 'approved' || status === 'rejected';
  const p = input.pendingApproval;
  const pending = p
    ? `<div class="notice" role="status"><p>Approval proposed by <strong>${e(p.by)}</strong> at ${e(p.at)}: ${
        p.own ? 'a second, different operator must confirm it.' : 'check their reason, then confirm the approval or reject.'
      }</p><dl><dt>Tier</dt><dd>${e(p.tier ?? '—')}</dd>${p.country ? `<dt>Country of residence</dt><dd>${e(p.country)}</dd>` : ''}<dt>Their reason</dt><dd>${e(
        p.reason ?? '— (none given)',
      )}</dd></dl></div>`
    : '';
  const mayApprove = status !== 'approved' && !p?.own;
  const mayReject = status !== 'rejected';
  // Confirming a proposal takes its tier: offer only that one. No tier select where only Reject is offered.
  const tierOptions = (p?.tier ? [p.tier] : input.tiers).map((t) => `<option value="${e(t)}">${e(t)}</option>`).join('');
  const approveFields = mayApprove
    ? `<label for="tier">Tier</label><select id="tier" name="tier">${tierOptions}</select>
${
  input.tiersNotCovered?.length
    ? `<p class="hint">Not offered, the evidence does not cover them: ${input.tiersNotCovered.map((t) => `${e(t.name)} (missing ${e(t.missing.join(', '))})`).join('; ')}.</p>`
    : ''
}
${input.needsCountry && !p?.country ? '<label for="country">Country of residence (ISO 3166-1 alpha-2; required to approve)</label><input id="country" name="country_of_residence" pattern="[A-Za-z]{2}" maxlength="2" size="3" autocomplete="off">' : ''}`
    : '';
  const heading = decided ? 'Overrule the decision' : 'Decide';
  const decision = !input.mayDecide
    ? ''
    : status === 'review' || decided
      ? `<section aria-labelledby="decide-h"><h2 id="decide-h">${heading}</h2>
${pending}
${
  mayApprove || mayReject
    ? `<form method="post" action="${e(input.decisionAction)}" class="decide">
<input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}">
${decided ? '<input type="hidden" name="overrule" value="true">' : ''}
${approveFields}
<label for="reason">Reason${decided ? ' (required to overrule)' : ''}</label><input id="reason" name="reason" maxlength="500" ${decided ? 'required' : ''}>
<div class="buttons">
${mayApprove ? `<button type="submit" name="decision" value="approve" class="approve">${p ? 'Confirm approval' : 'Approve'}</button>` : ''}
${mayReject ? '<button type="submit" name="decision" value="reject" class="reject">Reject…</button>' : ''}
</div>
</form>`
    : ''
}</section>`
      : `<p>This application is ${e(status)}: nothing to decide yet.</p>`;
  const assignment = `<form method="post" action="${e(input.assignAction)}" class="assign">
<input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}">
<span>${input.assignment.assignee ? `Assigned to <strong>${e(input.assignment.assignee)}</strong>` : 'Nobody works on this case yet.'}</span>
${input.assignment.mine ? '<button type="submit" name="op" value="release">Release</button>' : '<button type="submit" name="op" value="assign">Assign to me</button>'}
</form>`;
  const erase =
    input.eraseAction && input.pii && input.pii !== 'erased'
      ? `<section aria-labelledby="erase-h"><h2 id="erase-h">Erase personal data</h2>
<form method="post" action="${e(input.eraseAction)}">
<input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}">
<label for="erase-reason">Reason (e.g. data subject request reference)</label><input id="erase-reason" name="reason" required maxlength="200">
<button type="submit" class="reject">Erase…</button>
</form></section>`
      : '';
  const credentialRows = input.credentials
    .map((cr) => {
      const act = input.credentialAction;
      const controls =
        act && cr.status !== 'revoked'
          ? `<form method="post" action="${e(act(cr.id))}" class="credential-status"><input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}">
<label for="cs-reason-${e(cr.id)}">Reason</label><input id="cs-reason-${e(cr.id)}" name="reason" maxlength="500">
<div class="buttons">${cr.status === 'suspended' ? '<button type="submit" name="action" value="reinstate">Reinstate</button>' : '<button type="submit" name="action" value="suspend">Suspend</button>'}<button type="submit" name="action" value="revoke" class="reject">Revoke…</button></div></form>`
          : '';
      return `<tr><td data-label="Credential"><code class="full">${e(cr.id)}</code></td><td data-label="Status"><span class="status">${e(cr.status)}</span></td><td data-label="Issued">${e(cr.issuedAt)}</td><td data-label="Expires">${e(cr.expiresAt)}</td><td data-label="Change">${controls}</td></tr>`;
    })
    .join('\n');
  const credentials = input.credentials.length
    ? `<section aria-labelledby="cred-h"><h2 id="cred-h">Credentials</h2>
<table class="stack"><thead><tr><th scope="col">Credential</th><th scope="col">Status</th><th scope="col">Issued</th><th scope="col">Expires</th><th scope="col">${input.credentialAction ? 'Change' : ''}</th></tr></thead><tbody>
${credentialRows}
</tbody></table></section>`
    : '';
  const audit = input.audit.length
    ? input.audit
        .map((r) => {
          const { what, details } = describeAuditEntry(r.action, r.detail);
          const dl = details.length ? `<dl class="detail">${details.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>` : '';
          return `<tr><td data-label="When">${e(r.at)}</td><td data-label="Who">${e(r.actor)}</td><td data-label="What">${e(what)}${what !== r.action ? ` <small class="code">(${e(r.action)})</small>` : ''}${dl}</td></tr>`;
        })
        .join('\n')
    : '<tr><td colspan="3">No entries.</td></tr>';
  return layout(
    `Application ${a.id ?? ''}`,
    chrome,
    `<p><a href="${e(input.backHref)}">← Back to the queue</a></p>
<h1>Application <code class="full">${e(a.id ?? '')}</code></h1>
${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>` : ''}
${assignment}
<div class="grid">
<section aria-labelledby="app-h"><h2 id="app-h">Application</h2><dl>${facts}</dl></section>
<section aria-labelledby="idv-h"><h2 id="idv-h">Verification</h2>${idv}<h3>Personal data</h3>${pii}</section>
</div>
${decision}
${credentials}
${erase}
<section aria-labelledby="audit-h"><h2 id="audit-h">Audit trail</h2>
<table class="stack"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th></tr></thead><tbody>
${audit}
</tbody></table></section>`,
  );
}

/** Operator accounts (admins only): add, reset a secret, remove; a new secret is shown once, here. */
export function renderOperators(
  chrome: ConsoleChrome,
  input: {
    backHref: string;
    action: string;
    accounts: { name: string; role: string; createdAt: string; removedAt: string | null }[];
    /** Signed in with ADMIN_TOKEN: that session ends once the first account exists. */
    firstStart: boolean;
    notice?: string;
    secret?: { name: string; value: string };
  },
): string {
  const hidden = (op: string, name: string) =>
    `<input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}"><input type="hidden" name="op" value="${op}"><input type="hidden" name="name" value="${e(name)}">`;
  const rows = input.accounts.length
    ? input.accounts
        .map(
          (a) =>
            `<tr><td data-label="Name">${e(a.name)}</td><td data-label="Role">${e(a.role)}</td><td data-label="Created">${e(a.createdAt)}</td><td data-label="Removed">${e(a.removedAt ?? '—')}</td><td>${
              a.removedAt
                ? ''
                : `<div class="buttons"><form method="post" action="${e(input.action)}">${hidden('reset', a.name)}<button type="submit">Reset secret…</button></form><form method="post" action="${e(input.action)}">${hidden('remove', a.name)}<button type="submit" class="reject">Remove…</button></form></div>`
            }</td></tr>`,
        )
        .join('\n')
    : '<tr><td colspan="5">No accounts yet.</td></tr>';
  return layout(
    'Operators',
    chrome,
    `<p><a href="${e(input.backHref)}">← Back to the queue</a></p>
<h1>Operators</h1>
${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>` : ''}
${input.secret ? `<p>Secret of <strong>${e(input.secret.name)}</strong>: <code class="mono">${e(input.secret.value)}</code></p>` : ''}
${input.firstStart ? '<p>You signed in with ADMIN_TOKEN. Once the first account exists, ADMIN_TOKEN no longer opens the console and this session ends: copy the secret first.</p>' : ''}
<table class="stack"><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Removed</th><th scope="col">Actions</th></tr></thead><tbody>
${rows}
</tbody></table>
<section aria-labelledby="add-h"><h2 id="add-h">Add an operator</h2>
<form method="post" action="${e(input.action)}"><input type="hidden" name="csrf_token" value="${e(chrome.csrf ?? '')}"><input type="hidden" name="op" value="add">
<label for="op-name">Name (2–32 of a-z, 0-9, . _ -)</label><input id="op-name" name="name" required maxlength="32" autocomplete="off">
<label for="op-role">Role</label><select id="op-role" name="role"><option value="reviewer">reviewer (decides)</option><option value="admin">admin (also credentials, erasure, operators)</option></select>
<button type="submit">Add</button>
</form></section>`,
  );
}

const CONSOLE_CSS = `*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:.5rem;justify-content:space-between;align-items:center;padding:.5rem 1rem;background:#1d4ed8;color:#fff}
header .brand{display:flex;align-items:center;gap:.5rem;font-weight:700}header .brand img{height:1.75rem;width:auto}header form{margin:0;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
header button{padding:.25rem .75rem;margin:0;background:#fff;color:#1d4ed8}.logout-buttons{display:flex;gap:.5rem}
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;overflow-wrap:anywhere}.mono,.full{font-family:ui-monospace,monospace;overflow-wrap:anywhere}.full{word-break:break-all}
.did{font-family:ui-monospace,monospace;white-space:nowrap}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}input,select{padding:.5rem;font-size:1rem;border:2px solid #6b7280;border-radius:.25rem;background:#fff;max-width:100%}
button,.button-link{display:inline-block;padding:.5rem 1rem;font-size:1rem;font-weight:600;border:0;border-radius:.25rem;background:#1d4ed8;color:#fff;cursor:pointer;margin-top:.5rem;text-decoration:none}
.button-link{background:#4b5563}button.approve{background:#15803d}button.reject{background:#b91c1c}.buttons{display:flex;flex-wrap:wrap;gap:.5rem}.buttons form{margin:0}
input:focus,select:focus,button:focus,a:focus{outline:3px solid #f59e0b;outline-offset:2px}a{color:#1d4ed8}header a{color:#fff}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end}.filters label{margin:0 0 .25rem}.filters .wide input{width:20rem}
table{width:100%;border-collapse:collapse;background:#fff;margin:1rem 0}th,td{border:1px solid #d1d5db;padding:.4rem .5rem;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:600;padding:.25rem 0}.detail{font-size:.875rem;margin:.25rem 0 0}
.status{padding:.1rem .4rem;border-radius:.25rem;background:#e5e7eb}.status-review{background:#fef3c7}.status-approved{background:#dcfce7}.status-rejected{background:#fee2e2}
.code{color:#4b5563}.overdue{color:#b91c1c;font-weight:600}.pager{display:flex;gap:1rem;align-items:center}.assign{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}.assign button{margin:0}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(22rem,100%),1fr));gap:1rem}section{background:#fff;padding:1rem;border:1px solid #d1d5db;border-radius:.25rem;margin:1rem 0;min-width:0}
.error{color:#b91c1c;font-weight:600}.notice{background:#dcfce7;padding:.5rem;border-left:4px solid #15803d}.warning{background:#fee2e2;padding:.5rem;border-left:4px solid #b91c1c}
@media (max-width:48rem){main{padding:.5rem}table.queue,table.stack{border:0;background:none}
table.queue thead,table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
table.queue tr,table.stack tr{display:block;background:#fff;border:1px solid #d1d5db;border-radius:.25rem;margin:0 0 .75rem;padding:.25rem .5rem}
table.queue td,table.stack td{display:grid;grid-template-columns:7rem minmax(0,1fr);gap:.5rem;border:0;padding:.2rem 0;overflow-wrap:anywhere}
table.queue td::before,table.stack td::before{content:attr(data-label);font-weight:600}.filters .wide,.filters .wide input{width:100%}
dl{grid-template-columns:minmax(0,1fr)}dd{margin-bottom:.25rem}}`;

/** The console's stylesheet in the PFI's primary colour (BRAND_PRIMARY_COLOR, checked for contrast with white). */
export function consoleCss(primaryColor: string): string {
  return CONSOLE_CSS.replaceAll('#1d4ed8', primaryColor);
}

/** A refusal inside the console (no session needed to read it): what happened and a way back. */
export function renderConsoleError(input: { title: string; message: string; cssHref: string; backHref: string }): string {
  return layout(
    input.title,
    { cssHref: input.cssHref },
    `<h1>${e(input.title)}</h1>\n<p role="alert">${e(input.message)}</p>\n<p><a href="${e(input.backHref)}">Back to the queue</a></p>`,
  );
}
