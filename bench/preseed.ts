/**
 * `BENCH_PRESEED=N npm run bench`: fills the benchmark's fresh SQLite database with N decided
 * applications, N issued credentials and N status entries (spread over as many status lists as
 * the defaults need) before the server starts, so the run shows whether per-flow CPU stays flat
 * as the tables grow (docs/performance.md). Rows look like the issuer's own: the same columns,
 * random ids and digests, so index pages split as they do in production.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../src/config';
import { openSqlite } from '../src/runtime/sqlite';

const id = () => randomBytes(16).toString('base64url');

/**
 * Seeds `dataDir`'s database. A seeded file is kept in the temp directory
 * (`kcc-bench-preseed-<N>.db`, BENCH_PRESEED_KEEP=0 to not keep it) and copied for later runs:
 * seeding a million rows takes minutes, copying the file seconds.
 */
export function preseed(dataDir: string, count: number): { seconds: number; lists: number; reused: boolean } {
  const started = performance.now();
  const target = join(dataDir, 'kcc-issuer.db');
  const kept = join(tmpdir(), `kcc-bench-preseed-${count}.db`);
  const { size, maxFill } = DEFAULTS.statusList;
  const perList = Math.floor(size * maxFill) - 1000; // the newest list keeps room for the run's flows
  if (existsSync(kept)) {
    copyFileSync(kept, target);
    return { seconds: (performance.now() - started) / 1000, lists: Math.ceil(count / perList), reused: true };
  }
  const { sqlite, close } = openSqlite(target, { groupCommit: false });
  // Seeding only (not the server's settings): no fsync, a large page cache.
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -1048576');
  const now = Math.floor(Date.now() / 1000);
  const lists = Math.ceil(count / perList);
  const application = sqlite.prepare(
    `INSERT INTO applications (id, applicant_did, credential_configuration_id, status, form_token_hash, form_expires_at, form_submitted_at, idv_provider, country_of_residence, tier, evidence, decision_reason, decided_by, decided_at, created_at, updated_at)
     VALUES (?, ?, 'KnownCustomerCredential', 'approved', ?, ?, ?, 'sandbox', 'US', 'Standard', '[{"kind":"document_verification"}]', NULL, 'idv:sandbox', ?, ?, ?)`,
  );
  const issued = sqlite.prepare(
    'INSERT INTO issued_credentials (id, application_id, subject_did, transaction_id, jwt_sha256, issued_at, expires_at) VALUES (?, ?, ?, NULL, ?, ?, ?)',
  );
  const claim = sqlite.prepare('INSERT INTO issuance_claims (application_id, credential_id, claimed_at) VALUES (?, ?, ?)');
  const status = sqlite.prepare(
    `INSERT INTO credential_status (credential_id, list_id, list_index, subject_did, tier_id, evidence, issued_at, expires_at, revoked_at, revocation_reason, suspended_at, suspension_reason, updated_at, expiry_announced_at)
     VALUES (?, ?, ?, ?, 'Standard', '[{"kind":"document_verification","checks":["document_verification"],"verifiedAt":0}]', ?, ?, NULL, NULL, NULL, NULL, ?, NULL)`,
  );
  const list = sqlite.prepare('INSERT INTO status_lists (id, size, allocated, version, created_at) VALUES (?, ?, ?, 0, ?)');
  const chunk = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const applicationId = id();
      const credentialId = `urn:uuid:${crypto.randomUUID()}`;
      const did = `did:jwk:${id()}${id()}`;
      const listId = Math.floor(i / perList) + 1;
      // An odd stride over a power-of-two size visits every index once: distinct, scattered slots.
      const index = ((i % perList) * 40_503) % size;
      application.run(applicationId, did, id() + id(), now - 3600, now - 3000, now - 3000, now - 3600, now - 3000);
      issued.run(credentialId, applicationId, did, id() + id(), now - 2900, now + 365 * 86_400);
      claim.run(applicationId, credentialId, now - 2900);
      status.run(credentialId, listId, index, did, now - 2900, now + 365 * 86_400, now - 2900);
    }
  });
  for (let from = 0; from < count; from += 10_000) chunk(from, Math.min(count, from + 10_000));
  for (let l = 1; l <= lists; l++) list.run(l, size, l < lists ? perList : count - (lists - 1) * perList, now - 3600);
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  void close();
  if (process.env.BENCH_PRESEED_KEEP !== '0') {
    copyFileSync(target, `${kept}.partial`);
    renameSync(`${kept}.partial`, kept);
  }
  return { seconds: (performance.now() - started) / 1000, lists, reused: false };
}
