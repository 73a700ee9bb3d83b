import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

/**
 * One issuer, two OID4VCI profiles: draft 13 as the spec says, OID4VCI 1.0 Final
 * detected from the request itself. Driven through app.request with raw HTTP bodies, so each
 * wire shape is asserted exactly.
 */
const CONFIG_ID = 'KnownCustomerCredential';
const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };

async function setup(familyName?: string) {
  const t = await makeTestIssuer();
  const app = await applyUntilOffer(PUBLIC_URL, t.fetch, { familyName });
  const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
    t.app.request(`${PUBLIC_URL}${path}`, {
      method: 'POST',
      headers,
      body: headers['content-type'] === form['content-type'] ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
    });
  return { t, ...app, post };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Token request as Sphereon sends it: a form body, no client_id here, tx_code and user_pin empty. */
async function tokenWithoutClientId(s: Setup) {
  const res = await s.post('/oauth2/token', { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': s.preAuthorizedCode, tx_code: '', user_pin: '' }, form);
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; c_nonce: string };
}

async function nonceFromEndpoint(s: Setup): Promise<string> {
  const res = await s.post('/oid4vci/nonce', undefined, {});
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toContain('no-store');
  const body = (await res.json()) as { c_nonce: string };
  expect(body.c_nonce).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  return body.c_nonce;
}

function bearer(token: string) {
  return { ...json, authorization: `Bearer ${token}` };
}

async function approveReview(s: Setup) {
  const list = await s.t.app.request(`${PUBLIC_URL}/admin/applications?status=review`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const { applications } = (await list.json()) as { applications: { id: string; applicant_did: string }[] };
  const mine = applications.find((a) => a.applicant_did === s.holder.did);
  expect(mine).toBeDefined();
  const res = await s.t.app.request(`${PUBLIC_URL}/admin/applications/${mine!.id}/decision`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ decision: 'approve' }),
  });
  expect(res.status).toBe(200);
}

describe('metadata advertises both profiles', () => {
  it('keeps the draft-13 members and adds nonce_endpoint, notification_endpoint and credential_metadata', async () => {
    const t = await makeTestIssuer();
    const md = (await (await t.app.request(`${PUBLIC_URL}/.well-known/openid-credential-issuer`)).json()) as any;
    expect(md.credential_endpoint).toBe(`${PUBLIC_URL}/oid4vci/credential`);
    expect(md.deferred_credential_endpoint).toBe(`${PUBLIC_URL}/oid4vci/deferred-credential`);
    expect(md.nonce_endpoint).toBe(`${PUBLIC_URL}/oid4vci/nonce`);
    expect(md.notification_endpoint).toBe(`${PUBLIC_URL}/oid4vci/notification`);
    const config = md.credential_configurations_supported[CONFIG_ID];
    expect(config.format).toBe('jwt_vc_json');
    expect(config.credential_definition.type).toEqual(['VerifiableCredential', 'KnownCustomerCredential']);
    expect(config.display[0].name).toBe('Known Customer Credential');
    expect(config.credential_metadata.display[0].name).toBe('Known Customer Credential');
    // The SD-JWT VC sibling (on by default) brings the issuer-wide 1.0 members; draft-13 wallets
    // ignore them, and the empty draft-11 list keeps Sphereon 0.19 off the configurations it cannot read
    // (docs/formats.md "Offered by default").
    expect(md.credential_configurations_supported[`${CONFIG_ID}_sd_jwt`].format).toBe('dc+sd-jwt');
    expect(md.batch_credential_issuance).toEqual({ batch_size: 5 });
    expect(md.credentials_supported).toEqual([]);
  });
});

