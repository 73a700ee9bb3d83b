import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { allocateCredentialStatus, changeCredentialStatus, statusListCredential, tokenStatusListJwt } from '../../src/issuance/credentialStatus';
import { openPostgres } from '../../src/runtime/postgres';
import { decodeStatusList, getBit } from '../../src/protocol/statusList';
import { makeTestIssuer } from '../helpers/issuer';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

/** The Token Status List on PostgreSQL: built from the same status rows as the Bitstring lists. */
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
});
