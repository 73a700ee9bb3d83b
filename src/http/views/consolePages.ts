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
  updatedAt: string;
}

function layout(title: string, cssHref: string, body: string, operator?: string, logoutAction?: string, csrf?: string, role?: string): string {
  const who = operator
    ? `<form class="logout" method="post" action="${e(logoutAction ?? '')}"><input type="hidden" name="csrf_token" value="${e(csrf ?? '')}"><span>Signed in as <strong>${e(operator)}</strong>${role ? ` (${e(role)})` : ''}</span> <button type="submit">Sign out</button> <button type="submit" name="everywhere" value="true">Sign out everywhere</button></form>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${e(title)} – KCC review console</title>
<link rel="stylesheet" href="${e(cssHref)}">
</head>
<body>
<header><span class="brand">KCC review console</span>${who}</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** `accounts`: operator accounts exist, so only they sign in (ADMIN_TOKEN only before the first one). */
export function renderLogin(input: { action: string; cssHref: string; accounts: boolean; error?: string }): string {
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
  return layout(
    'Sign in',
    input.cssHref,
    `<h1>Sign in</h1>
${input.error ? `<p class="error" role="alert">${e(input.error)}</p>` : ''}
<form method="post" action="${e(input.action)}">
${fields}
<button type="submit">Sign in</button>
</form>`,
  );
}

export function renderQueue(input: {
  cssHref: string;
  operator: string;
  role: string;
  /** Set for admins: the operator accounts page. */
  operatorsHref?: string;
  logoutAction: string;
  csrf: string;
  baseHref: string;
  filters: { status: string; provider: string; country: string; q: string };
  providers: string[];
  rows: ConsoleRow[];
}): string {
  const f = input.filters;
  const statusOptions = ['', 'review', 'pending', 'approved', 'rejected', 'withdrawn']
    .map((s) => `<option value="${s}"${f.status === s ? ' selected' : ''}>${s || 'any'}</option>`)
    .join('');
  const providerOptions = ['', ...input.providers]
    .map((p) => `<option value="${e(p)}"${f.provider === p ? ' selected' : ''}>${e(p || 'any')}</option>`)
    .join('');
  const rows = input.rows.length
    ? input.rows
        .map(
          (r) => `<tr>
<td><a href="${e(`${input.baseHref}/applications/${encodeURIComponent(r.id)}`)}">${e(r.id)}</a></td>
<td class="did">${e(r.applicantDid)}</td><td><span class="status status-${e(r.status)}">${e(r.status)}</span></td>
<td>${e(r.provider ?? '')}</td><td>${e(r.country ?? '')}</td><td>${e(r.tier ?? '')}</td><td>${e(r.updatedAt)}</td></tr>`,
        )
        .join('\n')
    : '<tr><td colspan="7">No applications match.</td></tr>';
  return layout(
    'Applications',
    input.cssHref,
    `<h1>Applications</h1>
${input.operatorsHref ? `<p><a href="${e(input.operatorsHref)}">Operators</a></p>` : ''}
<form class="filters" method="get" action="${e(input.baseHref)}">
<label for="f-status">Status</label><select id="f-status" name="status">${statusOptions}</select>
<label for="f-provider">Provider</label><select id="f-provider" name="provider">${providerOptions}</select>
<label for="f-country">Country</label><input id="f-country" name="country" maxlength="2" value="${e(f.country)}">
<label for="f-q">Application id or DID</label><input id="f-q" name="q" maxlength="300" value="${e(f.q)}">
<button type="submit">Filter</button>
</form>
<table>
<caption>${input.rows.length} application(s)</caption>
<thead><tr><th scope="col">Application</th><th scope="col">Applicant DID</th><th scope="col">Status</th><th scope="col">Provider</th><th scope="col">Country</th><th scope="col">Tier</th><th scope="col">Updated</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
    input.operator,
    input.logoutAction,
    input.csrf,
    input.role,
  );
}