describe('OID4VCI 1.0 Final', () => {
  it('issues at once: nonce endpoint, credential_configuration_id + proofs, credentials[] and notification', async () => {
    const s = await setup();
    const token = await tokenWithoutClientId(s);
    const nonce = await nonceFromEndpoint(s);
    const jwt = await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce });
    const res = await s.post('/oid4vci/credential', { credential_configuration_id: CONFIG_ID, proofs: { jwt: [jwt] } }, bearer(token.access_token));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { credentials: { credential: string }[]; notification_id: string; credential?: string };
    expect(body.credential).toBeUndefined();
    expect(body.credentials).toHaveLength(1);
    const kcc = decodeJwt(body.credentials[0].credential);
    expect(kcc.payload.sub).toBe(s.holder.did);
    expect((kcc.payload.vc as any).type).toContain('KnownCustomerCredential');
    expect(body.notification_id).toBeTypeOf('string');

    // §11: accepted → 204, stored; the same notification again → 204 (idempotent).
    const notify = () => s.post('/oid4vci/notification', { notification_id: body.notification_id, event: 'credential_accepted' }, bearer(token.access_token));
    expect((await notify()).status).toBe(204);
    expect((await notify()).status).toBe(204);
    const stored = await s.t.deps.store.notifications.get(body.notification_id);
    expect(stored?.event).toBe('credential_accepted');
    expect(stored?.eventAt).toBeTypeOf('number');
    const deleted = await s.post(
      '/oid4vci/notification',
      { notification_id: body.notification_id, event: 'credential_deleted', event_description: 'user removed it' },
      bearer(token.access_token),
    );
    expect(deleted.status).toBe(204);
    expect((await s.t.deps.store.notifications.get(body.notification_id))?.eventDescription).toBe('user removed it');

    const unknown = await s.post('/oid4vci/notification', { notification_id: 'nope', event: 'credential_accepted' }, bearer(token.access_token));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error).toBe('invalid_notification_id');
    const badEvent = await s.post('/oid4vci/notification', { notification_id: body.notification_id, event: 'credential_lost' }, bearer(token.access_token));
    expect(((await badEvent.json()) as any).error).toBe('invalid_notification_request');
    const noToken = await s.post('/oid4vci/notification', { notification_id: body.notification_id, event: 'credential_accepted' });
    expect(noToken.status).toBe(401);
  });

  it('consumes a Nonce Endpoint nonce once and answers a stale one with invalid_nonce', async () => {
    const s = await setup();
    const token = await tokenWithoutClientId(s);
    const nonce = await nonceFromEndpoint(s);
    const request = async (n: string) =>
      s.post(
        '/oid4vci/credential',
        { credential_configuration_id: CONFIG_ID, proofs: { jwt: [await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: n })] } },
        bearer(token.access_token),
      );
    expect((await request(nonce)).status).toBe(200);
    const replay = await request(nonce);
    expect(replay.status).toBe(400);
    const err = (await replay.json()) as any;
    expect(err.error).toBe('invalid_nonce');
    expect(err.c_nonce).toBeUndefined();
    expect(((await (await request('never-issued')).json()) as any).error).toBe('invalid_nonce');
    // The c_nonce of the token response is bound to that token and works for 1.0 requests too
    // (it passes the proof check; the application's one credential is handed out again).
    const again = await request(token.c_nonce);
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).credentials).toHaveLength(1);
  });

  it('expires Nonce Endpoint nonces after ttl.cNonce, and pruning removes only expired ones', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const now = () => Math.floor(clock() / 1000);
    const res = await t.app.request(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' });
    const { c_nonce } = (await res.json()) as { c_nonce: string };
    await t.deps.store.nonces.create({ nonce: 'later', expiresAt: now() + 3600 });
    clock.advance(5 * 60 + 1);
    expect(await t.deps.store.nonces.consume(c_nonce, now())).toBeUndefined();
    expect(await t.deps.store.nonces.pruneExpired(now())).toBe(1);
    expect(await t.deps.store.nonces.consume('later', now())).toBeDefined();
    expect(await t.deps.store.nonces.consume('later', now())).toBeUndefined();
  });

  it('accepts a single draft-15 style `proof` with credential_configuration_id and the PFI DID as aud', async () => {
    const s = await setup();
    const token = await tokenWithoutClientId(s);
    const jwt = await s.holder.createProofJwt({ audience: s.pfiDid, nonce: await nonceFromEndpoint(s) });
    const res = await s.post('/oid4vci/credential', { credential_configuration_id: CONFIG_ID, proof: { proof_type: 'jwt', jwt } }, bearer(token.access_token));
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).credentials).toHaveLength(1);
  });

  it('defers with 202 {transaction_id, interval} and answers the deferred endpoint in the 1.0 shape', async () => {
    const s = await setup('Review');
    const token = await tokenWithoutClientId(s);
    const jwt = await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonceFromEndpoint(s) });
    const res = await s.post('/oid4vci/credential', { credential_configuration_id: CONFIG_ID, proofs: { jwt: [jwt] } }, bearer(token.access_token));
    expect(res.status).toBe(202);
    const deferred = (await res.json()) as { transaction_id: string; interval: number };
    expect(deferred).toEqual({ transaction_id: expect.any(String), interval: 5 });

    const poll = () => s.post('/oid4vci/deferred-credential', { transaction_id: deferred.transaction_id }, bearer(token.access_token));
    const pending = await poll();
    expect(pending.status).toBe(202);
    expect(await pending.json()).toEqual({ transaction_id: deferred.transaction_id, interval: 5 });

    await approveReview(s);
    const done = await poll();
    expect(done.status).toBe(200);
    const body = (await done.json()) as { credentials: { credential: string }[]; notification_id: string };
    expect(decodeJwt(body.credentials[0].credential).payload.sub).toBe(s.holder.did);
    expect(body.notification_id).toBeTypeOf('string');
    const notified = await s.post('/oid4vci/notification', { notification_id: body.notification_id, event: 'credential_accepted' }, bearer(token.access_token));
    expect(notified.status).toBe(204);

    // A collection whose answer was lost: the same credential and notification_id again, never a second one.
    const replay = await poll();
    expect(replay.status).toBe(200);
    const again = (await replay.json()) as typeof body;
    expect(again.credentials[0].credential).toBe(body.credentials[0].credential);
    expect(again.notification_id).toBe(body.notification_id);
  });

  it('answers a declined application with credential_request_denied', async () => {
    const s = await setup('Declined');
    const token = await tokenWithoutClientId(s);
    const jwt = await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonceFromEndpoint(s) });
    const res = await s.post('/oid4vci/credential', { credential_configuration_id: CONFIG_ID, proofs: { jwt: [jwt] } }, bearer(token.access_token));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe('credential_request_denied');
  });

  it('refuses malformed 1.0 requests with the 1.0 error codes', async () => {
    const s = await setup();
    const token = await tokenWithoutClientId(s);
    const proof = async () => s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonceFromEndpoint(s) });
    const cases: [unknown, string][] = [
      [{ credential_configuration_id: 'UniversityDegree', proofs: { jwt: [await proof()] } }, 'unknown_credential_configuration'],
      [{ credential_identifier: 'abc', proofs: { jwt: [await proof()] } }, 'unknown_credential_identifier'],
      [{ credential_identifier: 'abc', credential_configuration_id: CONFIG_ID }, 'invalid_credential_request'],
      [{ credential_configuration_id: CONFIG_ID, proofs: { jwt: [await proof(), await proof()] } }, 'invalid_credential_request'],
      [{ credential_configuration_id: CONFIG_ID, proofs: { jwt: [] } }, 'invalid_credential_request'],
      [{ credential_configuration_id: CONFIG_ID, proofs: { ldp_vp: [{}] } }, 'invalid_proof'],
      [{ credential_configuration_id: CONFIG_ID }, 'invalid_proof'],
      [
        { credential_configuration_id: CONFIG_ID, proof: { proof_type: 'jwt', jwt: await proof() }, proofs: { jwt: [await proof()] } },
        'invalid_credential_request',
      ],
      [{ credential_configuration_id: CONFIG_ID, proofs: { jwt: ['not-a-jwt'] } }, 'invalid_proof'],
    ];
    for (const [body, error] of cases) {
      const res = await s.post('/oid4vci/credential', body, bearer(token.access_token));
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(((await res.json()) as any).error, JSON.stringify(body).slice(0, 80)).toBe(error);
    }
  });
});

