import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { allocateCredentialStatus, changeCredentialStatus, statusListCredential, tokenStatusListJwt } from '../../src/issuance/credentialStatus';
import { openPostgres } from '../../src/runtime/postgres';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

/**
 * The Token Status List on PostgreSQL: built from the same status rows as the Bitstring lists;
 * and an SD-JWT VC batch issued over the OID4VCI 1.0 endpoints with the PostgreSQL store, its
 * copies revoked in both lists when the decision is overruled.
 */
let server: TestPostgres;
beforeAll(async () => {
  server = await startTestPostgres();
}, 60_000);
afterAll(async () => server?.stop());

describe('Token Status List on PostgreSQL', () => {
  it('follows suspend, reinstate and revoke like the Bitstring lists', async () => {
    const pg = await openPostgres(await server.createDatabase(), { poolSize: 2 });
    try {
      const t = await makeTestIssuer();
      const deps = { ...t.deps, store: pg.store };
      const now = Math.floor(deps.clock() / 1000);
      const ids = [`urn:uuid:${crypto.randomUUID()}`, `urn:uuid:${crypto.randomUUID()}`];
      const slots: { index: number }[] = [];
      for (const credentialId of ids) {
        slots.push(
          await allocateCredentialStatus(deps, {
            credentialId,
            subjectDid: 'did:example:a',
            tierId: deps.config.tiers[0].id,
            evidence: [],
            issuedAt: now,
            expiresAt: now + 60,
          }),
        );
      }
      const read = async () => {
        const list = getListFromStatusListJWT((await tokenStatusListJwt(deps, 1))!);
        const revoked = await decodeStatusList(
          (decodeJwt((await statusListCredential(deps, 1, 'revocation'))!).payload.vc as { credentialSubject: { encodedList: string } }).credentialSubject
            .encodedList,
        );
        return slots.map((s) => [list.getStatus(s.index), getBit(revoked, s.index)]);
      };
      expect(await read()).toEqual([
        [0, false],
        [0, false],
      ]);
      await changeCredentialStatus(deps, ids[0], 'suspend', { actor: 'test' });
      expect(await read()).toEqual([
        [2, false],
        [0, false],
      ]);
      await changeCredentialStatus(deps, ids[0], 'reinstate', { actor: 'test' });
      await changeCredentialStatus(deps, ids[1], 'revoke', { actor: 'test' });
      expect(await read()).toEqual([
        [0, false],
        [1, true],
      ]);
      expect(await tokenStatusListJwt(deps, 2)).toBeUndefined();
    } finally {
      await pg.close();
    }
  });

  it('issues an SD-JWT VC batch (OID4VCI 1.0, bare jwk proofs) and an overruled decision revokes every copy in the Token Status List and the Bitstring list', async () => {
    const pg = await openPostgres(await server.createDatabase(), { poolSize: 4 });
    try {
      const t = await makeTestIssuer({ store: pg.store });
      const json = { 'content-type': 'application/json' };
      const { holder, preAuthorizedCode } = await applyUntilOffer(PUBLIC_URL, t.fetch);
      const token = (await (
        await t.fetch(`${PUBLIC_URL}/oauth2/token`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': preAuthorizedCode }),
        })
      ).json()) as { access_token: string };
      const { c_nonce } = (await (await t.fetch(`${PUBLIC_URL}/oid4vci/nonce`, { method: 'POST' })).json()) as { c_nonce: string };
      // Three wallet keys (ES256, as most 1.0 wallets hold), one proof each, one nonce.
      const proofs: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { publicKey, privateKey } = await generateKeyPair('ES256');
        const { kty, crv, x, y } = await exportJWK(publicKey);
        proofs.push(
          await new SignJWT({ aud: PUBLIC_URL, nonce: c_nonce })
            .setProtectedHeader({ alg: 'ES256', typ: 'openid4vci-proof+jwt', jwk: { kty, crv, x, y } })
            .setIssuedAt()
            .sign(privateKey),
        );
      }
      const res = await t.fetch(`${PUBLIC_URL}/oid4vci/credential`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${token.access_token}` },
        body: JSON.stringify({ credential_configuration_id: 'KnownCustomerCredential_sd_jwt', proofs: { jwt: proofs } }),
      });
      expect(res.status).toBe(200);
      const copies = ((await res.json()) as { credentials: { credential: string }[] }).credentials.map((c) => c.credential);
      expect(copies).toHaveLength(3);
      const refs = copies.map((c) => (decodeJwt(c.split('~')[0]).payload as { status: { status_list: { idx: number; uri: string } } }).status.status_list);
      const listIds = refs.map((r) => Number(new URL(r.uri).pathname.split('/').pop()));
      const deps = t.deps;
      const read = async () =>
        Promise.all(
          refs.map(async (r, i) => {
            const list = getListFromStatusListJWT((await tokenStatusListJwt(deps, listIds[i]))!);
            const revoked = await decodeStatusList(
              (decodeJwt((await statusListCredential(deps, listIds[i], 'revocation'))!).payload.vc as { credentialSubject: { encodedList: string } })
                .credentialSubject.encodedList,
            );
            return [list.getStatus(r.idx), getBit(revoked, r.idx)];
          }),
        );
      expect(await read()).toEqual(Array(3).fill([0, false]));
      const list = await t.fetch(`${PUBLIC_URL}/admin/applications?status=approved`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const mine = ((await list.json()) as { applications: { id: string; applicant_did: string }[] }).applications.find((a) => a.applicant_did === holder.did);
      expect(mine).toBeDefined();
      expect((await pg.store.issuedCredentials.listForApplication(mine!.id)).map((c) => c.format)).toEqual(Array(3).fill('dc+sd-jwt'));
      const overrule = await t.fetch(`${PUBLIC_URL}/admin/applications/${mine!.id}/decision`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ decision: 'reject', overrule: true, reason: 'document found forged' }),
      });
      expect(overrule.status).toBe(200);
      expect(await read()).toEqual(Array(3).fill([1, true]));
    } finally {
      await pg.close();
    }
  });
});