export function renderApplication(input: {
  cssHref: string;
  operator: string;
  role: string;
  logoutAction: string;
  csrf: string;
  backHref: string;
  decisionAction: string;
  /** Unset when the role may not erase personal data: no control is rendered. */
  eraseAction?: string;
  /** Unset when the role may not change credential status: the credentials are listed without controls. */
  credentialAction?: (credentialId: string) => string;
  credentials: { id: string; status: string; issuedAt: string; expiresAt: string }[];
  /** Four-eyes: an approval proposed and waiting; `own` when this operator proposed it. */
  pendingApproval?: { by: string; at: string; tier: string | null; own: boolean };
  notice?: string;
  application: Record<string, string | null>;
  idv: { state: string; reasonCodes: string[]; checks: string[]; vendorReference: string | null } | null;
  pii: Record<string, string> | null | 'erased';
  tiers: string[];
  /** The verification reported no valid country: approving needs one (a KCC carries it). */
  needsCountry?: boolean;
  audit: { at: string; actor: string; action: string; detail: string }[];
}): string {
  const a = input.application;
  const facts = Object.entries(a)
    .map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v ?? '—')}</dd>`)
    .join('');
  const idv = input.idv
    ? `<dl><dt>IDV state</dt><dd>${e(input.idv.state)}</dd><dt>Vendor reference</dt><dd>${e(input.idv.vendorReference ?? '—')}</dd><dt>Reason codes</dt><dd>${e(input.idv.reasonCodes.join(', ') || '—')}</dd><dt>Checks passed</dt><dd>${e(input.idv.checks.join(', ') || '—')}</dd></dl>`
    : '<p>No IDV session.</p>';
  const pii =
    input.pii === 'erased'
      ? '<p>Personal data was erased.</p>'
      : input.pii
        ? `<dl>${Object.entries(input.pii)
            .map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`)
            .join('')}</dl>`
        : '<p>No personal data held by the issuer (collected by the IDV vendor).</p>';
  const status = a.status ?? '';
  const decided = status === 'approved' || status === 'rejected';
  const p = input.pendingApproval;
  // Confirming a proposal takes its tier: offer only that one.
  const tierOptions = (p?.tier ? [p.tier] : input.tiers).map((t) => `<option value="${e(t)}">${e(t)}</option>`).join('');
  const pending = p
    ? `<p class="notice" role="status">Approval proposed by <strong>${e(p.by)}</strong> at ${e(p.at)}${p.tier ? ` (tier ${e(p.tier)})` : ''}: ${p.own ? 'a second, different operator must confirm it' : 'approve to confirm it, or reject'}.</p>`
    : '';
  const approveButton =
    status === 'approved' || p?.own
      ? ''
      : `<button type="submit" name="decision" value="approve" class="approve">${p ? 'Confirm approval' : 'Approve'}</button>`;
  const decision =
    status === 'review' || decided
      ? `<section aria-labelledby="decide-h"><h2 id="decide-h">${decided ? 'Overrule the decision' : 'Decide'}</h2>
${pending}
<form method="post" action="${e(input.decisionAction)}" class="decide">
<input type="hidden" name="csrf_token" value="${e(input.csrf)}">
${decided ? '<input type="hidden" name="overrule" value="true">' : ''}
<label for="tier">Tier (when approving)</label><select id="tier" name="tier">${tierOptions}</select>
${input.needsCountry ? '<label for="country">Country of residence (ISO 3166-1 alpha-2; required to approve)</label><input id="country" name="country_of_residence" pattern="[A-Za-z]{2}" maxlength="2" autocomplete="off">' : ''}
<label for="reason">Reason</label><input id="reason" name="reason" maxlength="500" ${decided ? 'required' : ''}>
<div class="buttons">
${approveButton}
${status !== 'rejected' ? '<button type="submit" name="decision" value="reject" class="reject">Reject</button>' : ''}
</div>
</form></section>`
      : `<p>This application is ${e(status)}: nothing to decide yet.</p>`;
  const erase =
    input.eraseAction && input.pii && input.pii !== 'erased'
      ? `<section aria-labelledby="erase-h"><h2 id="erase-h">Erase personal data</h2>
<form method="post" action="${e(input.eraseAction)}">
<input type="hidden" name="csrf_token" value="${e(input.csrf)}">
<label for="erase-reason">Reason (e.g. data subject request reference)</label><input id="erase-reason" name="reason" required maxlength="200">
<button type="submit" class="reject">Erase</button>
</form></section>`
      : '';
  const credentialRows = input.credentials
    .map((cr) => {
      const act = input.credentialAction;
      const controls =
        act && cr.status !== 'revoked'
          ? `<form method="post" action="${e(act(cr.id))}" class="credential-status"><input type="hidden" name="csrf_token" value="${e(input.csrf)}">
<label for="cs-reason-${e(cr.id)}">Reason</label><input id="cs-reason-${e(cr.id)}" name="reason" maxlength="500">
<div class="buttons">${cr.status === 'suspended' ? '<button type="submit" name="action" value="reinstate">Reinstate</button>' : '<button type="submit" name="action" value="suspend">Suspend</button>'}<button type="submit" name="action" value="revoke" class="reject">Revoke</button></div></form>`
          : '';
      return `<tr><td class="mono">${e(cr.id)}</td><td><span class="status">${e(cr.status)}</span></td><td>${e(cr.issuedAt)}</td><td>${e(cr.expiresAt)}</td><td>${controls}</td></tr>`;
    })
    .join('\n');
  const credentials = input.credentials.length
    ? `<section aria-labelledby="cred-h"><h2 id="cred-h">Credentials</h2>
<table><thead><tr><th scope="col">Credential</th><th scope="col">Status</th><th scope="col">Issued</th><th scope="col">Expires</th><th scope="col">${input.credentialAction ? 'Change' : ''}</th></tr></thead><tbody>
${credentialRows}
</tbody></table></section>`
    : '';
  const audit = input.audit.length
    ? input.audit.map((r) => `<tr><td>${e(r.at)}</td><td>${e(r.actor)}</td><td>${e(r.action)}</td><td class="detail">${e(r.detail)}</td></tr>`).join('\n')
    : '<tr><td colspan="4">No entries.</td></tr>';
  return layout(
    `Application ${a.id ?? ''}`,
    input.cssHref,
    `<p><a href="${e(input.backHref)}">← Back to the queue</a></p>
<h1>Application <span class="mono">${e(a.id ?? '')}</span></h1>
${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>` : ''}
<div class="grid">
<section aria-labelledby="app-h"><h2 id="app-h">Application</h2><dl>${facts}</dl></section>
<section aria-labelledby="idv-h"><h2 id="idv-h">Verification</h2>${idv}<h3>Personal data</h3>${pii}</section>
</div>
${decision}
${credentials}
${erase}
<section aria-labelledby="audit-h"><h2 id="audit-h">Audit trail</h2>
<table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Detail</th></tr></thead><tbody>
${audit}
</tbody></table></section>`,
    input.operator,
    input.logoutAction,
    input.csrf,
    input.role,
  );
}

/** Operator accounts (admins only): add, reset a secret, remove; a new secret is shown once, here. */
export function renderOperators(input: {
  cssHref: string;
  operator: string;
  logoutAction: string;
  csrf: string;
  backHref: string;
  action: string;
  accounts: { name: string; role: string; createdAt: string; removedAt: string | null }[];
  /** Signed in with ADMIN_TOKEN: that session ends once the first account exists. */
  firstStart: boolean;
  notice?: string;
  secret?: { name: string; value: string };
}): string {
  const hidden = (op: string, name: string) =>
    `<input type="hidden" name="csrf_token" value="${e(input.csrf)}"><input type="hidden" name="op" value="${op}"><input type="hidden" name="name" value="${e(name)}">`;
  const rows = input.accounts.length
    ? input.accounts
        .map(
          (a) =>
            `<tr><td>${e(a.name)}</td><td>${e(a.role)}</td><td>${e(a.createdAt)}</td><td>${e(a.removedAt ?? '—')}</td><td>${
              a.removedAt
                ? ''
                : `<form method="post" action="${e(input.action)}">${hidden('reset', a.name)}<button type="submit">Reset secret</button></form><form method="post" action="${e(input.action)}">${hidden('remove', a.name)}<button type="submit" class="reject">Remove</button></form>`
            }</td></tr>`,
        )
        .join('\n')
    : '<tr><td colspan="5">No accounts yet.</td></tr>';
  return layout(
    'Operators',
    input.cssHref,
    `<p><a href="${e(input.backHref)}">← Back to the queue</a></p>
<h1>Operators</h1>
${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>` : ''}
${input.secret ? `<p>Secret of <strong>${e(input.secret.name)}</strong>: <code class="mono">${e(input.secret.value)}</code></p>` : ''}
${input.firstStart ? '<p>You signed in with ADMIN_TOKEN. Once the first account exists, ADMIN_TOKEN no longer opens the console and this session ends: copy the secret first.</p>' : ''}
<table><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Removed</th><th scope="col"></th></tr></thead><tbody>
${rows}
</tbody></table>
<section aria-labelledby="add-h"><h2 id="add-h">Add an operator</h2>
<form method="post" action="${e(input.action)}"><input type="hidden" name="csrf_token" value="${e(input.csrf)}"><input type="hidden" name="op" value="add">
<label for="op-name">Name (2–32 of a-z, 0-9, . _ -)</label><input id="op-name" name="name" required maxlength="32" autocomplete="off">
<label for="op-role">Role</label><select id="op-role" name="role"><option value="reviewer">reviewer (decides)</option><option value="admin">admin (also credentials, erasure, operators)</option></select>
<button type="submit">Add</button>
</form></section>`,
    input.operator,
    input.logoutAction,
    input.csrf,
  );
}

