import { describe, expect, it } from 'vitest';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * One decision, one credential (SECURITY.md): an approved application yields exactly one KCC,
 * whatever the wallet does with its access token (24 h) and fresh nonces from the Nonce
 * Endpoint; a repeated request gets the same credential again (same bytes, same jti: an answer
 * lost to a crash never strands the wallet), never a second one. Renewal and upgrade are new
 * applications (test/issuance/credentialLife.test.ts, test/issuance/tiers.test.ts).
 */
const CONFIG_ID = 'KnownCustomerCredential';
const json = { 'content-type': 'application/json' };

async function setup(familyName?: string) {
  const t = await makeTestIssuer();
  const app = await applyUntilOffer(PUBLIC_URL, t.fetch, { familyName });
  const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
    t.app.request(`${PUBLIC_URL}${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const tokenRes = await post('/oauth2/token', { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': app.preAuthorizedCode, client_id: app.holder.did });
  expect(tokenRes.status).toBe(200);
  const token = (await tokenRes.json()) as { access_token: string; c_nonce: string };
  const bearer = { ...json, authorization: `Bearer ${token.access_token}` };
  const nonce = async () => ((await (await post('/oid4vci/nonce', undefined, {})).json()) as { c_nonce: string }).c_nonce;
  /** An OID4VCI 1.0 request with a fresh Nonce Endpoint nonce. */
  const v1 = async () =>
    post(
      '/oid4vci/credential',
      { credential_configuration_id: CONFIG_ID, proofs: { jwt: [await app.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonce() })] } },
      bearer,
    );
  /** The credential of a 200 answer (1.0 or draft-13 shape). */
  const credentialOf = async (res: Response) => {
    const body = (await res.json()) as { credential?: string; credentials?: { credential: string }[] };
    return body.credential ?? body.credentials?.[0]?.credential;
  };
  const issuedCount = async () => (await t.deps.store.credentialStatus.listForSubject(app.holder.did)).length;
  return { t, ...app, post, token, bearer, nonce, v1, issuedCount, credentialOf };
}

describe('one decision, one credential', () => {
  it('a second request with the same access token and a fresh nonce gets the same credential again', async () => {
    const s = await setup();
    const first = await s.v1();
    expect(first.status).toBe(200);
    const kcc = await s.credentialOf(first);
    expect(kcc).toMatch(/^ey/);
    for (let i = 0; i < 4; i++) {
      const again = await s.v1();
      expect(again.status).toBe(200);
      expect(await s.credentialOf(again)).toBe(kcc);
    }
    expect(await s.issuedCount()).toBe(1);
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
  });

  it('the draft-13 shape too (the token c_nonce, then the c_nonce of each answer)', async () => {
    const s = await setup();
    const request = async (nonce: string) =>
      s.post(
        '/oid4vci/credential',
        {
          format: 'jwt_vc_json',
          credential_definition: { type: ['VerifiableCredential', 'KnownCustomerCredential'] },
          proof: { proof_type: 'jwt', jwt: await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce }) },
        },
        s.bearer,
      );
    const first = await request(s.token.c_nonce);
    expect(first.status).toBe(200);
    const again = await request(await s.nonce());
    expect(again.status).toBe(200);
    expect(await s.credentialOf(again)).toBe(await s.credentialOf(first));
    expect(await s.issuedCount()).toBe(1);
  });

  it('50 parallel requests, each with its own fresh nonce, give one KCC', async () => {
    const s = await setup();
    const answers = await Promise.all(Array.from({ length: 50 }, () => s.v1()));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    // Every racing request answers with the one credential: the same bytes.
    expect(new Set(await Promise.all(answers.map((r) => s.credentialOf(r)))).size).toBe(1);
    expect(await s.issuedCount()).toBe(1);
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
  });

  it('deferred: several transactions for one application, 50 parallel collections → one KCC', async () => {
    const s = await setup('Review');
    const transactions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await s.v1();
      expect(res.status).toBe(202);
      transactions.push(((await res.json()) as { transaction_id: string }).transaction_id);
    }
    const [application] = (
      (await (await s.t.app.request(`${PUBLIC_URL}/admin/applications?status=review`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
        applications: { id: string }[];
      }
    ).applications;
    const decided = await s.post(
      `/admin/applications/${application.id}/decision`,
      { decision: 'approve' },
      { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(decided.status).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.post('/oid4vci/deferred-credential', { transaction_id: transactions[i % 3] }, s.bearer)),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    const kccs = new Set(await Promise.all(answers.map((r) => s.credentialOf(r))));
    expect(kccs.size).toBe(1);
    expect(await s.issuedCount()).toBe(1);
    // The credential endpoint hands out the same one as well.
    expect(await s.credentialOf(await s.v1())).toBe([...kccs][0]);
  });

  it('a claim whose credential could not be signed is released for the next request', async () => {
    const s = await setup();
    const sign = s.t.deps.issuer.signer.sign.bind(s.t.deps.issuer.signer);
    let fail = true;
    (s.t.deps.issuer.signer as { sign: typeof sign }).sign = async (...args) => {
      if (fail) {
        fail = false;
        throw new Error('HSM unavailable');
      }
      return sign(...args);
    };
    expect((await s.v1()).status).toBe(500);
    expect((await s.v1()).status).toBe(200);
  });
});

/** A KCC's jti (its credential id). */
function jtiOf(jwt: string | undefined): string {
  return JSON.parse(Buffer.from(String(jwt).split('.')[1] ?? '', 'base64url').toString('utf8')).jti;
}

describe('crash recovery never strands a wallet, never leaves a ghost', () => {
  it('a token request that failed (500) after its code was redeemed leaves a retry that works; a refusal still spends it', async () => {
    const t = await makeTestIssuer();
    const app = await applyUntilOffer(PUBLIC_URL, t.fetch);
    const token = () =>
      t.app.request(`${PUBLIC_URL}/oauth2/token`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': app.preAuthorizedCode, client_id: app.holder.did }),
      });
    const tokens = t.deps.store.accessTokens;
    const createWithCNonce = tokens.createWithCNonce.bind(tokens);
    tokens.createWithCNonce = async () => {
      throw new Error('connection lost');
    };
    expect((await token()).status).toBe(500);
    tokens.createWithCNonce = createWithCNonce;
    const retry = await token();
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { access_token: string }).access_token).toMatch(/^ey/);
    // Redeemed with its answer recorded: a replay is refused as before.
    expect(((await (await token()).json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('a credential recorded whose answer was lost (500) is handed out again on retry: same jti, same bytes', async () => {
    const s = await setup();
    const store = s.t.deps.store.issuedCredentials;
    const recordIssued = store.recordIssued.bind(store);
    const get = store.get.bind(store);
    // The commit lands, then the connection is gone for the rest of the request.
    let down = false;
    store.recordIssued = async (write) => {
      await recordIssued(write);
      down = true;
      throw new Error('connection lost after commit');
    };
    store.get = async (id) => {
      if (down) throw new Error('connection lost');
      return get(id);
    };
    expect((await s.v1()).status).toBe(500);
    store.recordIssued = recordIssued;
    down = false;
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
    const retry = await s.v1();
    expect(retry.status).toBe(200);
    const kcc = await s.credentialOf(retry);
    const [application] = await s.t.deps.store.applications.listByStatus('approved');
    const [record] = await store.listForApplication(application.id);
    expect(jtiOf(kcc)).toBe(record?.id);
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
    expect(await s.issuedCount()).toBe(1);
  });

  it('a claim written and nothing else (the request died) is taken over by the next request, with the claimed id', async () => {
    const s = await setup();
    const [application] = await s.t.deps.store.applications.listByStatus('approved');
    expect(await s.t.deps.store.issuedCredentials.claim(application.id, 'urn:uuid:00000000-0000-4000-8000-00000000dead', 1)).toBe(true);
    const res = await s.v1();
    expect(res.status).toBe(200);
    expect(jtiOf(await s.credentialOf(res))).toBe('urn:uuid:00000000-0000-4000-8000-00000000dead');
    expect(await s.issuedCount()).toBe(1);
  });

  it('a status entry without a credential is no live credential (admin API) and is taken over, not doubled', async () => {
    const s = await setup();
    const [application] = await s.t.deps.store.applications.listByStatus('approved');
    const id = 'urn:uuid:00000000-0000-4000-8000-00000000beef';
    expect(await s.t.deps.store.issuedCredentials.claim(application.id, id, 1)).toBe(true);
    // What a request killed between allocating the status entry and recording the credential leaves.
    expect(
      await s.t.deps.store.credentialStatus.tryAllocate({
        credentialId: id,
        listId: (await s.t.deps.store.statusLists.current(131072, 1)).id,
        listIndex: 4242,
        subjectDid: s.holder.did,
        tierId: 'default',
        evidence: [],
        issuedAt: 1,
        expiresAt: 2_000_000_000,
        updatedAt: 1,
      }),
    ).toBe(true);
    const admin = async () =>
      (await (
        await s.t.app.request(`${PUBLIC_URL}/admin/credentials?subject=${encodeURIComponent(s.holder.did)}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json()) as { credentials: { id: string }[] };
    expect((await admin()).credentials).toEqual([]);
    expect(await s.issuedCount()).toBe(0);
    const res = await s.v1();
    expect(res.status).toBe(200);
    const kcc = await s.credentialOf(res);
    expect(jtiOf(kcc)).toBe(id);
    // The entry allocated before the crash is the credential's own.
    const vc = JSON.parse(Buffer.from(String(kcc).split('.')[1], 'base64url').toString('utf8')).vc;
    const status = [vc.credentialStatus].flat()[0];
    expect(String(status.statusListIndex)).toBe('4242');
    expect((await admin()).credentials.map((c) => c.id)).toEqual([id]);
  });

  it('approved → rejected (overrule) → approved: the wallet collects a new KCC, the revoked one is not handed out', async () => {
    const s = await setup();
    const first = await s.credentialOf(await s.v1());
    const [application] = await s.t.deps.store.applications.listByStatus('approved');
    const decide = (body: Record<string, unknown>) =>
      s.post(`/admin/applications/${application.id}/decision`, body, { ...json, authorization: `Bearer ${ADMIN_TOKEN}` });
    expect((await decide({ decision: 'reject', overrule: true, reason: 'document found forged' })).status).toBe(200);
    expect(((await (await s.v1()).json()) as { error: string }).error).toBe('credential_request_denied');
    expect((await decide({ decision: 'approve', overrule: true, reason: 'document verified after all' })).status).toBe(200);
    const again = await s.v1();
    expect(again.status).toBe(200);
    const second = await s.credentialOf(again);
    expect(jtiOf(second)).not.toBe(jtiOf(first));
    expect((await s.t.deps.store.credentialStatus.get(jtiOf(first)))?.revokedAt).not.toBeNull();
    expect((await s.t.deps.store.credentialStatus.get(jtiOf(second)))?.revokedAt).toBeNull();
    // And once more: the new one, again.
    expect(await s.credentialOf(await s.v1())).toBe(second);
  });
});