describe('draft 13 is unchanged', () => {
  it('the reference wallet (DIDPay shapes) completes a deferred issuance by polling', async () => {
    const t = await makeTestIssuer();
    const holder = await Holder.create();
    const client = new WalletClient(holder, t.fetch);
    const approve = async () => {
      const [application] = await t.deps.store.applications.listByStatus('review');
      await t.deps.store.applications.decideReview(application.id, { status: 'approved', decidedBy: 'operator' }, Math.floor(Date.now() / 1000));
    };
    const result = await applyForKcc(client, {
      issuer: PUBLIC_URL,
      identity: { ...SAMPLE_IDENTITY, family_name: 'Review' },
      whilePending: approve,
      pollIntervalMs: 10,
      pollAttempts: 5,
    });
    expect(result.deferred).toBe(true);
    expect(decodeJwt(result.credential!).payload.sub).toBe(holder.did);
  });

  it('still answers issuance_pending on the deferred endpoint and {credential} when done', async () => {
    const s = await setup('Review');
    const tokenRes = await s.post('/oauth2/token', { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': s.preAuthorizedCode, client_id: s.holder.did });
    const token = (await tokenRes.json()) as { access_token: string; c_nonce: string };
    const jwt = await s.holder.createProofJwt({ audience: s.pfiDid, nonce: token.c_nonce });
    const res = await s.post('/oid4vci/credential', { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } }, bearer(token.access_token));
    expect(res.status).toBe(202);
    const { transaction_id } = (await res.json()) as { transaction_id: string };
    const pending = await s.post('/oid4vci/deferred-credential', { transaction_id }, bearer(token.access_token));
    expect(pending.status).toBe(400);
    expect(((await pending.json()) as any).error).toBe('issuance_pending');
    await approveReview(s);
    const done = await s.post('/oid4vci/deferred-credential', { transaction_id }, bearer(token.access_token));
    expect(done.status).toBe(200);
    const body = (await done.json()) as { credential: string; credentials?: unknown };
    expect(body.credential).toBeTypeOf('string');
    expect(body.credentials).toBeUndefined();
  });

  it('answers a stale nonce with invalid_proof carrying a fresh c_nonce, and a Nonce Endpoint nonce works', async () => {
    const s = await setup();
    const token = await tokenWithoutClientId(s);
    const stale = await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: 'never-issued' });
    const res = await s.post('/oid4vci/credential', { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: stale } }, bearer(token.access_token));
    expect(res.status).toBe(400);
    const err = (await res.json()) as any;
    expect(err.error).toBe('invalid_proof');
    expect(err.c_nonce).toBeTypeOf('string');
    const jwt = await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonceFromEndpoint(s) });
    const ok = await s.post('/oid4vci/credential', { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } }, bearer(token.access_token));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).credential).toBeTypeOf('string');
  });
});