export const CONSOLE_CSS = `*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
header{display:flex;justify-content:space-between;align-items:center;padding:.5rem 1rem;background:#1e293b;color:#fff}
header .brand{font-weight:700}header form{margin:0}header button{padding:.25rem .75rem}
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}.mono,.did{font-family:ui-monospace,monospace;word-break:break-all}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}input,select{padding:.5rem;font-size:1rem;border:2px solid #6b7280;border-radius:.25rem;background:#fff;max-width:100%}
button{padding:.5rem 1rem;font-size:1rem;font-weight:600;border:0;border-radius:.25rem;background:#1d4ed8;color:#fff;cursor:pointer;margin-top:.5rem}
button.approve{background:#15803d}button.reject{background:#b91c1c}.buttons{display:flex;gap:.5rem}
input:focus,select:focus,button:focus,a:focus{outline:3px solid #2563eb;outline-offset:2px}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}.filters label{margin:0}
table{width:100%;border-collapse:collapse;background:#fff;margin:1rem 0}th,td{border:1px solid #d1d5db;padding:.4rem .5rem;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:600;padding:.25rem 0}.detail{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}
.status{padding:.1rem .4rem;border-radius:.25rem;background:#e5e7eb}.status-review{background:#fef3c7}.status-approved{background:#dcfce7}.status-rejected{background:#fee2e2}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}section{background:#fff;padding:1rem;border:1px solid #d1d5db;border-radius:.25rem;margin:1rem 0}
.error{color:#b91c1c;font-weight:600}.notice{background:#dcfce7;padding:.5rem;border-left:4px solid #15803d}`;

/** A refusal inside the console (no session needed to read it): what happened and a way back. */
export function renderConsoleError(input: { title: string; message: string; cssHref: string; backHref: string }): string {
  return layout(
    input.title,
    input.cssHref,
    `<h1>${e(input.title)}</h1>\n<p role="alert">${e(input.message)}</p>\n<p><a href="${e(input.backHref)}">Back to the queue</a></p>`,
  );
}
