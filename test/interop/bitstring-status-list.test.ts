import { decodeList, getCredentialStatus, statusTypeMatches } from '@digitalbazaar/vc-bitstring-status-list';
import { verifyCredential } from 'did-jwt-vc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN } from '../helpers/issuer';
import { loopbackDidWebResolver, startHttpIssuer, type HttpIssuer } from '../helpers/httpIssuer';

/**
 * The KCC's status, read as an independent relying party would (W3C Bitstring Status List
 * v1.0 §3.2 / §4.2): Digital Bazaar's @digitalbazaar/vc-bitstring-status-list 2.0.1 finds the
 * entry in the KCC and decodes the list (multibase base64url, GZIP); did-jwt-vc verifies the
 * status list credential's signature over our did:web. Checked before and after the operator
 * suspends, reinstates and revokes (src/http/routes/adminCredentials.ts), over real HTTP.
 */
let issuer: HttpIssuer;

beforeAll(async () => {
  issuer = await startHttpIssuer();
});
afterAll(async () => {
  await issuer?.close();
});

const vcOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')).vc;

/** The bit of `kcc` in its `statusPurpose` list, as the library reads it. */
async function status(kcc: string, statusPurpose: 'revocation' | 'suspension'): Promise<boolean> {
  const credential = vcOf(kcc);
  expect(statusTypeMatches({ credential })).toBe(true);
  const entry = getCredentialStatus({ credential, statusPurpose });
  const res = await fetch(entry.statusListCredential);
  expect(res.status).toBe(200);
  const listJwt = (await res.text()).trim();
  const verified = await verifyCredential(listJwt, loopbackDidWebResolver());
  expect(verified.verified).toBe(true);
  expect(verified.issuer).toBe(issuer.deps.issuer.did);
  const list = verified.verifiableCredential;
  expect(list.type).toContain('BitstringStatusListCredential');
  const subject = list.credentialSubject as { type: string; statusPurpose: string; encodedList: string };
  expect(subject).toMatchObject({ type: 'BitstringStatusList', statusPurpose });
  const decoded = await decodeList({ encodedList: subject.encodedList });
  expect(decoded.length).toBeGreaterThanOrEqual(131_072); // §6.1 herd privacy
  return decoded.getStatus(Number(entry.statusListIndex));
}

async function operator(kccId: string, body: { action: 'suspend' | 'reinstate' | 'revoke'; reason?: string }) {
  const res = await fetch(`${issuer.url}/admin/credentials/${encodeURIComponent(kccId)}/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string };
}

describe('Bitstring Status List, read with @digitalbazaar/vc-bitstring-status-list 2.0.1', () => {
  it('suspend → reinstate → revoke: each change shows in the served lists, only in the KCC’s own bits', async () => {
    const issue = async () =>
      (await applyForKcc(new WalletClient(await Holder.create(), fetch), { issuer: issuer.url, identity: SAMPLE_IDENTITY })).credential!;
    const kcc = await issue();
    const bystander = await issue();
    const id = vcOf(kcc).id as string;
    const both = async (jwt: string) => ({ revocation: await status(jwt, 'revocation'), suspension: await status(jwt, 'suspension') });
    expect(await both(kcc)).toEqual({ revocation: false, suspension: false });

    expect(await operator(id, { action: 'suspend', reason: 'document re-check' })).toMatchObject({ status: 'suspended' });
    expect(await both(kcc)).toEqual({ revocation: false, suspension: true });
    expect(await operator(id, { action: 'reinstate' })).toMatchObject({ status: 'active' });
    expect(await both(kcc)).toEqual({ revocation: false, suspension: false });
    expect(await operator(id, { action: 'revoke', reason: 'customer request' })).toMatchObject({ status: 'revoked' });
    expect(await both(kcc)).toEqual({ revocation: true, suspension: false });
    expect(await both(bystander)).toEqual({ revocation: false, suspension: false });
  });
});
