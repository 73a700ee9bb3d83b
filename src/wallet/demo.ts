/**
 * `npm run demo`: a fresh issuer on a random loopback port (temporary DATA_DIR), and the
 * reference wallet running the whole flow against it over HTTP, twice:
 *   1. immediate issuance (sandbox approves), and
 *   2. deferred issuance (family_name "Review" → manual review → operator approves).
 * Prints each step and the decoded credential; exits 0 on success.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from '../crypto/jwt';
import { silentLogger } from '../ports/logger';
import { startNodeIssuer } from '../runtime/node';
import { WalletClient } from './client';
import { applyForKcc, SAMPLE_IDENTITY, type FlowStep } from './flow';
import { Holder } from './holder';

const print = (s: FlowStep) => console.log(`  ✓ ${s.step.padEnd(22)} ${s.detail ? JSON.stringify(s.detail).slice(0, 160) : ''}`);

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-demo-'));
  const adminToken = crypto.randomUUID();
  const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, config: { adminToken, clientName: 'Demo PFI' } });
  try {
    console.log(`Issuer running at ${issuer.url} as ${issuer.deps.issuer.did}\n`);

    console.log('1) Immediate issuance (sandbox approves)');
    const alice = await Holder.create();
    console.log(`  applicant ${alice.did.slice(0, 60)}…`);
    const immediate = await applyForKcc(new WalletClient(alice, (u, i) => fetch(u, i)), { issuer: issuer.url, identity: SAMPLE_IDENTITY, onStep: print });
    const decoded = decodeJwt(immediate.credential!);
    console.log('\n  Known Customer Credential (decoded):');
    console.log(JSON.stringify({ header: decoded.header, payload: decoded.payload }, null, 2).replace(/^/gm, '    '));

    console.log('\n2) Deferred issuance (family_name "Review" → manual review → operator approves)');
    const bob = await Holder.create({ alg: 'ES256K' });
    const deferred = await applyForKcc(new WalletClient(bob, (u, i) => fetch(u, i)), {
      issuer: issuer.url,
      identity: { ...SAMPLE_IDENTITY, given_name: 'Bob', family_name: 'Review' },
      onStep: print,
      pollIntervalMs: 200,
      whilePending: async () => {
        const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
        const queue = (await (await fetch(`${issuer.url}/admin/applications?status=review`, { headers })).json()) as { applications: { id: string }[] };
        const id = queue.applications[0].id;
        const res = await fetch(`${issuer.url}/admin/applications/${id}/decision`, { method: 'POST', headers, body: JSON.stringify({ decision: 'approve' }) });
        if (res.status !== 200) throw new Error(`the operator approval was refused (${res.status}): ${await res.text()}`);
        console.log(`  ✓ ${'operator_approved'.padEnd(22)} ${JSON.stringify({ application: id, status: res.status })}`);
      },
    });
    if (!deferred.credential) throw new Error('deferred credential was not issued');
    const subject = (decodeJwt(deferred.credential).payload.vc as { credentialSubject: unknown }).credentialSubject;
    console.log(`\n  credentialSubject: ${JSON.stringify(subject)}`);
    console.log('\nDemo finished: both credentials issued.');
  } finally {
    await issuer.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error('Demo failed:', e instanceof Error ? `${e.message}${'body' in e ? ` ${JSON.stringify((e as { body?: unknown }).body)}` : ''}` : e);
  process.exit(1);
});