describe('token endpoint accepts what real wallets send', () => {
  it('takes JSON or form bodies, with or without client_id', async () => {
    for (const [withClientId, headers] of [
      [true, form],
      [false, json],
    ] as const) {
      const s = await setup();
      const body: Record<string, string> = { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': s.preAuthorizedCode };
      if (withClientId) body.client_id = s.holder.did;
      const res = await s.post('/oauth2/token', body, headers);
      expect(res.status).toBe(200);
      const token = (await res.json()) as { access_token: string };
      // The token names the DID the code was bound to, whether or not client_id was sent.
      expect(decodeJwt(token.access_token).payload.sub).toBe(s.holder.did);
    }
  });

  it('still refuses a client_id that is not the bound DID, a non-DID client_id and a real tx_code', async () => {
    const s = await setup();
    const base = { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': s.preAuthorizedCode };
    const other = await s.post('/oauth2/token', { ...base, client_id: 'did:jwk:eyJrdHkiOiJPS1AifQ' });
    expect(other.status).toBe(400);
    expect(((await other.json()) as any).error).toBe('invalid_grant');
    const s2 = await setup();
    const base2 = { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': s2.preAuthorizedCode };
    const notDid = await s2.post('/oauth2/token', { ...base2, client_id: 'wallet-app' });
    expect(((await notDid.json()) as any).error).toBe('invalid_client');
    const txCode = await s2.post('/oauth2/token', { ...base2, tx_code: '123456' });
    expect(((await txCode.json()) as any).error).toBe('invalid_request');
    // None of those consumed the code: the right request still succeeds.
    expect((await s2.post('/oauth2/token', { ...base2, tx_code: '' })).status).toBe(200);
  });
});
