import { _checkCredential } from '@digitalbazaar/vc';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { buildKccPayload } from '../../src/protocol/kcc';
import { createKccSchemaValidator } from '../../src/verifier/kccSchema';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * Digital Bazaar's VC library (@digitalbazaar/vc 7.3.0, the W3C VC Data Model checks that
 * run before any proof is looked at: `_checkCredential`) accepts our KCC's `vc`: contexts, types,
 * subject, issuer, dates, status entries, and evidence entries that each carry a `type`
 * (VC Data Model 1.1 §5.6).
 */
describe('@digitalbazaar/vc reads our KCC as a VC Data Model 1.1 credential', () => {
  it('accepts an issued KCC, whose evidence keeps kind and checks beside the type; the published schema still validates it', async () => {
    const t = await makeTestIssuer();
    const result = await applyForKcc(new WalletClient(await Holder.create(), t.fetch), { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY });
    const { vc } = decodeJwt(result.credential as string).payload as { vc: Record<string, unknown> & { evidence: Array<Record<string, unknown>> } };
    expect(() => _checkCredential({ credential: vc, mode: 'verify' })).not.toThrow();
    expect(vc.evidence).toEqual([{ type: ['DocumentVerification'], kind: 'document_verification', checks: ['passport'] }]);
    const validate = createKccSchemaValidator();
    expect(validate(vc)).toEqual([]);
  });

  it('would refuse evidence without a type (what it said before the entries were typed)', () => {
    const payload = buildKccPayload({
      id: 'urn:uuid:00000000-0000-4000-8000-000000000000',
      issuerDid: 'did:web:pfi.example',
      subjectDid: 'did:jwk:eyJrdHkiOiJPS1AifQ',
      countryOfResidence: 'US',
      tier: 'Standard',
      jurisdictionCountry: 'US',
      schemaId: 'https://vc.schemas.host/kcc.schema.json',
      evidence: [{ kind: 'document_verification', checks: ['passport'] }],
      issuedAt: Math.floor(Date.now() / 1000) - 10,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    });
    expect(() => _checkCredential({ credential: payload.vc, mode: 'verify' })).not.toThrow();
    const untyped = { ...payload.vc, evidence: payload.vc.evidence.map(({ type: _, ...rest }) => rest) };
    expect(() => _checkCredential({ credential: untyped, mode: 'verify' })).toThrow(/evidence/);
  });
});
